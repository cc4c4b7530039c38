use std::path::PathBuf;

/// Everything that can go wrong reading, unpacking or verifying an RPM.
///
/// Every variant names the RPM file (or the display name given for a stream).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("i/o error on `{path}`")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The lead, signature header or header could not be parsed.
    #[error("`{path}` is not a readable rpm (lead or header): {source}")]
    Header {
        /// The RPM.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: rpm::Error,
    },
    /// A header tag had an unexpected shape (arrays of different lengths, ...).
    #[error("`{path}`: malformed header: {reason}")]
    Malformed {
        /// The RPM.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The payload compressor named in the header is not supported.
    #[error("`{path}`: unsupported payload compressor `{compressor}`")]
    UnsupportedCompressor {
        /// The RPM.
        path: PathBuf,
        /// The `PAYLOADCOMPRESSOR` value.
        compressor: String,
    },
    /// The cpio payload is malformed or truncated.
    #[error("`{path}`: bad cpio payload at byte {offset} of the archive: {reason}")]
    Cpio {
        /// The RPM.
        path: PathBuf,
        /// Offset in the uncompressed archive.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A digest stored in the package does not match the bytes.
    #[error("`{path}`: {what} digest mismatch: expected {expected}, actual {actual}")]
    DigestMismatch {
        /// The RPM.
        path: PathBuf,
        /// Which digest (`header sha256`, `payload sha256`, `file /usr/bin/x sha256`, ...).
        what: String,
        /// The digest recorded in the package.
        expected: String,
        /// The digest of the bytes read.
        actual: String,
    },
    /// The package carries no digest that could be checked.
    #[error("`{path}`: no {what} digest to check")]
    NoDigest {
        /// The RPM.
        path: PathBuf,
        /// Which digest is missing.
        what: String,
    },
    /// The package is not signed.
    #[error("`{path}`: not signed")]
    Unsigned {
        /// The RPM.
        path: PathBuf,
    },
    /// No signature verified against the given keys.
    #[error("`{path}`: bad signature (key id {key_id}): {reason}")]
    BadSignature {
        /// The RPM.
        path: PathBuf,
        /// The issuer key id of the signature, as hex.
        key_id: String,
        /// Why the verification failed.
        reason: String,
    },
    /// An ASCII-armoured public key could not be loaded.
    #[error("cannot load public key `{name}`: {reason}")]
    Key {
        /// The key's file or display name.
        name: String,
        /// Why loading failed.
        reason: String,
    },
    /// An entry would be written outside the extraction directory.
    #[error("`{path}`: payload entry `{entry}` escapes the extraction directory")]
    UnsafePath {
        /// The RPM.
        path: PathBuf,
        /// The entry name.
        entry: String,
    },
}

/// Adds the file path to I/O errors.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
