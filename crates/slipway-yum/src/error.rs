//! The one error type of slipway-yum.

use std::path::PathBuf;

/// Everything that can go wrong while reading repositories, resolving,
/// locking or downloading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `.repo` file could not be parsed.
    #[error("{path}:{line}: {message}")]
    RepoFile {
        /// The `.repo` file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A metadata file (repomd, primary, filelists) is malformed.
    #[error("{file}: {message}")]
    Metadata {
        /// The file (URL or path) that is malformed.
        file: String,
        /// What is wrong, with the position when known.
        message: String,
    },
    /// Downloaded bytes did not match the expected checksum or size.
    #[error(
        "checksum mismatch for {what} from {url}: expected {kind}:{expected}, got {kind}:{actual}"
    )]
    Checksum {
        /// The package or metadata file.
        what: String,
        /// Where it came from.
        url: String,
        /// Checksum type (sha256, sha1, ...).
        kind: String,
        /// Checksum promised by the repodata.
        expected: String,
        /// Checksum of the bytes received.
        actual: String,
    },
    /// A checksum type we do not know.
    #[error("unsupported checksum type `{0}` (expected sha1, sha, sha256, sha512)")]
    ChecksumType(String),
    /// An HTTP request failed.
    #[error("cannot fetch {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// Status or transport error.
        message: String,
    },
    /// An offline transport was asked for something only the network has.
    #[error(
        "offline: {url} is not in the store (run once with the network, or use a file:// mirror)"
    )]
    Offline {
        /// The URL that would have been fetched.
        url: String,
    },
    /// A repository has no usable base URL.
    #[error("repository `{repo}` has no baseurl or mirrorlist entry that works")]
    NoBaseUrl {
        /// The repository id.
        repo: String,
    },
    /// The sqlite metadata could not be read.
    #[error("{file}: sqlite: {source}")]
    Sqlite {
        /// The sqlite file.
        file: String,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// None of the names of a request matches anything (yum 3: "Nothing to
    /// do"); names that match nothing beside others that match are only
    /// reported, in [`crate::resolve::Transaction::skipped`].
    #[error("no package matches {}", quoted(.0))]
    NoMatch(Vec<String>),
    /// The request cannot be satisfied.
    #[error("the request cannot be satisfied:\n{0}")]
    Unsatisfiable(String),
    /// The installed-set file is malformed.
    #[error("{path}:{line}: `{text}` is not a NEVRA (name-[epoch:]version-release.arch)")]
    Installed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The offending text.
        text: String,
    },
    /// A lock file could not be parsed.
    #[error("{path}: invalid lock file: {message}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// An RPM failed its signature check.
    #[error("signature check failed for {package} from {url}: {message}")]
    Signature {
        /// The package NEVRA.
        package: String,
        /// Where it came from.
        url: String,
        /// Why.
        message: String,
    },
}

/// `a`, `b` as "`a`, `b`".
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result with slipway-yum's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
