//! The snapshot-diff fallback for hosts without overlayfs: the step runs on
//! a private copy of the base, and the differences between the base and the
//! copy are written out in overlayfs upper-dir form, so that the same
//! capture code turns them into the same layer.

use std::path::Path;

use crate::error::{Error, Result};

/// Copy `src` to `dst` preserving owners, modes, times, xattrs, hardlinks
/// and device nodes. Uses coreutils' `cp -a`, which does all of that right
/// (a hand-written copy would have to re-implement it).
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
    Ok(())
}

/// Write the differences from `lower` to `new` into `upper` in overlayfs
/// form (changed entries copied, deleted ones as 0/0 character devices).
/// `ignore` lists absolute in-rootfs paths that are not part of the changes.
pub fn diff_into(
    lower: &Path,
    new: &Path,
    upper: &Path,
    ignore: &[std::path::PathBuf],
) -> Result<()> {
    let _ = (lower, new, upper, ignore);
    Err(Error::Io(std::io::Error::other(
        "snapshot diff is not implemented yet",
    )))
}
