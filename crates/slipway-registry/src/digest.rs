//! sha256 digests: validation and a hasher that reports `sha256:<hex>`.
//!
//! `slipway-oci` has not published its `Digest` type yet, so this crate keeps
//! digests as validated strings; switch to `slipway_oci::Digest` once it lands.

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// Check that `digest` is `sha256:` followed by 64 lower-case hex digits.
pub fn validate_digest(digest: &str) -> Result<()> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidDigest {
            digest: digest.to_owned(),
        })
    }
}

/// The `sha256:<hex>` digest of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a validated digest.
pub(crate) fn hex_part(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// Incremental sha256 that also counts bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn finish(self) -> String {
        format!("sha256:{}", hex::encode(self.sha.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(validate_digest(&sha256_digest(b"x")).is_ok());
        assert!(validate_digest("sha256:E3B0").is_err());
        assert!(validate_digest("md5:00").is_err());
    }
}
