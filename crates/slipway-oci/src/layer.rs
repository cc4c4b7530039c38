//! Deterministic layers: a directory tree (or explicit entries) to a
//! compressed tar blob, digest and diff id computed in the same pass.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::image::Descriptor;

use crate::compress::{Compression, Compressor};
use crate::digest::HashingWriter;
use crate::layout::{BlobWriter, OciLayout};
use crate::tar::{EntryKind, TarEntry, TarWriter};
use crate::{Digest, Error, Result};

/// The `SOURCE_DATE_EPOCH` used when none is given: 0 (1970-01-01T00:00:00Z).
/// A fixed constant, never the clock, so that builds without the variable are
/// still reproducible.
pub const DEFAULT_SOURCE_DATE_EPOCH: i64 = 0;

/// The prefix of a whiteout entry (`dir/.wh.name` deletes `dir/name`).
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The name of an opaque-directory marker (`dir/.wh..wh..opq`).
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// How a layer is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerOptions {
    /// The compression of the blob.
    pub compression: Compression,
    /// Modification times later than this are clamped to it; also the default
    /// timestamp of image configs and history.
    pub source_date_epoch: i64,
    /// Treat the tree as an overlayfs upper directory: 0/0 character devices
    /// become `.wh.<name>` whiteouts, directories with the xattr
    /// `trusted.overlay.opaque=y` (or `user.overlay.opaque=y`) get a
    /// `.wh..wh..opq` marker, and `*.overlay.*` xattrs are dropped.
    pub overlay_whiteouts: bool,
    /// Paths relative to the root (no leading `/`) left out with everything below them.
    pub excludes: Vec<PathBuf>,
}

impl Default for LayerOptions {
    fn default() -> Self {
        LayerOptions {
            compression: Compression::Gzip,
            source_date_epoch: DEFAULT_SOURCE_DATE_EPOCH,
            overlay_whiteouts: false,
            excludes: Vec::new(),
        }
    }
}

impl LayerOptions {
    /// Default options with `SOURCE_DATE_EPOCH` from the environment when it
    /// is set (and a valid integer), else [`DEFAULT_SOURCE_DATE_EPOCH`].
    pub fn from_env() -> Result<LayerOptions> {
        Ok(LayerOptions {
            source_date_epoch: source_date_epoch_from_env()?,
            ..LayerOptions::default()
        })
    }
}

/// `SOURCE_DATE_EPOCH` from the environment, or [`DEFAULT_SOURCE_DATE_EPOCH`].
pub fn source_date_epoch_from_env() -> Result<i64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| {
            Error::invalid(
                "SOURCE_DATE_EPOCH",
                format!("`{v}` is not a number of seconds since 1970"),
            )
        }),
        _ => Ok(DEFAULT_SOURCE_DATE_EPOCH),
    }
}

/// A layer blob written into a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The descriptor of the compressed blob (for the manifest).
    pub descriptor: Descriptor,
    /// The digest of the uncompressed tar (for the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
}

/// Write the tree under `root` as one layer blob in `layout`.
///
/// Entries are in depth-first order with the names of each directory sorted
/// by their bytes (so every path is sorted component by component); `root`
/// itself is not an entry. See [`LayerWriter::append_tree`] for the
/// metadata kept.
pub fn write_layer_from_dir(
    layout: &OciLayout,
    root: &Path,
    options: &LayerOptions,
) -> Result<Layer> {
    let mut writer = LayerWriter::new(layout, options)?;
    writer.append_tree(root)?;
    writer.finish()
}

/// Writes a layer entry by entry. The caller is responsible for the order
/// (parents before children; sorted for reproducibility). [`append_tree`](Self::append_tree)
/// does it for a directory tree.
#[derive(Debug)]
pub struct LayerWriter {
    tar: TarWriter<HashingWriter<Compressor<BlobWriter>>>,
    options: LayerOptions,
    hardlinks: HashMap<(u64, u64), Vec<u8>>,
}

impl LayerWriter {
    /// Start a layer blob in `layout`.
    pub fn new(layout: &OciLayout, options: &LayerOptions) -> Result<LayerWriter> {
        Self::with_gzip_level(layout, options, crate::GZIP_LEVEL)
    }

    /// Start a layer blob whose gzip level is `gzip_level` (0–12) instead of
    /// the pinned [`GZIP_LEVEL`](crate::GZIP_LEVEL): for benchmarks and size
    /// comparisons only, since another level gives other layer digests.
    pub fn with_gzip_level(
        layout: &OciLayout,
        options: &LayerOptions,
        gzip_level: u32,
    ) -> Result<LayerWriter> {
        let blob = layout.blob_writer()?;
        let compressor = Compressor::with_gzip_level(blob, options.compression, gzip_level)?;
        Ok(LayerWriter {
            tar: TarWriter::new(HashingWriter::new(compressor)),
            options: options.clone(),
            hardlinks: HashMap::new(),
        })
    }

    /// Append one entry; its mtime is clamped to `source_date_epoch`. For a
    /// file, `data` must yield exactly the entry's size.
    pub fn append(&mut self, entry: &TarEntry, data: &mut dyn Read) -> Result<()> {
        let mut entry = entry.clone();
        entry.mtime = entry.mtime.min(self.options.source_date_epoch);
        self.tar.append(&entry, data).map_err(|e| {
            Error::io_at(
                "adding to a layer",
                PathBuf::from(std::ffi::OsStr::from_bytes(&entry.path)),
            )(e)
        })
    }

    /// Append a whiteout deleting `path` (relative, e.g. `etc/motd`) from the layers below.
    pub fn append_whiteout(&mut self, path: &[u8]) -> Result<()> {
        let (dir, name) = split_parent(path);
        if name.is_empty() || name == b"." || name == b".." {
            return Err(Error::invalid(
                "whiteout",
                format!("cannot delete `{}`", String::from_utf8_lossy(path)),
            ));
        }
        let mut wh = dir.to_vec();
        wh.extend_from_slice(WHITEOUT_PREFIX.as_bytes());
        wh.extend_from_slice(name);
        let mut entry = TarEntry::new(wh, EntryKind::File { size: 0 });
        entry.mode = 0o600;
        entry.mtime = self.options.source_date_epoch;
        self.append(&entry, &mut io::empty())
    }

    /// Append an opaque marker: the directory `dir` (relative; empty for the
    /// root) hides everything the layers below have in it.
    pub fn append_opaque(&mut self, dir: &[u8]) -> Result<()> {
        let mut path = dir.to_vec();
        if !path.is_empty() && !path.ends_with(b"/") {
            path.push(b'/');
        }
        path.extend_from_slice(OPAQUE_WHITEOUT.as_bytes());
        let mut entry = TarEntry::new(path, EntryKind::File { size: 0 });
        entry.mode = 0o600;
        entry.mtime = self.options.source_date_epoch;
        self.append(&entry, &mut io::empty())
    }

    /// Append everything under `root` (not `root` itself), depth first, names
    /// sorted by bytes. Kept: type, permission bits (with setuid/setgid/sticky),
    /// numeric uid/gid, mtime (clamped), xattrs (except `security.selinux`,
    /// which describes the host, and overlay's own), device numbers, symlink
    /// targets; files with several links become one file and hard links to
    /// it (the first path in order is the file). Sockets are skipped.
    pub fn append_tree(&mut self, root: &Path) -> Result<()> {
        let meta = fs_err::symlink_metadata(root)?;
        if !meta.is_dir() {
            return Err(Error::IoAt {
                action: "reading the layer root",
                path: root.to_owned(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let mut rel = Vec::new();
        self.walk(root, &mut rel)
    }

    fn walk(&mut self, dir: &Path, rel: &mut Vec<u8>) -> Result<()> {
        let mut names: Vec<Vec<u8>> = fs_err::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name().into_vec()))
            .collect::<io::Result<_>>()?;
        names.sort_unstable();
        for name in names {
            let len = rel.len();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(&name);
            let path = dir.join(std::ffi::OsStr::from_bytes(&name));
            let excluded = self
                .options
                .excludes
                .iter()
                .any(|e| e.as_os_str().as_bytes() == rel.as_slice());
            if !excluded {
                self.append_path(&path, rel)?;
            }
            rel.truncate(len);
        }
        Ok(())
    }

    fn append_path(&mut self, path: &Path, rel: &mut Vec<u8>) -> Result<()> {
        let meta = fs_err::symlink_metadata(path)?;
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        let overlay = self.options.overlay_whiteouts;
        if overlay && ft.is_char_device() && meta.rdev() == 0 {
            let mut entry = header_from(&meta, rel.clone(), EntryKind::File { size: 0 });
            let (dir, name) = split_parent(rel);
            let mut wh = dir.to_vec();
            wh.extend_from_slice(WHITEOUT_PREFIX.as_bytes());
            wh.extend_from_slice(name);
            entry.path = wh;
            entry.mode = 0o600;
            return self.append(&entry, &mut io::empty());
        }

        let mut xattrs = read_xattrs(path)?;
        let mut opaque = false;
        if overlay {
            opaque = ft.is_dir()
                && xattrs.iter().any(|(k, v)| {
                    (k == b"trusted.overlay.opaque" || k == b"user.overlay.opaque") && v == b"y"
                });
            xattrs.retain(|(k, _)| {
                !k.starts_with(b"trusted.overlay.") && !k.starts_with(b"user.overlay.")
            });
        }

        if !ft.is_dir() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(target) = self.hardlinks.get(&key) {
                let mut entry = header_from(
                    &meta,
                    rel.clone(),
                    EntryKind::Hardlink {
                        target: target.clone(),
                    },
                );
                entry.xattrs = xattrs;
                return self.append(&entry, &mut io::empty());
            }
            self.hardlinks.insert(key, rel.clone());
        }

        let kind = if ft.is_dir() {
            EntryKind::Directory
        } else if ft.is_file() {
            EntryKind::File { size: meta.len() }
        } else if ft.is_symlink() {
            EntryKind::Symlink {
                target: fs_err::read_link(path)?.into_os_string().into_vec(),
            }
        } else if ft.is_char_device() {
            EntryKind::CharDevice {
                major: rustix::fs::major(meta.rdev()),
                minor: rustix::fs::minor(meta.rdev()),
            }
        } else if ft.is_block_device() {
            EntryKind::BlockDevice {
                major: rustix::fs::major(meta.rdev()),
                minor: rustix::fs::minor(meta.rdev()),
            }
        } else {
            EntryKind::Fifo
        };
        let mut entry = header_from(&meta, rel.clone(), kind);
        entry.xattrs = xattrs;

        if let EntryKind::File { size } = entry.kind {
            let mut file = fs_err::File::open(path)?;
            let mut limited = (&mut file).take(size);
            self.append(&entry, &mut limited).map_err(|e| match e {
                Error::IoAt { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof => {
                    Error::FileChanged {
                        path: path.to_owned(),
                        expected: size,
                    }
                }
                e => e,
            })?;
            return Ok(());
        }
        self.append(&entry, &mut io::empty())?;
        if entry.kind == EntryKind::Directory {
            if opaque {
                let mut marker = header_from(&meta, rel.clone(), EntryKind::File { size: 0 });
                marker.path.extend_from_slice(b"/");
                marker.path.extend_from_slice(OPAQUE_WHITEOUT.as_bytes());
                marker.mode = meta.mode() & 0o777;
                self.append(&marker, &mut io::empty())?;
            }
            self.walk(path, rel)?;
        }
        Ok(())
    }

    /// Finish the tar, the compression and the blob.
    pub fn finish(self) -> Result<Layer> {
        let media_type = self.options.compression.layer_media_type();
        let hashing = self.tar.finish()?;
        let (compressor, diff_id, _) = hashing.finish();
        let blob = compressor.finish()?.finish()?;
        Ok(Layer {
            descriptor: blob.descriptor(media_type),
            diff_id,
        })
    }
}

fn header_from(meta: &Metadata, path: Vec<u8>, kind: EntryKind) -> TarEntry {
    TarEntry {
        path,
        kind,
        mode: meta.mode() & 0o7777,
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
        mtime: meta.mtime(),
        xattrs: Vec::new(),
    }
}

/// `(parent with trailing slash or empty, name)`.
fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// The extended attributes of `path` (not following a symlink), sorted by name,
/// without `security.selinux`. A file system without xattr support has none.
fn read_xattrs(path: &Path) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let err = |e: rustix::io::Errno| Error::IoAt {
        action: "reading extended attributes of",
        path: path.to_owned(),
        source: e.into(),
    };
    let mut list = vec![0u8; 256];
    let len = loop {
        match rustix::fs::llistxattr(path, &mut list[..]) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => {
                let need = rustix::fs::llistxattr_query(path).map_err(err)?;
                list.resize(need.max(list.len() * 2), 0);
            }
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        }
    };
    let mut out = Vec::new();
    for name in list[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if name == b"security.selinux" {
            continue;
        }
        let mut value = vec![0u8; 256];
        let n = loop {
            match rustix::fs::lgetxattr(path, name, &mut value[..]) {
                Ok(n) => break Some(n),
                Err(rustix::io::Errno::RANGE) => {
                    let need = rustix::fs::lgetxattr_query(path, name).map_err(err)?;
                    value.resize(need.max(value.len() * 2), 0);
                }
                // Removed between list and get.
                Err(rustix::io::Errno::NODATA) => break None,
                Err(e) => return Err(err(e)),
            }
        };
        if let Some(n) = n {
            value.truncate(n);
            out.push((name.to_vec(), value));
        }
    }
    out.sort();
    Ok(out)
}
