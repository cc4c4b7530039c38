//! OCI images for slipway: image layouts, deterministic layers, image
//! config/manifest/index, `oci-archive` and `docker-archive`, transports and
//! safe unpacking.
//!
//! Every blob is content-addressed and written through a temporary file that
//! is renamed into place once its digest is known; every JSON blob goes
//! through [`canonical_json`]; layer tars are built header by header so the
//! same tree always gives the same bytes.
//!
//! ```no_run
//! use slipway_oci::{ImageConfig, LayerOptions, OciLayout, Platform, write_image, write_layer_from_dir};
//!
//! # fn main() -> slipway_oci::Result<()> {
//! let layout = OciLayout::create("out/image")?;
//! let options = LayerOptions::default();
//! let layer = write_layer_from_dir(&layout, "rootfs".as_ref(), &options)?;
//! let mut config = ImageConfig::new(&Platform::parse("linux/amd64")?, options.source_date_epoch);
//! config.set_env("PATH", "/usr/bin:/bin");
//! config.append_layer(&layer.diff_id, "import-rootfs", options.source_date_epoch);
//! let manifest = write_image(&layout, &config, &[layer.descriptor], Some("latest"))?;
//! println!("{}", manifest.digest());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod compress;
mod config;
mod digest;
mod error;
mod image;
mod import;
mod json;
mod layer;
mod layout;
pub mod tar;
mod transport;
mod unpack;

pub use compress::{Compression, GZIP_BLOCK, GZIP_LEVEL, ParallelGzEncoder, ZSTD_LEVEL};
pub use config::{ImageConfig, Platform, rfc3339};
pub use digest::{Digest, Hasher, HashingReader, HashingWriter};
pub use error::{Error, Result};
pub use image::{Image, docker, write_image, write_manifest, write_manifest_for};
pub use import::{import_rootfs, write_layer_from_tar};
pub use json::canonical_json;
pub use layer::{
    DEFAULT_SOURCE_DATE_EPOCH, Layer, LayerOptions, LayerWriter, OPAQUE_WHITEOUT, WHITEOUT_PREFIX,
    source_date_epoch_from_env, write_layer_from_dir,
};
pub use layout::{Blob, BlobWriter, OciLayout, REF_NAME_ANNOTATION, ref_name, validate_tag};
pub use oci_spec;
pub use transport::{
    ImageRef, LocalImage, TRANSPORTS, copy, copy_blob, inspect_json, write_image_to,
};
pub use unpack::{Refusal, UnpackOptions, UnpackReport, unpack, unpack_layer};
