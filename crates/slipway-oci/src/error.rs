//! The error type of `slipway-oci`.

use std::path::PathBuf;

use crate::Digest;

/// Everything that can go wrong reading or writing OCI images.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error; `fs-err` has already put the path in the message.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An I/O error on a path the message names.
    #[error("{action} `{}`", path.display())]
    IoAt {
        /// What was being done ("reading", "creating directory", …).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A string that is not a valid `sha256:<64 hex>` digest.
    #[error("invalid digest `{value}`: {reason}")]
    InvalidDigest {
        /// The rejected text.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Content whose digest or size differs from what was expected.
    #[error(
        "digest mismatch for {what}: expected {expected} ({expected_size} bytes), got {actual} ({actual_size} bytes)"
    )]
    DigestMismatch {
        /// What was being verified (a blob path, a URL, …).
        what: String,
        /// The expected digest.
        expected: Digest,
        /// The expected size, or the actual size when none was expected.
        expected_size: u64,
        /// The digest of the content.
        actual: Digest,
        /// The size of the content.
        actual_size: u64,
    },
    /// A directory that is not a valid OCI image layout.
    #[error("`{}` is not a valid OCI image layout: {reason}", path.display())]
    InvalidLayout {
        /// The layout directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A blob the layout does not have.
    #[error("blob {digest} is missing from `{}`", layout.display())]
    MissingBlob {
        /// The layout directory.
        layout: PathBuf,
        /// The missing blob.
        digest: Digest,
    },
    /// A tag or digest that names no image in the layout.
    #[error("no image `{reference}` in `{}`{}", layout.display(), available_list(available))]
    ImageNotFound {
        /// The layout directory (or archive).
        layout: PathBuf,
        /// The tag or digest asked for.
        reference: String,
        /// The tags that exist.
        available: Vec<String>,
    },
    /// No reference was given and the layout holds more than one image.
    #[error("`{}` holds {count} images; name one with `:TAG`{}", layout.display(), available_list(available))]
    AmbiguousImage {
        /// The layout directory (or archive).
        layout: PathBuf,
        /// How many images there are.
        count: usize,
        /// The tags that exist.
        available: Vec<String>,
    },
    /// JSON that does not parse or does not have the expected shape.
    #[error("invalid JSON in {what}")]
    Json {
        /// What was being parsed.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A document that parses but breaks a rule of the format.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being read (a manifest, an image config, a tar entry…).
        what: String,
        /// The broken rule.
        reason: String,
    },
    /// A platform string such as `linux/386` that cannot be parsed.
    #[error("invalid platform `{platform}`: expected OS/ARCH[/VARIANT], e.g. `linux/386`")]
    InvalidPlatform {
        /// The text given.
        platform: String,
    },
    /// An image reference like `oci:DIR:TAG` that cannot be parsed.
    #[error("invalid image reference `{reference}`: {reason}")]
    InvalidReference {
        /// The rejected text.
        reference: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A file that changed size while it was being archived.
    #[error("`{}` changed while it was being read (expected {expected} bytes)", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// The size `lstat` reported.
        expected: u64,
    },
    /// A destination that already exists and is not something we may replace.
    #[error("destination `{}` already exists: {reason}", path.display())]
    DestinationExists {
        /// The destination.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Something the format allows but this implementation does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

fn available_list(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!(" (available: {})", available.join(", "))
    }
}

impl Error {
    /// An [`Error::IoAt`] for `path`.
    pub(crate) fn io_at(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::IoAt {
            action,
            path,
            source,
        }
    }

    /// An [`Error::Json`] about `what`.
    pub(crate) fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Error {
        let what = what.into();
        move |source| Error::Json { what, source }
    }

    /// An [`Error::Invalid`].
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
