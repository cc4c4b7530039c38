//! The one error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while running a step or capturing its layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed (the path is in the message of `fs-err`).
    #[error(transparent)]
    Io(#[from] std::io::Error),

    /// Starting the sandboxed process failed (namespaces, mounts or exec).
    #[error("could not start step `{step}`: {message}")]
    Spawn {
        /// The step's name.
        step: String,
        /// What the sandbox reported, with the last lines of its output.
        message: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The step's command exited with a non-zero status.
    #[error("step `{step}` failed with exit code {code}; last lines of its output:\n{tail}")]
    StepFailed {
        /// The step's name.
        step: String,
        /// Its exit code (128 + signal number when killed by a signal).
        code: i32,
        /// The last lines of its output.
        tail: String,
    },

    /// The step ran longer than its timeout and was killed with its whole process tree.
    #[error(
        "step `{step}` timed out after {timeout:?} and was killed; last lines of its output:\n{tail}"
    )]
    Timeout {
        /// The step's name.
        step: String,
        /// The timeout that expired.
        timeout: Duration,
        /// The last lines of its output.
        tail: String,
    },

    /// The step was interrupted (Ctrl-C or SIGTERM) and killed with its whole process tree.
    #[error("step `{step}` was interrupted and killed")]
    Interrupted {
        /// The step's name.
        step: String,
    },

    /// The step's configuration is unusable.
    #[error("invalid step `{step}`: {message}")]
    InvalidStep {
        /// The step's name.
        step: String,
        /// What is wrong.
        message: String,
    },

    /// A path in a rootfs or package would escape the rootfs.
    #[error("path `{path}` escapes the rootfs `{root}`")]
    PathEscape {
        /// The offending path.
        path: PathBuf,
        /// The rootfs.
        root: PathBuf,
    },

    /// Writing the captured layer failed.
    #[error("could not capture the layer of `{upper}`")]
    Capture {
        /// The overlay upper directory (or snapshot) being captured.
        upper: PathBuf,
        /// The layer writer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An image could not be read, unpacked or written.
    #[error("image `{what}`")]
    Image {
        /// The image reference or path.
        what: String,
        /// The OCI crate's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An RPM could not be read or installed.
    #[error("could not install `{package}`: {message}")]
    Rpm {
        /// The package file.
        package: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
