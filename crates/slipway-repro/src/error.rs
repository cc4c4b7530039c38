//! The one error type of slipway-repro.

use std::path::PathBuf;

/// Everything that can go wrong while diffing, verifying or normalising.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error, with the path in its message (from `fs-err`) or named here.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An image location that cannot be parsed or opened.
    #[error("image `{location}`: {reason}")]
    Source {
        /// The location as given.
        location: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// slipway-oci refused a layout, blob or config.
    #[error(transparent)]
    Oci(#[from] slipway_oci::Error),
    /// JSON that does not parse.
    #[error("{what}: invalid JSON")]
    Json {
        /// Which document.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A layer blob whose content does not match its digest or diff id.
    #[error("layer {digest}: expected {expected} {what}, found {actual}")]
    Digest {
        /// The layer's digest.
        digest: String,
        /// `digest` or `diff id`.
        what: &'static str,
        /// Expected value.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// An rpm header blob that is not well-formed.
    #[error("rpm header {what}: {reason}")]
    Header {
        /// Which header (package number or path).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// An error from sqlite on the rpmdb.
    #[error("sqlite rpmdb `{path}`")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// An external tool (`db5.3_dump`, `db5.3_load`, `db5.3_verify`) failed or is missing.
    #[error("`{command}` failed: {reason}")]
    Tool {
        /// The command line.
        command: String,
        /// Its stderr or the spawn error.
        reason: String,
    },
    /// A Berkeley DB file slipway cannot make sense of.
    #[error("berkeley db `{path}`: {reason}")]
    BerkeleyDb {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
