//! Image locations as skopeo users write them, and copying between them:
//! `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:NAME:TAG]`.
//!
//! Other transports (the registry's `docker://`) live in crates that depend on
//! this one: they recognise their own prefix before calling
//! [`ImageRef::parse`], and move images in and out through an [`OciLayout`]
//! with [`LocalImage`] and [`write_image_to`].
//!
//! Every destination is written beside its final path and renamed into place
//! at the end, so a failure never leaves a half-written archive or layout
//! (an existing layout gains blobs, each atomically, and then its index entry).

use std::fmt;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, MediaType};
use serde_json::{Value, json};

use crate::compress::Compression;
use crate::config::ImageConfig;
use crate::digest::HashingWriter;
use crate::image::{Image, write_manifest_for};
use crate::layout::{OciLayout, REF_NAME_ANNOTATION, validate_tag};
use crate::reader::decompressed;
use crate::tar::{EntryKind, TarEntry, TarWriter};
use crate::unpack::{UnpackOptions, UnpackReport, open_beneath, unpack_layer};
use crate::{Digest, Error, Result, canonical_json};

/// The transports this crate implements, as written before the first `:`.
pub const TRANSPORTS: [&str; 3] = ["oci", "oci-archive", "docker-archive"];

/// Where an image is (or goes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImageRef {
    /// `oci:DIR[:REF]`: an OCI image layout directory; REF is a tag or a digest.
    Oci {
        /// The layout directory.
        path: PathBuf,
        /// A tag or `sha256:` digest.
        reference: Option<String>,
    },
    /// `oci-archive:FILE[:REF]`: a tar of an OCI image layout.
    OciArchive {
        /// The archive.
        path: PathBuf,
        /// A tag or `sha256:` digest.
        reference: Option<String>,
    },
    /// `docker-archive:FILE[:NAME:TAG]`: what `docker save` writes and `docker load` reads.
    DockerArchive {
        /// The archive.
        path: PathBuf,
        /// `NAME:TAG` (in `RepoTags`), or `@N` for the N-th image when reading.
        reference: Option<String>,
    },
}

impl ImageRef {
    /// Parse `TRANSPORT:PATH[:REF]` for the transports in [`TRANSPORTS`].
    /// An unknown transport (e.g. `docker://…`) is an [`Error::InvalidReference`];
    /// crates adding transports match their prefix first.
    pub fn parse(text: &str) -> Result<ImageRef> {
        let bad = |reason: String| Error::InvalidReference {
            reference: text.into(),
            reason,
        };
        let Some((transport, rest)) = text.split_once(':') else {
            return Err(bad(format!(
                "expected TRANSPORT:PATH with a transport among {}",
                TRANSPORTS.join(", ")
            )));
        };
        let (path, reference) = match rest.split_once(':') {
            Some((path, reference)) => (path, Some(reference.to_owned())),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(bad("the path is empty".into()));
        }
        if reference.as_deref() == Some("") {
            return Err(bad("the reference after the path is empty".into()));
        }
        let path = PathBuf::from(path);
        match transport {
            "oci" | "oci-archive" => {
                if let Some(r) = &reference
                    && !r.starts_with("sha256:")
                {
                    validate_tag(r)?;
                }
                Ok(if transport == "oci" {
                    ImageRef::Oci { path, reference }
                } else {
                    ImageRef::OciArchive { path, reference }
                })
            }
            "docker-archive" => Ok(ImageRef::DockerArchive { path, reference }),
            other => Err(bad(format!(
                "unknown transport `{other}` (known: {})",
                TRANSPORTS.join(", ")
            ))),
        }
    }

    /// Like [`parse`](Self::parse), but text without any `:` is an `oci:` layout directory.
    pub fn parse_or_oci_dir(text: &str) -> Result<ImageRef> {
        if text.contains(':') {
            ImageRef::parse(text)
        } else {
            Ok(ImageRef::Oci {
                path: text.into(),
                reference: None,
            })
        }
    }

    /// The transport name.
    pub fn transport(&self) -> &'static str {
        match self {
            ImageRef::Oci { .. } => "oci",
            ImageRef::OciArchive { .. } => "oci-archive",
            ImageRef::DockerArchive { .. } => "docker-archive",
        }
    }

    /// The directory or file.
    pub fn path(&self) -> &Path {
        match self {
            ImageRef::Oci { path, .. }
            | ImageRef::OciArchive { path, .. }
            | ImageRef::DockerArchive { path, .. } => path,
        }
    }

    /// The tag, digest or docker reference after the path.
    pub fn reference(&self) -> Option<&str> {
        match self {
            ImageRef::Oci { reference, .. }
            | ImageRef::OciArchive { reference, .. }
            | ImageRef::DockerArchive { reference, .. } => reference.as_deref(),
        }
    }

    /// The same location with another reference.
    pub fn with_reference(&self, new: Option<String>) -> ImageRef {
        let mut r = self.clone();
        match &mut r {
            ImageRef::Oci { reference, .. }
            | ImageRef::OciArchive { reference, .. }
            | ImageRef::DockerArchive { reference, .. } => *reference = new,
        }
        r
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport(), self.path().display())?;
        if let Some(r) = self.reference() {
            write!(f, ":{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<ImageRef> {
        ImageRef::parse(s)
    }
}

/// An image opened for reading, in an OCI layout (a temporary one, removed on
/// drop, for archives).
#[derive(Debug)]
pub struct LocalImage {
    /// The layout holding the image's blobs.
    pub layout: OciLayout,
    /// The image.
    pub image: Image,
    /// The tag it had at its source, if any (an OCI tag, or a docker `NAME:TAG`).
    pub tag: Option<String>,
    _temp: Option<tempfile::TempDir>,
}

impl LocalImage {
    /// Open the image at `src`.
    pub fn open(src: &ImageRef) -> Result<LocalImage> {
        match src {
            ImageRef::Oci { path, reference } => {
                let layout = OciLayout::open(path)?;
                let image = Image::load(&layout, reference.as_deref())?;
                let tag = crate::layout::ref_name(&image.descriptor).map(str::to_owned);
                Ok(LocalImage {
                    layout,
                    image,
                    tag,
                    _temp: None,
                })
            }
            ImageRef::OciArchive { path, reference } => {
                let temp = extract_archive(path)?;
                let layout = OciLayout::open(temp.path()).map_err(|e| match e {
                    Error::InvalidLayout { reason, .. } => Error::InvalidLayout {
                        path: path.clone(),
                        reason,
                    },
                    e => e,
                })?;
                let image = Image::load(&layout, reference.as_deref()).map_err(|e| match e {
                    Error::ImageNotFound {
                        reference,
                        available,
                        ..
                    } => Error::ImageNotFound {
                        layout: path.clone(),
                        reference,
                        available,
                    },
                    Error::AmbiguousImage {
                        count, available, ..
                    } => Error::AmbiguousImage {
                        layout: path.clone(),
                        count,
                        available,
                    },
                    e => e,
                })?;
                let tag = crate::layout::ref_name(&image.descriptor).map(str::to_owned);
                Ok(LocalImage {
                    layout,
                    image,
                    tag,
                    _temp: Some(temp),
                })
            }
            ImageRef::DockerArchive { path, reference } => {
                read_docker_archive(path, reference.as_deref())
            }
        }
    }

    /// Wrap an image already in a layout.
    pub fn from_layout(layout: OciLayout, image: Image) -> LocalImage {
        let tag = crate::layout::ref_name(&image.descriptor).map(str::to_owned);
        LocalImage {
            layout,
            image,
            tag,
            _temp: None,
        }
    }
}

/// Copy the image at `src` to `dst`; returns the manifest descriptor written
/// (for docker-archive, the OCI manifest of the image as it was read).
///
/// The destination's tag is its own reference, else the source's tag.
pub fn copy(src: &ImageRef, dst: &ImageRef) -> Result<Descriptor> {
    let image = LocalImage::open(src)?;
    write_image_to(&image, dst)
}

/// Write `image` to `dst` (see [`copy`]).
pub fn write_image_to(image: &LocalImage, dst: &ImageRef) -> Result<Descriptor> {
    let tag = dst
        .reference()
        .map(str::to_owned)
        .or_else(|| image.tag.clone());
    match dst {
        ImageRef::Oci { path, .. } => {
            let tag = tag.as_deref().filter(|t| !t.starts_with("sha256:"));
            let tag = tag.map(oci_tag_of).transpose()?;
            with_new_dir(path, |layout| {
                for blob in
                    std::iter::once(image.image.descriptor.clone()).chain(image.image.blobs())
                {
                    copy_blob(&image.layout, layout, &blob)?;
                }
                layout.add_manifest(&plain_descriptor(&image.image.descriptor), tag.as_deref())
            })?;
            Ok(plain_descriptor(&image.image.descriptor))
        }
        ImageRef::OciArchive { path, .. } => {
            let tag = tag.as_deref().filter(|t| !t.starts_with("sha256:"));
            let tag = tag.map(oci_tag_of).transpose()?;
            with_new_file(path, |file| write_oci_archive(image, tag.as_deref(), file))?;
            Ok(plain_descriptor(&image.image.descriptor))
        }
        ImageRef::DockerArchive { path, .. } => {
            let tag = tag
                .as_deref()
                .filter(|t| !t.starts_with("sha256:") && !t.starts_with('@'));
            with_new_file(path, |file| write_docker_archive(image, tag, file))?;
            Ok(plain_descriptor(&image.image.descriptor))
        }
    }
}

/// An OCI tag from a tag or a docker `NAME:TAG` reference (its tag part).
fn oci_tag_of(reference: &str) -> Result<String> {
    let tag = match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') && !name.is_empty() => tag,
        _ => reference,
    };
    validate_tag(tag)?;
    Ok(tag.to_owned())
}

/// A descriptor with only media type, digest and size (index annotations dropped).
fn plain_descriptor(d: &Descriptor) -> Descriptor {
    let mut plain = Descriptor::new(d.media_type().clone(), d.size(), d.digest().clone());
    plain.set_platform(d.platform().clone());
    plain
}

/// Copy one blob between layouts (verified), unless the destination has it.
pub fn copy_blob(from: &OciLayout, to: &OciLayout, descriptor: &Descriptor) -> Result<()> {
    let digest = Digest::try_from(descriptor.digest())?;
    if to.has_blob(&digest) {
        return Ok(());
    }
    let mut src = from.open_blob(&digest)?;
    let mut writer = to.blob_writer()?;
    io::copy(&mut src, &mut writer)?;
    writer
        .finish_verified(&digest, descriptor.size())
        .map_err(|e| match e {
            Error::DigestMismatch {
                expected,
                expected_size,
                actual,
                actual_size,
                ..
            } => Error::DigestMismatch {
                what: format!("`{}`", from.blob_path(&digest).display()),
                expected,
                expected_size,
                actual,
                actual_size,
            },
            e => e,
        })?;
    Ok(())
}

/// Run `write` on the layout at `path`: the existing layout in place, or a new
/// one made in a temporary directory beside `path` and renamed to it.
pub(crate) fn with_new_dir<T>(
    path: &Path,
    write: impl FnOnce(&OciLayout) -> Result<T>,
) -> Result<T> {
    let exists = path.join("oci-layout").exists();
    if exists {
        return write(&OciLayout::open(path)?);
    }
    if path.exists() && !is_empty_dir(path)? {
        return Err(Error::DestinationExists {
            path: path.to_owned(),
            reason: "it is not an OCI layout (no `oci-layout` file) and not empty".into(),
        });
    }
    let parent = parent_dir(path);
    let temp = tempfile::Builder::new()
        .prefix(".slipway-tmp-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io_at("creating a temporary directory in", &parent)(bare(e)))?;
    let layout = OciLayout::create(temp.path())?;
    let result = write(&layout)?;
    let temp_path = temp.keep();
    fs_err::set_permissions(
        &temp_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    if path.exists() {
        // An empty directory: rename(2) replaces it.
        fs_err::remove_dir(path)?;
    }
    fs_err::rename(&temp_path, path).inspect_err(|_| {
        let _ = fs_err::remove_dir_all(&temp_path);
    })?;
    Ok(result)
}

/// Run `write` on a temporary file beside `path`, renamed to `path` on success.
pub(crate) fn with_new_file(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    if path.is_dir() {
        return Err(Error::DestinationExists {
            path: path.to_owned(),
            reason: "it is a directory".into(),
        });
    }
    let parent = parent_dir(path);
    let mut temp = tempfile::Builder::new()
        .prefix(".slipway-tmp-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(&parent)
        .map_err(|e| Error::io_at("creating a temporary file in", &parent)(bare(e)))?;
    write(temp.as_file_mut())?;
    temp.as_file_mut()
        .flush()
        .map_err(Error::io_at("writing", temp.path()))?;
    temp.persist(path)
        .map_err(|e| Error::io_at("moving into place at", path)(e.error))?;
    Ok(())
}

/// An I/O error without the path `tempfile` appends (the caller names it).
pub(crate) fn bare(e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => e,
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn is_empty_dir(path: &Path) -> Result<bool> {
    Ok(path.is_dir() && fs_err::read_dir(path)?.next().is_none())
}

/// A regular-file tar entry as archives write them: mode 0644, root-owned, mtime 0.
fn archive_file(path: &str, size: u64) -> TarEntry {
    let mut e = TarEntry::new(path, EntryKind::File { size });
    e.mode = 0o644;
    e
}

fn archive_dir(path: &str) -> TarEntry {
    let mut e = TarEntry::new(path, EntryKind::Directory);
    e.mode = 0o755;
    e
}

fn append_blob(
    tar: &mut TarWriter<&mut dyn Write>,
    layout: &OciLayout,
    name: &str,
    d: &Descriptor,
) -> Result<()> {
    let digest = Digest::try_from(d.digest())?;
    let mut file = layout.open_blob(&digest)?;
    let size = file.metadata()?.len();
    tar.append(&archive_file(name, size), &mut file)?;
    Ok(())
}

/// A deterministic oci-archive: `blobs/`, `blobs/sha256/`, the blobs by digest,
/// `index.json` (this image, tagged), `oci-layout`.
fn write_oci_archive(image: &LocalImage, tag: Option<&str>, out: &mut std::fs::File) -> Result<()> {
    let mut writer = io::BufWriter::with_capacity(1 << 20, out);
    let mut tar = TarWriter::new(&mut writer as &mut dyn Write);
    let mut blobs: Vec<Descriptor> = std::iter::once(image.image.descriptor.clone())
        .chain(image.image.blobs())
        .collect();
    blobs.sort_by_key(|d| d.digest().to_string());
    blobs.dedup_by_key(|d| d.digest().to_string());
    tar.append_data(&archive_dir("blobs"), b"")?;
    tar.append_data(&archive_dir("blobs/sha256"), b"")?;
    for d in &blobs {
        let digest = Digest::try_from(d.digest())?;
        append_blob(
            &mut tar,
            &image.layout,
            &format!("blobs/sha256/{}", digest.hex()),
            d,
        )?;
    }
    let mut entry = plain_descriptor(&image.image.descriptor);
    if let Some(tag) = tag {
        entry.set_annotations(Some(
            [(REF_NAME_ANNOTATION.to_owned(), tag.to_owned())].into(),
        ));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MediaType::ImageIndex.to_string(),
        "manifests": [entry],
    });
    let index = canonical_json(&index)?;
    tar.append_data(&archive_file("index.json", index.len() as u64), &index)?;
    let marker = br#"{"imageLayoutVersion":"1.0.0"}"#;
    tar.append_data(&archive_file("oci-layout", marker.len() as u64), marker)?;
    tar.finish()?;
    writer.flush()?;
    Ok(())
}

/// A docker-archive in the layout `docker save` uses: `<id>/layer.tar`
/// (uncompressed), `<id>/VERSION`, `<id>/json`, `<config hex>.json`,
/// `manifest.json` and, when tagged, `repositories`.
fn write_docker_archive(
    image: &LocalImage,
    tag: Option<&str>,
    out: &mut std::fs::File,
) -> Result<()> {
    let tag = tag.map(docker_tag);
    let config_digest = Digest::try_from(image.image.manifest.config().digest())?;
    let diff_ids = image.image.diff_ids()?;
    let mut ids = Vec::new();
    let mut parent: Option<String> = None;
    for diff_id in &diff_ids {
        let id = match &parent {
            None => diff_id.hex().to_owned(),
            Some(p) => Digest::sha256_of(format!("{p} {diff_id}").as_bytes())
                .hex()
                .to_owned(),
        };
        ids.push((id.clone(), parent.clone()));
        parent = Some(id);
    }

    let scratch = tempfile::tempfile().map_err(|e| {
        Error::io_at("creating a temporary file in", std::env::temp_dir())(crate::transport::bare(
            e,
        ))
    })?;
    let mut scratch = scratch;
    let mut writer = io::BufWriter::with_capacity(1 << 20, out);
    let mut tar = TarWriter::new(&mut writer as &mut dyn Write);

    // Layers, bottom first (their ids are unique, so the order is fixed).
    for (index, (descriptor, (id, parent))) in image.image.layers().iter().zip(&ids).enumerate() {
        let digest = Digest::try_from(descriptor.digest())?;
        // The tar size must be known before the data: decompress to a scratch file.
        scratch.set_len(0)?;
        scratch.rewind()?;
        let mut blob = image.layout.open_blob(&digest)?;
        let mut hashing = HashingWriter::new(&mut scratch);
        io::copy(&mut decompressed(&mut blob)?, &mut hashing)?;
        let (_, actual, size) = hashing.finish();
        if actual != diff_ids[index] {
            return Err(Error::DigestMismatch {
                what: format!("the uncompressed layer {index} (diff id)"),
                expected: diff_ids[index].clone(),
                expected_size: size,
                actual,
                actual_size: size,
            });
        }
        scratch.rewind()?;
        tar.append_data(&archive_dir(id), b"")?;
        tar.append_data(&archive_file(&format!("{id}/VERSION"), 3), b"1.0")?;
        let mut v1 = json!({"id": id, "created": "1970-01-01T00:00:00Z", "container_config": {}});
        if let Some(parent) = parent {
            v1["parent"] = parent.clone().into();
        }
        let v1 = canonical_json(&v1)?;
        tar.append_data(&archive_file(&format!("{id}/json"), v1.len() as u64), &v1)?;
        tar.append(
            &archive_file(&format!("{id}/layer.tar"), size),
            &mut (&mut scratch).take(size),
        )?;
    }

    let config_name = format!("{}.json", config_digest.hex());
    tar.append_data(
        &archive_file(&config_name, image.image.config_bytes.len() as u64),
        &image.image.config_bytes,
    )?;
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": tag.as_ref().map(|t| vec![t.clone()]),
        "Layers": ids.iter().map(|(id, _)| format!("{id}/layer.tar")).collect::<Vec<_>>(),
    }]);
    let manifest = canonical_json(&manifest)?;
    tar.append_data(
        &archive_file("manifest.json", manifest.len() as u64),
        &manifest,
    )?;
    if let (Some(tag), Some((top, _))) = (&tag, ids.last()) {
        let (name, t) = tag.rsplit_once(':').expect("docker_tag adds a tag");
        let repositories = canonical_json(&json!({ name: { t: top } }))?;
        tar.append_data(
            &archive_file("repositories", repositories.len() as u64),
            &repositories,
        )?;
    }
    tar.finish()?;
    writer.flush()?;
    Ok(())
}

/// `name` → `name:latest`; `name:tag` stays.
fn docker_tag(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':') {
        reference.to_owned()
    } else {
        format!("{reference}:latest")
    }
}

/// A docker reference in full: `foo` → `docker.io/library/foo:latest`,
/// `me/foo:1` → `docker.io/me/foo:1`; with a registry host it stays.
fn docker_normalize(reference: &str) -> String {
    let full = docker_tag(reference);
    let first = full.split('/').next().unwrap_or_default();
    let has_host =
        full.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_host {
        full
    } else if full.contains('/') {
        format!("docker.io/{full}")
    } else {
        format!("docker.io/library/{full}")
    }
}

/// Extract an archive (oci-archive or docker-archive, possibly compressed)
/// into a temporary directory, safely.
fn extract_archive(path: &Path) -> Result<tempfile::TempDir> {
    let mut file = match fs_err::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::IoAt {
                action: "opening",
                path: path.to_owned(),
                source: io::Error::new(io::ErrorKind::NotFound, "no such file"),
            });
        }
        Err(e) => return Err(e.into()),
    };
    if file.metadata()?.is_dir() {
        return Err(Error::IoAt {
            action: "reading the archive",
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"),
        });
    }
    let temp = tempfile::Builder::new()
        .prefix("slipway-archive-")
        .tempdir()
        .map_err(|e| {
            Error::io_at("creating a temporary directory in", std::env::temp_dir())(
                crate::transport::bare(e),
            )
        })?;
    let mut report = UnpackReport::default();
    let options = UnpackOptions {
        preserve_owners: false,
    };
    unpack_layer(&mut file, temp.path(), 0, &options, &mut report).map_err(|e| match e {
        Error::Invalid { reason, .. } => {
            Error::invalid(format!("archive `{}`", path.display()), reason)
        }
        e => e,
    })?;
    if let Some(refused) = report.refused.first() {
        return Err(Error::invalid(
            format!("archive `{}`", path.display()),
            format!("entry `{}`: {}", refused.path, refused.reason),
        ));
    }
    Ok(temp)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestItem {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn read_docker_archive(path: &Path, reference: Option<&str>) -> Result<LocalImage> {
    let temp = extract_archive(path)?;
    let what = format!("docker archive `{}`", path.display());
    let manifest_path = temp.path().join("manifest.json");
    let text = fs_err::read(&manifest_path)
        .map_err(|_| Error::invalid(&what, "it has no manifest.json"))?;
    let items: Vec<DockerManifestItem> =
        serde_json::from_slice(&text).map_err(Error::json(format!("manifest.json of {what}")))?;
    let all_tags: Vec<String> = items
        .iter()
        .flat_map(|i| i.repo_tags.clone().unwrap_or_default())
        .collect();
    let item = match reference {
        Some(r) if r.starts_with('@') => {
            let n: usize = r[1..].parse().map_err(|_| Error::InvalidReference {
                reference: r.into(),
                reason: "expected @N, the N-th image of the archive".into(),
            })?;
            items.get(n)
        }
        Some(r) => {
            let wanted = docker_normalize(r);
            items.iter().find(|i| {
                i.repo_tags
                    .iter()
                    .flatten()
                    .any(|t| docker_normalize(t) == wanted)
            })
        }
        None if items.len() > 1 => {
            return Err(Error::AmbiguousImage {
                layout: path.to_owned(),
                count: items.len(),
                available: all_tags,
            });
        }
        None => items.first(),
    }
    .ok_or_else(|| Error::ImageNotFound {
        layout: path.to_owned(),
        reference: reference.unwrap_or("").into(),
        available: all_tags.clone(),
    })?;

    let layout_dir = temp.path().join(".slipway-layout");
    let layout = OciLayout::create(&layout_dir)?;
    let config_bytes = {
        let mut buf = Vec::new();
        open_beneath(temp.path(), &item.config)?.read_to_end(&mut buf)?;
        buf
    };
    let config = ImageConfig::from_slice(&config_bytes)?;
    let config_desc = layout.write_blob(&config_bytes, MediaType::ImageConfig)?;
    let mut layers = Vec::new();
    for name in &item.layers {
        let mut f = open_beneath(temp.path(), name)?;
        let mut head = [0u8; 4];
        let n = f.read(&mut head)?;
        let media_type = Compression::sniff(&head[..n]).layer_media_type();
        f.rewind()?;
        let mut writer = layout.blob_writer()?;
        io::copy(&mut f, &mut writer)?;
        layers.push(writer.finish()?.descriptor(media_type));
    }
    if config.diff_ids()?.len() != layers.len() {
        return Err(Error::invalid(
            &what,
            format!(
                "the config lists {} diff_ids for {} layers",
                config.diff_ids()?.len(),
                layers.len()
            ),
        ));
    }
    let manifest = write_manifest_for(&layout, &config_desc, &layers)?;
    layout.add_manifest(&manifest, None)?;
    let image = Image::from_descriptor(&layout, manifest, &crate::Platform::host())?;
    let tag = item.repo_tags.as_ref().and_then(|t| t.first().cloned());
    Ok(LocalImage {
        layout,
        image,
        tag,
        _temp: Some(temp),
    })
}

/// A JSON summary of an image for `inspect --json`.
pub fn inspect_json(image: &LocalImage, reference: &ImageRef) -> Result<Value> {
    let img = &image.image;
    let diff_ids = img.diff_ids()?;
    let layers: Vec<Value> = img
        .layers()
        .iter()
        .zip(&diff_ids)
        .map(|(d, id)| {
            json!({
                "digest": d.digest().to_string(),
                "size": d.size(),
                "mediaType": d.media_type().to_string(),
                "diffId": id.to_string(),
            })
        })
        .collect();
    let manifest: Value =
        serde_json::from_slice(&img.manifest_bytes).map_err(Error::json("the manifest"))?;
    Ok(json!({
        "reference": reference.to_string(),
        "tag": image.tag,
        "digest": img.descriptor.digest().to_string(),
        "mediaType": img.descriptor.media_type().to_string(),
        "platform": img.config.platform().to_string(),
        "layers": layers,
        "manifest": manifest,
        "config": img.config.as_value(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_references() {
        let r = ImageRef::parse("oci:out/img:latest").unwrap();
        assert_eq!(
            r,
            ImageRef::Oci {
                path: "out/img".into(),
                reference: Some("latest".into())
            }
        );
        assert_eq!(r.to_string(), "oci:out/img:latest");
        let r = ImageRef::parse("docker-archive:x.tar:foo/bar:1.0").unwrap();
        assert_eq!(r.reference(), Some("foo/bar:1.0"));
        assert_eq!(
            ImageRef::parse("oci-archive:x.tar").unwrap().reference(),
            None
        );
        let digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        assert_eq!(
            ImageRef::parse(&format!("oci:d:{digest}"))
                .unwrap()
                .reference(),
            Some(digest)
        );
        assert!(ImageRef::parse("docker://registry/x").is_err());
        assert!(ImageRef::parse("oci:").is_err());
        assert!(ImageRef::parse("oci:dir:").is_err());
        assert!(ImageRef::parse("plain").is_err());
        assert_eq!(
            ImageRef::parse_or_oci_dir("plain").unwrap().transport(),
            "oci"
        );
    }

    #[test]
    fn docker_tags() {
        assert_eq!(docker_tag("foo"), "foo:latest");
        assert_eq!(
            docker_tag("localhost:5000/foo"),
            "localhost:5000/foo:latest"
        );
        assert_eq!(docker_tag("foo:1"), "foo:1");
        assert_eq!(oci_tag_of("foo:1").unwrap(), "1");
        assert_eq!(oci_tag_of("latest").unwrap(), "latest");
        assert_eq!(docker_normalize("foo"), "docker.io/library/foo:latest");
        assert_eq!(docker_normalize("me/foo:1"), "docker.io/me/foo:1");
        assert_eq!(docker_normalize("docker.io/me/foo:1"), "docker.io/me/foo:1");
        assert_eq!(
            docker_normalize("localhost:5000/foo"),
            "localhost:5000/foo:latest"
        );
    }
}
