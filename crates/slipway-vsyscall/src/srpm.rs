//! Source RPMs: unpack one natively into an rpmbuild topdir and add patches.
//!
//! [`unpack`] streams the payload with slipway-rpm (no `rpm -i`, no
//! rpmdb): the spec goes to
//! `SPECS/`, everything else to `SOURCES/`, with the modes of the header and,
//! when asked, the owners of the header mapped through a rootfs's
//! `/etc/passwd` and `/etc/group` (CentOS's source RPMs are owned by
//! `mockbuild`). [`patch_srpm`] then edits the spec with
//! [`crate::spec::add_patches`] and copies the patch files beside the sources.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::spec::{SpecEdit, SpecPatch, add_patches};

/// A patch to add: its file on disk, the name it gets in `SOURCES/`, and the
/// flags of its `%patch` line (e.g. `-E -p3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchFile {
    /// File name in `SOURCES/` and in the `PatchN:` tag.
    pub name: String,
    /// Where the patch is now.
    pub source: PathBuf,
    /// Flags for `%patchN`.
    pub flags: String,
}

impl PatchFile {
    /// A patch read from `source`, named `name`, applied with `flags`.
    pub fn new(
        name: impl Into<String>,
        source: impl Into<PathBuf>,
        flags: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            source: source.into(),
            flags: flags.into(),
        }
    }
}

/// One file of a source RPM as unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedFile {
    /// The file name in the payload.
    pub name: String,
    /// Where it was written.
    pub path: PathBuf,
    /// Owner user name from the header.
    pub user: String,
    /// Owner group name from the header.
    pub group: String,
    /// Permission bits from the header.
    pub mode: u32,
}

/// A source RPM unpacked into an rpmbuild topdir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedSrpm {
    /// The topdir (`SPECS/`, `SOURCES/` inside).
    pub topdir: PathBuf,
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Package release.
    pub release: String,
    /// The spec file, under `SPECS/`.
    pub spec_path: PathBuf,
    /// Every file written, in payload order.
    pub files: Vec<UnpackedFile>,
    /// The source RPM's build dependencies (its `Requires`, which are the
    /// spec's `BuildRequires`), as `name [op version]`, without `rpmlib(…)`.
    pub build_requires: Vec<String>,
}

/// How owners from the header are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Owners {
    /// Leave files owned by the current user (the owners are still reported).
    #[default]
    Keep,
    /// Map user and group names through `ROOT/etc/passwd` and
    /// `ROOT/etc/group` of this rootfs and chown (needs root).
    MapThrough(PathBuf),
}

/// `RPMFILE_SPECFILE`: the spec file of a source RPM.
const RPMFILE_SPECFILE: u32 = 1 << 5;

/// Unpack `srpm` into `topdir` (created if absent).
pub fn unpack(srpm: &Path, topdir: &Path, owners: &Owners) -> Result<UnpackedSrpm, Error> {
    let rpm_err = |source| Error::Rpm {
        path: srpm.to_owned(),
        source: Box::new(source),
    };
    let pkg = slipway_rpm::Package::open(srpm).map_err(rpm_err)?;
    let header = pkg.header.clone();
    if !header.is_source {
        return Err(Error::NotSourceRpm {
            path: srpm.to_owned(),
        });
    }
    let build_requires = header
        .requires
        .iter()
        .filter(|d| !d.is_rpmlib())
        .map(|d| match (d.operator(), &d.evr) {
            (Some(op), Some(evr)) => format!("{} {op} {evr}", d.name),
            _ => d.name.clone(),
        })
        .collect();

    let specs_dir = topdir.join("SPECS");
    let sources_dir = topdir.join("SOURCES");
    fs_err::create_dir_all(&specs_dir)?;
    fs_err::create_dir_all(&sources_dir)?;
    let ids = match owners {
        Owners::Keep => None,
        Owners::MapThrough(root) => Some(IdMap::read(root)?),
    };

    let mut files = Vec::new();
    let mut spec_paths = Vec::new();
    let mut payload = pkg.payload().map_err(rpm_err)?;
    while let Some(entry) = payload.next_entry().map_err(rpm_err)? {
        let info = match entry.file_index {
            Some(i) => header.files.get(i as usize),
            None => header
                .files
                .iter()
                .find(|f| f.path.trim_start_matches('/') == entry.name.trim_start_matches("./")),
        };
        let file_name = entry.name.rsplit('/').next().unwrap_or_default().to_owned();
        let unsafe_name = file_name.is_empty()
            || file_name == "."
            || file_name == ".."
            || entry.name.trim_start_matches("./").contains('/');
        if unsafe_name {
            return Err(Error::UnsafeName {
                path: srpm.to_owned(),
                name: entry.name.clone(),
            });
        }
        if entry.mode & 0o170_000 != 0o100_000 {
            continue; // only regular files in a source RPM
        }
        let flags = info.map_or(0, |f| f.flags);
        let is_spec = flags & RPMFILE_SPECFILE != 0 || file_name.ends_with(".spec");
        let dest = if is_spec { &specs_dir } else { &sources_dir }.join(&file_name);
        let user = info.map_or_else(|| "root".to_owned(), |f| f.user.clone());
        let group = info.map_or_else(|| "root".to_owned(), |f| f.group.clone());
        let mode = info.map_or(entry.mode, |f| f.mode) & 0o7777;
        {
            let mut out = fs_err::File::create(&dest)?;
            std::io::copy(&mut payload, &mut out).map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("unpacking `{file_name}` from `{}`: {e}", srpm.display()),
                ))
            })?;
        }
        set_mode(&dest, mode)?;
        if let Some(ids) = &ids {
            ids.chown(&dest, &user, &group)?;
        }
        if is_spec {
            spec_paths.push(dest.clone());
        }
        files.push(UnpackedFile {
            name: file_name,
            path: dest,
            user,
            group,
            mode,
        });
    }
    let spec_path = match spec_paths.as_slice() {
        [one] => one.clone(),
        other => {
            return Err(Error::SpecCount {
                path: srpm.to_owned(),
                count: other.len(),
            });
        }
    };
    Ok(UnpackedSrpm {
        topdir: topdir.to_owned(),
        name: header.name,
        version: header.version,
        release: header.release,
        spec_path,
        files,
        build_requires,
    })
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))?;
    Ok(())
}

/// User and group names → ids, from a rootfs's `/etc/passwd` and `/etc/group`.
#[derive(Debug)]
struct IdMap {
    root: PathBuf,
    users: Vec<(String, u32)>,
    groups: Vec<(String, u32)>,
}

impl IdMap {
    fn read(root: &Path) -> Result<Self, Error> {
        let parse = |file: &str| -> Result<Vec<(String, u32)>, Error> {
            let text = fs_err::read_to_string(root.join(file))?;
            Ok(text
                .lines()
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let id = f.nth(1)?.parse().ok()?;
                    Some((name.to_owned(), id))
                })
                .collect())
        };
        Ok(Self {
            root: root.to_owned(),
            users: parse("etc/passwd")?,
            groups: parse("etc/group")?,
        })
    }

    fn chown(&self, path: &Path, user: &str, group: &str) -> Result<(), Error> {
        let find = |list: &[(String, u32)], name: &str, file: &str| {
            list.iter()
                .find(|e| e.0 == name)
                .map(|e| e.1)
                .ok_or_else(|| {
                    Error::Io(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!(
                            "owner `{name}` of `{}` is not in `{}`",
                            path.display(),
                            self.root.join(file).display()
                        ),
                    ))
                })
        };
        let uid = find(&self.users, user, "etc/passwd")?;
        let gid = find(&self.groups, group, "etc/group")?;
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("chown `{}` to {uid}:{gid}: {e}", path.display()),
            ))
        })
    }
}

/// A source RPM unpacked, with patches added to its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchedSource {
    /// The unpacked source RPM (`spec_path` is the edited spec).
    pub srpm: UnpackedSrpm,
    /// The spec edit: patch numbers, old and new release.
    pub edit: SpecEdit,
    /// The patch files written to `SOURCES/`.
    pub patch_paths: Vec<PathBuf>,
}

impl PatchedSource {
    /// The edited spec file.
    pub fn spec_path(&self) -> &Path {
        &self.srpm.spec_path
    }

    /// The rpmbuild topdir.
    pub fn topdir(&self) -> &Path {
        &self.srpm.topdir
    }

    /// The new release, unexpanded (e.g. `1.209.1%{?dist}`).
    pub fn new_release(&self) -> &str {
        &self.edit.new_release
    }
}

/// Unpack `srpm` into `topdir`, add `patches` to its spec and copy them into `SOURCES/`.
pub fn patch_srpm(
    srpm: &Path,
    patches: &[PatchFile],
    topdir: &Path,
) -> Result<PatchedSource, Error> {
    patch_srpm_with(srpm, patches, topdir, &Owners::Keep)
}

/// [`patch_srpm`] with a choice of how owners are applied.
pub fn patch_srpm_with(
    srpm: &Path,
    patches: &[PatchFile],
    topdir: &Path,
    owners: &Owners,
) -> Result<PatchedSource, Error> {
    patch_unpacked(unpack(srpm, topdir, owners)?, patches)
}

/// Add `patches` to an already unpacked source (e.g. after checking its
/// original `%prep` with [`crate::rebuild::check_prep`]).
pub fn patch_unpacked(
    unpacked: UnpackedSrpm,
    patches: &[PatchFile],
) -> Result<PatchedSource, Error> {
    let spec_text = fs_err::read_to_string(&unpacked.spec_path)?;
    let spec_patches: Vec<SpecPatch> = patches
        .iter()
        .map(|p| SpecPatch::new(p.name.clone(), p.flags.clone()))
        .collect();
    let edit = add_patches(&spec_text, &spec_patches)?;
    let sources = unpacked.topdir.join("SOURCES");
    let mut patch_paths = Vec::new();
    for patch in patches {
        let dest = sources.join(&patch.name);
        fs_err::copy(&patch.source, &dest)?;
        set_mode(&dest, 0o644)?;
        patch_paths.push(dest);
    }
    fs_err::write(&unpacked.spec_path, &edit.text)?;
    Ok(PatchedSource {
        srpm: unpacked,
        edit,
        patch_paths,
    })
}
