//! Turning a step's overlay upper directory into exactly one OCI layer.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use slipway_oci::{Layer, LayerOptions, OciLayout, write_layer_from_dir};

use crate::error::{Error, Result};

/// What a captured layer leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transient {
    /// Absolute paths dropped with everything below them (`/var/cache/yum`, `/tmp`).
    pub paths: Vec<PathBuf>,
    /// File-name suffixes dropped anywhere (`.pyc`), written as `*.pyc`.
    pub suffixes: Vec<String>,
}

impl Transient {
    /// Parse patterns: `*SUFFIX` drops files whose names end with SUFFIX,
    /// anything else is an absolute path.
    pub fn from_patterns<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Transient::default();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            match pattern.strip_prefix('*') {
                Some(suffix) => out.suffixes.push(suffix.to_owned()),
                None => out.paths.push(PathBuf::from(pattern)),
            }
        }
        out
    }

    /// The caches a package install leaves: `/tmp`, `/var/tmp`, `/var/cache/yum`, `/var/cache/dnf`.
    pub fn package_caches() -> Self {
        Transient::from_patterns(["/tmp", "/var/tmp", "/var/cache/yum", "/var/cache/dnf"])
    }
}

/// Write the changes in `upper` (an overlayfs upper directory, or the
/// snapshot fallback's equivalent) as one layer blob in `layout`: 0/0
/// character devices become `.wh.` whiteouts, opaque directories get
/// `.wh..wh..opq`, overlay's own xattrs are dropped, and `transient` paths
/// are left out. Transient entries are deleted from `upper` first (it is the
/// step's scratch copy), and so are the directories overlayfs copied up only
/// to hold them (empty now, same type, mode and owner as in `lowers`).
pub fn capture_layer(
    upper: &Path,
    lowers: &[PathBuf],
    layout: &OciLayout,
    transient: &Transient,
    options: &LayerOptions,
) -> Result<Layer> {
    prune_transient(upper, lowers, transient)?;
    let mut options = options.clone();
    options.overlay_whiteouts = true;
    write_layer_from_dir(layout, upper, &options).map_err(|source| Error::Capture {
        upper: upper.to_owned(),
        source: Box::new(source),
    })
}

/// Delete transient entries from `upper`, then their copied-up parents.
pub fn prune_transient(upper: &Path, lowers: &[PathBuf], transient: &Transient) -> Result<()> {
    let mut doomed: Vec<PathBuf> = Vec::new();
    for path in &transient.paths {
        let rel = path.strip_prefix("/").unwrap_or(path);
        if rel.as_os_str().is_empty() {
            continue;
        }
        if std::fs::symlink_metadata(upper.join(rel)).is_ok() {
            doomed.push(rel.to_path_buf());
        }
    }
    if !transient.suffixes.is_empty() {
        for entry in walkdir::WalkDir::new(upper)
            .into_iter()
            .filter_map(|e| e.ok())
        {
            let name: &OsStr = entry.file_name();
            if !entry.file_type().is_dir()
                && transient
                    .suffixes
                    .iter()
                    .any(|s| name.as_bytes().ends_with(s.as_bytes()))
                && let Ok(rel) = entry.path().strip_prefix(upper)
            {
                doomed.push(rel.to_path_buf());
            }
        }
    }
    for rel in &doomed {
        let path = upper.join(rel);
        if fs_err::symlink_metadata(&path)?.is_dir() {
            crate::remove_tree(&path)?;
        } else {
            fs_err::remove_file(&path)?;
        }
    }
    for rel in &doomed {
        for ancestor in rel.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() || !only_copied_up(upper, lowers, ancestor) {
                break;
            }
            fs_err::remove_dir(upper.join(ancestor))?;
        }
    }
    Ok(())
}

/// True when `upper/rel` is an empty, non-opaque directory that the top-most
/// lower also has as a directory with the same mode and owner.
pub(crate) fn only_copied_up(upper: &Path, lowers: &[PathBuf], rel: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let path = upper.join(rel);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return false;
    };
    let empty = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
    if !meta.is_dir() || !empty || is_opaque(&path) {
        return false;
    }
    lowers
        .iter()
        .find_map(|l| std::fs::symlink_metadata(l.join(rel)).ok())
        .is_some_and(|lower| {
            lower.is_dir()
                && lower.mode() == meta.mode()
                && lower.uid() == meta.uid()
                && lower.gid() == meta.gid()
        })
}

fn is_opaque(path: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| {
            let mut value = [0u8; 4];
            nix_getxattr(path, name, &mut value) == Some(b"y".len()) && value[0] == b'y'
        })
}

fn nix_getxattr(path: &Path, name: &str, value: &mut [u8]) -> Option<usize> {
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: both strings are NUL-terminated and `value` is a valid buffer of its length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    usize::try_from(n).ok()
}
