//! `slipway lock`: pin base digests and unpinned sources (network I/O lives
//! here, not in the lock format).

use sha2::{Digest as _, Sha256};

use super::fetch::{SourceOptions, download};
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
                    let bytes = match &sources.mirror {
                        Some(m) if !m.starts_with("http") => {
                            let f = std::path::Path::new(m).join(&source.file_name);
                            fs_err::read(&f).map_err(|e| Error::io(&f, e))?
                        }
                        Some(m) => download(
                            &format!("{}/{}", m.trim_end_matches('/'), source.file_name),
                            sources,
                        )?,
                        None => download(&source.url, sources)?,
                    };
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
