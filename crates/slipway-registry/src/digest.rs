//! sha256 digests as validated `sha256:<hex>` strings, the form the
//! distribution API speaks; converted to `slipway_oci::Digest` at the layout.

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
