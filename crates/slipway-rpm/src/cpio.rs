//! A streaming reader of the cpio archives inside RPM payloads.
//!
//! Reads SVR4 `newc` (`070701`), `crc` (`070702`) and rpm's stripped
//! large-file format (`07070X`, rpm ≥ 4.12: only an index into the header's
//! file list). Hand-written rather than the `rpm` crate's reader because that
//! one hides the cpio header (inode, nlink, mtime, which hardlink carries the
//! data) that `extract_to` needs to reproduce `cpio -idm`, and a small reader
//! of our own is what the fuzz target exercises.

use crate::error::Error;
use std::io::{self, Read};
use std::path::PathBuf;

const HEADER_LEN: usize = 110;
const STRIPPED_LEN: usize = 14;
/// Longest entry name accepted (PATH_MAX is 4096; leave room for `./`).
const MAX_NAME: usize = 8192;
const TRAILER: &str = "TRAILER!!!";

/// The header of one cpio entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpioEntry {
    /// The name as stored (`./usr/bin/x`); empty for stripped entries.
    pub name: String,
    /// Index into the header's file list (stripped `07070X` entries only).
    pub file_index: Option<u32>,
    /// Inode number.
    pub ino: u32,
    /// `st_mode`.
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Link count: > 1 for hardlinks (only the last of a set carries the data).
    pub nlink: u32,
    /// Modification time.
    pub mtime: u32,
    /// Size of the data that follows.
    pub size: u64,
    /// Device of the file (major).
    pub dev_major: u32,
    /// Device of the file (minor).
    pub dev_minor: u32,
    /// Device number of a device file (major).
    pub rdev_major: u32,
    /// Device number of a device file (minor).
    pub rdev_minor: u32,
}

/// Streams entries out of an uncompressed cpio archive.
///
/// Call [`CpioReader::next_entry`] for each header; read the entry's data
/// through `Read` on the reader itself (unread data is skipped on the next
/// call).
pub struct CpioReader<R> {
    inner: R,
    path: PathBuf,
    offset: u64,
    remaining: u64,
    pad: u64,
    done: bool,
    file_sizes: Option<Vec<u64>>,
}

impl<R> std::fmt::Debug for CpioReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpioReader")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

fn hex(field: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(field).ok()?;
    u32::from_str_radix(s, 16).ok()
}

fn pad4(n: u64) -> u64 {
    (4 - n % 4) % 4
}

impl<R: Read> CpioReader<R> {
    /// Reads the archive from `inner`; `path` names the RPM in errors.
    pub fn new(inner: R, path: impl Into<PathBuf>) -> Self {
        Self {
            inner,
            path: path.into(),
            offset: 0,
            remaining: 0,
            pad: 0,
            done: false,
            file_sizes: None,
        }
    }

    /// Supplies the header's file sizes, needed for stripped `07070X` entries.
    pub fn with_file_sizes(mut self, sizes: Vec<u64>) -> Self {
        self.file_sizes = Some(sizes);
        self
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Cpio {
            path: self.path.clone(),
            offset: self.offset,
            reason: reason.into(),
        }
    }

    fn io_err(&self, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.err("truncated archive")
        } else {
            self.err(format!("cannot read (corrupt compressed stream?): {e}"))
        }
    }

    fn read_exact_counted(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.io_err(e)),
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), Error> {
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())
            .map_err(|e| self.io_err(e))?;
        self.offset += copied;
        if copied < n {
            return Err(self.err("truncated archive"));
        }
        Ok(())
    }

    /// The next entry's header, or `None` after the trailer.
    pub fn next_entry(&mut self) -> Result<Option<CpioEntry>, Error> {
        if self.done {
            return Ok(None);
        }
        let skip = self.remaining + self.pad;
        self.remaining = 0;
        self.pad = 0;
        self.skip(skip)?;
        let mut magic = [0u8; 6];
        self.read_exact_counted(&mut magic)?;
        match &magic {
            b"070701" | b"070702" => self.read_newc(),
            b"07070X" => self.read_stripped(),
            other => Err(self.err(format!(
                "bad magic {:?}: expected 070701, 070702 or 07070X",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    fn read_stripped(&mut self) -> Result<Option<CpioEntry>, Error> {
        let mut idx = [0u8; STRIPPED_LEN - 6];
        self.read_exact_counted(&mut idx)?;
        let index = hex(&idx).ok_or_else(|| self.err("bad hex index in stripped entry"))?;
        let size = self
            .file_sizes
            .as_ref()
            .and_then(|s| s.get(index as usize).copied())
            .ok_or_else(|| {
                self.err(format!("stripped entry index {index} not in the file list"))
            })?;
        self.remaining = size;
        self.pad = pad4(size);
        Ok(Some(CpioEntry {
            file_index: Some(index),
            size,
            ..CpioEntry::default()
        }))
    }

    fn read_newc(&mut self) -> Result<Option<CpioEntry>, Error> {
        let mut h = [0u8; HEADER_LEN - 6];
        self.read_exact_counted(&mut h)?;
        let mut fields = [0u32; 13];
        for (i, f) in fields.iter_mut().enumerate() {
            *f = hex(&h[i * 8..i * 8 + 8])
                .ok_or_else(|| self.err(format!("bad hex field {i} in entry header")))?;
        }
        let [
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            size,
            dev_major,
            dev_minor,
            rdev_major,
            rdev_minor,
            namesize,
            _check,
        ] = fields;
        let namesize = namesize as usize;
        if namesize == 0 || namesize > MAX_NAME {
            return Err(self.err(format!("entry name size {namesize} out of range")));
        }
        let mut name = vec![0u8; namesize];
        self.read_exact_counted(&mut name)?;
        if name.pop() != Some(0) {
            return Err(self.err("entry name not NUL-terminated"));
        }
        let name = String::from_utf8(name).map_err(|_| self.err("entry name is not UTF-8"))?;
        self.skip(pad4((HEADER_LEN + namesize) as u64))?;
        if name == TRAILER {
            self.done = true;
            return Ok(None);
        }
        self.remaining = u64::from(size);
        self.pad = pad4(u64::from(size));
        Ok(Some(CpioEntry {
            name,
            file_index: None,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            size: u64::from(size),
            dev_major,
            dev_minor,
            rdev_major,
            rdev_minor,
        }))
    }

    /// Consumes the reader, returning the inner stream.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for CpioReader<R> {
    /// Reads the current entry's data; 0 at its end.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "`{}`: cpio payload truncated at byte {}",
                    self.path.display(),
                    self.offset
                ),
            ));
        }
        self.remaining -= n as u64;
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newc(name: &str, mode: u32, data: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            1,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        )
        .into_bytes();
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn reads_entries_and_trailer() {
        let mut a = newc("./a", 0o100644, b"hello");
        a.extend(newc("./b", 0o040755, b""));
        a.extend(newc(TRAILER, 0, b""));
        let mut r = CpioReader::new(&a[..], "t.rpm");
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.name.as_str(), e.size), ("./a", 5));
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        assert_eq!(r.next_entry().unwrap().unwrap().name, "./b");
        assert!(r.next_entry().unwrap().is_none());
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn stripped_entries_take_sizes_from_the_header() {
        // rpm >= 4.12 large-file payloads: magic 07070X + 8 hex digits of index.
        let mut a = b"07070X00000001".to_vec();
        a.extend_from_slice(b"abc\0");
        a.extend(newc(TRAILER, 0, b""));
        let mut r = CpioReader::new(&a[..], "t.rpm").with_file_sizes(vec![9, 3]);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.file_index, e.size), (Some(1), 3));
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
        assert!(r.next_entry().unwrap().is_none());
        let mut r = CpioReader::new(&a[..], "t.rpm");
        assert!(
            r.next_entry()
                .unwrap_err()
                .to_string()
                .contains("not in the file list")
        );
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let a = newc("./a", 0o100644, b"hello");
        for cut in [0, 3, 50, 112, a.len() - 1] {
            let mut r = CpioReader::new(&a[..cut], "t.rpm");
            let res = r.next_entry().and_then(|_| r.next_entry());
            let msg = res.unwrap_err().to_string();
            assert!(msg.contains("t.rpm"), "{msg}");
        }
        let mut r = CpioReader::new(&b"garbagegarbage"[..], "t.rpm");
        assert!(
            r.next_entry()
                .unwrap_err()
                .to_string()
                .contains("bad magic")
        );
    }
}
