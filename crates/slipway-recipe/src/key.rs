//! Cache-key hashing: length-prefixed fields into sha256, starting from the
//! key format version and the version of the post-step normaliser.
//!
//! Every step key starts with the version of the post-step normaliser
//! ([`slipway_repro::NORMALIZER_VERSION`], see `step_hasher`): a slipway
//! whose normaliser changed never takes layers from a store filled by the
//! old one. The keys known only while building (a resolved package set, a
//! dependency whose key moved) are derived from these by `slipway-build`.

use sha2::{Digest, Sha256};

/// Version tag hashed into every key: bump it when the way layers are made
/// changes.
const KEY_VERSION: &str = "slipway-step-key-v1";

/// Length-prefixed fields into sha256, so no two field lists hash alike.
#[derive(Debug, Clone)]
pub struct KeyHasher(Sha256);

impl Default for KeyHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyHasher {
    /// A hasher that has the key format version already.
    pub fn new() -> Self {
        let mut h = KeyHasher(Sha256::new());
        h.field("version", KEY_VERSION);
        h
    }

    /// Hash field `name` with `value`.
    pub fn field(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let value = value.as_ref();
        self.0.update((name.len() as u64).to_le_bytes());
        self.0.update(name.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }

    /// The key: `sha256:<hex>`.
    pub fn finish(self) -> String {
        format!("sha256:{}", hex::encode(self.0.finalize()))
    }
}

/// The hasher a step's planned key starts from: the key format version
/// (in [`KeyHasher::new`]) and the normaliser version.
pub(crate) fn step_hasher() -> KeyHasher {
    step_hasher_for(slipway_repro::NORMALIZER_VERSION)
}

fn step_hasher_for(normalizer: u32) -> KeyHasher {
    let mut h = KeyHasher::new();
    h.field("normalizer", normalizer.to_string());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(normalizer: u32) -> String {
        let mut h = step_hasher_for(normalizer);
        h.field("script", "0123");
        h.finish()
    }

    #[test]
    fn the_normalizer_version_is_part_of_the_key() {
        let current = slipway_repro::NORMALIZER_VERSION;
        assert_ne!(key_of(current), key_of(current + 1));
        let mut h = step_hasher();
        h.field("script", "0123");
        assert_eq!(h.finish(), key_of(current));
    }
}
