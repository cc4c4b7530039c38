//! `slipway lock`: pin base digests and unpinned sources (network I/O lives
//! here, not in the lock format).

use sha2::{Digest as _, Sha256};

use super::fetch::{SourceOptions, get, verify_detached};
use crate::error::{Error, Result};
use crate::lock::{Lock, LockedImage, LockedSource};
use crate::model::{Base, Recipe};

/// Make the lock of `recipe`: resolve every unpinned registry base to its
/// image manifest digest for the image's platform, and hash every source the
/// recipe does not pin (keeping pins of `previous` for unchanged references
/// and URLs). Package steps keep their `previous` entries.
pub fn make_lock(
    recipe: &Recipe,
    previous: Option<&Lock>,
    registry: &slipway_registry::ClientOptions,
    sources: &SourceOptions,
) -> Result<Lock> {
    let mut lock = Lock {
        version: crate::lock::LOCK_VERSION,
        ..Lock::default()
    };
    let client = slipway_registry::Client::new(registry.clone()).map_err(|source| Error::Pull {
        reference: "(client)".into(),
        source,
    })?;
    for image in &recipe.images {
        let old = previous.and_then(|p| p.image(&image.name));
        let mut entry = LockedImage {
            name: image.name.clone(),
            steps: old.map(|o| o.steps.clone()).unwrap_or_default(),
            ..LockedImage::default()
        };
        if let Base::Registry {
            reference,
            platform,
        } = &image.base
            && image.base.pinned_digest().is_none()
        {
            let pull_err = |source| Error::Pull {
                reference: reference.clone(),
                source,
            };
            let parsed = slipway_registry::Reference::parse(reference).map_err(pull_err)?;
            let wanted = slipway_registry::Platform::parse(platform.as_str()).map_err(pull_err)?;
            let (manifest, _) = slipway_registry::block_on(async {
                let session = client.session(&parsed, false, &[])?;
                slipway_registry::resolve_image(&session, &parsed, Some(&wanted)).await
            })
            .and_then(|r| r)
            .map_err(pull_err)?;
            entry.base_ref = Some(reference.clone());
            entry.base_digest = Some(manifest.digest);
        }
        for source in &image.sources {
            if source.sha256.is_some() || lock.source_sha256(&source.url).is_some() {
                continue;
            }
            let sha256 = match previous.and_then(|p| p.source_sha256(&source.url)) {
                Some(s) => s.to_owned(),
                None => {
                    let (location, bytes) = get(&source.url, &source.file_name, sources)?;
                    // A signed source is pinned only once its signature verifies.
                    if let Some(asc) = &source.asc {
                        let keyring = source.keyring.clone().unwrap_or_default();
                        let fail = |message: String| Error::Signature {
                            what: format!("source `{}` from {location}", source.name),
                            asc: asc.clone(),
                            keyring: keyring.clone(),
                            message,
                        };
                        let ring = image
                            .source(&keyring)
                            .ok_or_else(|| fail("the keyring is not a source".into()))?;
                        let (_, keys) = get(&ring.url, &ring.file_name, sources)?;
                        let asc_name = asc.rsplit('/').next().unwrap_or(asc);
                        let (_, signature) = get(asc, asc_name, sources)?;
                        verify_detached(&bytes, &signature, &keys).map_err(fail)?;
                    }
                    hex::encode(Sha256::digest(&bytes))
                }
            };
            lock.sources.push(LockedSource {
                url: source.url.clone(),
                sha256,
            });
        }
        lock.images.push(entry);
    }
    Ok(lock)
}
