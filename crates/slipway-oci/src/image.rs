//! Writing an image (config + manifest + index entry) and reading one back.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde_json::json;

use crate::config::{ImageConfig, Platform};
use crate::layout::OciLayout;
use crate::{Digest, Error, Result, canonical_json};

/// Docker's media types, which mean the same bytes as OCI's.
pub mod docker {
    /// A Docker image manifest (schema 2).
    pub const MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// A Docker manifest list.
    pub const MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// A Docker image config.
    pub const CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// A gzip-compressed Docker layer.
    pub const LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// An uncompressed Docker layer.
    pub const LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
}

/// Write `config` and a manifest listing `layers` into `layout`, and add the
/// manifest to the index under `tag`. Returns the manifest's descriptor.
///
/// The config's `rootfs.diff_ids` must have one entry per layer. Docker layer
/// media types are written as their OCI equivalents (same bytes).
pub fn write_image(
    layout: &OciLayout,
    config: &ImageConfig,
    layers: &[Descriptor],
    tag: Option<&str>,
) -> Result<Descriptor> {
    let manifest = write_manifest(layout, config, layers)?;
    layout.add_manifest(&manifest, tag)?;
    Ok(manifest)
}

/// Like [`write_image`] without touching the index.
pub fn write_manifest(
    layout: &OciLayout,
    config: &ImageConfig,
    layers: &[Descriptor],
) -> Result<Descriptor> {
    let diff_ids = config.diff_ids()?;
    if diff_ids.len() != layers.len() {
        return Err(Error::invalid(
            "image",
            format!(
                "the config lists {} diff_ids but there are {} layers",
                diff_ids.len(),
                layers.len()
            ),
        ));
    }
    let config_desc = layout.write_blob(&config.to_canonical_json()?, MediaType::ImageConfig)?;
    write_manifest_for(layout, &config_desc, layers)
}

/// Write a manifest for a config blob that is already in `layout` (kept byte
/// for byte, e.g. a pulled Docker config) and `layers`.
pub fn write_manifest_for(
    layout: &OciLayout,
    config: &Descriptor,
    layers: &[Descriptor],
) -> Result<Descriptor> {
    let mut config_desc = Descriptor::new(
        MediaType::ImageConfig,
        config.size(),
        config.digest().clone(),
    );
    config_desc.set_annotations(config.annotations().clone());
    let layers: Vec<Descriptor> = layers
        .iter()
        .map(|d| {
            let mut d = d.clone();
            let oci = match d.media_type().to_string().as_str() {
                docker::LAYER_GZIP => Some(MediaType::ImageLayerGzip),
                docker::LAYER_TAR => Some(MediaType::ImageLayer),
                _ => None,
            };
            if let Some(oci) = oci {
                d.set_media_type(oci);
            }
            d
        })
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MediaType::ImageManifest.to_string(),
        "config": config_desc,
        "layers": layers,
    });
    layout.write_blob(&canonical_json(&manifest)?, MediaType::ImageManifest)
}

/// An image read from a layout: manifest and config, with their raw bytes.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest's descriptor (as found in the index, or made from the digest).
    pub descriptor: Descriptor,
    /// The parsed manifest.
    pub manifest: ImageManifest,
    /// The manifest's bytes, exactly as stored.
    pub manifest_bytes: Vec<u8>,
    /// The config, as raw JSON.
    pub config: ImageConfig,
    /// The config's bytes, exactly as stored.
    pub config_bytes: Vec<u8>,
}

impl Image {
    /// Load the image named by `reference` (a tag, a `sha256:` digest, or
    /// `None` for the layout's only image). An index is resolved to the
    /// manifest for the host platform (or its only manifest).
    pub fn load(layout: &OciLayout, reference: Option<&str>) -> Result<Image> {
        Image::load_for(layout, reference, &Platform::host())
    }

    /// Like [`load`](Self::load), choosing `platform` from a multi-platform index.
    pub fn load_for(
        layout: &OciLayout,
        reference: Option<&str>,
        platform: &Platform,
    ) -> Result<Image> {
        let descriptor = layout.resolve(reference)?;
        Image::from_descriptor(layout, descriptor, platform)
    }

    /// Load the manifest `descriptor` points at (following an index to the
    /// entry for `platform`).
    pub fn from_descriptor(
        layout: &OciLayout,
        descriptor: Descriptor,
        platform: &Platform,
    ) -> Result<Image> {
        let digest = Digest::try_from(descriptor.digest())?;
        let bytes = layout.read_blob(&digest)?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(Error::json(format!("manifest {digest}")))?;
        let media_type = value
            .get("mediaType")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| descriptor.media_type().to_string());
        let is_index = media_type == MediaType::ImageIndex.to_string()
            || media_type == docker::MANIFEST_LIST
            || (value.get("manifests").is_some() && value.get("layers").is_none());
        if is_index {
            let index: ImageIndex = serde_json::from_value(value)
                .map_err(Error::json(format!("image index {digest}")))?;
            let chosen = choose_platform(index.manifests(), platform).ok_or_else(|| {
                Error::invalid(
                    format!("image index {digest}"),
                    format!("it has no manifest for {platform}"),
                )
            })?;
            return Image::from_descriptor(layout, chosen, platform);
        }
        let manifest: ImageManifest =
            serde_json::from_slice(&bytes).map_err(Error::json(format!("manifest {digest}")))?;
        let config_digest = Digest::try_from(manifest.config().digest())?;
        let config_bytes = layout.read_blob(&config_digest)?;
        let config = ImageConfig::from_slice(&config_bytes)?;
        let image = Image {
            descriptor,
            manifest,
            manifest_bytes: bytes,
            config,
            config_bytes,
        };
        let diff_ids = image.config.diff_ids()?;
        if diff_ids.len() != image.layers().len() {
            return Err(Error::invalid(
                format!("image {digest}"),
                format!(
                    "its config lists {} diff_ids for {} layers",
                    diff_ids.len(),
                    image.layers().len()
                ),
            ));
        }
        Ok(image)
    }

    /// The manifest's digest.
    pub fn digest(&self) -> Result<Digest> {
        Digest::try_from(self.descriptor.digest())
    }

    /// The layer descriptors, bottom first.
    pub fn layers(&self) -> &[Descriptor] {
        self.manifest.layers()
    }

    /// The config's `rootfs.diff_ids`, bottom first.
    pub fn diff_ids(&self) -> Result<Vec<Digest>> {
        self.config.diff_ids()
    }

    /// Every blob the image needs: config and layers (not the manifest).
    pub fn blobs(&self) -> Vec<Descriptor> {
        let mut blobs = vec![self.manifest.config().clone()];
        blobs.extend(self.layers().iter().cloned());
        blobs
    }
}

fn choose_platform(manifests: &[Descriptor], platform: &Platform) -> Option<Descriptor> {
    if let [only] = manifests {
        return Some(only.clone());
    }
    manifests
        .iter()
        .find(|d| {
            d.platform().as_ref().is_some_and(|p| {
                let theirs = Platform {
                    os: p.os().to_string(),
                    architecture: p.architecture().to_string(),
                    variant: p.variant().clone(),
                };
                platform.matches(&theirs)
            })
        })
        .cloned()
}
