//! Applying a layer tar to a directory, whiteouts included.
//!
//! Hand-written on the `tar` crate: its `Archive::unpack` knows nothing of OCI
//! whiteouts (`.wh.<name>` deletes `<name>`, `.wh..wh..opq` empties the
//! directory), and the base must be merged into one tree to run steps over.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Apply the (uncompressed) layer tar `reader` to `dest`.
pub(crate) fn apply_layer(reader: impl Read, dest: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let entries = archive.entries().map_err(|e| Error::io(dest, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io(dest, e))?;
        let path = entry.path().map_err(|e| Error::io(dest, e))?.into_owned();
        let Some(rel) = clean(&path) else {
            continue;
        };
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == ".wh..wh..opq" {
            let dir = dest.join(rel.parent().unwrap_or(Path::new("")));
            if let Ok(read) = fs_err::read_dir(&dir) {
                for child in read.flatten() {
                    remove_any(&child.path())?;
                }
            }
            continue;
        }
        if let Some(target) = name.strip_prefix(".wh.") {
            let victim = dest
                .join(rel.parent().unwrap_or(Path::new("")))
                .join(target);
            remove_any(&victim)?;
            continue;
        }
        // A file replacing a directory (or the reverse) removes what was there.
        let target = dest.join(&rel);
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            let is_dir = entry.header().entry_type().is_dir();
            if !(meta.is_dir() && is_dir) {
                remove_any(&target)?;
            }
        }
        entry.unpack_in(dest).map_err(|e| Error::io(&target, e))?;
    }
    Ok(())
}

fn clean(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    }
}

fn remove_any(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs_err::remove_dir_all(path).map_err(|e| Error::io(path, e)),
        Ok(_) => fs_err::remove_file(path).map_err(|e| Error::io(path, e)),
        Err(_) => Ok(()),
    }
}
