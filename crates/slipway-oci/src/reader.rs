//! The one layer reader: a layer blob (gzip, zstd or a plain tar, told apart
//! by its first bytes) streamed entry by entry, each entry classified the way
//! OCI layers use tar — an ordinary entry (file, directory, symlink, hard
//! link, device, fifo), a whiteout (`.wh.NAME`) or an opaque marker
//! (`.wh..wh..opq`) — with its metadata read once (PAX `uid`, `gid`, `mtime`
//! and `SCHILY.xattr.*` records applied) and its path normalised.
//!
//! Unpacking, importing a tar, `slipway diff`/`verify` and the vsyscall audit
//! all read layers through [`read_layer`], so they agree on what a layer says.
//!
//! What real writers do, and how it is read:
//! - member names `./a`, `a` and `/a` (GNU tar `-P`, `umoci insert … /`) all
//!   name `a` beneath the root; `/`, `.` and `./` name the root itself (its
//!   own metadata). A `..` component or a NUL byte makes the entry
//!   [`invalid`](LayerEntry::invalid): it is reported, never applied.
//! - a layer that ends right after the last member's data, without its
//!   padding or the end-of-archive blocks (umoci 0.4.7 writes these), is read
//!   in full when every member's data is complete
//!   ([`LayerDigests::truncated`] says so); a layer that ends inside a
//!   member's data is an error.

use std::io::{self, BufRead, BufReader, Read};

use crate::compress::Compression;
use crate::digest::HashingReader;
use crate::layer::{OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use crate::tar::{EntryKind, TarEntry};
use crate::{Digest, Error, Result};

/// How an entry changes the filesystem below it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryClass {
    /// An entry to create or replace at [`TarEntry::path`]; its kind says what.
    Plain,
    /// `.wh.NAME`: `target` (the parent's path joined with `NAME`) and
    /// everything below it, as lower layers left them, is deleted.
    Whiteout {
        /// The normalised path that is deleted.
        target: Vec<u8>,
    },
    /// `.wh..wh..opq`: what lower layers put in `dir` is hidden.
    Opaque {
        /// The normalised directory (empty for the root).
        dir: Vec<u8>,
    },
    /// A tar entry type layers do not use (GNU sparse files, volume labels, …).
    Unsupported {
        /// The type byte of the header.
        type_byte: u8,
    },
}

/// One entry of a layer, read by [`read_layer`]. Reading it (it implements
/// [`Read`]) gives a regular file's data.
pub struct LayerEntry<'a> {
    /// The member name as the tar holds it (PAX and GNU long names applied).
    pub raw_path: Vec<u8>,
    /// Kind and metadata. `entry.path` is normalised: relative to the root,
    /// no `.` or empty components, empty for the root itself; hard link
    /// targets are normalised the same way; symlink targets are as stored.
    pub entry: TarEntry,
    /// What the entry does to the layers below.
    pub class: EntryClass,
    /// The owner's name in the header (usually empty in OCI layers).
    pub uname: Vec<u8>,
    /// The group's name in the header.
    pub gname: Vec<u8>,
    /// Why the entry must not be applied beneath a root, if it must not: a
    /// `..` component or NUL byte in its path or hard link target, or a
    /// whiteout of `.` or `..`. The path is then only a best effort for
    /// messages.
    pub invalid: Option<String>,
    data: &'a mut dyn Read,
}

impl std::fmt::Debug for LayerEntry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerEntry")
            .field("raw_path", &String::from_utf8_lossy(&self.raw_path))
            .field("entry", &self.entry)
            .field("class", &self.class)
            .field("invalid", &self.invalid)
            .finish_non_exhaustive()
    }
}

impl LayerEntry<'_> {
    /// The normalised path's components (none for the root).
    pub fn components(&self) -> Vec<&[u8]> {
        split_components(&self.entry.path)
    }
}

impl Read for LayerEntry<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.data.read(buf)
    }
}

/// What [`read_layer`] measured while reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDigests {
    /// The digest of the blob as stored (possibly compressed).
    pub digest: Digest,
    /// The blob's size.
    pub size: u64,
    /// The digest of the uncompressed tar (the diff id).
    pub diff_id: Digest,
    /// The uncompressed tar's size.
    pub tar_size: u64,
    /// Entries read (whiteouts and invalid ones included; PAX headers not).
    pub entries: u64,
    /// The tar ended without the last member's padding or without the
    /// end-of-archive blocks (accepted: all data was there).
    pub truncated: bool,
}

/// Normalise a member name: `./a/`, `a` and `/a` all give `a`; `/`, `.`
/// and `./` give the empty path (the root). Refuses `..` and NUL bytes.
pub fn normalize_path(raw: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for component in raw.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err("`..` in the path".into()),
            c if c.contains(&0) => return Err("NUL byte in the path".into()),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

/// The components of a normalised path (none for the root).
pub(crate) fn split_components(path: &[u8]) -> Vec<&[u8]> {
    if path.is_empty() {
        Vec::new()
    } else {
        path.split(|&b| b == b'/').collect()
    }
}

/// A best-effort path for messages when [`normalize_path`] refuses one:
/// leading `/` and `./` dropped.
fn lossy_path(raw: &[u8]) -> Vec<u8> {
    let mut s = raw;
    loop {
        if let Some(rest) = s.strip_prefix(b"/") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix(b"./") {
            s = rest;
        } else {
            break;
        }
    }
    s.strip_suffix(b"/").unwrap_or(s).to_vec()
}

/// Decompress `reader` according to its first bytes.
pub(crate) fn decompressed<'a>(reader: &'a mut dyn Read) -> Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered.fill_buf()?.to_vec();
    Ok(match Compression::sniff(&head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::None => Box::new(buffered),
    })
}

/// Read the layer `blob` (compressed or not), calling `visit` for each entry
/// in order; `what` names the layer in errors ("layer 2", "tar file `x`").
/// Everything is read, so the digests cover the whole blob even when `visit`
/// skips data. The first error of `visit` stops the reading.
pub fn read_layer<E: From<Error>>(
    blob: &mut dyn Read,
    what: &str,
    mut visit: impl FnMut(&mut LayerEntry<'_>) -> std::result::Result<(), E>,
) -> std::result::Result<LayerDigests, E> {
    let bad = |e: io::Error| Error::invalid(what, e.to_string());
    let mut blob_hashing = HashingReader::new(blob);
    let (diff_id, tar_size, entries, truncated) = {
        let stream = decompressed(&mut blob_hashing)?;
        let mut tar_hashing = HashingReader::new(stream);
        let mut entries = 0u64;
        let mut truncated = false;
        {
            let mut archive = tar::Archive::new(&mut tar_hashing);
            // Where the data of the last member read ends, in the tar stream.
            let mut data_end = 0u64;
            let iter = archive.entries().map_err(bad)?;
            for item in iter {
                let mut member = match item {
                    Ok(member) => member,
                    // The tar crate's words when the stream ends while it
                    // skips to the next header (the padding is missing);
                    // whether the data was complete is checked below.
                    Err(e) if e.to_string() == "unexpected EOF during skip" => {
                        truncated = true;
                        break;
                    }
                    Err(e) => return Err(bad(e).into()),
                };
                data_end = member.raw_file_position() + member.size();
                let kind = member.header().entry_type();
                if matches!(
                    kind,
                    tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
                ) {
                    continue;
                }
                let mut entry = classify(&mut member, what)?;
                entries += 1;
                visit(&mut entry)?;
            }
            let consumed = archive.into_inner().size();
            if truncated && consumed < data_end {
                return Err(Error::invalid(
                    what,
                    format!("the tar ends inside a member's data ({consumed} of {data_end} bytes)"),
                )
                .into());
            }
        }
        // Read the rest (the end-of-archive blocks and any padding) so the diff id covers it all.
        io::copy(&mut tar_hashing, &mut io::sink()).map_err(bad)?;
        let (diff_id, tar_size) = tar_hashing.finish();
        (diff_id, tar_size, entries, truncated)
    };
    io::copy(&mut blob_hashing, &mut io::sink()).map_err(bad)?;
    let (digest, size) = blob_hashing.finish();
    Ok(LayerDigests {
        digest,
        size,
        diff_id,
        tar_size,
        entries,
        truncated,
    })
}

/// Read one member's header into a [`LayerEntry`].
fn classify<'a, R: Read>(member: &'a mut tar::Entry<'_, R>, what: &str) -> Result<LayerEntry<'a>> {
    let raw_path = member.path_bytes().into_owned();
    let bad = |e: io::Error| {
        Error::invalid(
            what,
            format!("entry `{}`: {e}", String::from_utf8_lossy(&raw_path)),
        )
    };
    let mut invalid = None;
    let path = normalize_path(&raw_path).unwrap_or_else(|reason| {
        invalid = Some(reason);
        lossy_path(&raw_path)
    });
    let header = member.header().clone();
    let type_byte = header.entry_type().as_byte();
    let link = member.link_name_bytes().map(|l| l.into_owned());
    let kind = match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File {
            size: member.size(),
        },
        tar::EntryType::Directory => EntryKind::Directory,
        tar::EntryType::Symlink => match link {
            Some(target) => EntryKind::Symlink { target },
            None => {
                invalid.get_or_insert_with(|| "a symlink without a target".into());
                EntryKind::Symlink { target: Vec::new() }
            }
        },
        tar::EntryType::Link => {
            let raw = link.unwrap_or_default();
            let target = normalize_path(&raw).unwrap_or_else(|reason| {
                invalid.get_or_insert_with(|| format!("hard link target: {reason}"));
                lossy_path(&raw)
            });
            if target.is_empty() {
                invalid.get_or_insert_with(|| "a hard link to the root".into());
            }
            EntryKind::Hardlink { target }
        }
        t @ (tar::EntryType::Char | tar::EntryType::Block) => {
            let major = header.device_major().map_err(bad)?.unwrap_or(0);
            let minor = header.device_minor().map_err(bad)?.unwrap_or(0);
            if t == tar::EntryType::Char {
                EntryKind::CharDevice { major, minor }
            } else {
                EntryKind::BlockDevice { major, minor }
            }
        }
        tar::EntryType::Fifo => EntryKind::Fifo,
        _ => EntryKind::File {
            size: member.size(),
        },
    };
    let (mode, uname, gname) = (
        header.mode().map_err(bad)? & 0o7777,
        header.username_bytes().unwrap_or_default().to_vec(),
        header.groupname_bytes().unwrap_or_default().to_vec(),
    );
    let (mut uid, mut gid) = (header.uid().map_err(bad)?, header.gid().map_err(bad)?);
    let mut mtime = i64::try_from(header.mtime().map_err(bad)?).unwrap_or(i64::MAX);
    let xattrs = apply_pax(member, &bad, &mut uid, &mut gid, &mut mtime)?;
    let class = whiteout_class(&path, &mut invalid).unwrap_or(
        if matches!(
            header.entry_type(),
            tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::Directory
                | tar::EntryType::Symlink
                | tar::EntryType::Link
                | tar::EntryType::Char
                | tar::EntryType::Block
                | tar::EntryType::Fifo
        ) {
            EntryClass::Plain
        } else {
            EntryClass::Unsupported { type_byte }
        },
    );
    Ok(LayerEntry {
        raw_path,
        entry: TarEntry {
            path,
            kind,
            mode,
            uid,
            gid,
            mtime,
            xattrs,
        },
        class,
        uname,
        gname,
        invalid,
        data: member,
    })
}

/// Apply a member's PAX records (`uid`, `gid`, `mtime`) over its header's
/// values; returns its `SCHILY.xattr.*` records.
fn apply_pax<R: Read>(
    member: &mut tar::Entry<'_, R>,
    bad: &dyn Fn(io::Error) -> Error,
    uid: &mut u64,
    gid: &mut u64,
    mtime: &mut i64,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut xattrs = Vec::new();
    let Some(records) = member.pax_extensions().map_err(bad)? else {
        return Ok(xattrs);
    };
    for record in records {
        let record = record.map_err(bad)?;
        let key = record.key_bytes();
        // Fractional seconds are dropped: layers hold whole seconds.
        let number = || {
            std::str::from_utf8(record.value_bytes())
                .ok()
                .and_then(|v| v.split('.').next()?.parse::<i64>().ok())
        };
        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
            xattrs.push((name.to_vec(), record.value_bytes().to_vec()));
        } else if key == b"uid" {
            *uid = number().and_then(|v| u64::try_from(v).ok()).unwrap_or(*uid);
        } else if key == b"gid" {
            *gid = number().and_then(|v| u64::try_from(v).ok()).unwrap_or(*gid);
        } else if key == b"mtime" {
            *mtime = number().unwrap_or(*mtime);
        }
    }
    Ok(xattrs)
}

/// The whiteout or opaque class of `path`, if its last component says so.
fn whiteout_class(path: &[u8], invalid: &mut Option<String>) -> Option<EntryClass> {
    let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    };
    if name == OPAQUE_WHITEOUT.as_bytes() {
        return Some(EntryClass::Opaque {
            dir: parent.to_vec(),
        });
    }
    let hidden = name.strip_prefix(WHITEOUT_PREFIX.as_bytes())?;
    if hidden.is_empty() || hidden == b"." || hidden == b".." {
        invalid.get_or_insert_with(|| {
            format!(
                "a whiteout of `{}` would delete outside its directory",
                String::from_utf8_lossy(hidden)
            )
        });
    }
    let mut target = parent.to_vec();
    if !target.is_empty() {
        target.push(b'/');
    }
    target.extend_from_slice(hidden);
    Some(EntryClass::Whiteout { target })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize_path(b"./a//b/").unwrap(), b"a/b");
        assert_eq!(normalize_path(b"/etc/passwd").unwrap(), b"etc/passwd");
        assert!(normalize_path(b"./").unwrap().is_empty());
        assert!(normalize_path(b"/").unwrap().is_empty());
        assert!(normalize_path(b".").unwrap().is_empty());
        assert!(normalize_path(b"a/../../x").is_err());
        assert!(normalize_path(b"/..").is_err());
        assert!(normalize_path(b"a\0b").is_err());
        assert_eq!(lossy_path(b"/../x/"), b"../x");
    }

    #[test]
    fn whiteouts_are_classified() {
        let mut invalid = None;
        assert_eq!(
            whiteout_class(b"a/.wh.b", &mut invalid),
            Some(EntryClass::Whiteout {
                target: b"a/b".to_vec()
            })
        );
        assert_eq!(
            whiteout_class(b".wh..wh..opq", &mut invalid),
            Some(EntryClass::Opaque { dir: Vec::new() })
        );
        assert_eq!(whiteout_class(b"a/b", &mut invalid), None);
        assert!(invalid.is_none());
        whiteout_class(b"a/.wh...", &mut invalid);
        assert!(invalid.unwrap().contains("`..`"));
    }
}
