//! A minimal OCI image layout: verified blob writes and `index.json` tags.
//!
//! Interim: `slipway-oci`'s `OciLayout` (with the same verified-writer
//! contract) had not landed when this crate was written; switch to it once it
//! does. Invariant kept here too: **a blob file only ever appears under
//! `blobs/sha256/` after its size and sha256 were checked** (temp file in the
//! same directory, renamed into place).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::digest::{Hasher, hex_part, validate_digest};
use crate::error::{Error, Result};
use crate::manifest::Descriptor;

/// The annotation naming a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

impl Layout {
    /// Open `root`, creating an empty layout if it does not exist yet.
    pub fn create_or_open(root: impl Into<PathBuf>) -> Result<Self> {
        let layout = Self { root: root.into() };
        fs_err::create_dir_all(layout.root.join("blobs/sha256"))?;
        let marker = layout.root.join("oci-layout");
        if !marker.exists() {
            fs_err::write(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        if !layout.root.join("index.json").exists() {
            layout.write_index(&Index {
                schema_version: 2,
                media_type: Some(crate::manifest::OCI_INDEX.to_owned()),
                manifests: Vec::new(),
            })?;
        }
        Ok(layout)
    }

    /// Open an existing layout.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        if !root.join("oci-layout").is_file() || !root.join("index.json").is_file() {
            return Err(Error::Layout {
                path: root,
                reason: "not an OCI image layout (no `oci-layout` or `index.json`)".to_owned(),
            });
        }
        Ok(Self { root })
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex_part(digest))
    }

    /// Whether the blob is present with the given size.
    pub fn has_blob(&self, digest: &str, size: u64) -> bool {
        fs_err::metadata(self.blob_path(digest)).is_ok_and(|m| m.len() == size)
    }

    /// Start writing a blob; nothing is visible until [`BlobWriter::finish_verified`].
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let dir = self.root.join("blobs/sha256");
        let file = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("create a temp file in {}: {e}", dir.display()),
                )
            })?;
        Ok(BlobWriter {
            layout: self.clone(),
            file,
            hasher: Hasher::default(),
        })
    }

    /// Write a whole blob held in memory, checked against `expected` when given.
    pub fn write_blob(&self, bytes: &[u8], expected: Option<&str>, origin: &str) -> Result<String> {
        let mut writer = self.blob_writer()?;
        writer.write_all(bytes)?;
        let digest = writer.hasher.clone().finish();
        writer.finish_verified(expected.unwrap_or(&digest), bytes.len() as u64, origin)?;
        Ok(digest)
    }

    /// Read a blob into memory (manifests and configs).
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        validate_digest(digest)?;
        Ok(fs_err::read(self.blob_path(digest))?)
    }

    /// The entries of `index.json`.
    pub fn manifests(&self) -> Result<Vec<Descriptor>> {
        Ok(self.read_index()?.manifests)
    }

    /// The manifest tagged `tag`, or the only manifest when `tag` is `None`.
    pub fn resolve(&self, tag: Option<&str>) -> Result<Descriptor> {
        let manifests = self.manifests()?;
        let found = match tag {
            Some(tag) => manifests.iter().find(|d| ref_name(d) == Some(tag)).cloned(),
            None if manifests.len() == 1 => manifests.first().cloned(),
            None => None,
        };
        found.ok_or_else(|| {
            let tags: Vec<&str> = manifests.iter().filter_map(ref_name).collect();
            Error::Layout {
                path: self.root.clone(),
                reason: match tag {
                    Some(tag) => format!("no image tagged `{tag}` (tags: {})", tags.join(", ")),
                    None => format!(
                        "{} images and no tag given; name one of: {}",
                        manifests.len(),
                        tags.join(", ")
                    ),
                },
            }
        })
    }

    /// Add `descriptor` to `index.json`, tagged `tag` (replacing an entry with that tag).
    pub fn set_tag(&self, descriptor: &Descriptor, tag: Option<&str>) -> Result<()> {
        let mut index = self.read_index()?;
        let mut entry = descriptor.clone();
        if let Some(tag) = tag {
            index.manifests.retain(|d| ref_name(d) != Some(tag));
            entry
                .annotations
                .get_or_insert_with(Default::default)
                .insert(REF_NAME.to_owned(), tag.to_owned());
        } else {
            index
                .manifests
                .retain(|d| !(d.digest == entry.digest && ref_name(d).is_none()));
        }
        index.manifests.push(entry);
        self.write_index(&index)
    }

    fn read_index(&self) -> Result<Index> {
        let path = self.root.join("index.json");
        let text = fs_err::read(&path)?;
        serde_json::from_slice(&text).map_err(|source| Error::Json {
            what: "index.json",
            origin: path.display().to_string(),
            source,
        })
    }

    fn write_index(&self, index: &Index) -> Result<()> {
        // serde_json::Value keeps object keys sorted: one canonical form.
        let value = serde_json::to_value(index).map_err(|source| Error::Json {
            what: "index.json",
            origin: self.root.display().to_string(),
            source,
        })?;
        let bytes = value.to_string();
        let mut file = tempfile::Builder::new()
            .prefix(".index-")
            .tempfile_in(&self.root)?;
        file.write_all(bytes.as_bytes())?;
        file.persist(self.root.join("index.json"))
            .map_err(|e| e.error)?;
        Ok(())
    }
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations.as_ref()?.get(REF_NAME).map(String::as_str)
}

/// A blob being written: hashed as it goes, renamed into place when verified.
#[derive(Debug)]
pub struct BlobWriter {
    layout: Layout,
    file: tempfile::NamedTempFile,
    hasher: Hasher,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.hasher.len() == 0
    }

    /// Throw away what was written (to restart a download from 0).
    pub fn reset(&mut self) -> Result<()> {
        use std::io::Seek;
        self.file.as_file_mut().set_len(0)?;
        self.file.as_file_mut().rewind()?;
        self.hasher = Hasher::default();
        Ok(())
    }

    /// Check size and digest; on success rename into `blobs/sha256/`, on
    /// failure delete the temp file. `origin` names the source in errors.
    pub fn finish_verified(mut self, expected: &str, size: u64, origin: &str) -> Result<()> {
        validate_digest(expected)?;
        self.file.as_file_mut().flush()?;
        if self.hasher.len() != size {
            return Err(Error::SizeMismatch {
                url: origin.to_owned(),
                expected: size,
                actual: self.hasher.len(),
            });
        }
        let actual = self.hasher.finish();
        if actual != expected {
            return Err(Error::DigestMismatch {
                url: origin.to_owned(),
                expected: expected.to_owned(),
                actual,
            });
        }
        let target = self.layout.blob_path(expected);
        self.file.persist(&target).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
