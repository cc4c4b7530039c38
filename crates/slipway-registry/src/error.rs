//! The one error type of the registry client.

use std::path::PathBuf;

/// Everything that can go wrong talking to a registry or writing what it sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference that does not follow Docker's grammar.
    #[error("invalid image reference `{reference}`: {reason}")]
    InvalidReference {
        /// The text given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A digest that is not `sha256:` followed by 64 lower-case hex digits.
    #[error("invalid digest `{digest}`: expected `sha256:` and 64 lower-case hex digits")]
    InvalidDigest {
        /// The text given.
        digest: String,
    },
    /// The connection failed (after retries).
    #[error("request to {url} failed")]
    Http {
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A request no retry can mend: a host name that does not resolve, a
    /// closed loopback port, a TLS failure. Failed at once.
    #[error("cannot reach {host}: {reason}")]
    Unreachable {
        /// `host[:port]`.
        host: String,
        /// The URL requested.
        url: String,
        /// What went wrong, in words.
        reason: String,
        /// What to do about it (see [`Error::hint`]).
        hint: String,
    },
    /// The registry refused our credentials, or wants some we do not have.
    #[error("unauthorized: {url} answered {status}: {detail}")]
    Unauthorized {
        /// The URL that refused us.
        url: String,
        /// The HTTP status (401 or 403).
        status: u16,
        /// What the registry said, or what credentials were tried.
        detail: String,
    },
    /// A manifest or blob the registry does not have.
    #[error("not found: {url} answered 404: {detail}")]
    NotFound {
        /// The URL requested.
        url: String,
        /// What the registry said.
        detail: String,
    },
    /// Any other unexpected HTTP status.
    #[error("unexpected status {status} from {method} {url}: {detail}")]
    Status {
        /// The request method.
        method: String,
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What the registry said.
        detail: String,
    },
    /// A `WWW-Authenticate` header we cannot use.
    #[error("cannot use the authentication challenge `{challenge}` from {url}")]
    BadChallenge {
        /// The URL that sent it.
        url: String,
        /// The header value.
        challenge: String,
    },
    /// A Docker schema 1 manifest.
    #[error(
        "schema 1 manifests are not supported; `{reference}` is {media_type} (re-push it with a current client, e.g. `skopeo copy --format v2s2`)"
    )]
    Schema1 {
        /// The image asked for.
        reference: String,
        /// The media type served.
        media_type: String,
    },
    /// A Docker manifest that an OCI destination cannot hold unchanged.
    #[error(
        "`{reference}` is a Docker image ({media_type}); --preserve-digests cannot write it to an OCI layout unchanged (without --preserve-digests it is converted to OCI media types)"
    )]
    PreserveDigests {
        /// The image asked for.
        reference: String,
        /// Its manifest media type.
        media_type: String,
    },
    /// A manifest media type we do not understand.
    #[error("unsupported manifest media type `{media_type}` from {url}")]
    UnsupportedMediaType {
        /// The URL requested.
        url: String,
        /// The media type served.
        media_type: String,
    },
    /// The index has no manifest for the wanted platform.
    #[error("no manifest for platform {wanted} in `{reference}`; available: {available}")]
    PlatformNotFound {
        /// The image asked for.
        reference: String,
        /// The platform asked for.
        wanted: String,
        /// The platforms the index lists.
        available: String,
    },
    /// Content whose sha256 differs from the digest it was asked for by.
    #[error("digest mismatch for {url}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Where it came from.
        url: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// Content whose length differs from the size in its descriptor.
    #[error("size mismatch for {url}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// Where it came from.
        url: String,
        /// The size the descriptor gives.
        expected: u64,
        /// The bytes that arrived (at least).
        actual: u64,
    },
    /// JSON that does not parse as what it should be.
    #[error("invalid {what} from {origin}")]
    Json {
        /// What was being read (manifest, index, token response, auth file…).
        what: &'static str,
        /// URL or path it came from.
        origin: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A credentials file or flag that cannot be used.
    #[error("invalid credentials in {origin}: {reason}")]
    Credentials {
        /// The file or flag.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A CA certificate that cannot be loaded.
    #[error("cannot load the CA certificate {path}")]
    Certificate {
        /// The PEM file.
        path: PathBuf,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The OCI layout is missing something or holds something unexpected.
    #[error("OCI layout {path}: {reason}")]
    Layout {
        /// The layout directory or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A transport string (`oci:DIR`, `docker://REF`, …) we cannot handle.
    #[error("unsupported image location `{location}`: {reason}")]
    Transport {
        /// The text given.
        location: String,
        /// Why it is not supported.
        reason: String,
    },
    /// The OCI layout (from `slipway-oci`).
    #[error(transparent)]
    Oci(#[from] slipway_oci::Error),
    /// File I/O (the message names the path, via `fs-err`).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The async runtime could not be started or a task panicked.
    #[error("async runtime failure: {0}")]
    Runtime(String),
}

impl Error {
    /// What a person can do about this error, when there is something:
    /// printed by the CLI as a `hint:` line after the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Unreachable { hint, .. } => Some(hint.clone()),
            Error::Http { .. } => Some(
                "the registry did not answer after several attempts: check the network (or a proxy), then try again".to_owned(),
            ),
            Error::Unauthorized { status: 403, .. } => Some(
                "these credentials may not access this repository: check its name, or log in as a user who may".to_owned(),
            ),
            Error::Unauthorized { .. } => Some(
                "give credentials with `--creds USER:PASSWORD` or `--authfile FILE` (`skopeo login` writes one), or check the ones given".to_owned(),
            ),
            Error::Status { status: 429 | 500..=599, .. } => Some(
                "the registry kept failing through every retry: try again later".to_owned(),
            ),
            Error::NotFound { .. } => Some(
                "check the repository name and tag (`skopeo list-tags docker://REGISTRY/REPO` lists the tags)".to_owned(),
            ),
            _ => None,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
