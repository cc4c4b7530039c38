//! Unpacking a payload into a directory as `rpm2cpio FILE | cpio -idm` does.
//!
//! Content, permission bits (including setuid/setgid/sticky), symlinks,
//! hardlinks, device nodes (when permitted) and mtimes. Not an installer:
//! owners, capabilities, `%ghost` files and scriptlets are left to the caller
//! (the header's file list has them).

use crate::cpio::{CpioEntry, CpioReader};
use crate::error::{Error, IoContext};
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
    let names: Vec<String> = pkg.header.files.iter().map(|f| f.path.clone()).collect();
    let modes: Vec<u32> = pkg.header.files.iter().map(|f| f.mode).collect();
    let path = pkg.path.clone();
    let mut payload = pkg.payload()?;
    extract_payload(&mut payload, dir.as_ref(), &path, &names, &modes)
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
                summary.bytes += write_file(payload, rpm, &target, &entry)?;
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
                    write_file(&mut std::io::empty(), rpm, &target, &entry)?;
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
) -> Result<u64, Error> {
    remove_existing(target)?;
    let mut f = fs_err::File::create(target).at(target)?;
    let n = std::io::copy(data, &mut f).map_err(|e| cpio_read_error(rpm, entry, e))?;
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
