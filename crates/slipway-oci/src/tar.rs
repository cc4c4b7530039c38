//! A deterministic tar writer: every header built here, byte by byte.
//!
//! Entries are written as USTAR headers. A PAX extended header (`x`) precedes
//! an entry only when USTAR cannot say something: a path or link target too
//! long for the `prefix`/`name` split, a size ≥ 8 GiB, an id ≥ 2^21, or
//! extended attributes (`SCHILY.xattr.<name>`). User and group names are
//! always empty; there is no atime or ctime. The archive ends with two zero
//! blocks.

use std::io::{self, Read, Write};

const BLOCK: usize = 512;
const NAME_LEN: usize = 100;
const PREFIX_LEN: usize = 155;
const MAX_OCTAL_8: u64 = 0o7777777; // 7 digits
const MAX_OCTAL_12: u64 = 0o77777777777; // 11 digits

/// What a tar entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of `size` bytes; its data follows the header.
    File {
        /// The file's size.
        size: u64,
    },
    /// A directory.
    Directory,
    /// A symbolic link to `target`.
    Symlink {
        /// The link's target, as stored.
        target: Vec<u8>,
    },
    /// A hard link to the earlier entry at `target`.
    Hardlink {
        /// The path of the earlier entry (relative, like entry paths).
        target: Vec<u8>,
    },
    /// A character device.
    CharDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A block device.
    BlockDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
}

/// One tar entry's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// Relative path with `/` separators, no leading `/` or `./` and no
    /// trailing `/` (the writer adds one for directories).
    pub path: Vec<u8>,
    /// The entry's type.
    pub kind: EntryKind,
    /// Permission bits, including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Modification time, seconds since the epoch (negative values are written as 0).
    pub mtime: i64,
    /// Extended attributes `(name, value)`; written as `SCHILY.xattr.<name>`
    /// PAX records, sorted by name.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl TarEntry {
    /// An entry with mode 0, owner 0:0, mtime 0 and no xattrs.
    pub fn new(path: impl Into<Vec<u8>>, kind: EntryKind) -> TarEntry {
        TarEntry {
            path: path.into(),
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        }
    }

    /// The size of the data that follows the header.
    pub fn data_size(&self) -> u64 {
        match self.kind {
            EntryKind::File { size } => size,
            _ => 0,
        }
    }
}

/// Writes tar entries to `W`.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> TarWriter<W> {
    /// A writer into `inner`.
    pub fn new(inner: W) -> Self {
        TarWriter {
            inner,
            buf: Vec::new(),
        }
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Append `entry`; for a file, exactly `entry.data_size()` bytes are read
    /// from `data` (fewer is an `UnexpectedEof` error; more are not read).
    pub fn append(&mut self, entry: &TarEntry, data: &mut dyn Read) -> io::Result<()> {
        self.write_header(entry)?;
        let size = entry.data_size();
        if size > 0 {
            let copied = copy_exact(data, &mut self.inner, size, &mut self.buf)?;
            if copied != size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "`{}`: expected {size} bytes of data, got {copied}",
                        String::from_utf8_lossy(&entry.path)
                    ),
                ));
            }
            self.pad(size)?;
        }
        Ok(())
    }

    /// Append an entry whose data is in memory (`data.len()` must equal the entry's size).
    pub fn append_data(&mut self, entry: &TarEntry, mut data: &[u8]) -> io::Result<()> {
        self.append(entry, &mut data)
    }

    /// Write the end-of-archive marker and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(&[0; 2 * BLOCK])?;
        Ok(self.inner)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.inner.write_all(&[0; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }

    fn write_header(&mut self, entry: &TarEntry) -> io::Result<()> {
        let mut path = entry.path.clone();
        if entry.kind == EntryKind::Directory && !path.ends_with(b"/") {
            path.push(b'/');
        }
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut header = [0u8; BLOCK];

        match split_ustar_path(&path) {
            Some((prefix, name)) => {
                header[..name.len()].copy_from_slice(name);
                header[345..345 + prefix.len()].copy_from_slice(prefix);
            }
            None => {
                pax.push((b"path".to_vec(), path.clone()));
                let short = truncate(&path, NAME_LEN);
                header[..short.len()].copy_from_slice(short);
            }
        }

        let (typeflag, link): (u8, Option<&[u8]>) = match &entry.kind {
            EntryKind::File { .. } => (b'0', None),
            EntryKind::Directory => (b'5', None),
            EntryKind::Symlink { target } => (b'2', Some(target)),
            EntryKind::Hardlink { target } => (b'1', Some(target)),
            EntryKind::CharDevice { .. } => (b'3', None),
            EntryKind::BlockDevice { .. } => (b'4', None),
            EntryKind::Fifo => (b'6', None),
        };
        if let Some(link) = link {
            if link.len() > NAME_LEN {
                pax.push((b"linkpath".to_vec(), link.to_vec()));
            }
            let short = truncate(link, NAME_LEN);
            header[157..157 + short.len()].copy_from_slice(short);
        }

        octal_or_pax(
            &mut header[100..108],
            u64::from(entry.mode & 0o7777),
            None,
            &mut pax,
        );
        octal_or_pax(&mut header[108..116], entry.uid, Some("uid"), &mut pax);
        octal_or_pax(&mut header[116..124], entry.gid, Some("gid"), &mut pax);
        octal_or_pax(
            &mut header[124..136],
            entry.data_size(),
            Some("size"),
            &mut pax,
        );
        octal_or_pax(
            &mut header[136..148],
            entry.mtime.max(0) as u64,
            Some("mtime"),
            &mut pax,
        );
        header[156] = typeflag;
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        let (major, minor) = match entry.kind {
            EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
                (u64::from(major), u64::from(minor))
            }
            _ => (0, 0),
        };
        octal_or_pax(&mut header[329..337], major, None, &mut pax);
        octal_or_pax(&mut header[337..345], minor, None, &mut pax);

        let mut xattrs: Vec<&(Vec<u8>, Vec<u8>)> = entry.xattrs.iter().collect();
        xattrs.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in xattrs {
            let mut key = b"SCHILY.xattr.".to_vec();
            key.extend_from_slice(name);
            pax.push((key, value.clone()));
        }

        if !pax.is_empty() {
            pax.sort_by(|a, b| a.0.cmp(&b.0));
            self.write_pax(&path, entry.mtime, &pax)?;
        }
        set_checksum(&mut header);
        self.inner.write_all(&header)
    }

    fn write_pax(
        &mut self,
        path: &[u8],
        mtime: i64,
        records: &[(Vec<u8>, Vec<u8>)],
    ) -> io::Result<()> {
        let mut data = Vec::new();
        for (key, value) in records {
            data.extend_from_slice(&pax_record(key, value));
        }
        // Like Go's archive/tar: `<dir>/PaxHeaders.0/<base>`, cut to fit.
        let trimmed = path.strip_suffix(b"/").unwrap_or(path);
        let (dir, base) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => (&b""[..], trimmed),
        };
        let mut name = dir.to_vec();
        name.extend_from_slice(b"PaxHeaders.0/");
        name.extend_from_slice(base);
        let mut header = [0u8; BLOCK];
        let short = truncate(&name, NAME_LEN);
        header[..short.len()].copy_from_slice(short);
        let mut ignored = Vec::new();
        octal_or_pax(&mut header[100..108], 0o644, None, &mut ignored);
        octal_or_pax(&mut header[108..116], 0, None, &mut ignored);
        octal_or_pax(&mut header[116..124], 0, None, &mut ignored);
        octal_or_pax(&mut header[124..136], data.len() as u64, None, &mut ignored);
        octal_or_pax(
            &mut header[136..148],
            mtime.max(0) as u64,
            None,
            &mut ignored,
        );
        header[156] = b'x';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        octal_or_pax(&mut header[329..337], 0, None, &mut ignored);
        octal_or_pax(&mut header[337..345], 0, None, &mut ignored);
        set_checksum(&mut header);
        self.inner.write_all(&header)?;
        self.inner.write_all(&data)?;
        self.pad(data.len() as u64)
    }
}

/// Split `path` into USTAR `(prefix, name)`, or `None` if it does not fit.
fn split_ustar_path(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= NAME_LEN {
        return Some((&[], path));
    }
    // The rightmost `/` that leaves a prefix of ≤ 155 bytes and a non-empty
    // name of ≤ 100 bytes (a trailing `/` of a directory stays in the name).
    let limit = path.len().min(PREFIX_LEN + 1);
    let search = &path[..limit];
    let mut candidates = search
        .iter()
        .enumerate()
        .rev()
        .filter(|&(_, &b)| b == b'/')
        .map(|(i, _)| i);
    candidates.find_map(|i| {
        let (prefix, name) = (&path[..i], &path[i + 1..]);
        (prefix.len() <= PREFIX_LEN && !name.is_empty() && name != b"/" && name.len() <= NAME_LEN)
            .then_some((prefix, name))
    })
}

fn truncate(bytes: &[u8], len: usize) -> &[u8] {
    &bytes[..bytes.len().min(len)]
}

/// Write `value` as NUL-terminated octal into `field`; if it does not fit,
/// write 0 and add a PAX record `key` (every key given here has one).
fn octal_or_pax(
    field: &mut [u8],
    value: u64,
    key: Option<&str>,
    pax: &mut Vec<(Vec<u8>, Vec<u8>)>,
) {
    let digits = field.len() - 1;
    let max = if field.len() == 8 {
        MAX_OCTAL_8
    } else {
        MAX_OCTAL_12
    };
    let value = if value > max {
        if let Some(key) = key {
            pax.push((key.as_bytes().to_vec(), value.to_string().into_bytes()));
        }
        0
    } else {
        value
    };
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

fn set_checksum(header: &mut [u8; BLOCK]) {
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(text.as_bytes());
}

/// One PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts itself.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = len.to_string().into_bytes();
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// Copy up to `size` bytes from `from` to `to`; returns how many were copied.
fn copy_exact(
    from: &mut dyn Read,
    to: &mut dyn Write,
    size: u64,
    buf: &mut Vec<u8>,
) -> io::Result<u64> {
    const CHUNK: usize = 256 * 1024;
    if buf.len() < CHUNK {
        buf.resize(CHUNK, 0);
    }
    let mut left = size;
    while left > 0 {
        let want = left.min(CHUNK as u64) as usize;
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(size - left)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Xattrs = Vec<(String, Vec<u8>)>;

    fn read_back(data: &[u8]) -> Vec<(String, u8, u64, Xattrs)> {
        let mut archive = tar::Archive::new(data);
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let xattrs = entry
                .pax_extensions()
                .unwrap()
                .map(|exts| {
                    exts.map(|e| {
                        let e = e.unwrap();
                        (e.key().unwrap().to_owned(), e.value_bytes().to_vec())
                    })
                    .filter(|(k, _)| k.starts_with("SCHILY.xattr."))
                    .collect()
                })
                .unwrap_or_default();
            out.push((
                String::from_utf8(entry.path_bytes().to_vec()).unwrap(),
                entry.header().entry_type().as_byte(),
                entry.header().size().unwrap(),
                xattrs,
            ));
        }
        out
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        assert_eq!(pax_record(b"path", b"a"), b"9 path=a\n");
        let r = pax_record(b"path", &[b'x'; 95]);
        assert_eq!(r.len(), 105);
        assert!(r.starts_with(b"105 "));
        assert_eq!(pax_record(b"k", b"xxx"), b"8 k=xxx\n");
        assert_eq!(pax_record(b"k", b"xxxx"), b"9 k=xxxx\n");
        // One more byte crosses a digit boundary: 10 would not count itself right.
        assert_eq!(pax_record(b"k", b"xxxxx"), b"11 k=xxxxx\n");
    }

    #[test]
    fn ustar_split_prefers_fitting_in_ustar() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let (prefix, name) = split_ustar_path(long.as_bytes()).unwrap();
        assert_eq!(prefix.len(), 120);
        assert_eq!(name.len(), 50);
        assert!(split_ustar_path("x".repeat(101).as_bytes()).is_none());
    }

    #[test]
    fn long_names_xattrs_and_big_ids_round_trip_through_the_tar_crate() {
        let mut w = TarWriter::new(Vec::new());
        let long = format!("{}/{}", "a".repeat(200), "b".repeat(120));
        let mut file = TarEntry::new(long.clone(), EntryKind::File { size: 5 });
        file.mode = 0o4755;
        file.uid = 1 << 22;
        file.xattrs = vec![
            (b"user.z".to_vec(), b"1".to_vec()),
            (
                b"security.capability".to_vec(),
                vec![1, 0, 0, 2, 0, 32, 0, 0],
            ),
        ];
        w.append_data(&file, b"hello").unwrap();
        let link = TarEntry::new(
            "l",
            EntryKind::Symlink {
                target: "t".repeat(150).into_bytes(),
            },
        );
        w.append_data(&link, b"").unwrap();
        w.append_data(&TarEntry::new("d", EntryKind::Directory), b"")
            .unwrap();
        let data = w.finish().unwrap();
        assert_eq!(data.len() % 512, 0);
        let back = read_back(&data);
        assert_eq!(back[0].0, long);
        assert_eq!(back[0].2, 5);
        assert_eq!(
            back[0].3,
            vec![
                (
                    "SCHILY.xattr.security.capability".into(),
                    vec![1, 0, 0, 2, 0, 32, 0, 0]
                ),
                ("SCHILY.xattr.user.z".into(), b"1".to_vec())
            ]
        );
        assert_eq!(back[1].0, "l");
        assert_eq!(back[2].0, "d/");
        let mut archive = tar::Archive::new(&data[..]);
        let mut entries = archive.entries().unwrap();
        let first = entries.next().unwrap().unwrap();
        assert_eq!(
            first.header().uid().unwrap(),
            1 << 22,
            "the PAX uid applies"
        );
        assert_eq!(first.header().mode().unwrap(), 0o4755);
        let second = entries.next().unwrap().unwrap();
        assert_eq!(second.link_name_bytes().unwrap().len(), 150);
    }

    #[test]
    fn short_data_is_an_error() {
        let mut w = TarWriter::new(Vec::new());
        let entry = TarEntry::new("f", EntryKind::File { size: 10 });
        assert!(w.append_data(&entry, b"abc").is_err());
    }
}
