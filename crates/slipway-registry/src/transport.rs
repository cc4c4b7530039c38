//! Image locations in skopeo's transport syntax and copying between them.

use std::path::PathBuf;
use std::sync::Arc;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::manifest::{Descriptor, ManifestDoc, ManifestKind, kind_of};
use crate::platform::Platform;
use crate::pull::{DockerManifests, PullOptions, pull};
use crate::push::{PushOptions, push};
use crate::reference::Reference;
use crate::reporter::{NoReporter, Reporter};

/// Where an image is: `oci:DIR[:TAG]`, an archive, or `docker://REF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLocation {
    /// An OCI layout directory, optionally a tag in it.
    Oci {
        /// The layout directory.
        dir: PathBuf,
        /// The tag (`org.opencontainers.image.ref.name`).
        tag: Option<String>,
    },
    /// An image in a registry.
    Docker(Reference),
    /// `oci-archive:FILE[:TAG]` or `docker-archive:FILE[:NAME:TAG]`, read and
    /// written by `slipway-oci`.
    Archive(slipway_oci::ImageRef),
}

impl ImageLocation {
    /// Parse `oci:DIR[:TAG]`, `docker://REF`, or (through `slipway-oci`)
    /// `oci-archive:FILE[:TAG]` and `docker-archive:FILE[:NAME:TAG]`.
    pub fn parse(text: &str) -> Result<Self> {
        if let Some(rest) = text.strip_prefix("docker://") {
            return Ok(Self::Docker(Reference::parse(rest)?));
        }
        if let Some(rest) = text.strip_prefix("oci:") {
            // As containers/image: the directory is everything before the first ':'.
            let (dir, tag) = match rest.split_once(':') {
                Some((dir, tag)) if !tag.is_empty() => (dir, Some(tag.to_owned())),
                Some((dir, _)) => (dir, None),
                None => (rest, None),
            };
            if dir.is_empty() {
                return Err(Error::Transport {
                    location: text.to_owned(),
                    reason: "`oci:` needs a directory".to_owned(),
                });
            }
            return Ok(Self::Oci {
                dir: PathBuf::from(dir),
                tag,
            });
        }
        if text.starts_with("oci-archive:") || text.starts_with("docker-archive:") {
            return Ok(Self::Archive(slipway_oci::ImageRef::parse(text)?));
        }
        Err(Error::Transport {
            location: text.to_owned(),
            reason: "expected `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME:TAG]` or `docker://REGISTRY/REPO[:TAG|@DIGEST]`".to_owned(),
        })
    }

    /// The same location as a `slipway-oci` reference (not for `docker://`).
    fn local(&self) -> Option<slipway_oci::ImageRef> {
        match self {
            Self::Oci { dir, tag } => Some(slipway_oci::ImageRef::Oci {
                path: dir.clone(),
                reference: tag.clone(),
            }),
            Self::Archive(r) => Some(r.clone()),
            Self::Docker(_) => None,
        }
    }
}

impl std::fmt::Display for ImageLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oci {
                dir,
                tag: Some(tag),
            } => write!(f, "oci:{}:{tag}", dir.display()),
            Self::Oci { dir, tag: None } => write!(f, "oci:{}", dir.display()),
            Self::Docker(r) => write!(f, "docker://{r}"),
            Self::Archive(r) => write!(f, "{r}"),
        }
    }
}

/// How to copy.
#[derive(Clone)]
pub struct CopyOptions {
    /// Platform to choose when the source is an index in a registry.
    pub platform: Option<Platform>,
    /// Progress receiver.
    pub reporter: Arc<dyn Reporter>,
    /// Refuse to convert a Docker manifest for an OCI destination (skopeo's
    /// `--preserve-digests`) instead of rewriting it with OCI media types.
    pub preserve_digests: bool,
}

impl CopyOptions {
    /// What a pull into an OCI destination does with a Docker manifest.
    fn oci_manifests(&self) -> DockerManifests {
        if self.preserve_digests {
            DockerManifests::Refuse
        } else {
            DockerManifests::ConvertToOci
        }
    }
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            platform: None,
            reporter: Arc::new(NoReporter),
            preserve_digests: false,
        }
    }
}

impl std::fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("platform", &self.platform)
            .field("preserve_digests", &self.preserve_digests)
            .finish_non_exhaustive()
    }
}

/// Copy an image from `src` to `dst`; returns the digest of the manifest written.
pub async fn copy(
    client: &Client,
    src: &ImageLocation,
    dst: &ImageLocation,
    options: &CopyOptions,
) -> Result<String> {
    match (src, dst) {
        (ImageLocation::Docker(from), ImageLocation::Oci { dir, tag }) => {
            let existed = dir.exists();
            let layout = Layout::create_or_open(dir)?;
            let session = client.session(from, false, &[])?;
            let pulled = pull(
                &session,
                from,
                &layout,
                &PullOptions {
                    platform: options.platform.clone(),
                    tag: tag.clone().or_else(|| from.tag().map(str::to_owned)),
                    reporter: options.reporter.clone(),
                    docker_manifests: options.oci_manifests(),
                },
            )
            .await;
            match pulled {
                Ok(pulled) => Ok(pulled.manifest.digest),
                Err(e) => {
                    // Do not leave behind a layout this failed pull created.
                    if !existed {
                        let _ = fs_err::remove_dir_all(dir);
                    }
                    Err(e)
                }
            }
        }
        (ImageLocation::Oci { dir, tag }, ImageLocation::Docker(to)) => {
            push_layout(client, dir, tag.as_deref(), to, options).await
        }
        (ImageLocation::Docker(from), ImageLocation::Docker(to)) => {
            // Through a temporary layout; blobs the target registry can
            // mount from the source repository are not transferred at all.
            let temp = tempfile::tempdir()?;
            let layout = Layout::create_or_open(temp.path())?;
            let same_registry = from.api_host() == to.api_host();
            let pull_session = client.session(from, false, &[])?;
            let pulled = pull(
                &pull_session,
                from,
                &layout,
                &PullOptions {
                    platform: options.platform.clone(),
                    tag: None,
                    reporter: options.reporter.clone(),
                    docker_manifests: DockerManifests::Keep,
                },
            )
            .await?;
            let mount_from = if same_registry {
                vec![from.repository().to_owned()]
            } else {
                Vec::new()
            };
            let push_session = client.session(to, true, &mount_from)?;
            push(
                &push_session,
                &layout,
                &pulled.manifest,
                to,
                &PushOptions {
                    mount_from,
                    reporter: options.reporter.clone(),
                },
            )
            .await
        }
        (ImageLocation::Docker(from), ImageLocation::Archive(to)) => {
            // Pull into a temporary layout, then let slipway-oci write the archive.
            let temp = tempfile::tempdir()?;
            let dir = temp.path().join("layout");
            let tag = from
                .tag()
                .unwrap_or(crate::reference::DEFAULT_TAG)
                .to_owned();
            let layout = Layout::create_or_open(&dir)?;
            let session = client.session(from, false, &[])?;
            pull(
                &session,
                from,
                &layout,
                &PullOptions {
                    platform: options.platform.clone(),
                    tag: Some(tag.clone()),
                    reporter: options.reporter.clone(),
                    docker_manifests: match to {
                        slipway_oci::ImageRef::DockerArchive { .. } => DockerManifests::Keep,
                        _ => options.oci_manifests(),
                    },
                },
            )
            .await?;
            let source = slipway_oci::ImageRef::Oci {
                path: dir,
                reference: Some(tag),
            };
            Ok(slipway_oci::copy(&source, to)?.digest().to_string())
        }
        (ImageLocation::Archive(from), ImageLocation::Docker(to)) => {
            let temp = tempfile::tempdir()?;
            let dir = temp.path().join("layout");
            let staged = slipway_oci::ImageRef::Oci {
                path: dir.clone(),
                reference: Some("image".to_owned()),
            };
            slipway_oci::copy(from, &staged)?;
            push_layout(client, &dir, Some("image"), to, options).await
        }
        (ImageLocation::Archive(_), _) | (_, ImageLocation::Archive(_)) => {
            let (Some(s), Some(d)) = (src.local(), dst.local()) else {
                return Err(Error::Transport {
                    location: format!("{src} -> {dst}"),
                    reason: "unsupported combination".to_owned(),
                });
            };
            Ok(slipway_oci::copy(&s, &d)?.digest().to_string())
        }
        (
            ImageLocation::Oci {
                dir: sdir,
                tag: stag,
            },
            ImageLocation::Oci {
                dir: ddir,
                tag: dtag,
            },
        ) => {
            let source = Layout::open(sdir)?;
            let target = Layout::create_or_open(ddir)?;
            let descriptor = source.resolve(stag.as_deref())?;
            copy_local(&source, &target, &descriptor)?;
            target.set_tag(
                &descriptor_without_tag(&descriptor),
                dtag.as_deref().or(stag.as_deref()),
            )?;
            Ok(descriptor.digest)
        }
    }
}

/// Push the image `tag` of the layout at `dir` to `to`.
async fn push_layout(
    client: &Client,
    dir: &std::path::Path,
    tag: Option<&str>,
    to: &Reference,
    options: &CopyOptions,
) -> Result<String> {
    let layout = Layout::open(dir)?;
    let descriptor = layout.resolve(tag)?;
    let session = client.session(to, true, &[])?;
    push(
        &session,
        &layout,
        &descriptor,
        to,
        &PushOptions {
            mount_from: Vec::new(),
            reporter: options.reporter.clone(),
        },
    )
    .await
}

fn descriptor_without_tag(d: &Descriptor) -> Descriptor {
    let mut d = d.clone();
    if let Some(a) = d.annotations.as_mut() {
        a.remove(crate::layout::REF_NAME);
        if a.is_empty() {
            d.annotations = None;
        }
    }
    d
}

/// Copy a manifest (or index) and everything it references between layouts, verified.
fn copy_local(source: &Layout, target: &Layout, descriptor: &Descriptor) -> Result<()> {
    let bytes = source.read_blob(&descriptor.digest)?;
    let origin = source.blob_path(&descriptor.digest).display().to_string();
    let doc: ManifestDoc = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        what: "manifest",
        origin: origin.clone(),
        source: e,
    })?;
    match kind_of(&doc.effective_media_type(Some(&descriptor.media_type))) {
        Some(ManifestKind::Index) => {
            for child in &doc.manifests {
                copy_local(source, target, child)?;
            }
        }
        _ => {
            for blob in doc.config.iter().chain(doc.layers.iter()) {
                if target.has_blob(&blob.digest, blob.size) {
                    continue;
                }
                let path = source.blob_path(&blob.digest);
                let mut reader = fs_err::File::open(&path)?;
                let mut writer = target.blob_writer()?;
                std::io::copy(&mut reader, &mut writer)?;
                writer.finish_verified(&blob.digest, blob.size, &path.display().to_string())?;
            }
        }
    }
    target.write_blob(&bytes, Some(&descriptor.digest), &origin)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            ImageLocation::parse("oci:/tmp/x:v1").unwrap(),
            ImageLocation::Oci {
                dir: "/tmp/x".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            ImageLocation::parse("oci:rel").unwrap(),
            ImageLocation::Oci {
                dir: "rel".into(),
                tag: None
            }
        );
        assert_eq!(
            ImageLocation::parse("docker://centos:6.9")
                .unwrap()
                .to_string(),
            "docker://docker.io/library/centos:6.9"
        );
        assert!(matches!(
            ImageLocation::parse("docker-archive:x.tar").unwrap(),
            ImageLocation::Archive(_)
        ));
        assert!(ImageLocation::parse("centos").is_err());
    }
}
