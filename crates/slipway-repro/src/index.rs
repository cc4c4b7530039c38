//! Streaming a layer blob into an index of its entries, by path.
//!
//! The blob is read once with slipway-oci's layer reader ([`read_layer`]:
//! gzip, zstd or plain tar, paths normalised, PAX metadata applied), and each
//! entry is reduced to its metadata plus the SHA-256 of its content. Nothing
//! is written to disk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use sha2::{Digest as _, Sha256};
use slipway_oci::tar::EntryKind as OciKind;
use slipway_oci::{EntryClass, LayerEntry, read_layer};

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

/// Stream `blob` and index every entry (read with slipway-oci's layer
/// reader). When `keep` names paths, their contents (up to `keep_limit` bytes
/// each) are returned as well.
pub fn index_layer(
    mut blob: Box<dyn Read + Send>,
    keep: &BTreeSet<String>,
    keep_limit: usize,
) -> Result<(LayerIndex, BTreeMap<String, Vec<u8>>)> {
    let mut kept = BTreeMap::new();
    let mut index = LayerIndex::default();
    let digests = read_layer(&mut blob, "layer", |member| -> Result<()> {
        let (path, parsed) = read_entry(member, keep, keep_limit, &mut kept)?;
        index.order.push(path.clone());
        index.entries.insert(path, parsed);
        Ok(())
    })?;
    index.diff_id = digests.diff_id.to_string();
    index.digest = digests.digest.to_string();
    index.truncated = digests.truncated;
    Ok((index, kept))
}

fn read_entry(
    member: &mut LayerEntry<'_>,
    keep: &BTreeSet<String>,
    keep_limit: usize,
    kept: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(String, Entry)> {
    let meta = &member.entry;
    let path = if meta.path.is_empty() {
        ".".to_owned()
    } else {
        String::from_utf8_lossy(&meta.path).into_owned()
    };
    let xattrs = meta
        .xattrs
        .iter()
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), hex::encode(v)))
        .collect();
    let (kind, link, device) = match &meta.kind {
        _ if matches!(member.class, EntryClass::Unsupported { .. }) => {
            (EntryKind::Other, None, None)
        }
        OciKind::File { .. } => (EntryKind::File, None, None),
        OciKind::Directory => (EntryKind::Dir, None, None),
        OciKind::Symlink { target } => (EntryKind::Symlink, Some(lossy(target)), None),
        OciKind::Hardlink { target } => (EntryKind::Hardlink, Some(lossy(target)), None),
        OciKind::CharDevice { major, minor } => (EntryKind::Char, None, Some((*major, *minor))),
        OciKind::BlockDevice { major, minor } => (EntryKind::Block, None, Some((*major, *minor))),
        OciKind::Fifo => (EntryKind::Fifo, None, None),
    };
    let mut parsed = Entry {
        kind,
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        uname: lossy(&member.uname),
        gname: lossy(&member.gname),
        mtime: u64::try_from(meta.mtime).unwrap_or(0),
        size: 0,
        sha256: None,
        link,
        device,
        xattrs,
    };
    if kind == EntryKind::File {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut keep_buf = keep.contains(&path).then(Vec::new);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = member
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
        parsed.sha256 = Some(format!("sha256:{}", hex::encode(hasher.finalize())));
        if let Some(k) = keep_buf {
            kept.insert(path.clone(), k);
        }
    }
    Ok((path, parsed))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
