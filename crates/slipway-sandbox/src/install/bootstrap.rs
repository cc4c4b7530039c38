//! The bootstrap installer: RPM payloads unpacked natively into a rootfs
//! that has no rpm yet, with the metadata rpm would give them.
//!
//! Hand-written because no crate installs RPMs: `rpm-rs`' `extract()` and
//! `slipway_rpm::extract_payload` unpack like `cpio -idm` but leave owners,
//! capabilities, `%ghost` and `%config` to the caller — which is this module.
//! Scriptlets are not run and no rpmdb is written: that is the transaction
//! path's job once the rootfs has rpm.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use slipway_rpm::{FileInfo, Package};

use super::ids::Ids;
use super::resolve::resolve_in_root;
use crate::error::{Error, Result};

/// What [`bootstrap_install`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapReport {
    /// `name-version-release.arch` of each installed package, in order.
    pub packages: Vec<String>,
    /// Files, directories and links placed.
    pub files: usize,
    /// `%config(noreplace)` files whose new version went to `<path>.rpmnew`.
    pub rpmnew: Vec<PathBuf>,
    /// `%config` files whose previous, modified version was saved as `<path>.rpmorig`.
    pub rpmorig: Vec<PathBuf>,
    /// Owner names the rootfs does not know (root was used, as rpm does).
    pub unknown_owners: Vec<String>,
}

/// Install `rpms` (in the order given) into `root`.
pub fn bootstrap_install(root: &Path, rpms: &[PathBuf]) -> Result<BootstrapReport> {
    let mut report = BootstrapReport::default();
    for rpm in rpms {
        // Re-read per package: an earlier package (setup, filesystem) may
        // have brought the passwd/group files.
        let ids = Ids::of_rootfs(root);
        install_one(root, rpm, &ids, &mut report)?;
    }
    report.unknown_owners.sort();
    report.unknown_owners.dedup();
    Ok(report)
}

fn rpm_error(rpm: &Path, message: impl Into<String>) -> Error {
    Error::Rpm {
        package: rpm.to_owned(),
        message: message.into(),
    }
}

/// A staging directory inside the rootfs (same file system, so files are
/// renamed into place), removed when dropped.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = crate::remove_tree(&self.0);
    }
}

fn install_one(root: &Path, rpm: &Path, ids: &Ids, report: &mut BootstrapReport) -> Result<()> {
    let package = Package::open(rpm).map_err(|e| rpm_error(rpm, e.to_string()))?;
    let header = package.header.clone();
    let staging = Staging(root.join(format!(".slipway-bootstrap-{}", std::process::id())));
    crate::remove_tree(&staging.0)?;
    let names: Vec<String> = header.files.iter().map(|f| f.path.clone()).collect();
    let modes: Vec<u32> = header.files.iter().map(|f| f.mode).collect();
    let path = package.path.clone();
    let mut payload = package
        .payload()
        .map_err(|e| rpm_error(rpm, e.to_string()))?;
    slipway_rpm::extract::extract_payload(&mut payload, &staging.0, &path, &names, &modes)
        .map_err(|e| rpm_error(rpm, e.to_string()))?;

    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    for file in &header.files {
        if file.is_ghost() {
            continue;
        }
        let rel = Path::new(file.path.trim_start_matches('/'));
        let target = resolve_in_root(root, Path::new(&file.path))?;
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        if file.is_dir() {
            match std::fs::symlink_metadata(&target) {
                Ok(m) if m.is_dir() => {}
                // A symlink to a directory stands for it (merged /usr).
                Ok(m) if m.is_symlink() && target.is_dir() => continue,
                Ok(_) => {
                    fs_err::remove_file(&target)?;
                    fs_err::create_dir(&target)?;
                }
                Err(_) => fs_err::create_dir(&target)?,
            }
            apply_metadata(&target, file, ids, report)?;
            dirs.push((target, file.mtime));
            report.files += 1;
            continue;
        }
        let staged = staging.0.join(rel);
        if std::fs::symlink_metadata(&staged).is_err() {
            // Not in the payload (e.g. excluded %lang files): rpm skips it too.
            continue;
        }
        let mut place = target.clone();
        if file.is_config()
            && file.is_regular()
            && let Ok(existing) = std::fs::read(&target)
        {
            let new = fs_err::read(&staged)?;
            if existing != new {
                if file.is_noreplace() {
                    place = with_suffix(&target, ".rpmnew");
                    report.rpmnew.push(PathBuf::from(&file.path));
                } else {
                    fs_err::rename(&target, with_suffix(&target, ".rpmorig"))?;
                    report.rpmorig.push(PathBuf::from(&file.path));
                }
            }
        }
        match std::fs::symlink_metadata(&place) {
            Ok(m) if m.is_dir() => {
                return Err(rpm_error(
                    rpm,
                    format!(
                        "`{}` is a directory in the rootfs but not in the package",
                        file.path
                    ),
                ));
            }
            Ok(_) => fs_err::remove_file(&place)?,
            Err(_) => {}
        }
        fs_err::rename(&staged, &place)?;
        apply_metadata(&place, file, ids, report)?;
        report.files += 1;
    }
    // Directory mtimes last, deepest first: placing files changed them.
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    for (dir, mtime) in dirs {
        set_mtime(&dir, mtime)?;
    }
    report.packages.push(header.nevra());
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Owner, mode, capabilities and mtime, in that order (chown clears setuid
/// bits and capabilities).
fn apply_metadata(
    path: &Path,
    file: &FileInfo,
    ids: &Ids,
    report: &mut BootstrapReport,
) -> Result<()> {
    let uid = ids.uid(&file.user).unwrap_or_else(|| {
        report.unknown_owners.push(format!("user {}", file.user));
        0
    });
    let gid = ids.gid(&file.group).unwrap_or_else(|| {
        report.unknown_owners.push(format!("group {}", file.group));
        0
    });
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(|e| std::io::Error::new(e.kind(), format!("chown {}: {e}", path.display())))?;
    if !file.is_symlink() {
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(file.mode & 0o7777))?;
    }
    if let Some(caps) = file.capability_xattr() {
        set_xattr(path, "security.capability", &caps)?;
    }
    if !file.is_dir() {
        set_mtime(path, file.mtime)?;
    }
    Ok(())
}

fn set_mtime(path: &Path, mtime: u32) -> Result<()> {
    let t = TimeSpec::new(i64::from(mtime), 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| {
        Error::Io(std::io::Error::new(
            std::io::Error::from_raw_os_error(e as i32).kind(),
            format!("set mtime of {}: {e}", path.display()),
        ))
    })
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Io(std::io::Error::other("path with NUL")))?;
    let c_name =
        CString::new(name).map_err(|_| Error::Io(std::io::Error::other("name with NUL")))?;
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
        let e = std::io::Error::last_os_error();
        return Err(Error::Io(std::io::Error::new(
            e.kind(),
            format!("set {name} on {}: {e}", path.display()),
        )));
    }
    Ok(())
}
