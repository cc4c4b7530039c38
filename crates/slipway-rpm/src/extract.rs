//! Unpacking a payload into a directory as `rpm2cpio FILE | cpio -idm` does.
//!
//! Content, permission bits (including setuid/setgid/sticky), symlinks,
//! hardlinks, device nodes (when permitted) and mtimes. Not an installer:
//! owners, capabilities, `%ghost` files and scriptlets are left to the caller
//! (the header's file list has them).

use crate::cpio::{CpioEntry, CpioReader};
use crate::error::{Error, IoContext};
use crate::header::{DigestAlgorithm, Header};
use crate::package::Package;
use rustix::fs::{AtFlags, CWD, Timespec, Timestamps};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// What [`extract_to`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Entries read from the payload.
    pub entries: usize,
    /// Bytes of file content written.
    pub bytes: u64,
}

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;
const S_IFIFO: u32 = 0o010000;

/// Unpacks the payload of the RPM at `rpm` into `dir` (created if absent).
pub fn extract_to(rpm: impl AsRef<Path>, dir: impl AsRef<Path>) -> Result<ExtractSummary, Error> {
    let pkg = Package::open(rpm)?;
    let header = pkg.header.clone();
    let path = pkg.path.clone();
    let mut payload = pkg.payload()?;
    extract_payload_verified(&mut payload, dir.as_ref(), &path, &header)
}

/// Like [`extract_payload`], and checks each regular file's content against
/// the digest in the header's file list (as rpm does when installing): a
/// mismatch is an [`Error::DigestMismatch`] naming the RPM and the file.
pub fn extract_payload_verified<R: Read>(
    payload: &mut CpioReader<R>,
    dir: &Path,
    rpm: &Path,
    header: &Header,
) -> Result<ExtractSummary, Error> {
    let names: Vec<String> = header.files.iter().map(|f| f.path.clone()).collect();
    let modes: Vec<u32> = header.files.iter().map(|f| f.mode).collect();
    let digests: BTreeMap<String, String> = header
        .files
        .iter()
        .filter(|f| f.is_regular())
        .filter_map(|f| {
            let d = f.digest.clone()?;
            Some((f.path.trim_start_matches('/').to_owned(), d))
        })
        .collect();
    let check = Check {
        digests,
        algorithm: header.file_digest_algorithm,
    };
    extract_inner(payload, dir, rpm, &names, &modes, Some(&check))
}

/// File digests to check while writing.
struct Check {
    /// Relative path (no leading `/`) -> hex digest.
    digests: BTreeMap<String, String>,
    algorithm: DigestAlgorithm,
}

fn set_mtime(path: &Path, mtime: u32) -> Result<(), Error> {
    let t = Timespec {
        tv_sec: i64::from(mtime),
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| e.into())
        .at(path)
}

/// Unpacks an already opened payload. `names` and `modes` come from the
/// header's file list and are only used for stripped (`07070X`) entries.
pub fn extract_payload<R: Read>(
    payload: &mut CpioReader<R>,
    dir: &Path,
    rpm: &Path,
    names: &[String],
    modes: &[u32],
) -> Result<ExtractSummary, Error> {
    extract_inner(payload, dir, rpm, names, modes, None)
}

fn extract_inner<R: Read>(
    payload: &mut CpioReader<R>,
    dir: &Path,
    rpm: &Path,
    names: &[String],
    modes: &[u32],
    check: Option<&Check>,
) -> Result<ExtractSummary, Error> {
    fs_err::create_dir_all(dir).at(dir)?;
    let mut summary = ExtractSummary::default();
    // Directories get their final mode and mtime last, deepest first, so
    // that read-only directories can be filled and mtimes survive.
    let mut dirs: BTreeMap<PathBuf, (u32, u32)> = BTreeMap::new();
    // Hardlink sets: (dev, ino) -> names waiting for the data-carrying entry,
    // or the path that already has the data.
    let mut pending: BTreeMap<(u32, u32, u32), Vec<(PathBuf, CpioEntry)>> = BTreeMap::new();
    let mut written: BTreeMap<(u32, u32, u32), PathBuf> = BTreeMap::new();
    while let Some(mut entry) = payload.next_entry()? {
        summary.entries += 1;
        if let Some(i) = entry.file_index {
            let i = i as usize;
            entry.name = names.get(i).cloned().unwrap_or_default();
            entry.mode = modes.get(i).copied().unwrap_or(S_IFREG | 0o644);
            entry.nlink = 1;
        }
        let rel = safe_relative(&entry.name).ok_or_else(|| Error::UnsafePath {
            path: rpm.to_owned(),
            entry: entry.name.clone(),
        })?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dir.join(&rel);
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent).at(parent)?;
        }
        let ftype = entry.mode & S_IFMT;
        let key = (entry.dev_major, entry.dev_minor, entry.ino);
        match ftype {
            S_IFDIR => {
                if !target.is_dir() {
                    fs_err::create_dir(&target).at(&target)?;
                }
                fs_err::set_permissions(&target, std::fs::Permissions::from_mode(0o700))
                    .at(&target)?;
                dirs.insert(target, (entry.mode & 0o7777, entry.mtime));
            }
            S_IFLNK => {
                let mut link = String::new();
                payload
                    .read_to_string(&mut link)
                    .map_err(|e| cpio_read_error(rpm, &entry, e))?;
                remove_existing(&target)?;
                std::os::unix::fs::symlink(&link, &target).at(&target)?;
                set_mtime(&target, entry.mtime)?;
            }
            S_IFREG if entry.nlink > 1 && entry.size == 0 && entry.file_index.is_none() => {
                if let Some(first) = written.get(&key) {
                    remove_existing(&target)?;
                    fs_err::hard_link(first, &target).at(&target)?;
                } else {
                    pending.entry(key).or_default().push((target, entry));
                }
            }
            S_IFREG => {
                let expected = check.and_then(|c| {
                    let key = rel.to_str()?;
                    Some((c.digests.get(key)?, c.algorithm))
                });
                summary.bytes += write_file(payload, rpm, &target, &entry, expected)?;
                if entry.nlink > 1 {
                    for (other, _) in pending.remove(&key).unwrap_or_default() {
                        remove_existing(&other)?;
                        fs_err::hard_link(&target, &other).at(&other)?;
                    }
                    written.insert(key, target);
                }
            }
            S_IFCHR | S_IFBLK | S_IFIFO => {
                remove_existing(&target)?;
                let kind = rustix::fs::FileType::from_raw_mode(entry.mode);
                let dev = rustix::fs::makedev(entry.rdev_major, entry.rdev_minor);
                let perm = rustix::fs::Mode::from_raw_mode(entry.mode & 0o7777);
                // Unprivileged: cpio warns and goes on; so do we.
                if rustix::fs::mknodat(CWD, &target, kind, perm, dev).is_ok() {
                    // mknod applies the umask; cpio sets the mode afterwards.
                    fs_err::set_permissions(
                        &target,
                        std::fs::Permissions::from_mode(entry.mode & 0o7777),
                    )
                    .at(&target)?;
                    set_mtime(&target, entry.mtime)?;
                }
            }
            other => {
                return Err(Error::Cpio {
                    path: rpm.to_owned(),
                    offset: 0,
                    reason: format!("entry `{}` has unknown file type {other:o}", entry.name),
                });
            }
        }
    }
    // Hardlink sets whose members all had no data: empty files.
    for (_, members) in pending {
        let mut first: Option<PathBuf> = None;
        for (target, entry) in members {
            match &first {
                None => {
                    write_file(&mut std::io::empty(), rpm, &target, &entry, None)?;
                    first = Some(target);
                }
                Some(f) => {
                    remove_existing(&target)?;
                    fs_err::hard_link(f, &target).at(&target)?;
                }
            }
        }
    }
    for (d, (mode, mtime)) in dirs.iter().rev() {
        fs_err::set_permissions(d, std::fs::Permissions::from_mode(*mode)).at(d)?;
        set_mtime(d, *mtime)?;
    }
    Ok(summary)
}

fn cpio_read_error(rpm: &Path, entry: &CpioEntry, e: std::io::Error) -> Error {
    Error::Cpio {
        path: rpm.to_owned(),
        offset: 0,
        reason: format!("reading data of `{}`: {e}", entry.name),
    }
}

fn remove_existing(path: &Path) -> Result<(), Error> {
    match fs_err::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => fs_err::remove_file(path).at(path),
        Err(_) => Ok(()),
    }
}

fn write_file(
    data: &mut impl Read,
    rpm: &Path,
    target: &Path,
    entry: &CpioEntry,
    expected: Option<(&String, DigestAlgorithm)>,
) -> Result<u64, Error> {
    remove_existing(target)?;
    let mut f = fs_err::File::create(target).at(target)?;
    let mut hasher = expected.and_then(|(_, algo)| FileHasher::new(algo));
    let n = match &mut hasher {
        Some(h) => {
            let mut tee = HashingReader {
                inner: data,
                hasher: h,
            };
            std::io::copy(&mut tee, &mut f)
        }
        None => std::io::copy(data, &mut f),
    }
    .map_err(|e| cpio_read_error(rpm, entry, e))?;
    if let (Some(h), Some((want, algo))) = (hasher, expected) {
        let actual = h.finish();
        if !actual.eq_ignore_ascii_case(want) {
            return Err(Error::DigestMismatch {
                path: rpm.to_owned(),
                what: format!("file `{}` {algo:?}", entry.name),
                expected: want.clone(),
                actual,
            });
        }
    }
    if n != entry.size {
        return Err(Error::Cpio {
            path: rpm.to_owned(),
            offset: 0,
            reason: format!("`{}`: {n} bytes of {}", entry.name, entry.size),
        });
    }
    f.set_permissions(std::fs::Permissions::from_mode(entry.mode & 0o7777))
        .at(target)?;
    drop(f);
    set_mtime(target, entry.mtime)?;
    Ok(n)
}

/// A digest of one of the algorithms rpm uses for file digests.
enum FileHasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl FileHasher {
    fn new(algo: DigestAlgorithm) -> Option<Self> {
        use digest::Digest;
        Some(match algo {
            DigestAlgorithm::Md5 => Self::Md5(md5::Md5::new()),
            DigestAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            DigestAlgorithm::Sha224 => Self::Sha224(sha2::Sha224::new()),
            DigestAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            DigestAlgorithm::Sha384 => Self::Sha384(sha2::Sha384::new()),
            DigestAlgorithm::Sha512 => Self::Sha512(sha2::Sha512::new()),
            DigestAlgorithm::Other(_) => return None,
        })
    }
    fn update(&mut self, b: &[u8]) {
        use digest::Digest;
        match self {
            Self::Md5(h) => h.update(b),
            Self::Sha1(h) => h.update(b),
            Self::Sha224(h) => h.update(b),
            Self::Sha256(h) => h.update(b),
            Self::Sha384(h) => h.update(b),
            Self::Sha512(h) => h.update(b),
        }
    }
    fn finish(self) -> String {
        use digest::Digest;
        match self {
            Self::Md5(h) => hex::encode(h.finalize()),
            Self::Sha1(h) => hex::encode(h.finalize()),
            Self::Sha224(h) => hex::encode(h.finalize()),
            Self::Sha256(h) => hex::encode(h.finalize()),
            Self::Sha384(h) => hex::encode(h.finalize()),
            Self::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

struct HashingReader<'a, R> {
    inner: &'a mut R,
    hasher: &'a mut FileHasher,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// `./usr/bin/x` or `/usr/bin/x` -> `usr/bin/x`; `None` if it climbs out.
fn safe_relative(name: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}
