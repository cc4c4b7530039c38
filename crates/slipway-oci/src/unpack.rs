//! Applying layers to a directory, safely.
//!
//! Layers are read with [`read_layer`]: member names are taken beneath the
//! target (`/etc/x`, `./etc/x` and `etc/x` are the same entry; `/` is the
//! target's own metadata). Every path is resolved inside the target directory
//! with `openat2(2)` and `RESOLVE_BENEATH`, so neither a `..` component nor a
//! symlink (from this layer or an earlier one) can lead a write outside it.
//! The final component is never followed: an existing entry of another type
//! is removed first, and files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`.
//! Entries that would escape are not applied; they are listed in the
//! [`UnpackReport`] with the reason.

use std::collections::HashSet;
use std::io::{self, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::Timespec;
use rustix::fs::{AtFlags, Dev, FileType, Mode, OFlags, ResolveFlags, Timestamps, XattrFlags};
use rustix::io::Errno;

use crate::image::Image;
use crate::layer::WHITEOUT_PREFIX;
use crate::layout::OciLayout;
use crate::reader::{EntryClass, LayerDigests, LayerEntry, read_layer, split_components};
use crate::tar::{EntryKind, TarEntry};
use crate::{Digest, Error, Result};

/// What [`unpack`] did and did not do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackReport {
    /// Layers applied.
    pub layers: usize,
    /// Tar entries applied (whiteouts included).
    pub entries: u64,
    /// Entries refused because they would write outside the target or are
    /// malformed: each with its layer (0 = bottom), path and reason.
    pub refused: Vec<Refusal>,
    /// Things applied only in part, e.g. an xattr or device node the process
    /// may not create.
    pub warnings: Vec<String>,
}

/// An entry that was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The layer, counting from 0 at the bottom.
    pub layer: usize,
    /// The entry's path as written in the tar.
    pub path: String,
    /// Why it was refused.
    pub reason: String,
}

/// Options of [`unpack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackOptions {
    /// Set owners from the tar (needs root); the default is "when running as root".
    pub preserve_owners: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            preserve_owners: rustix::process::geteuid().is_root(),
        }
    }
}

/// Apply the layers of `image` (from `layout`) in order to `dir` (created if
/// absent), checking each layer's digest and diff id.
pub fn unpack(
    layout: &OciLayout,
    image: &Image,
    dir: &Path,
    options: &UnpackOptions,
) -> Result<UnpackReport> {
    fs_err::create_dir_all(dir)?;
    let root = open_root(dir)?;
    let mut report = UnpackReport::default();
    let diff_ids = image.diff_ids()?;
    for (index, descriptor) in image.layers().iter().enumerate() {
        let digest = Digest::try_from(descriptor.digest())?;
        let mut file = BufReader::with_capacity(256 * 1024, layout.open_blob(&digest)?);
        let read = LayerUnpacker::new(&root, dir, index, options, &mut report).apply(&mut file)?;
        if read.digest != digest || read.size != descriptor.size() {
            return Err(Error::DigestMismatch {
                what: format!("layer {index} in `{}`", layout.path().display()),
                expected: digest,
                expected_size: descriptor.size(),
                actual: read.digest,
                actual_size: read.size,
            });
        }
        if let Some(expected) = diff_ids.get(index)
            && expected != &read.diff_id
        {
            return Err(Error::DigestMismatch {
                what: format!("the uncompressed layer {index} (diff id)"),
                expected: expected.clone(),
                expected_size: read.tar_size,
                actual: read.diff_id,
                actual_size: read.tar_size,
            });
        }
        report.layers += 1;
    }
    Ok(report)
}

/// Apply one layer (compressed or not, detected from its first bytes) to
/// `dir`; returns the diff id (digest and size of the tar).
pub fn unpack_layer(
    layer: &mut dyn Read,
    dir: &Path,
    index: usize,
    options: &UnpackOptions,
    report: &mut UnpackReport,
) -> Result<(Digest, u64)> {
    let root = open_root(dir)?;
    let read = LayerUnpacker::new(&root, dir, index, options, report).apply(layer)?;
    Ok((read.diff_id, read.tar_size))
}

/// Open `rel` under `dir` for reading without leaving `dir`, even through
/// symlinks (docker-archives link `<id>/layer.tar` to `../<diff id>.tar`).
pub(crate) fn open_beneath(dir: &Path, rel: &str) -> Result<std::fs::File> {
    let root = open_root(dir)?;
    let fd = rustix::fs::openat2(
        &root,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| match e {
        Errno::XDEV | Errno::LOOP => Error::invalid(
            format!("`{}`", dir.display()),
            format!("`{rel}` leads outside the archive"),
        ),
        e => Error::io_at("opening", dir.join(rel))(e.into()),
    })?;
    Ok(std::fs::File::from(fd))
}

fn open_root(dir: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io_at("opening", dir)(e.into()))
}

struct LayerUnpacker<'a> {
    root: &'a OwnedFd,
    dir: &'a Path,
    layer: usize,
    options: &'a UnpackOptions,
    report: &'a mut UnpackReport,
    /// Paths this layer has written (an opaque marker keeps them).
    written: HashSet<Vec<u8>>,
    /// Directories of this layer whose mode and mtime are set at its end
    /// (a read-only directory must not stop its children; children change mtimes).
    dirs: Vec<(Vec<u8>, u32, i64)>,
}

/// Why an entry is refused.
type Refuse = String;

impl<'a> LayerUnpacker<'a> {
    fn new(
        root: &'a OwnedFd,
        dir: &'a Path,
        layer: usize,
        options: &'a UnpackOptions,
        report: &'a mut UnpackReport,
    ) -> Self {
        LayerUnpacker {
            root,
            dir,
            layer,
            options,
            report,
            written: HashSet::new(),
            dirs: Vec::new(),
        }
    }

    fn apply(&mut self, layer: &mut dyn Read) -> Result<LayerDigests> {
        let what = format!("layer {}", self.layer);
        let read = read_layer(layer, &what, |entry| -> Result<()> {
            match self.apply_entry(entry) {
                Ok(()) => self.report.entries += 1,
                Err(EntryError::Refused(reason)) => self.report.refused.push(Refusal {
                    layer: self.layer,
                    path: String::from_utf8_lossy(&entry.raw_path).into_owned(),
                    reason,
                }),
                Err(EntryError::Fatal(e)) => return Err(e),
            }
            Ok(())
        })?;
        self.finish_dirs()?;
        Ok(read)
    }

    fn io_error(&self, action: &'static str, path: &[u8], e: impl Into<io::Error>) -> EntryError {
        let mut full = self.dir.to_path_buf();
        full.push(std::ffi::OsStr::from_bytes(path));
        EntryError::Fatal(Error::io_at(action, full)(e.into()))
    }

    fn apply_entry(&mut self, entry: &mut LayerEntry<'_>) -> Result<(), EntryError> {
        if let Some(reason) = &entry.invalid {
            return Err(EntryError::Refused(reason.clone()));
        }
        let path = entry.entry.path.clone();
        let components = split_components(&path);
        match &entry.class {
            EntryClass::Plain => {}
            EntryClass::Unsupported { type_byte } => {
                return Err(EntryError::Refused(format!(
                    "unsupported tar entry type `{}`",
                    char::from(*type_byte).escape_default()
                )));
            }
            EntryClass::Opaque { dir } => {
                let parent = self.resolve_dir(&split_components(dir), false)?;
                return self.opaque(&parent, dir);
            }
            EntryClass::Whiteout { target } => {
                let (name, parents) = components.split_last().expect("a whiteout has a name");
                let parent = self.resolve_dir(parents, false)?;
                let hidden = &name[WHITEOUT_PREFIX.len()..];
                return remove_all_at(&parent, hidden)
                    .map_err(|e| self.io_error("removing", target, e));
            }
        }
        let Some((name, parents)) = components.split_last() else {
            // The root itself (`/`, `./`): only its metadata.
            if entry.entry.kind == EntryKind::Directory {
                self.set_meta(self.root.as_fd(), b".", &[], &entry.entry, true)?;
            }
            return Ok(());
        };
        let parent = self.resolve_dir(parents, true)?;
        let existing = match rustix::fs::statat(&parent, *name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(FileType::from_raw_mode(st.st_mode)),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(self.io_error("inspecting", &path, e)),
        };
        let is_dir = entry.entry.kind == EntryKind::Directory;
        match existing {
            Some(FileType::Directory) if is_dir => {}
            Some(_) => {
                remove_all_at(&parent, name).map_err(|e| self.io_error("replacing", &path, e))?;
            }
            None => {}
        }
        self.create(entry, &parent, name, existing == Some(FileType::Directory))?;
        self.written.insert(path);
        Ok(())
    }

    /// Create `name` in `parent` as `entry` says (anything there of another
    /// type has been removed; a directory stays when `dir_exists`).
    fn create(
        &mut self,
        entry: &mut LayerEntry<'_>,
        parent: &OwnedFd,
        name: &[u8],
        dir_exists: bool,
    ) -> Result<(), EntryError> {
        let meta = entry.entry.clone();
        let path = &meta.path;
        match &meta.kind {
            EntryKind::Directory => {
                if !dir_exists {
                    rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
                        .map_err(|e| self.io_error("creating directory", path, e))?;
                }
                self.set_meta(parent, name, path, &meta, true)?;
            }
            EntryKind::File { .. } => {
                let fd = rustix::fs::openat(
                    parent,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| self.io_error("creating", path, e))?;
                let mut file = std::fs::File::from(fd);
                io::copy(entry, &mut file).map_err(|e| self.io_error("writing", path, e))?;
                self.set_fd_meta(file.as_fd(), path, &meta)?;
            }
            EntryKind::Symlink { target } => {
                rustix::fs::symlinkat(target.as_slice(), parent, name)
                    .map_err(|e| self.io_error("creating symlink", path, e))?;
                self.set_meta(parent, name, path, &meta, false)?;
            }
            EntryKind::Hardlink { target } => self.hard_link(parent, name, path, target)?,
            EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
                let file_type = match meta.kind {
                    EntryKind::CharDevice { .. } => FileType::CharacterDevice,
                    _ => FileType::BlockDevice,
                };
                self.node(
                    parent,
                    name,
                    &meta,
                    file_type,
                    rustix::fs::makedev(*major, *minor),
                )?;
            }
            EntryKind::Fifo => self.node(parent, name, &meta, FileType::Fifo, 0)?,
        }
        Ok(())
    }

    fn hard_link(
        &mut self,
        parent: &OwnedFd,
        name: &[u8],
        path: &[u8],
        target: &[u8],
    ) -> Result<(), EntryError> {
        let components = split_components(target);
        let (target_name, target_parents) = components
            .split_last()
            .expect("the reader refuses hard links to the root");
        let target_parent = self.resolve_dir(target_parents, false)?;
        rustix::fs::linkat(&target_parent, *target_name, parent, name, AtFlags::empty()).map_err(
            |e| match e {
                Errno::NOENT => EntryError::Refused(format!(
                    "hard link to `{}`, which does not exist",
                    String::from_utf8_lossy(target)
                )),
                e => self.io_error("creating hard link", path, e),
            },
        )
    }

    fn node(
        &mut self,
        parent: &OwnedFd,
        name: &[u8],
        meta: &TarEntry,
        file_type: FileType,
        dev: Dev,
    ) -> Result<(), EntryError> {
        match rustix::fs::mknodat(parent, name, file_type, Mode::from_raw_mode(0o600), dev) {
            Ok(()) => self.set_meta(parent, name, &meta.path, meta, false),
            Err(Errno::PERM) => {
                self.report.warnings.push(format!(
                    "layer {}: `{}`: not allowed to create a device node (run as root)",
                    self.layer,
                    String::from_utf8_lossy(&meta.path)
                ));
                Ok(())
            }
            Err(e) => Err(self.io_error("creating node", &meta.path, e)),
        }
    }

    /// Open the directory `components` under the root, never leaving it. With
    /// `create`, missing directories are made (mode 0755).
    fn resolve_dir(&self, components: &[&[u8]], create: bool) -> Result<OwnedFd, EntryError> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let open = |path: &[u8]| {
            let path: &[u8] = if path.is_empty() { b"." } else { path };
            rustix::fs::openat2(self.root, path, flags, Mode::empty(), resolve)
        };
        let full = components.join(&b'/');
        let escape = |path: &[u8]| {
            EntryError::Refused(format!(
                "`{}` leads outside the target directory (through a symlink)",
                String::from_utf8_lossy(path)
            ))
        };
        match open(&full) {
            Ok(fd) => return Ok(fd),
            Err(Errno::XDEV | Errno::LOOP) => return Err(escape(&full)),
            Err(Errno::NOTDIR) => {
                return Err(EntryError::Refused(format!(
                    "`{}` is not a directory",
                    String::from_utf8_lossy(&full)
                )));
            }
            Err(Errno::NOENT) if create => {}
            Err(Errno::NOENT) => {
                return Err(EntryError::Refused(format!(
                    "`{}` does not exist",
                    String::from_utf8_lossy(&full)
                )));
            }
            Err(e) => return Err(self.io_error("opening", &full, e)),
        }
        // Create what is missing, one component at a time.
        let mut prefix: Vec<u8> = Vec::new();
        let mut fd = open(b"").map_err(|e| self.io_error("opening", b"", e))?;
        for component in components {
            let parent_fd = fd;
            if !prefix.is_empty() {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(component);
            fd = match open(&prefix) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&parent_fd, *component, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(self.io_error("creating directory", &prefix, e)),
                    }
                    open(&prefix).map_err(|e| match e {
                        Errno::XDEV | Errno::LOOP => escape(&prefix),
                        e => self.io_error("opening", &prefix, e),
                    })?
                }
                Err(Errno::XDEV | Errno::LOOP) => return Err(escape(&prefix)),
                Err(e) => return Err(self.io_error("opening", &prefix, e)),
            };
        }
        Ok(fd)
    }

    /// `.wh..wh..opq` in `parent`: remove what the layers below put there.
    fn opaque(&mut self, parent: &OwnedFd, parent_path: &[u8]) -> Result<(), EntryError> {
        let readable = rustix::fs::openat(
            parent,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.io_error("opening", parent_path, e))?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&readable)
            .map_err(|e| self.io_error("reading", parent_path, e))?
        {
            let entry = entry.map_err(|e| self.io_error("reading", parent_path, e))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let mut path = parent_path.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            if !self.written.contains(&path) {
                names.push((name.to_vec(), path));
            }
        }
        for (name, path) in names {
            remove_all_at(parent, &name).map_err(|e| self.io_error("removing", &path, e))?;
        }
        Ok(())
    }

    fn set_meta(
        &mut self,
        parent: impl AsFd,
        name: &[u8],
        path: &[u8],
        meta: &TarEntry,
        is_dir: bool,
    ) -> Result<(), EntryError> {
        let parent = parent.as_fd();
        if is_dir {
            let fd = rustix::fs::openat(
                parent,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| self.io_error("opening", path, e))?;
            self.set_fd_meta_no_time(fd.as_fd(), path, meta, false)?;
            self.dirs.push((path.to_vec(), meta.mode, meta.mtime));
            return Ok(());
        }
        // Symlinks and nodes: owner and time on the entry itself; nodes also get a mode.
        if self.options.preserve_owners {
            let (uid, gid) = owner(meta)?;
            rustix::fs::chownat(
                parent,
                name,
                Some(uid),
                Some(gid),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| self.io_error("changing the owner of", path, e))?;
        }
        let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.io_error("inspecting", path, e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            rustix::fs::chmodat(
                parent,
                name,
                Mode::from_raw_mode(meta.mode),
                AtFlags::empty(),
            )
            .map_err(|e| self.io_error("changing the mode of", path, e))?;
        }
        if !meta.xattrs.is_empty() {
            self.report.warnings.push(format!(
                "layer {}: `{}`: extended attributes on symlinks and device nodes are not applied",
                self.layer,
                String::from_utf8_lossy(path)
            ));
        }
        rustix::fs::utimensat(parent, name, &times(meta.mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.io_error("setting the time of", path, e))?;
        Ok(())
    }

    fn set_fd_meta(
        &mut self,
        fd: rustix::fd::BorrowedFd<'_>,
        path: &[u8],
        meta: &TarEntry,
    ) -> Result<(), EntryError> {
        self.set_fd_meta_no_time(fd, path, meta, true)?;
        rustix::fs::futimens(fd, &times(meta.mtime))
            .map_err(|e| self.io_error("setting the time of", path, e))
    }

    fn set_fd_meta_no_time(
        &mut self,
        fd: rustix::fd::BorrowedFd<'_>,
        path: &[u8],
        meta: &TarEntry,
        chmod: bool,
    ) -> Result<(), EntryError> {
        if self.options.preserve_owners {
            let (uid, gid) = owner(meta)?;
            rustix::fs::fchown(fd, Some(uid), Some(gid))
                .map_err(|e| self.io_error("changing the owner of", path, e))?;
        }
        // After chown, which clears setuid/setgid.
        if chmod {
            rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode))
                .map_err(|e| self.io_error("changing the mode of", path, e))?;
        }
        for (name, value) in &meta.xattrs {
            if let Err(e) = rustix::fs::fsetxattr(fd, name.as_slice(), value, XattrFlags::empty()) {
                self.report.warnings.push(format!(
                    "layer {}: `{}`: could not set xattr `{}`: {}",
                    self.layer,
                    String::from_utf8_lossy(path),
                    String::from_utf8_lossy(name),
                    io::Error::from(e)
                ));
            }
        }
        Ok(())
    }

    /// Set the mode and mtime of this layer's directories, deepest last-seen
    /// first, each reached again through [`resolve_dir`](Self::resolve_dir)
    /// (a later entry may have replaced a parent with a symlink). Directories
    /// removed since are skipped.
    fn finish_dirs(&mut self) -> Result<()> {
        for (path, mode, mtime) in std::mem::take(&mut self.dirs).into_iter().rev() {
            let components = split_components(&path);
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = match components.split_last() {
                None => rustix::fs::openat(self.root, ".", flags, Mode::empty()),
                Some((name, parents)) => match self.resolve_dir(parents, false) {
                    Ok(parent) => rustix::fs::openat(&parent, *name, flags, Mode::empty()),
                    Err(_) => continue,
                },
            };
            let Ok(fd) = fd else { continue };
            let full = self.dir.join(std::ffi::OsStr::from_bytes(&path));
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                .map_err(|e| Error::io_at("changing the mode of", &full)(e.into()))?;
            rustix::fs::futimens(&fd, &times(mtime))
                .map_err(|e| Error::io_at("setting the time of", &full)(e.into()))?;
        }
        Ok(())
    }
}

enum EntryError {
    Refused(Refuse),
    Fatal(Error),
}

impl From<Error> for EntryError {
    fn from(e: Error) -> Self {
        EntryError::Fatal(e)
    }
}

/// The numeric owner of `meta`, refused when it does not fit Linux's 32 bits.
fn owner(meta: &TarEntry) -> Result<(rustix::fs::Uid, rustix::fs::Gid), EntryError> {
    let too_large = |what: &str, id: u64| EntryError::Refused(format!("{what} {id} is too large"));
    let uid = u32::try_from(meta.uid).map_err(|_| too_large("uid", meta.uid))?;
    let gid = u32::try_from(meta.gid).map_err(|_| too_large("gid", meta.gid))?;
    Ok((
        rustix::fs::Uid::from_raw(uid),
        rustix::fs::Gid::from_raw(gid),
    ))
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Remove `name` in `dir` and, for a directory, everything below it (never
/// following symlinks). A missing entry is not an error.
fn remove_all_at(dir: impl AsFd, name: &[u8]) -> io::Result<()> {
    let dir = dir.as_fd();
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?);
    }
    let child = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&child)? {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(n.to_vec());
        }
    }
    for n in names {
        remove_all_at(&child, &n)?;
    }
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}
