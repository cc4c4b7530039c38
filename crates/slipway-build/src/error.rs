//! The one error type of the build driver.
//!
//! Causes from other crates are kept as `#[source]`, so the CLI can walk the
//! chain and find them by downcasting (a sandbox that cannot start, an
//! unreachable registry or repository, a full disk). Where a variant's
//! message also shows its cause (`{what}: {source}`), the CLI prints the
//! cause once.

use std::path::PathBuf;

/// Everything that can go wrong building or locking a recipe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The recipe, its plan or its lock.
    #[error(transparent)]
    Recipe(#[from] slipway_recipe::Error),
    /// A file or directory could not be read or written.
    #[error("cannot access `{path}`")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An OCI layout, layer or image could not be read or written.
    #[error(transparent)]
    Oci(#[from] slipway_oci::Error),
    /// Pulling a base image (or resolving its reference) failed.
    #[error("pulling base `{reference}`")]
    Pull {
        /// The reference.
        reference: String,
        /// The cause.
        #[source]
        source: slipway_registry::Error,
    },
    /// A step failed in the sandbox.
    #[error("image `{image}`, step `{step}` failed")]
    Step {
        /// The image.
        image: String,
        /// The step.
        step: String,
        /// The cause.
        #[source]
        source: slipway_sandbox::Error,
    },
    /// Reading repositories, resolving or downloading packages failed.
    #[error("{what}: {source}")]
    Yum {
        /// What was being done, where the recipe asks for it.
        what: String,
        /// The cause.
        #[source]
        source: Box<slipway_yum::Error>,
    },
    /// An RPM (a release RPM, a source RPM, a local RPM) could not be read.
    #[error("{what}: {source}")]
    Rpm {
        /// The RPM, where the recipe names it.
        what: String,
        /// The cause.
        #[source]
        source: Box<slipway_rpm::Error>,
    },
    /// Patching a source RPM failed.
    #[error("{what}: {source}")]
    SrpmPatch {
        /// The step.
        what: String,
        /// The cause.
        #[source]
        source: Box<slipway_vsyscall::Error>,
    },
    /// The post-step normaliser failed.
    #[error("normalising `{path}`: {source}")]
    Normalize {
        /// The step's upper directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<slipway_repro::Error>,
    },
    /// A fetched file does not have the digest it must have.
    #[error("{what}: expected sha256 {expected}, got {actual}")]
    DigestMismatch {
        /// What was fetched, from where.
        what: String,
        /// Expected sha256.
        expected: String,
        /// Actual sha256.
        actual: String,
    },
    /// A source's detached signature does not verify with its keyring.
    #[error("signature `{asc}` of {what} does not verify with keyring `{keyring}`: {message}")]
    Signature {
        /// The source, and where it came from.
        what: String,
        /// The signature's URL.
        asc: String,
        /// The keyring's source.
        keyring: String,
        /// Why.
        message: String,
    },
    /// A download failed with an HTTP status.
    #[error("cannot fetch `{url}`: {message}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A download could not reach its server.
    #[error("cannot fetch `{url}`: {source}")]
    Http {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// `--offline`, and what the build needs is not in the store.
    #[error("{what}: offline, and the store does not have it: {instead}")]
    Offline {
        /// What is missing.
        what: String,
        /// What to do instead.
        instead: String,
    },
    /// A source or base the build needs a pin for has none.
    #[error("{what} is not pinned: run `slipway lock` (or give its sha256 in the recipe)")]
    Unpinned {
        /// What.
        what: String,
    },
    /// Any other build failure, with what was being done.
    #[error("{what}: {message}")]
    Build {
        /// What was being done.
        what: String,
        /// What went wrong.
        message: String,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// An [`Error::Build`]: `what` was being done, `message` went wrong.
pub(crate) fn build_err(what: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Build {
        what: what.into(),
        message: message.into(),
    }
}
