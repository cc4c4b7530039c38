//! The snapshot-diff fallback for hosts without overlayfs: the step runs on
//! a private copy of the base, and the differences between the base and the
//! copy are written out in overlayfs upper-dir form (changed entries copied,
//! deleted ones as 0/0 character devices), so that the same capture code
//! turns them into the same layer.
//!
//! An entry counts as changed when its type, mode, owner, size, mtime, link
//! target, device number or xattrs differ, or — for files whose ctime is
//! newer than the copy (the only ones the step can have touched) — its
//! content differs. One difference from overlayfs: a directory removed and
//! re-created is written as its new entries plus whiteouts for the old ones
//! rather than as an opaque directory; applied, both give the same tree.

use std::collections::HashMap;
use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;

use crate::error::{Error, Result};

/// Name of the marker file whose ctime says when the copy was finished.
const MARKER: &str = "snapshot-marker";

/// Copy `src` to `dst` preserving owners, modes, times, xattrs, hardlinks
/// and device nodes. Uses coreutils' `cp -a`, which does all of that right
/// (a hand-written copy would have to re-implement it). Afterwards a marker
/// file is created beside `dst` (see [`diff_into`]).
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg("--reflink=auto")
        .arg(src)
        .arg(dst)
        .status()?;
    if !status.success() {
        return Err(Error::Io(std::io::Error::other(format!(
            "`cp -a {} {}` failed with {status}",
            src.display(),
            dst.display()
        ))));
    }
    if let Some(parent) = dst.parent() {
        fs_err::write(parent.join(MARKER), b"")?;
    }
    Ok(())
}

fn io(e: nix::Error, what: &str, path: &Path) -> Error {
    Error::Io(std::io::Error::new(
        std::io::Error::from_raw_os_error(e as i32).kind(),
        format!("{what} {}: {e}", path.display()),
    ))
}

fn xattrs(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return Vec::new();
    };
    let mut names = vec![0u8; 4096];
    // SAFETY: valid NUL-terminated path and a buffer of the given length.
    let n = unsafe { libc::llistxattr(c_path.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    let Ok(n) = usize::try_from(n) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in names[..n].split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let Ok(c_name) = CString::new(name) else {
            continue;
        };
        let mut value = vec![0u8; 65536];
        // SAFETY: as above, for one attribute.
        let m = unsafe {
            libc::lgetxattr(
                c_path.as_ptr(),
                c_name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if let Ok(m) = usize::try_from(m) {
            value.truncate(m);
            out.push((name.to_vec(), value));
        }
    }
    out.sort();
    out
}

fn set_xattrs(path: &Path, attrs: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Io(std::io::Error::other("path with NUL")))?;
    for (name, value) in attrs {
        let Ok(c_name) = CString::new(name.clone()) else {
            continue;
        };
        // SAFETY: NUL-terminated strings and a valid buffer with its length.
        let r = unsafe {
            libc::lsetxattr(
                c_path.as_ptr(),
                c_name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if r != 0 {
            return Err(Error::Io(std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn same_content(a: &Path, b: &Path) -> Result<bool> {
    let mut fa = fs_err::File::open(a)?;
    let mut fb = fs_err::File::open(b)?;
    let mut ba = vec![0u8; 1 << 16];
    let mut bb = vec![0u8; 1 << 16];
    loop {
        let na = fa.read(&mut ba)?;
        let mut nb = 0;
        while nb < na {
            let k = fb.read(&mut bb[nb..na])?;
            if k == 0 {
                return Ok(false);
            }
            nb += k;
        }
        if na == 0 {
            return Ok(fb.read(&mut bb[..1])? == 0);
        }
        if ba[..na] != bb[..na] {
            return Ok(false);
        }
    }
}

fn changed(
    lower: &Path,
    new: &Path,
    n: &std::fs::Metadata,
    marker_ctime: (i64, i64),
) -> Result<bool> {
    let Ok(l) = std::fs::symlink_metadata(lower) else {
        return Ok(true);
    };
    let (lt, nt) = (l.file_type(), n.file_type());
    let kind = |t: std::fs::FileType| {
        (
            t.is_dir(),
            t.is_file(),
            t.is_symlink(),
            t.is_char_device(),
            t.is_block_device(),
            t.is_fifo(),
        )
    };
    if kind(lt) != kind(nt)
        || l.mode() != n.mode()
        || l.uid() != n.uid()
        || l.gid() != n.gid()
        || l.mtime() != n.mtime()
        || l.mtime_nsec() != n.mtime_nsec()
        || l.rdev() != n.rdev()
        || (!nt.is_dir() && l.len() != n.len())
    {
        return Ok(true);
    }
    if nt.is_symlink() && fs_err::read_link(lower)? != fs_err::read_link(new)? {
        return Ok(true);
    }
    if xattrs(lower) != xattrs(new) {
        return Ok(true);
    }
    let touched = (n.ctime(), n.ctime_nsec()) >= marker_ctime;
    Ok(nt.is_file() && touched && !same_content(lower, new)?)
}

/// Copies entries of the new tree into the upper dir with their metadata.
struct Writer<'a> {
    new: &'a Path,
    upper: &'a Path,
    links: HashMap<(u64, u64), PathBuf>,
    dirs: Vec<(PathBuf, i64, i64)>,
}

impl Writer<'_> {
    /// Make sure `upper/rel`'s parents exist, as copies of the new tree's.
    fn parents(&mut self, rel: &Path) -> Result<()> {
        let mut missing = Vec::new();
        for anc in rel.ancestors().skip(1) {
            if anc.as_os_str().is_empty() || self.upper.join(anc).exists() {
                break;
            }
            missing.push(anc.to_path_buf());
        }
        for anc in missing.into_iter().rev() {
            self.copy(&anc)?;
        }
        Ok(())
    }

    fn copy(&mut self, rel: &Path) -> Result<()> {
        let src = self.new.join(rel);
        let dst = self.upper.join(rel);
        let m = fs_err::symlink_metadata(&src)?;
        let t = m.file_type();
        if t.is_dir() {
            if !dst.is_dir() {
                fs_err::create_dir(&dst)?;
            }
            self.dirs.push((dst.clone(), m.mtime(), m.mtime_nsec()));
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(fs_err::read_link(&src)?, &dst)?;
        } else if t.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = self.links.get(&(m.dev(), m.ino())) {
                    fs_err::hard_link(first, &dst)?;
                    return Ok(());
                }
                self.links.insert((m.dev(), m.ino()), dst.clone());
            }
            fs_err::copy(&src, &dst)?;
        } else {
            let kind = if t.is_char_device() {
                SFlag::S_IFCHR
            } else if t.is_block_device() {
                SFlag::S_IFBLK
            } else if t.is_fifo() {
                SFlag::S_IFIFO
            } else {
                return Ok(()); // sockets are not layer material
            };
            mknod(
                &dst,
                kind,
                Mode::from_bits_truncate(m.mode() & 0o7777),
                m.rdev(),
            )
            .map_err(|e| io(e, "mknod", &dst))?;
        }
        std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        if !t.is_symlink() {
            fs_err::set_permissions(&dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
        set_xattrs(&dst, &xattrs(&src))?;
        if !t.is_dir() {
            set_time(&dst, m.mtime(), m.mtime_nsec())?;
        }
        Ok(())
    }
}

fn set_time(path: &Path, sec: i64, nsec: i64) -> Result<()> {
    let t = TimeSpec::new(sec, nsec);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| io(e, "utimensat", path))
}

fn sorted_walk(root: &Path) -> walkdir::IntoIter {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
}

fn ignored(rel: &Path, ignore: &[PathBuf]) -> bool {
    ignore
        .iter()
        .any(|i| rel.starts_with(i.strip_prefix("/").unwrap_or(i)))
}

/// Write the differences from `lower` to `new` into `upper` in overlayfs
/// form. `ignore` lists absolute in-rootfs paths that are not part of the
/// changes (the sandbox's own mount points).
pub fn diff_into(lower: &Path, new: &Path, upper: &Path, ignore: &[PathBuf]) -> Result<()> {
    let marker = new.parent().map(|p| p.join(MARKER));
    let marker_ctime = marker
        .and_then(|m| std::fs::metadata(m).ok())
        .map(|m| (m.ctime(), m.ctime_nsec()))
        .unwrap_or((0, 0));
    fs_err::create_dir_all(upper)?;
    let mut writer = Writer {
        new,
        upper,
        links: HashMap::new(),
        dirs: Vec::new(),
    };
    for entry in sorted_walk(new) {
        let entry = entry.map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let Ok(rel) = entry.path().strip_prefix(new) else {
            continue;
        };
        let rel = rel.to_path_buf();
        if ignored(&rel, ignore) {
            continue;
        }
        let meta = fs_err::symlink_metadata(entry.path())?;
        if changed(&lower.join(&rel), entry.path(), &meta, marker_ctime)? {
            writer.parents(&rel)?;
            writer.copy(&rel)?;
        }
    }
    let mut walk = sorted_walk(lower);
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        let Ok(rel) = entry.path().strip_prefix(lower) else {
            continue;
        };
        let rel = rel.to_path_buf();
        if std::fs::symlink_metadata(new.join(&rel)).is_err() {
            writer.parents(&rel)?;
            let dst = upper.join(&rel);
            mknod(&dst, SFlag::S_IFCHR, Mode::empty(), 0).map_err(|e| io(e, "mknod", &dst))?;
            if entry.file_type().is_dir() {
                walk.skip_current_dir();
            }
        }
    }
    writer.dirs.sort_by(|a, b| b.0.cmp(&a.0));
    for (dir, sec, nsec) in std::mem::take(&mut writer.dirs) {
        set_time(&dir, sec, nsec)?;
    }
    Ok(())
}
