//! Applying layers to a directory, safely.
//!
//! Every path is resolved inside the target directory with `openat2(2)` and
//! `RESOLVE_BENEATH`, so neither a `..` component, an absolute path nor a
//! symlink (from this layer or an earlier one) can lead a write outside it.
//! The final component is never followed: an existing entry of another type
//! is removed first, and files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`.
//! Entries that would escape are not applied; they are listed in the
//! [`UnpackReport`] with the reason.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::Timespec;
use rustix::fs::{AtFlags, Dev, FileType, Mode, OFlags, ResolveFlags, Timestamps, XattrFlags};
use rustix::io::Errno;

use crate::compress::Compression;
use crate::digest::HashingReader;
use crate::image::Image;
use crate::layer::{OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use crate::layout::OciLayout;
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
        let file = layout.open_blob(&digest)?;
        let mut compressed = HashingReader::new(BufReader::with_capacity(256 * 1024, file));
        let diff_id = {
            let mut unpacker = LayerUnpacker::new(&root, dir, index, options, &mut report);
            unpacker.apply(&mut compressed)?
        };
        io::copy(&mut compressed, &mut io::sink())?;
        let (actual, size) = compressed.finish();
        if actual != digest || size != descriptor.size() {
            return Err(Error::DigestMismatch {
                what: format!("layer {index} in `{}`", layout.path().display()),
                expected: digest,
                expected_size: descriptor.size(),
                actual,
                actual_size: size,
            });
        }
        if let Some(expected) = diff_ids.get(index)
            && expected != &diff_id.0
        {
            return Err(Error::DigestMismatch {
                what: format!("the uncompressed layer {index} (diff id)"),
                expected: expected.clone(),
                expected_size: diff_id.1,
                actual: diff_id.0,
                actual_size: diff_id.1,
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
    LayerUnpacker::new(&root, dir, index, options, report).apply(layer)
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

/// Decompress `reader` according to its first bytes.
pub(crate) fn decompressed<'a>(reader: &'a mut dyn Read) -> Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered.fill_buf()?.to_vec();
    Ok(match Compression::sniff(&head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::None => Box::new(buffered),
    })
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

    fn apply(&mut self, layer: &mut dyn Read) -> Result<(Digest, u64)> {
        let tar_stream = decompressed(layer)?;
        let mut hashing = HashingReader::new(tar_stream);
        {
            let mut archive = tar::Archive::new(&mut hashing);
            let entries = archive
                .entries()
                .map_err(|e| Error::invalid(format!("layer {}", self.layer), e.to_string()))?;
            for entry in entries {
                let mut entry = entry
                    .map_err(|e| Error::invalid(format!("layer {}", self.layer), e.to_string()))?;
                let raw_path = entry.path_bytes().into_owned();
                match self.apply_entry(&mut entry, &raw_path) {
                    Ok(()) => self.report.entries += 1,
                    Err(EntryError::Refused(reason)) => self.report.refused.push(Refusal {
                        layer: self.layer,
                        path: String::from_utf8_lossy(&raw_path).into_owned(),
                        reason,
                    }),
                    Err(EntryError::Fatal(e)) => return Err(e),
                }
            }
            // Read the rest (the end-of-archive blocks and any padding) so the diff id covers it all.
            io::copy(archive.into_inner(), &mut io::sink())?;
        }
        self.finish_dirs()?;
        Ok(hashing.finish())
    }

    fn io_error(&self, action: &'static str, path: &[u8], e: impl Into<io::Error>) -> EntryError {
        let mut full = self.dir.to_path_buf();
        full.push(std::ffi::OsStr::from_bytes(path));
        EntryError::Fatal(Error::io_at(action, full)(e.into()))
    }

    fn apply_entry(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        raw_path: &[u8],
    ) -> Result<(), EntryError> {
        let components = normalize(raw_path).map_err(EntryError::Refused)?;
        let header = entry.header();
        let kind = header.entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            return Ok(());
        }
        let Some((name, parents)) = components.split_last() else {
            // The root itself (`./`): only its metadata.
            if kind.is_dir() {
                let meta = Meta::from_entry(entry, self.layer)?;
                self.set_meta(self.root.as_fd(), b".", &[], &meta, true)?;
            }
            return Ok(());
        };
        let path = components.join(&b'/');

        // Whiteouts.
        if let Some(target) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            let parent = self.resolve_dir(parents, false)?;
            if name == OPAQUE_WHITEOUT.as_bytes() {
                let parent_path = parents.join(&b'/');
                return self.opaque(&parent, &parent_path);
            }
            if target.is_empty() || target == b"." || target == b".." {
                return Err(EntryError::Refused(format!(
                    "a whiteout of `{}` would delete outside its directory",
                    String::from_utf8_lossy(target)
                )));
            }
            return remove_all_at(&parent, target).map_err(|e| self.io_error("removing", &path, e));
        }

        let meta = Meta::from_entry(entry, self.layer)?;
        let parent = self.resolve_dir(parents, true)?;
        let existing = match rustix::fs::statat(&parent, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
        {
            Ok(st) => Some(FileType::from_raw_mode(st.st_mode)),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(self.io_error("inspecting", &path, e)),
        };
        let is_dir = kind.is_dir();
        match existing {
            Some(FileType::Directory) if is_dir => {}
            Some(_) => {
                remove_all_at(&parent, name).map_err(|e| self.io_error("replacing", &path, e))?;
            }
            None => {}
        }

        let name = name.as_slice();
        match kind {
            tar::EntryType::Directory => {
                if existing != Some(FileType::Directory) {
                    rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o700))
                        .map_err(|e| self.io_error("creating directory", &path, e))?;
                }
                self.set_meta(&parent, name, &path, &meta, true)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = rustix::fs::openat(
                    &parent,
                    name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| self.io_error("creating", &path, e))?;
                let mut file = std::fs::File::from(fd);
                io::copy(entry, &mut file).map_err(|e| self.io_error("writing", &path, e))?;
                self.set_fd_meta(file.as_fd(), &path, &meta)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| EntryError::Refused("a symlink without a target".into()))?
                    .into_owned();
                rustix::fs::symlinkat(target.as_slice(), &parent, name)
                    .map_err(|e| self.io_error("creating symlink", &path, e))?;
                self.set_meta(&parent, name, &path, &meta, false)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| EntryError::Refused("a hard link without a target".into()))?
                    .into_owned();
                let target = normalize(&target)
                    .map_err(|r| EntryError::Refused(format!("hard link target: {r}")))?;
                let Some((target_name, target_parents)) = target.split_last() else {
                    return Err(EntryError::Refused("a hard link to the root".into()));
                };
                let target_parent = self.resolve_dir(target_parents, false)?;
                rustix::fs::linkat(
                    &target_parent,
                    target_name.as_slice(),
                    &parent,
                    name,
                    AtFlags::empty(),
                )
                .map_err(|e| match e {
                    Errno::NOENT => EntryError::Refused(format!(
                        "hard link to `{}`, which does not exist",
                        String::from_utf8_lossy(&target.join(&b'/'))
                    )),
                    e => self.io_error("creating hard link", &path, e),
                })?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let file_type = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let header = entry.header();
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let dev: Dev = rustix::fs::makedev(major, minor);
                match rustix::fs::mknodat(&parent, name, file_type, Mode::from_raw_mode(0o600), dev)
                {
                    Ok(()) => self.set_meta(&parent, name, &path, &meta, false)?,
                    Err(Errno::PERM) => {
                        self.report.warnings.push(format!(
                            "layer {}: `{}`: not allowed to create a device node (run as root)",
                            self.layer,
                            String::from_utf8_lossy(&path)
                        ));
                    }
                    Err(e) => return Err(self.io_error("creating node", &path, e)),
                }
            }
            other => {
                return Err(EntryError::Refused(format!(
                    "unsupported tar entry type {other:?}"
                )));
            }
        }
        self.written.insert(path);
        Ok(())
    }

    /// Open the directory `components` under the root, never leaving it. With
    /// `create`, missing directories are made (mode 0755).
    fn resolve_dir(&self, components: &[Vec<u8>], create: bool) -> Result<OwnedFd, EntryError> {
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
                    match rustix::fs::mkdirat(
                        &parent_fd,
                        component.as_slice(),
                        Mode::from_raw_mode(0o755),
                    ) {
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
        meta: &Meta,
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
            rustix::fs::chownat(
                parent,
                name,
                Some(rustix::fs::Uid::from_raw(meta.uid)),
                Some(rustix::fs::Gid::from_raw(meta.gid)),
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
        meta: &Meta,
    ) -> Result<(), EntryError> {
        self.set_fd_meta_no_time(fd, path, meta, true)?;
        rustix::fs::futimens(fd, &times(meta.mtime))
            .map_err(|e| self.io_error("setting the time of", path, e))
    }

    fn set_fd_meta_no_time(
        &mut self,
        fd: rustix::fd::BorrowedFd<'_>,
        path: &[u8],
        meta: &Meta,
        chmod: bool,
    ) -> Result<(), EntryError> {
        if self.options.preserve_owners {
            rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(meta.uid)),
                Some(rustix::fs::Gid::from_raw(meta.gid)),
            )
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
            let components: Vec<Vec<u8>> = if path.is_empty() {
                Vec::new()
            } else {
                path.split(|&b| b == b'/').map(<[u8]>::to_vec).collect()
            };
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = match components.split_last() {
                None => rustix::fs::openat(self.root, ".", flags, Mode::empty()),
                Some((name, parents)) => match self.resolve_dir(parents, false) {
                    Ok(parent) => {
                        rustix::fs::openat(&parent, name.as_slice(), flags, Mode::empty())
                    }
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

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    fn from_entry(entry: &mut tar::Entry<'_, impl Read>, layer: usize) -> Result<Meta> {
        let bad = |e: io::Error| Error::invalid(format!("layer {layer}"), e.to_string());
        let header = entry.header();
        let mode = header.mode().map_err(bad)? & 0o7777;
        let mut uid = header.uid().map_err(bad)?;
        let mut gid = header.gid().map_err(bad)?;
        let mut mtime = header.mtime().map_err(bad)? as i64;
        let mut xattrs = Vec::new();
        if let Some(exts) = entry.pax_extensions().map_err(bad)? {
            for ext in exts {
                let ext = ext.map_err(bad)?;
                let key = ext.key_bytes();
                let parse = || {
                    std::str::from_utf8(ext.value_bytes())
                        .ok()
                        .and_then(|v| v.split('.').next()?.parse::<i64>().ok())
                };
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    xattrs.push((name.to_vec(), ext.value_bytes().to_vec()));
                } else if key == b"uid" {
                    uid = parse().map_or(uid, |v| v as u64);
                } else if key == b"gid" {
                    gid = parse().map_or(gid, |v| v as u64);
                } else if key == b"mtime" {
                    mtime = parse().unwrap_or(mtime);
                }
            }
        }
        Ok(Meta {
            mode,
            uid: u32::try_from(uid).map_err(|_| {
                Error::invalid(format!("layer {layer}"), format!("uid {uid} is too large"))
            })?,
            gid: u32::try_from(gid).map_err(|_| {
                Error::invalid(format!("layer {layer}"), format!("gid {gid} is too large"))
            })?,
            mtime,
            xattrs,
        })
    }
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

/// Split a tar path into components, refusing absolute paths and `..`.
fn normalize(path: &[u8]) -> Result<Vec<Vec<u8>>, Refuse> {
    if path.starts_with(b"/") {
        return Err("absolute path".into());
    }
    let mut out = Vec::new();
    for component in path.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err("`..` in the path".into()),
            c if c.contains(&0) => return Err("NUL byte in the path".into()),
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        assert_eq!(
            normalize(b"./a//b/").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert!(normalize(b"./").unwrap().is_empty());
        assert!(normalize(b"/etc/passwd").is_err());
        assert!(normalize(b"a/../../x").is_err());
        assert!(normalize(b"..").is_err());
    }
}
