//! OCI images for slipway: image layouts, deterministic layers, image
//! config/manifest/index, `oci-archive` and `docker-archive`, transports and
//! safe unpacking. Shared types (digests, descriptors via [`oci_spec`],
//! platforms) live here; this crate knows nothing of registries or tokio.
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
//!
//! # Decisions
//!
//! - **Blobs** are written to a temporary file inside the layout, hashed while
//!   written, and renamed to `blobs/sha256/<hex>` only when complete (and
//!   checked, with [`BlobWriter::finish_verified`]). `index.json` is replaced
//!   atomically. Every JSON blob goes through [`canonical_json`] (sorted keys,
//!   compact), because oci-spec keeps maps in `HashMap`s.
//! - **Configs** stay raw JSON ([`ImageConfig`]): a pulled config keeps its
//!   unknown fields, and an unedited one keeps its bytes and digest.
//! - **Layer tars** are built header by header ([`tar::TarWriter`]): entries in
//!   depth-first order with each directory's names sorted by bytes (paths
//!   sorted component by component; parents before children), USTAR headers
//!   with numeric ids and empty user/group names, mtimes clamped to
//!   `SOURCE_DATE_EPOCH` (default [`DEFAULT_SOURCE_DATE_EPOCH`] = 0, never the
//!   clock), no atime/ctime, PAX records only for what USTAR cannot hold
//!   (long paths/targets, big sizes/ids, `SCHILY.xattr.*`), hard links by
//!   device and inode (the first path in order is the file). `security.selinux`
//!   is left out: it describes the host, not the image.
//! - **gzip** is libdeflate level 4 ([`GZIP_LEVEL`], the lowest level no
//!   larger than `umoci insert`'s layers; see there) in independent 1 MiB
//!   blocks, each one gzip member (mtime 0, OS byte 255), compressed on all
//!   CPUs and concatenated in order: the output does not depend on the
//!   thread count. The tar digest (diff id) and the
//!   compressed digest are computed in the same pass. zstd is level 3.
//! - **Reading layers** goes through one reader, [`read_layer`]: blob
//!   decompressed by its magic bytes, entries classified as plain
//!   (file, directory, link, …), whiteout or opaque marker, paths normalised
//!   as Docker, containerd and GNU tar do (`/a`, `./a` and `a` are the same
//!   entry; `/` is the root's own metadata), a missing final padding or
//!   end-of-archive accepted when all data is there (umoci 0.4.7 writes such
//!   layers). Unpacking, tar import, `slipway diff` and the vsyscall audit use it.
//! - **Unpacking** resolves every parent with `openat2(RESOLVE_BENEATH)`, never
//!   follows the final component, and refuses (and reports in
//!   [`UnpackReport`]) entries with `..`, paths through a symlink that leaves
//!   the target (absolute symlinks included), hard links to such paths, and
//!   whiteouts of `.`/`..`; the rest of the layer is applied. Directory modes
//!   and times are set at the end of each layer.
//! - **Transports** ([`ImageRef`]): `oci:`, `oci-archive:` (a deterministic
//!   tar of a layout holding just the image) and `docker-archive:` (the
//!   `docker save` layout: `<id>/layer.tar` uncompressed, `manifest.json`,
//!   `repositories`). Archives are read by extracting them (safely) to a
//!   temporary directory; destinations are written beside their path and
//!   renamed into place.
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
mod platform_index;
mod reader;
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
pub use platform_index::write_platform_index;
pub use reader::{EntryClass, LayerDigests, LayerEntry, normalize_path, read_layer};
pub use transport::{
    ImageRef, LocalImage, TRANSPORTS, copy, copy_blob, inspect_json, write_image_to,
};
pub use unpack::{Refusal, UnpackOptions, UnpackReport, unpack, unpack_layer};
