//! The post-step normalisation: what a step leaves behind that differs from
//! one build to the next, removed or rewritten before the layer is captured.
//!
//! Call [`normalize_tree`] on a step's overlay upper directory (or a
//! snapshot rootfs) after the step's process tree has exited and before the
//! layer is written. Whiteouts (character devices 0:0) are never touched.
//! Removing a path from an upper dir lets the lower layer's version show
//! through, which is as deterministic as the lower layer.
//!
//! | path (relative to the root) | action |
//! |---|---|
//! | `var/lib/rpm/rpmdb.sqlite` (and `usr/lib/sysimage/rpm/`) | clamp install times, checkpoint, `VACUUM INTO` ([`crate::rpmdb`]) |
//! | `var/lib/rpm/Packages`, BDB index files | clamp, dump/load sorted, scrub free space, `db5.3_verify` |
//! | `var/lib/rpm/__db.*`, `.rpm.lock`, `.dbenv.lock`, `*-wal`, `*-shm`, `*-journal` | removed (environment and lock files) |
//! | `var/cache/yum/**`, `var/cache/dnf/**`, `var/lib/yum/history/**`, `var/lib/yum/uuid`, `var/lib/yum/rpmdb-indexes/**`, `var/lib/dnf/history.sqlite*` | removed (caches, history, random id) |
//! | `var/log/**` regular files | **truncated to empty, kept**: packages own some of them (`%ghost`/`%config`), so the file, its mode and owner stay for `rpm -V` and daemons |
//! | `etc/passwd-`, `group-`, `shadow-`, `gshadow-`, `subuid-`, `subgid-` | removed (shadow-utils backups) |
//! | `var/cache/ldconfig/aux-cache` | removed (holds inode numbers and ctimes) |
//! | `**/*.pyc`, `**/__pycache__/` | removed when [`NormalizeOptions::drop_pyc`] |
//!
//! `etc/ld.so.cache` is kept: ldconfig sorts its entries by library name
//! (`_dl_cache_libcmp`), so it is a function of the files present; the
//! test `ld_so_cache_is_deterministic` checks that on this machine.
//! Directory and file mtimes are clamped by the layer writer, not here.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::rpmdb::{BdbFile, normalize_bdb, normalize_sqlite_rpmdb};

/// The behaviour version of [`normalize_tree`]: part of every step's cache
/// key, so that a store filled by a slipway whose normaliser did something
/// else (an older one that left, say, `aux-cache` in) does not serve its
/// layers. **Bump it whenever a change here changes what a normalised tree
/// holds** — a new rule, a changed rewrite, a path no longer touched.
///
/// History: 1 — rpmdbs (sqlite and Berkeley DB), environment and lock
/// files, yum/dnf caches and history, `var/log` truncated, shadow-utils
/// backups, `aux-cache`, optional pyc removal.
pub const NORMALIZER_VERSION: u32 = 1;

/// Options of [`normalize_tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// `SOURCE_DATE_EPOCH`: install times are clamped to it.
    pub source_date_epoch: u32,
    /// Remove `*.pyc` files and `__pycache__` directories (the recipe decides).
    pub drop_pyc: bool,
}

/// What [`normalize_tree`] did, paths relative to the root, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalizeReport {
    /// Paths removed.
    pub removed: Vec<String>,
    /// Files truncated to empty.
    pub truncated: Vec<String>,
    /// Files rewritten (rpmdbs).
    pub rewritten: Vec<String>,
}

/// rpmdb directories, relative to the root.
const RPMDB_DIRS: &[&str] = &["var/lib/rpm", "usr/lib/sysimage/rpm"];

/// Directories whose whole content goes.
const DROP_TREES: &[&str] = &[
    "var/cache/yum",
    "var/cache/dnf",
    "var/lib/yum/history",
    "var/lib/yum/rpmdb-indexes",
];

/// Single files that go.
const DROP_FILES: &[&str] = &[
    "var/lib/yum/uuid",
    "var/cache/ldconfig/aux-cache",
    "etc/passwd-",
    "etc/group-",
    "etc/shadow-",
    "etc/gshadow-",
    "etc/subuid-",
    "etc/subgid-",
    "var/lib/dnf/history.sqlite",
    "var/lib/dnf/history.sqlite-wal",
    "var/lib/dnf/history.sqlite-shm",
];

/// Normalise the tree at `root` in place (see the module docs for the rules).
pub fn normalize_tree(root: &Path, options: &NormalizeOptions) -> Result<NormalizeReport> {
    let mut report = NormalizeReport::default();
    for dir in RPMDB_DIRS {
        normalize_rpmdb_dir(root, dir, options, &mut report)?;
    }
    for tree in DROP_TREES {
        let path = root.join(tree);
        if is_real_dir(&path) {
            for entry in sorted_children(&path)? {
                remove_path(root, &entry, &mut report)?;
            }
        }
    }
    for file in DROP_FILES {
        let path = root.join(file);
        if is_removable(&path) {
            remove_path(root, &path, &mut report)?;
        }
    }
    let log = root.join("var/log");
    if is_real_dir(&log) {
        for entry in walkdir::WalkDir::new(&log).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::Io {
                what: format!("walk `{}`", log.display()),
                source: e.into(),
            })?;
            if entry.file_type().is_file() {
                let meta = entry.metadata().map_err(|e| Error::Io {
                    what: format!("stat `{}`", entry.path().display()),
                    source: e.into(),
                })?;
                if meta.len() > 0 {
                    let file = fs_err::OpenOptions::new()
                        .write(true)
                        .open(entry.path())
                        .map_err(Error::io("open a log file"))?;
                    file.set_len(0)
                        .map_err(Error::io(format!("truncate `{}`", entry.path().display())))?;
                    report.truncated.push(relative(root, entry.path()));
                }
            }
        }
    }
    if options.drop_pyc {
        let mut doomed = Vec::new();
        let mut walker = walkdir::WalkDir::new(root).sort_by_file_name().into_iter();
        while let Some(entry) = walker.next() {
            let entry = entry.map_err(|e| Error::Io {
                what: format!("walk `{}`", root.display()),
                source: e.into(),
            })?;
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_dir() && name == "__pycache__" {
                doomed.push(entry.path().to_path_buf());
                walker.skip_current_dir();
            } else if entry.file_type().is_file() && name.ends_with(".pyc") {
                doomed.push(entry.path().to_path_buf());
            }
        }
        for path in doomed {
            remove_path(root, &path, &mut report)?;
        }
    }
    report.removed.sort();
    report.truncated.sort();
    report.rewritten.sort();
    Ok(report)
}

fn normalize_rpmdb_dir(
    root: &Path,
    dir: &str,
    options: &NormalizeOptions,
    report: &mut NormalizeReport,
) -> Result<()> {
    let path = root.join(dir);
    if !is_real_dir(&path) {
        return Ok(());
    }
    let epoch = options.source_date_epoch;
    // The database first: checkpointing needs the -wal file still there.
    let sqlite = path.join("rpmdb.sqlite");
    if is_regular(&sqlite) {
        normalize_sqlite_rpmdb(&sqlite, epoch)?;
        report.rewritten.push(relative(root, &sqlite));
    }
    let children = sorted_children(&path)?;
    for child in &children {
        let name = child
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_env = name.starts_with("__db.")
            || name == ".rpm.lock"
            || name == ".dbenv.lock"
            || name.ends_with("-wal")
            || name.ends_with("-shm")
            || name.ends_with("-journal");
        if is_env {
            if is_removable(child) {
                remove_path(root, child, report)?;
            }
            continue;
        }
        if is_regular(child) && name != "rpmdb.sqlite" && is_berkeley_db(child)? {
            normalize_bdb(child, BdbFile::for_name(&name), epoch)?;
            report.rewritten.push(relative(root, child));
        }
    }
    Ok(())
}

/// Does `path` start like a hash or btree Berkeley DB file?
fn is_berkeley_db(path: &Path) -> Result<bool> {
    use std::io::Read as _;
    let mut head = [0u8; 16];
    let mut file = fs_err::File::open(path).map_err(Error::io("open an rpmdb file"))?;
    if file.read_exact(&mut head).is_err() {
        return Ok(false);
    }
    let magic = u32::from_ne_bytes([head[12], head[13], head[14], head[15]]);
    Ok(magic == 0x0006_1561 || magic == 0x0005_3162)
}

fn sorted_children(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in fs_err::read_dir(dir).map_err(Error::io("list a directory"))? {
        let entry = entry.map_err(Error::io(format!("list `{}`", dir.display())))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

fn is_real_dir(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

fn is_regular(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// Anything but an overlay whiteout (a character device) or nothing.
fn is_removable(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_char_device())
}

fn remove_path(root: &Path, path: &Path, report: &mut NormalizeReport) -> Result<()> {
    let meta = fs_err::symlink_metadata(path).map_err(Error::io("stat"))?;
    if meta.file_type().is_char_device() {
        return Ok(());
    }
    if meta.is_dir() {
        fs_err::remove_dir_all(path).map_err(Error::io("remove a directory"))?;
    } else {
        fs_err::remove_file(path).map_err(Error::io("remove a file"))?;
    }
    report.removed.push(relative(root, path));
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}
