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
    stage_image_for(image, store, None)
}

/// Like [`stage_image`], choosing `platform` from a multi-platform `oci:`
/// layout (other transports hold one image).
pub fn stage_image_for(
    image: &str,
    store: &Path,
    platform: Option<&Platform>,
) -> Result<StagedImage> {
    let reference = ImageRef::parse_or_oci_dir(image).map_err(|e| oci(image, e))?;
    let local = match (&reference, platform) {
        (ImageRef::Oci { path, reference }, Some(platform)) => {
            let layout = OciLayout::open(path).map_err(|e| oci(image, e))?;
            let chosen = Image::load_for(&layout, reference.as_deref(), platform)
                .map_err(|e| oci(image, e))?;
            LocalImage::from_layout(layout, chosen)
        }
        _ => LocalImage::open(&reference).map_err(|e| oci(image, e))?,
    };
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
    // An `oci:` destination is written in place (it must be new); anything
    // else goes through a temporary layout and `write_image_to`.
    // An existing layout gains the image and its tag (replaced if there),
    // under the layout's lock, through `write_image_to`, as `copy` does.
    let direct = match &dest_ref {
        ImageRef::Oci { path, .. } if !path.join("oci-layout").exists() => Some(path.clone()),
        _ => None,
    };
    // The new layout is assembled beside its destination and renamed into
    // place at the end, so a failure never leaves a half-written image.
    let layout_dir = match &direct {
        Some(path) => {
            if path.exists() && fs_err::read_dir(path)?.next().is_some() {
                return Err(Error::Image {
                    what: dest.to_owned(),
                    source: format!("`{}` exists and is not empty", path.display()).into(),
                });
            }
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            fs_err::create_dir_all(parent)?;
            tempfile::Builder::new()
                .prefix(&format!(".{name}.tmp-"))
                .tempdir_in(parent)?
                .keep()
                .join("layout")
        }
        None => temp.path().join("layout"),
    };
    let _cleanup = direct
        .as_ref()
        .and_then(|_| layout_dir.parent().map(TempGuard));
    let layout = OciLayout::create(&layout_dir).map_err(|e| oci(dest, e))?;
    let image = &base.local.image;
    for blob in image.blobs() {
        link_or_copy_blob(&base.local.layout, &layout, &blob).map_err(|e| oci(dest, e))?;
    }
    let layer = outcome.capture(&layout, transient, options)?;
    let mut config: ImageConfig = image.config.clone();
    config.append_layer(&layer.diff_id, created_by, options.source_date_epoch);
    let mut layers: Vec<Descriptor> = image.layers().to_vec();
    layers.push(layer.descriptor);
    let tag = dest_ref.reference().unwrap_or("latest").to_owned();
    let manifest = write_image(&layout, &config, &layers, Some(&tag)).map_err(|e| oci(dest, e))?;
    if let Some(path) = &direct {
        fs_err::rename(&layout_dir, path)?;
        return Ok(manifest);
    }
    let written = Image::load(&layout, Some(&tag)).map_err(|e| oci(dest, e))?;
    let local = LocalImage::from_layout(layout, written);
    write_image_to(&local, &dest_ref).map_err(|e| oci(dest, e))
}

/// Blobs are immutable and content-addressed: on the same file system a
/// hard link is as good as a verified copy and costs nothing. Otherwise
/// `copy_blob` copies and verifies.
fn link_or_copy_blob(
    from: &OciLayout,
    to: &OciLayout,
    descriptor: &Descriptor,
) -> slipway_oci::Result<()> {
    if let Ok(digest) = slipway_oci::Digest::try_from(descriptor.digest()) {
        let target = to.blob_path(&digest);
        if target.exists() || std::fs::hard_link(from.blob_path(&digest), &target).is_ok() {
            return Ok(());
        }
    }
    copy_blob(from, to, descriptor)
}

/// Removes a temporary directory on drop (also after a successful rename,
/// when it is empty).
struct TempGuard<'a>(&'a Path);

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        let _ = crate::remove_tree(self.0);
    }
}
