//! The OCI layout the registry client reads and writes: a thin adapter over
//! `slipway_oci::OciLayout` that speaks this crate's string digests and
//! descriptors and names the download in verification errors.
//!
//! Invariant (kept by `slipway-oci`'s verified blob writer): **a blob file
//! only appears under `blobs/sha256/` after its size and sha256 were checked**
//! (temp file in the layout, renamed into place; removed when dropped).

use std::io::Write;
use std::path::{Path, PathBuf};

use slipway_oci::{Digest, OciLayout};

use crate::digest::{hex_part, validate_digest};
use crate::error::{Error, Result};
use crate::manifest::Descriptor;

/// The annotation naming a tag in `index.json`.
pub const REF_NAME: &str = slipway_oci::REF_NAME_ANNOTATION;

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    inner: OciLayout,
}

impl Layout {
    /// Open `root`, creating an empty layout if it does not exist yet.
    pub fn create_or_open(root: impl Into<PathBuf>) -> Result<Self> {
        Ok(Self {
            inner: OciLayout::create(root.into())?,
        })
    }

    /// Open an existing layout.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Ok(Self {
            inner: OciLayout::open(root.into())?,
        })
    }

    /// The `slipway-oci` layout underneath.
    pub fn oci(&self) -> &OciLayout {
        &self.inner
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        self.inner.path()
    }

    /// Where the blob `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root().join("blobs/sha256").join(hex_part(digest))
    }

    /// Whether the blob is present with the given size.
    pub fn has_blob(&self, digest: &str, size: u64) -> bool {
        fs_err::metadata(self.blob_path(digest)).is_ok_and(|m| m.len() == size)
    }

    /// Start writing a blob; nothing is visible until [`BlobWriter::finish_verified`].
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        Ok(BlobWriter {
            layout: self.clone(),
            inner: self.inner.blob_writer()?,
        })
    }

    /// Write a whole blob held in memory, checked against `expected` when given.
    pub fn write_blob(&self, bytes: &[u8], expected: Option<&str>, origin: &str) -> Result<String> {
        let mut writer = self.blob_writer()?;
        writer.write_all(bytes)?;
        let digest = match expected {
            Some(d) => d.to_owned(),
            None => crate::digest::sha256_digest(bytes),
        };
        writer.finish_verified(&digest, bytes.len() as u64, origin)?;
        Ok(digest)
    }

    /// Read a blob into memory (manifests and configs), verifying its digest.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        Ok(self.inner.read_blob(&parse_digest(digest)?)?)
    }

    /// The entries of `index.json`.
    pub fn manifests(&self) -> Result<Vec<Descriptor>> {
        self.inner
            .index()?
            .manifests()
            .iter()
            .map(|d| from_oci(d, self.root()))
            .collect()
    }

    /// The manifest tagged `tag` (or with that digest), or the only manifest when `tag` is `None`.
    pub fn resolve(&self, tag: Option<&str>) -> Result<Descriptor> {
        from_oci(&self.inner.resolve(tag)?, self.root())
    }

    /// Add `descriptor` to `index.json`, tagged `tag` (replacing an entry with that tag).
    pub fn set_tag(&self, descriptor: &Descriptor, tag: Option<&str>) -> Result<()> {
        let value = serde_json::to_value(descriptor).map_err(|source| Error::Json {
            what: "descriptor",
            origin: self.root().display().to_string(),
            source,
        })?;
        let oci: slipway_oci::oci_spec::image::Descriptor =
            serde_json::from_value(value).map_err(|source| Error::Json {
                what: "descriptor",
                origin: self.root().display().to_string(),
                source,
            })?;
        Ok(self.inner.add_manifest(&oci, tag)?)
    }
}

fn parse_digest(digest: &str) -> Result<Digest> {
    validate_digest(digest)?;
    digest.parse().map_err(|_| Error::InvalidDigest {
        digest: digest.to_owned(),
    })
}

fn from_oci(d: &slipway_oci::oci_spec::image::Descriptor, root: &Path) -> Result<Descriptor> {
    let value = serde_json::to_value(d).map_err(|source| Error::Json {
        what: "index.json entry",
        origin: root.display().to_string(),
        source,
    })?;
    serde_json::from_value(value).map_err(|source| Error::Json {
        what: "index.json entry",
        origin: root.display().to_string(),
        source,
    })
}

/// A blob being written: hashed as it goes (by `slipway-oci`), renamed into
/// place when verified, removed when dropped unfinished.
#[derive(Debug)]
pub struct BlobWriter {
    layout: Layout,
    inner: slipway_oci::BlobWriter,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.inner.size()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.inner.size() == 0
    }

    /// Throw away what was written (to restart a download from 0).
    pub fn reset(&mut self) -> Result<()> {
        // The old writer's temporary file is removed when it is dropped.
        self.inner = self.layout.inner.blob_writer()?;
        Ok(())
    }

    /// Check size and digest; on success rename into `blobs/sha256/`, on
    /// failure delete the temp file. `origin` names the source in errors.
    pub fn finish_verified(self, expected: &str, size: u64, origin: &str) -> Result<()> {
        let digest = parse_digest(expected)?;
        match self.inner.finish_verified(&digest, size) {
            Ok(_) => Ok(()),
            Err(slipway_oci::Error::DigestMismatch {
                actual,
                actual_size,
                ..
            }) => {
                if actual_size != size {
                    Err(Error::SizeMismatch {
                        url: origin.to_owned(),
                        expected: size,
                        actual: actual_size,
                    })
                } else {
                    Err(Error::DigestMismatch {
                        url: origin.to_owned(),
                        expected: expected.to_owned(),
                        actual: actual.to_string(),
                    })
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
