//! OCI image layouts on disk: `oci-layout`, `index.json`, `blobs/sha256/…`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, MediaType};
use serde::Serialize;

use crate::digest::Hasher;
use crate::{Digest, Error, Result, canonical_json};

/// The annotation that names a manifest in an index: the tag.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

const OCI_LAYOUT_FILE: &str = "oci-layout";
const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const INDEX_FILE: &str = "index.json";

/// A blob's digest and size, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
}

impl Blob {
    /// A descriptor of this blob with `media_type`.
    pub fn descriptor(&self, media_type: MediaType) -> Descriptor {
        Descriptor::new(media_type, self.size, self.digest.to_oci())
    }
}

/// An OCI image layout directory.
///
/// Blobs are written to a temporary file inside the layout and renamed into
/// place once their digest is known (and checked, when one was expected), so
/// a crash never leaves a blob whose name lies about its content.
/// `index.json` is replaced atomically the same way.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Create a layout in `dir` (created if absent), or open the layout that
    /// is already there. A non-empty directory that is not a layout is refused.
    pub fn create(dir: impl AsRef<Path>) -> Result<OciLayout> {
        let root = dir.as_ref().to_path_buf();
        if root.join(OCI_LAYOUT_FILE).exists() {
            return OciLayout::open(root);
        }
        if root.is_dir() {
            let mut entries = fs_err::read_dir(&root)?;
            if entries.next().is_some() {
                return Err(Error::DestinationExists {
                    path: root,
                    reason: "it is a non-empty directory without an `oci-layout` file".into(),
                });
            }
        }
        fs_err::create_dir_all(root.join("blobs/sha256"))?;
        let layout = OciLayout { root };
        layout.write_index(&empty_index())?;
        atomic_write(&layout.root.join(OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT)?;
        Ok(layout)
    }

    /// Open an existing layout, checking its `oci-layout` file.
    pub fn open(dir: impl AsRef<Path>) -> Result<OciLayout> {
        let root = dir.as_ref().to_path_buf();
        let invalid = |reason: String| Error::InvalidLayout {
            path: root.clone(),
            reason,
        };
        if !root.is_dir() {
            return Err(invalid(if root.exists() {
                "it is not a directory".into()
            } else {
                "it does not exist".into()
            }));
        }
        let marker = root.join(OCI_LAYOUT_FILE);
        let text = match fs_err::read(&marker) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(invalid("it has no `oci-layout` file".into()));
            }
            Err(e) => return Err(e.into()),
        };
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| invalid(format!("`oci-layout` is not JSON: {e}")))?;
        match value.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some(v) if v.starts_with("1.") => {}
            Some(v) => return Err(invalid(format!("unsupported imageLayoutVersion `{v}`"))),
            None => return Err(invalid("`oci-layout` has no imageLayoutVersion".into())),
        }
        let layout = OciLayout { root };
        layout.index()?;
        Ok(layout)
    }

    /// The layout directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.hex())
    }

    /// Whether the layout has the blob `digest`.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Write `data` as a blob and return its descriptor.
    pub fn write_blob(&self, data: &[u8], media_type: MediaType) -> Result<Descriptor> {
        let mut writer = self.blob_writer()?;
        writer.write_all(data)?;
        Ok(writer.finish()?.descriptor(media_type))
    }

    /// Serialise `value` with [`canonical_json`] and write it as a blob.
    pub fn write_json_blob(
        &self,
        value: &impl Serialize,
        media_type: MediaType,
    ) -> Result<Descriptor> {
        self.write_blob(&canonical_json(value)?, media_type)
    }

    /// A writer for a new blob, hashed as it is written.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let dir = self.root.join("blobs");
        let file = tempfile::Builder::new()
            .prefix(".tmp-blob-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .tempfile_in(&dir)
            .map_err(|e| {
                Error::io_at("creating a temporary blob in", &dir)(crate::transport::bare(e))
            })?;
        Ok(BlobWriter {
            layout: self.clone(),
            file: io::BufWriter::with_capacity(256 * 1024, file),
            hasher: Hasher::new(),
        })
    }

    /// Read a whole blob, checking its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let data = match fs_err::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(self.missing(digest));
            }
            Err(e) => return Err(e.into()),
        };
        let actual = Digest::sha256_of(&data);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                what: path.display().to_string(),
                expected: digest.clone(),
                expected_size: data.len() as u64,
                actual,
                actual_size: data.len() as u64,
            });
        }
        Ok(data)
    }

    /// Open a blob for streaming (not verified: hash what you read if it matters).
    pub fn open_blob(&self, digest: &Digest) -> Result<fs_err::File> {
        match fs_err::File::open(self.blob_path(digest)) {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.missing(digest)),
            Err(e) => Err(e.into()),
        }
    }

    fn missing(&self, digest: &Digest) -> Error {
        Error::MissingBlob {
            layout: self.root.clone(),
            digest: digest.clone(),
        }
    }

    /// The parsed `index.json`.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join(INDEX_FILE);
        let text = match fs_err::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::InvalidLayout {
                    path: self.root.clone(),
                    reason: "it has no `index.json`".into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&text).map_err(|e| Error::InvalidLayout {
            path: self.root.clone(),
            reason: format!("`index.json` is not a valid image index: {e}"),
        })
    }

    /// Hold an exclusive `flock` on the layout directory while `index.json`
    /// is read, changed and written, so two writers (threads or processes,
    /// e.g. two builds tagging into one output layout) never lose a tag. The
    /// lock is on the directory itself: no extra file in the layout.
    fn lock_index(&self) -> Result<fs_err::File> {
        let dir = fs_err::File::open(&self.root)?;
        rustix::fs::flock(&dir, rustix::fs::FlockOperation::LockExclusive)
            .map_err(io::Error::from)?;
        Ok(dir)
    }

    /// Replace `index.json` atomically with `index` (canonical JSON).
    pub fn write_index(&self, index: &ImageIndex) -> Result<()> {
        atomic_write(&self.root.join(INDEX_FILE), &canonical_json(index)?)
    }

    /// Add `manifest` to the index under `tag` (the `org.opencontainers.image.ref.name`
    /// annotation), replacing any manifest that had the tag. With `tag: None` the
    /// manifest is added untagged (unless the index already lists that digest).
    pub fn add_manifest(&self, manifest: &Descriptor, tag: Option<&str>) -> Result<()> {
        let _lock = self.lock_index()?;
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        let mut descriptor = manifest.clone();
        match tag {
            Some(tag) => {
                validate_tag(tag)?;
                manifests.retain(|d| ref_name(d) != Some(tag));
                let mut annotations = descriptor.annotations().clone().unwrap_or_default();
                annotations.insert(REF_NAME_ANNOTATION.into(), tag.into());
                descriptor.set_annotations(Some(annotations));
            }
            None => {
                if manifests.iter().any(|d| d.digest() == manifest.digest()) {
                    return Ok(());
                }
            }
        }
        manifests.push(descriptor);
        index.set_manifests(manifests);
        self.write_index(&index)
    }

    /// Remove `tag` from the index. Returns whether it was there.
    pub fn remove_tag(&self, tag: &str) -> Result<bool> {
        let _lock = self.lock_index()?;
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        let before = manifests.len();
        manifests.retain(|d| ref_name(d) != Some(tag));
        if manifests.len() == before {
            return Ok(false);
        }
        index.set_manifests(manifests);
        self.write_index(&index)?;
        Ok(true)
    }

    /// Every tagged manifest: `(tag, descriptor)` in index order.
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        Ok(self
            .index()?
            .manifests()
            .iter()
            .filter_map(|d| ref_name(d).map(|t| (t.to_owned(), d.clone())))
            .collect())
    }

    /// The descriptor named by `reference`: a tag, a digest (`sha256:…`), or
    /// `None` for the only manifest of the index.
    pub fn resolve(&self, reference: Option<&str>) -> Result<Descriptor> {
        let index = self.index()?;
        let manifests = index.manifests();
        let available = || {
            manifests
                .iter()
                .filter_map(|d| ref_name(d).map(str::to_owned))
                .collect::<Vec<_>>()
        };
        let found = match reference {
            None => match manifests.as_slice() {
                [only] => Some(only),
                [] => None,
                many => {
                    return Err(Error::AmbiguousImage {
                        layout: self.root.clone(),
                        count: many.len(),
                        available: available(),
                    });
                }
            },
            Some(reference) if reference.starts_with("sha256:") => {
                let digest: Digest = reference.parse()?;
                manifests
                    .iter()
                    .find(|d| d.digest().to_string() == digest.to_string())
            }
            Some(tag) => manifests.iter().find(|d| ref_name(d) == Some(tag)),
        };
        found.cloned().ok_or_else(|| Error::ImageNotFound {
            layout: self.root.clone(),
            reference: reference.unwrap_or("").into(),
            available: available(),
        })
    }
}

/// The tag of an index entry, if it has one.
pub fn ref_name(descriptor: &Descriptor) -> Option<&str> {
    descriptor
        .annotations()
        .as_ref()
        .and_then(|a| a.get(REF_NAME_ANNOTATION))
        .map(String::as_str)
}

/// Check a tag against the OCI ref-name grammar used by tools (non-empty,
/// no whitespace or control characters, no `/` at either end).
pub fn validate_tag(tag: &str) -> Result<()> {
    let bad = tag.is_empty()
        || tag.len() > 255
        || tag.chars().any(|c| c.is_whitespace() || c.is_control())
        || tag.starts_with('/')
        || tag.ends_with('/');
    if bad {
        return Err(Error::InvalidReference {
            reference: tag.into(),
            reason: "a tag must be 1-255 printable characters without whitespace".into(),
        });
    }
    Ok(())
}

fn empty_index() -> ImageIndex {
    let mut index = ImageIndex::default();
    index.set_media_type(Some(MediaType::ImageIndex));
    index.set_manifests(Vec::new());
    index
}

/// Write `data` to `path` through a temporary file in the same directory and
/// an atomic rename.
pub(crate) fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|e| {
            Error::io_at("creating a temporary file in", dir)(crate::transport::bare(e))
        })?;
    file.write_all(data)
        .map_err(Error::io_at("writing", file.path()))?;
    file.persist(path)
        .map_err(|e| Error::io_at("replacing", path)(e.error))?;
    Ok(())
}

/// A blob being written: hashed while written to a temporary file inside the
/// layout, renamed to `blobs/sha256/<hex>` by [`finish`](Self::finish) or
/// [`finish_verified`](Self::finish_verified). Dropped unfinished, the
/// temporary file is removed.
#[derive(Debug)]
pub struct BlobWriter {
    layout: OciLayout,
    file: io::BufWriter<tempfile::NamedTempFile>,
    hasher: Hasher,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.hasher.size()
    }

    /// Move the blob into place under its digest.
    pub fn finish(self) -> Result<Blob> {
        let (layout, file, blob) = self.complete()?;
        persist(&layout, file, &blob)?;
        Ok(blob)
    }

    /// Move the blob into place only if its digest and size are the expected
    /// ones; otherwise remove it and return [`Error::DigestMismatch`].
    pub fn finish_verified(self, expected: &Digest, expected_size: u64) -> Result<Blob> {
        let (layout, file, blob) = self.complete()?;
        if &blob.digest != expected || blob.size != expected_size {
            drop(file); // removes the temporary file
            return Err(Error::DigestMismatch {
                what: format!("a blob written to `{}`", layout.root.display()),
                expected: expected.clone(),
                expected_size,
                actual: blob.digest,
                actual_size: blob.size,
            });
        }
        persist(&layout, file, &blob)?;
        Ok(blob)
    }

    fn complete(self) -> Result<(OciLayout, tempfile::NamedTempFile, Blob)> {
        let BlobWriter {
            layout,
            file,
            hasher,
        } = self;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        let (digest, size) = hasher.finish();
        Ok((layout, file, Blob { digest, size }))
    }
}

fn persist(layout: &OciLayout, file: tempfile::NamedTempFile, blob: &Blob) -> Result<()> {
    let path = layout.blob_path(&blob.digest);
    file.persist(&path)
        .map_err(|e| Error::io_at("moving a blob into place at", &path)(e.error))?;
    Ok(())
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)?;
        self.hasher.update(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
