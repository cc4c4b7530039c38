//! `gpgcheck=1`: every RPM from such a repository must carry a signature
//! made by one of the repository's `gpgkey`s. Verification itself is
//! `slipway-rpm`'s ([`slipway_rpm::verify_signature`]); this module fetches
//! the keys (file:// or http) and applies them per repository.

use std::collections::BTreeMap;
use std::path::Path;

use slipway_rpm::{Keyring, verify_signature};

use crate::lock::LockedPackage;
use crate::repofile::RepoConfig;
use crate::store::Transport;
use crate::{Error, Result};

/// Keyrings of the repositories with `gpgcheck=1`, by repository id.
#[derive(Default)]
pub struct RepoKeys {
    keys: BTreeMap<String, Keyring>,
}

impl std::fmt::Debug for RepoKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoKeys")
            .field("repos", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl RepoKeys {
    /// Fetch the `gpgkey`s of every enabled repository with `gpgcheck=1`.
    /// A repository with `gpgcheck=1` and no key is an error, as in yum.
    pub fn load(configs: &[RepoConfig], transport: &Transport) -> Result<Self> {
        let mut keys = BTreeMap::new();
        for c in configs.iter().filter(|c| c.enabled && c.gpgcheck) {
            if c.gpgkeys.is_empty() {
                return Err(Error::Signature {
                    package: format!("repository `{}`", c.id),
                    url: c.source.display().to_string(),
                    message: "gpgcheck=1 but no gpgkey is configured".to_owned(),
                });
            }
            let mut ring = Keyring::new();
            for url in &c.gpgkeys {
                let bytes = transport.get_bytes(url)?;
                ring.add_armored(&bytes, url)
                    .map_err(|e| Error::Signature {
                        package: format!("key of repository `{}`", c.id),
                        url: url.clone(),
                        message: e.to_string(),
                    })?;
            }
            keys.insert(c.id.clone(), ring);
        }
        Ok(Self { keys })
    }

    /// Check one downloaded package: `Ok` when its repository does not ask
    /// for `gpgcheck`, or when a signature verifies with the repo's keys.
    pub fn check(&self, pkg: &LockedPackage, path: &Path) -> std::result::Result<(), String> {
        let Some(ring) = self.keys.get(&pkg.repo) else {
            return Ok(());
        };
        verify_signature(path, ring)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
