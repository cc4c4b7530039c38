//! Per-step scratch directories (overlay upper, work and mount point) in the
//! store's scratch area, removed when dropped and swept when their owner died.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A step's scratch directory: `upper/`, `work/`, `merged/` (and `root/` in
/// snapshot mode). Removed on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Create `step-<pid>-<n>` under `root`.
    pub(crate) fn create(root: &Path) -> std::io::Result<Self> {
        fs_err::create_dir_all(root)?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = root.join(format!("step-{}-{n}", std::process::id()));
        if path.exists() {
            remove_tree(&path)?;
        }
        for sub in ["upper", "work", "merged"] {
            fs_err::create_dir_all(path.join(sub))?;
        }
        Ok(Self { path })
    }

    /// The scratch directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The overlay upper directory: the step's changes.
    pub fn upper(&self) -> PathBuf {
        self.path.join("upper")
    }

    /// overlayfs's work directory.
    pub fn work(&self) -> PathBuf {
        self.path.join("work")
    }

    /// The mount point of the step's root.
    pub fn merged(&self) -> PathBuf {
        self.path.join("merged")
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = remove_tree(&self.path) {
            tracing::warn!(
                "could not remove scratch directory {}: {e}",
                self.path.display()
            );
        }
    }
}

/// The directory for scratch areas in memory: `/dev/shm/slipway-<euid>`,
/// when `/dev/shm` is a tmpfs and that directory is (or can be made) ours
/// alone (a directory owned by us, mode 0700, not a symlink — `/dev/shm` is
/// world-writable). `None` otherwise.
pub(crate) fn memory_root() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let shm = Path::new("/dev/shm");
    let fs = nix::sys::statfs::statfs(shm).ok()?;
    if fs.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
        return None;
    }
    let uid = nix::unistd::geteuid().as_raw();
    let dir = shm.join(format!("slipway-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o777 == 0o700).then_some(dir)
}

/// Bytes free for unprivileged use on the file system holding `path`.
pub(crate) fn free_bytes(path: &Path) -> Option<u64> {
    let fs = nix::sys::statvfs::statvfs(path).ok()?;
    Some(fs.blocks_available().saturating_mul(fs.fragment_size()))
}

/// `rm -rf`, also through directories without write or search permission
/// (overlayfs leaves `work/work` with mode 000).
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            for entry in walkdir::WalkDir::new(path).into_iter().flatten() {
                if entry.file_type().is_dir() {
                    let _ = std::fs::set_permissions(
                        entry.path(),
                        std::fs::Permissions::from_mode(0o700),
                    );
                }
            }
            fs_err::remove_dir_all(path)
        }
    }
}

/// Remove `step-<pid>-*` directories under `root` whose process is gone
/// (left by a slipway that was killed with SIGKILL).
pub fn sweep_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("step-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = remove_tree(&entry.path());
        }
    }
}
