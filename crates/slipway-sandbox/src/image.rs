//! Images in and out of the sandbox: an image's rootfs staged (unpacked
//! once per manifest digest into the store) as the overlay lower, and a new
//! image written as the old one plus one captured layer.

use std::path::{Path, PathBuf};

use slipway_oci::oci_spec::image::Descriptor;
use slipway_oci::{
    Image, ImageConfig, ImageRef, LayerOptions, LocalImage, OciLayout, Platform, UnpackOptions,
    copy_blob, unpack, write_image, write_image_to,
};

use crate::capture::Transient;
use crate::error::{Error, Result};
use crate::sandbox::StepOutcome;

fn oci(what: &str, source: slipway_oci::Error) -> Error {
    Error::Image {
        what: what.to_owned(),
        source: Box::new(source),
    }
}

/// An image opened for a step, with its rootfs unpacked.
#[derive(Debug)]
pub struct StagedImage {
    /// The image and the layout holding its blobs.
    pub local: LocalImage,
    /// Its unpacked rootfs (read-only by convention: the overlay lower).
    pub rootfs: PathBuf,
}

impl StagedImage {
    /// The image's platform (from its config).
    pub fn platform(&self) -> Platform {
        self.local.image.config.platform()
    }

    /// True for a 32-bit x86 image (steps get `PER_LINUX32`).
    pub fn is_i686(&self) -> bool {
        self.platform().architecture == "386"
    }
}

/// Open `image` and unpack its rootfs under `store/rootfs/<manifest digest>`
/// (reused when already there; written to a temporary directory and renamed
/// into place, so a killed unpack leaves nothing half-made).
pub fn stage_image(image: &str, store: &Path) -> Result<StagedImage> {
    let reference = ImageRef::parse_or_oci_dir(image).map_err(|e| oci(image, e))?;
    let local = LocalImage::open(&reference).map_err(|e| oci(image, e))?;
    let digest = local
        .image
        .descriptor
        .digest()
        .to_string()
        .replace(':', "-");
    let cache = store.join("rootfs");
    let rootfs = cache.join(&digest);
    if !rootfs.is_dir() {
        fs_err::create_dir_all(&cache)?;
        let temp = cache.join(format!(".{digest}.tmp-{}", std::process::id()));
        crate::remove_tree(&temp)?;
        let unpacked = unpack(
            &local.layout,
            &local.image,
            &temp,
            &UnpackOptions::default(),
        );
        if let Err(e) = unpacked {
            let _ = crate::remove_tree(&temp);
            return Err(oci(image, e));
        }
        if std::fs::rename(&temp, &rootfs).is_err() {
            // Another process staged it first.
            crate::remove_tree(&temp)?;
        }
    }
    Ok(StagedImage { local, rootfs })
}

/// Write `base` plus the layer captured from `outcome` to `dest`, with a
/// history entry `created_by`. Returns the new manifest's descriptor.
pub fn write_with_layer(
    base: &StagedImage,
    outcome: &StepOutcome,
    dest: &str,
    created_by: &str,
    transient: &Transient,
    options: &LayerOptions,
    scratch: &Path,
) -> Result<Descriptor> {
    let dest_ref = ImageRef::parse_or_oci_dir(dest).map_err(|e| oci(dest, e))?;
    fs_err::create_dir_all(scratch)?;
    let temp = tempfile::Builder::new()
        .prefix("slipway-image-")
        .tempdir_in(scratch)?;
    let layout = OciLayout::create(temp.path().join("layout")).map_err(|e| oci(dest, e))?;
    let image = &base.local.image;
    for blob in image.blobs() {
        copy_blob(&base.local.layout, &layout, &blob).map_err(|e| oci(dest, e))?;
    }
    let layer = outcome.capture(&layout, transient, options)?;
    let mut config: ImageConfig = image.config.clone();
    config.append_layer(&layer.diff_id, created_by, options.source_date_epoch);
    let mut layers: Vec<Descriptor> = image.layers().to_vec();
    layers.push(layer.descriptor);
    let tag = dest_ref.reference().unwrap_or("latest").to_owned();
    write_image(&layout, &config, &layers, Some(&tag)).map_err(|e| oci(dest, e))?;
    let written = Image::load(&layout, Some(&tag)).map_err(|e| oci(dest, e))?;
    let local = LocalImage::from_layout(layout, written);
    write_image_to(&local, &dest_ref).map_err(|e| oci(dest, e))
}
