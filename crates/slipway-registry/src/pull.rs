//! Pull: manifests (with platform choice) and blobs, streamed and verified
//! into an OCI layout.

use std::io::Write;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_RANGE, CONTENT_TYPE, RANGE};

use crate::client::{Session, status_error};
use crate::digest::sha256_digest;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::manifest::{
    DOCKER_MANIFEST, Descriptor, MANIFEST_ACCEPT, ManifestDoc, ManifestKind, OCI_MANIFEST, kind_of,
};
use crate::platform::{Platform, select};
use crate::reference::Reference;
use crate::reporter::{NoReporter, Reporter};

/// Manifests larger than this are refused (the distribution limit is 4 MiB).
const MAX_MANIFEST: usize = 8 * 1024 * 1024;

/// A manifest as served: exact bytes, media type, digest.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The bytes, unchanged.
    pub bytes: Vec<u8>,
    /// The media type.
    pub media_type: String,
    /// sha256 of `bytes` (checked against what was asked for).
    pub digest: String,
    /// The parsed document.
    pub doc: ManifestDoc,
}

impl FetchedManifest {
    /// A descriptor for it.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            platform: None,
            annotations: None,
        }
    }
}

/// What a pull does with a Docker schema 2 manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DockerManifests {
    /// Store it as served (the build's own store: digests stay the registry's).
    #[default]
    Keep,
    /// Rewrite it with OCI media types (a user's `oci:` layout, as skopeo).
    ConvertToOci,
    /// Refuse it (`--preserve-digests` into an OCI layout).
    Refuse,
}

/// How to pull.
#[derive(Clone)]
pub struct PullOptions {
    /// The platform to choose from an index (default: the host's).
    pub platform: Option<Platform>,
    /// The tag in the layout's `index.json` (default: the reference's tag, if any).
    pub tag: Option<String>,
    /// Progress receiver.
    pub reporter: Arc<dyn Reporter>,
    /// What to do with a Docker schema 2 manifest.
    pub docker_manifests: DockerManifests,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            platform: None,
            tag: None,
            reporter: Arc::new(NoReporter),
            docker_manifests: DockerManifests::Keep,
        }
    }
}

impl std::fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOptions")
            .field("platform", &self.platform)
            .field("tag", &self.tag)
            .field("docker_manifests", &self.docker_manifests)
            .finish_non_exhaustive()
    }
}

/// What a pull stored.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The image manifest stored and tagged in the layout.
    pub manifest: Descriptor,
    /// The config blob's digest.
    pub config_digest: String,
    /// The layers.
    pub layers: Vec<Descriptor>,
    /// The index or manifest list the manifest was chosen from, if any.
    pub index_digest: Option<String>,
    /// The platform chosen from that index.
    pub platform: Option<Platform>,
}

impl Session {
    /// `GET` a manifest by tag or digest, verifying its digest.
    pub async fn fetch_manifest(&self, reference: &str) -> Result<FetchedManifest> {
        let url = self.repo_url(&format!("manifests/{reference}")).await?;
        let resp = self
            .send(Method::GET, &url, |rb| rb.header(ACCEPT, MANIFEST_ACCEPT))
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, Method::GET, &url).await);
        }
        let served_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.bytes().await.map_err(|source| Error::Http {
            url: url.to_string(),
            source,
        })?;
        if bytes.len() > MAX_MANIFEST {
            return Err(Error::SizeMismatch {
                url: url.to_string(),
                expected: MAX_MANIFEST as u64,
                actual: bytes.len() as u64,
            });
        }
        let digest = sha256_digest(&bytes);
        let expected = if reference.starts_with("sha256:") {
            Some(reference.to_owned())
        } else {
            header_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(Error::DigestMismatch {
                url: url.to_string(),
                expected,
                actual: digest,
            });
        }
        let doc: ManifestDoc = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            what: "manifest",
            origin: url.to_string(),
            source,
        })?;
        let media_type = doc.effective_media_type(served_type.as_deref());
        Ok(FetchedManifest {
            bytes: bytes.to_vec(),
            media_type,
            digest,
            doc,
        })
    }

    /// Stream the blob `desc` into `layout`, verifying size and sha256 while
    /// it arrives; broken transfers resume with `Range` (or restart). Nothing
    /// appears in the layout unless it verified.
    pub async fn fetch_blob(
        &self,
        desc: &Descriptor,
        layout: &Layout,
        reporter: &dyn Reporter,
    ) -> Result<()> {
        if layout.has_blob(&desc.digest, desc.size) {
            reporter.blob_done(&desc.digest, true);
            return Ok(());
        }
        let url = self.repo_url(&format!("blobs/{}", desc.digest)).await?;
        let origin = url.to_string();
        reporter.blob_start(&desc.digest, desc.size);
        let mut writer = layout.blob_writer()?;
        let retries = self.client.options().retries;
        let delay = self.client.options().retry_delay;
        let mut broken = 0u32;
        loop {
            let offset = writer.len();
            let resp = self
                .send(Method::GET, &url, |rb| {
                    if offset > 0 {
                        rb.header(RANGE, format!("bytes={offset}-"))
                    } else {
                        rb
                    }
                })
                .await?;
            let status = resp.status();
            if status.as_u16() == 206 {
                let start = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if start != Some(offset) {
                    writer.reset()?;
                    reporter.blob_restart(&desc.digest, 0);
                    continue;
                }
            } else if status.is_success() {
                if offset > 0 {
                    // The server ignored our Range: start again from 0.
                    writer.reset()?;
                    reporter.blob_restart(&desc.digest, 0);
                }
            } else {
                return Err(status_error(resp, Method::GET, &url).await);
            }
            let mut stream = resp.bytes_stream();
            let mut failure = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => {
                        if writer.len() + chunk.len() as u64 > desc.size {
                            return Err(Error::SizeMismatch {
                                url: origin,
                                expected: desc.size,
                                actual: writer.len() + chunk.len() as u64,
                            });
                        }
                        writer.write_all(&chunk)?;
                        reporter.blob_progress(&desc.digest, chunk.len() as u64);
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if writer.len() == desc.size {
                break;
            }
            // Short body or broken stream: resume after a pause.
            broken += 1;
            if broken > retries {
                return match failure {
                    Some(source) => Err(Error::Http {
                        url: origin,
                        source,
                    }),
                    None => Err(Error::SizeMismatch {
                        url: origin,
                        expected: desc.size,
                        actual: writer.len(),
                    }),
                };
            }
            tracing::warn!(url = %origin, received = writer.len(), size = desc.size,
                error = ?failure.as_ref().map(ToString::to_string), "blob transfer broke; resuming");
            reporter.blob_restart(&desc.digest, writer.len());
            tokio::time::sleep(delay * 2u32.saturating_pow(broken - 1)).await;
        }
        writer.finish_verified(&desc.digest, desc.size, &origin)?;
        reporter.blob_done(&desc.digest, false);
        Ok(())
    }

    /// Fetch many blobs with the client's concurrency.
    pub async fn fetch_blobs(
        &self,
        descs: &[Descriptor],
        layout: &Layout,
        reporter: &dyn Reporter,
    ) -> Result<()> {
        let concurrency = self.client.options().concurrency.max(1);
        futures::stream::iter(descs.iter().map(|d| self.fetch_blob(d, layout, reporter)))
            .buffer_unordered(concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}

/// Resolve `reference` to one image manifest (choosing a platform from an
/// index), without downloading blobs.
pub async fn resolve_image(
    session: &Session,
    reference: &Reference,
    platform: Option<&Platform>,
) -> Result<(FetchedManifest, Option<(String, Platform)>)> {
    let top = session
        .fetch_manifest(reference.manifest_reference())
        .await?;
    match kind_of(&top.media_type) {
        Some(ManifestKind::Image) => Ok((top, None)),
        Some(ManifestKind::Index) => {
            let wanted = platform.cloned().unwrap_or_else(Platform::host);
            let chosen = select(&reference.to_string(), &top.doc.manifests, &wanted)?;
            let chosen_platform = chosen
                .platform
                .as_ref()
                .map_or(wanted.clone(), |p| p.to_platform());
            let image = session.fetch_manifest(&chosen.digest).await?;
            match kind_of(&image.media_type) {
                Some(ManifestKind::Image) => Ok((image, Some((top.digest, chosen_platform)))),
                Some(ManifestKind::Schema1) => Err(Error::Schema1 {
                    reference: reference.to_string(),
                    media_type: image.media_type,
                }),
                _ => Err(Error::UnsupportedMediaType {
                    url: format!("{reference} ({})", chosen.digest),
                    media_type: image.media_type,
                }),
            }
        }
        Some(ManifestKind::Schema1) => Err(Error::Schema1 {
            reference: reference.to_string(),
            media_type: top.media_type,
        }),
        None => Err(Error::UnsupportedMediaType {
            url: reference.to_string(),
            media_type: top.media_type,
        }),
    }
}

/// Pull one image (one platform) into `layout` and tag it.
pub async fn pull(
    session: &Session,
    reference: &Reference,
    layout: &Layout,
    options: &PullOptions,
) -> Result<Pulled> {
    let (mut manifest, from_index) =
        resolve_image(session, reference, options.platform.as_ref()).await?;
    let convert = manifest.media_type == DOCKER_MANIFEST;
    if convert && options.docker_manifests == DockerManifests::Refuse {
        return Err(Error::PreserveDigests {
            reference: reference.to_string(),
            media_type: manifest.media_type,
        });
    }
    let origin = format!("{reference} manifest {}", manifest.digest);
    let config = manifest
        .doc
        .config
        .clone()
        .ok_or_else(|| Error::UnsupportedMediaType {
            url: origin.clone(),
            media_type: format!("{} without a config", manifest.media_type),
        })?;
    let mut blobs = vec![config.clone()];
    blobs.extend(manifest.doc.layers.iter().cloned());
    session
        .fetch_blobs(&blobs, layout, options.reporter.as_ref())
        .await?;
    if convert && options.docker_manifests == DockerManifests::ConvertToOci {
        manifest = to_oci(manifest, &origin)?;
    }
    layout.write_blob(&manifest.bytes, Some(&manifest.digest), &origin)?;
    let mut descriptor = manifest.descriptor();
    if let Some((_, platform)) = &from_index {
        descriptor.platform = Some(crate::manifest::DescriptorPlatform {
            os: platform.os.clone(),
            architecture: platform.architecture.clone(),
            variant: platform.variant.clone(),
        });
    }
    let tag = options.tag.as_deref().or(reference.tag());
    layout.set_tag(&descriptor, tag)?;
    Ok(Pulled {
        manifest: manifest.descriptor(),
        config_digest: config.digest,
        layers: manifest.doc.layers,
        index_digest: from_index.as_ref().map(|(d, _)| d.clone()),
        platform: from_index.map(|(_, p)| p),
    })
}

/// The manifest rewritten with OCI media types (same config and layer blobs).
fn to_oci(manifest: FetchedManifest, origin: &str) -> Result<FetchedManifest> {
    let bytes = crate::manifest::docker_to_oci(&manifest.bytes, origin)?;
    let doc: ManifestDoc = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        what: "converted manifest",
        origin: origin.to_owned(),
        source,
    })?;
    Ok(FetchedManifest {
        digest: sha256_digest(&bytes),
        media_type: OCI_MANIFEST.to_owned(),
        bytes,
        doc,
    })
}
