//! Streaming a layer blob into an index of its entries, by path.
//!
//! The blob is read once, decompressed on the fly (gzip, zstd or plain tar,
//! told apart by their magic bytes), and each entry is reduced to its
//! metadata plus the SHA-256 of its content. Nothing is written to disk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// The kind of a tar entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to an earlier entry.
    Hardlink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A named pipe.
    Fifo,
    /// Anything else.
    Other,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::Hardlink => "hardlink",
            EntryKind::Char => "char",
            EntryKind::Block => "block",
            EntryKind::Fifo => "fifo",
            EntryKind::Other => "other",
        };
        f.write_str(s)
    }
}

/// One entry of a layer, reduced to what [`crate::diff`] compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits (including setuid/setgid/sticky).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Owner name as written in the header (usually empty in slipway layers).
    pub uname: String,
    /// Group name as written in the header.
    pub gname: String,
    /// Modification time, seconds.
    pub mtime: u64,
    /// Content size.
    pub size: u64,
    /// `sha256:` of the content (regular files only).
    pub sha256: Option<String>,
    /// Symlink or hardlink target.
    pub link: Option<String>,
    /// Device numbers of char/block devices.
    pub device: Option<(u32, u32)>,
    /// Extended attributes (`SCHILY.xattr.*` PAX records), value hex-encoded.
    pub xattrs: BTreeMap<String, String>,
}

/// All entries of a layer.
#[derive(Debug, Clone, Default)]
pub struct LayerIndex {
    /// Entries by normalised path (no leading `./` or `/`, no trailing `/`).
    pub entries: BTreeMap<String, Entry>,
    /// Paths in the order the tar holds them.
    pub order: Vec<String>,
    /// `sha256:` of the uncompressed tar (the diff id).
    pub diff_id: String,
    /// `sha256:` of the blob as stored.
    pub digest: String,
    /// The tar ended without padding or end-of-archive blocks.
    pub truncated: bool,
}

fn is_early_eof(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::UnexpectedEof || e.to_string().contains("unexpected EOF")
}

/// Normalise a tar path: drop leading `./` and `/`, and a trailing `/`.
pub fn normalise_path(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut s: &str = &text;
    loop {
        if let Some(rest) = s.strip_prefix("./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix('/') {
            s = rest;
        } else {
            break;
        }
    }
    let s = s.trim_end_matches('/');
    if s.is_empty() || s == "." {
        ".".to_owned()
    } else {
        s.to_owned()
    }
}

/// A reader over a blob that decompresses gzip or zstd when it sees their
/// magic bytes, and passes a plain tar through.
pub fn decompressed<'a>(blob: impl Read + Send + 'a) -> Result<Box<dyn Read + Send + 'a>> {
    let mut reader = BufReader::with_capacity(256 * 1024, blob);
    let head = reader
        .fill_buf()
        .map_err(Error::io("read layer blob"))?
        .to_vec();
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(
            zstd::stream::read::Decoder::with_buffer(reader)
                .map_err(Error::io("start zstd decoder"))?,
        ))
    } else {
        Ok(Box::new(reader))
    }
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn hex_digest(hasher: Sha256) -> String {
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Stream `blob` and index every entry. When `keep` names paths, their
/// contents (up to `keep_limit` bytes each) are returned as well.
pub fn index_layer(
    blob: Box<dyn Read + Send>,
    keep: &BTreeSet<String>,
    keep_limit: usize,
) -> Result<(LayerIndex, BTreeMap<String, Vec<u8>>)> {
    let mut blob_hashing = Hashing {
        inner: blob,
        hasher: Sha256::new(),
    };
    let mut kept = BTreeMap::new();
    let mut index = LayerIndex::default();
    // The decompressor borrows the blob reader; keep it in its own scope so
    // the blob hasher can be finished afterwards.
    {
        let tar_reader = decompressed(&mut blob_hashing)?;
        let mut tar_hashing = Hashing {
            inner: tar_reader,
            hasher: Sha256::new(),
        };
        {
            let mut archive = tar::Archive::new(&mut tar_hashing);
            let entries = archive.entries().map_err(Error::io("read layer tar"))?;
            for entry in entries {
                let mut entry = match entry {
                    Ok(entry) => entry,
                    // Some writers (umoci 0.4.7) end the tar without the last
                    // entry's padding or the end-of-archive blocks; every
                    // entry's data has been read in full by then.
                    Err(e) if is_early_eof(&e) => {
                        index.truncated = true;
                        break;
                    }
                    Err(e) => return Err(Error::io("read layer tar entry")(e)),
                };
                let (path, parsed) = read_entry(&mut entry, keep, keep_limit, &mut kept)?;
                index.order.push(path.clone());
                index.entries.insert(path, parsed);
            }
        }
        // Drain the end-of-archive blocks and any padding so both hashes cover everything.
        std::io::copy(&mut tar_hashing, &mut std::io::sink())
            .map_err(Error::io("read layer tar trailer"))?;
        index.diff_id = hex_digest(tar_hashing.hasher);
    }
    std::io::copy(&mut blob_hashing, &mut std::io::sink())
        .map_err(Error::io("read layer blob trailer"))?;
    index.digest = hex_digest(blob_hashing.hasher);
    Ok((index, kept))
}

fn read_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    keep: &BTreeSet<String>,
    keep_limit: usize,
    kept: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(String, Entry)> {
    let path = normalise_path(&entry.path_bytes());
    let mut xattrs = BTreeMap::new();
    if let Some(extensions) = entry
        .pax_extensions()
        .map_err(Error::io("read pax header"))?
    {
        for extension in extensions {
            let extension = extension.map_err(Error::io("read pax record"))?;
            if let Ok(key) = extension.key()
                && let Some(name) = key.strip_prefix("SCHILY.xattr.")
            {
                xattrs.insert(name.to_owned(), hex::encode(extension.value_bytes()));
            }
        }
    }
    let header = entry.header();
    let kind = match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => EntryKind::Symlink,
        tar::EntryType::Link => EntryKind::Hardlink,
        tar::EntryType::Char => EntryKind::Char,
        tar::EntryType::Block => EntryKind::Block,
        tar::EntryType::Fifo => EntryKind::Fifo,
        _ => EntryKind::Other,
    };
    let what = || format!("read the header of `{path}`");
    let link = entry
        .link_name_bytes()
        .map(|l| String::from_utf8_lossy(&l).into_owned());
    let device = match kind {
        EntryKind::Char | EntryKind::Block => Some((
            header.device_major().ok().flatten().unwrap_or(0),
            header.device_minor().ok().flatten().unwrap_or(0),
        )),
        _ => None,
    };
    let mut parsed = Entry {
        kind,
        mode: header.mode().map_err(Error::io(what()))? & 0o7777,
        uid: header.uid().map_err(Error::io(what()))?,
        gid: header.gid().map_err(Error::io(what()))?,
        uname: String::from_utf8_lossy(header.username_bytes().unwrap_or_default()).into_owned(),
        gname: String::from_utf8_lossy(header.groupname_bytes().unwrap_or_default()).into_owned(),
        mtime: header.mtime().map_err(Error::io(what()))?,
        size: 0,
        sha256: None,
        link: if matches!(kind, EntryKind::Symlink | EntryKind::Hardlink) {
            link.map(|l| {
                if kind == EntryKind::Hardlink {
                    normalise_path(l.as_bytes())
                } else {
                    l
                }
            })
        } else {
            None
        },
        device,
        xattrs,
    };
    if kind == EntryKind::File {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut keep_buf = keep.contains(&path).then(Vec::new);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(Error::io(format!("read `{path}` from the layer")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            if let Some(k) = keep_buf.as_mut() {
                let room = keep_limit.saturating_sub(k.len());
                k.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        parsed.size = size;
        parsed.sha256 = Some(hex_digest(hasher));
        if let Some(k) = keep_buf {
            kept.insert(path.clone(), k);
        }
    }
    Ok((path, parsed))
}
