//! The RPM header as owned, typed data.
//!
//! Parsing of the lead and the header structures is the `rpm` crate's
//! (`PackageMetadata::parse`); this module reads the tags we need into plain
//! structs, including the ones the crate does not surface (inodes, devices,
//! full `rdev`, the raw `security.capability` bytes, the source flag).

use crate::caps;
use crate::error::Error;
use rpm::{IndexTag, PackageMetadata};
use std::path::Path;

/// Dependency sense flags (`RPMSENSE_*`), as stored in the header.
pub mod sense {
    /// `<`
    pub const LESS: u32 = 1 << 1;
    /// `>`
    pub const GREATER: u32 = 1 << 2;
    /// `=`
    pub const EQUAL: u32 = 1 << 3;
    /// Required by `%pre` (`Requires(pre)`).
    pub const SCRIPT_PRE: u32 = 1 << 9;
    /// Required by `%post` (`Requires(post)`).
    pub const SCRIPT_POST: u32 = 1 << 10;
    /// Required by `%preun`.
    pub const SCRIPT_PREUN: u32 = 1 << 11;
    /// Required by `%postun`.
    pub const SCRIPT_POSTUN: u32 = 1 << 12;
    /// `PreReq:` (legacy).
    pub const PREREQ: u32 = 1 << 6;
    /// `rpmlib(...)` feature dependency.
    pub const RPMLIB: u32 = 1 << 24;
    /// Trigger on install (`%triggerin`).
    pub const TRIGGERIN: u32 = 1 << 16;
    /// Trigger on erase (`%triggerun`).
    pub const TRIGGERUN: u32 = 1 << 17;
    /// Trigger after erase (`%triggerpostun`).
    pub const TRIGGERPOSTUN: u32 = 1 << 18;
    /// Trigger before install (`%triggerprein`).
    pub const TRIGGERPREIN: u32 = 1 << 25;
}

/// File flags (`RPMFILE_*`), as stored in the header.
pub mod file_flags {
    /// `%config`
    pub const CONFIG: u32 = 1 << 0;
    /// `%doc`
    pub const DOC: u32 = 1 << 1;
    /// `%config(missingok)`
    pub const MISSINGOK: u32 = 1 << 3;
    /// `%config(noreplace)`
    pub const NOREPLACE: u32 = 1 << 4;
    /// `%ghost`
    pub const GHOST: u32 = 1 << 6;
    /// `%license`
    pub const LICENSE: u32 = 1 << 7;
    /// `%readme`
    pub const README: u32 = 1 << 8;
    /// `%artifact`
    pub const ARTIFACT: u32 = 1 << 12;
}

/// A requires/provides/conflicts/obsoletes entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dependency {
    /// Name (package, virtual capability, file path, `rpmlib(...)`).
    pub name: String,
    /// Raw `RPMSENSE_*` flags; see [`sense`].
    pub flags: u32,
    /// The `[E:]V[-R]` operand, `None` when unversioned.
    pub evr: Option<String>,
}

impl Dependency {
    /// The comparison operator (`<`, `<=`, `=`, `>=`, `>`), `None` if unversioned.
    pub fn operator(&self) -> Option<&'static str> {
        let f = self.flags & (sense::LESS | sense::GREATER | sense::EQUAL);
        Some(match f {
            x if x == sense::LESS => "<",
            x if x == sense::LESS | sense::EQUAL => "<=",
            x if x == sense::EQUAL => "=",
            x if x == sense::GREATER | sense::EQUAL => ">=",
            x if x == sense::GREATER => ">",
            _ => return None,
        })
    }

    /// Whether this is an `rpmlib(...)` feature dependency.
    pub fn is_rpmlib(&self) -> bool {
        self.flags & sense::RPMLIB != 0 || self.name.starts_with("rpmlib(")
    }
}

/// A file digest algorithm (`RPMTAG_FILEDIGESTALGO`, PGP hash ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// MD5 (the default when the tag is absent, as in rpm 4.8 packages without it).
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// Any other PGP hash id.
    Other(u32),
}

impl DigestAlgorithm {
    /// From the PGP hash algorithm id stored in the header.
    pub fn from_id(id: u32) -> Self {
        match id {
            1 => Self::Md5,
            2 => Self::Sha1,
            8 => Self::Sha256,
            9 => Self::Sha384,
            10 => Self::Sha512,
            11 => Self::Sha224,
            other => Self::Other(other),
        }
    }
}

/// One entry of the package's file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Absolute path (or bare name in a source RPM).
    pub path: String,
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// Size in bytes (directories: as recorded by rpmbuild).
    pub size: u64,
    /// Owner user name.
    pub user: String,
    /// Owner group name.
    pub group: String,
    /// Modification time, seconds since the epoch.
    pub mtime: u32,
    /// Hex digest of the content (regular files only; empty otherwise).
    pub digest: Option<String>,
    /// Raw `RPMFILE_*` flags; see [`file_flags`].
    pub flags: u32,
    /// Symlink target.
    pub link_target: Option<String>,
    /// Inode number within the package: equal (`device`, `inode`) = hardlinks.
    pub inode: u32,
    /// Device number within the package.
    pub device: u32,
    /// Device number of a character or block device file.
    pub rdev: u32,
    /// File capabilities in `cap_to_text` form (`cap_net_raw=ep`).
    pub caps: Option<String>,
    /// Language tag (`%lang`).
    pub lang: Option<String>,
}

impl FileInfo {
    /// `%config`
    pub fn is_config(&self) -> bool {
        self.flags & file_flags::CONFIG != 0
    }
    /// `%config(noreplace)`
    pub fn is_noreplace(&self) -> bool {
        self.flags & file_flags::NOREPLACE != 0
    }
    /// `%ghost`: listed but not in the payload.
    pub fn is_ghost(&self) -> bool {
        self.flags & file_flags::GHOST != 0
    }
    /// `%doc`
    pub fn is_doc(&self) -> bool {
        self.flags & file_flags::DOC != 0
    }
    /// `%license`
    pub fn is_license(&self) -> bool {
        self.flags & file_flags::LICENSE != 0
    }
    /// File type bits of [`FileInfo::mode`] (`libc::S_IFMT` mask).
    pub fn file_type(&self) -> u32 {
        self.mode & 0o170000
    }
    /// A regular file.
    pub fn is_regular(&self) -> bool {
        self.file_type() == 0o100000
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == 0o040000
    }
    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == 0o120000
    }
    /// The value to store as the `security.capability` extended attribute
    /// (a `vfs_cap_data` revision 2 structure), or `None` without caps.
    pub fn capability_xattr(&self) -> Option<Vec<u8>> {
        self.caps
            .as_deref()
            .filter(|c| !c.is_empty())
            .and_then(|c| caps::to_xattr(c).ok())
    }
}

/// The kind of a scriptlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ScriptletKind {
    /// `%pretrans`
    PreTrans,
    /// `%pre`
    Pre,
    /// `%post`
    Post,
    /// `%preun`
    PreUn,
    /// `%postun`
    PostUn,
    /// `%posttrans`
    PostTrans,
    /// `%verifyscript`
    Verify,
}

/// A scriptlet with its interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scriptlet {
    /// When it runs.
    pub kind: ScriptletKind,
    /// Interpreter and its arguments (`["/bin/sh"]`; `["<lua>"]` for Lua).
    pub interpreter: Vec<String>,
    /// The script text (may be empty when only an interpreter is given).
    pub body: String,
    /// Raw `RPMSCRIPT_FLAG_*` flags (macro/qformat expansion), 0 when absent.
    pub flags: u32,
}

/// A trigger scriptlet (`%triggerin -- pkg`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Interpreter and its arguments.
    pub interpreter: Vec<String>,
    /// The script text.
    pub body: String,
    /// What fires it: package names with `RPMSENSE_TRIGGER*` flags and versions.
    pub conditions: Vec<Dependency>,
}

/// The parsed main header of a binary or source RPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `NAME`
    pub name: String,
    /// `EPOCH`, `None` when absent.
    pub epoch: Option<u32>,
    /// `VERSION`
    pub version: String,
    /// `RELEASE`
    pub release: String,
    /// `ARCH` (a source RPM records the build host's arch; see `is_source`).
    pub arch: String,
    /// `SUMMARY`
    pub summary: String,
    /// `LICENSE`
    pub license: String,
    /// `SOURCERPM` (binary packages only).
    pub sourcerpm: Option<String>,
    /// Whether this is a source RPM.
    pub is_source: bool,
    /// `PAYLOADCOMPRESSOR` (`gzip`, `bzip2`, `xz`, `lzma`, `zstd`); `gzip` when absent.
    pub payload_compressor: String,
    /// `PAYLOADFORMAT` (`cpio`; `drpm` for deltas).
    pub payload_format: String,
    /// Algorithm of the file digests.
    pub file_digest_algorithm: DigestAlgorithm,
    /// `Requires` (including `Requires(pre)`, `rpmlib(...)`).
    pub requires: Vec<Dependency>,
    /// `Provides`
    pub provides: Vec<Dependency>,
    /// `Conflicts`
    pub conflicts: Vec<Dependency>,
    /// `Obsoletes`
    pub obsoletes: Vec<Dependency>,
    /// The file list in header order.
    pub files: Vec<FileInfo>,
    /// Scriptlets present in the header.
    pub scriptlets: Vec<Scriptlet>,
    /// Triggers.
    pub triggers: Vec<Trigger>,
}

impl Header {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        let arch = if self.is_source { "src" } else { &self.arch };
        match self.epoch {
            Some(e) => format!("{}-{e}:{}-{}.{arch}", self.name, self.version, self.release),
            None => format!("{}-{}-{}.{arch}", self.name, self.version, self.release),
        }
    }

    /// The file-list entry for a payload entry name (`./usr/bin/x`,
    /// `/usr/bin/x` or, in source RPMs, a bare `name.spec`).
    pub fn file(&self, name: &str) -> Option<&FileInfo> {
        let bare = name.trim_start_matches('.').trim_start_matches('/');
        self.files
            .iter()
            .find(|f| f.path.trim_start_matches('/') == bare)
    }

    /// The `[E:]V-R` of this package.
    pub fn evr(&self) -> crate::Evr {
        crate::Evr::new(self.epoch, self.version.clone(), Some(self.release.clone()))
    }

    /// Reads the typed header from parsed metadata; `path` names the RPM in errors.
    pub fn from_metadata(meta: &PackageMetadata, path: &Path) -> Result<Self, Error> {
        let h = &meta.header;
        let malformed = |reason: String| Error::Malformed {
            path: path.to_owned(),
            reason,
        };
        let req_str = |tag: IndexTag| -> Result<String, Error> {
            h.get_entry_data_as_string(tag)
                .or_else(|_| h.get_entry_data_as_i18n_string(tag))
                .map(str::to_owned)
                .map_err(|e| malformed(format!("tag {tag:?}: {e}")))
        };
        let opt_str = |tag: IndexTag| -> Option<String> {
            h.get_entry_data_as_string(tag)
                .or_else(|_| h.get_entry_data_as_i18n_string(tag))
                .ok()
                .map(str::to_owned)
        };
        let name = req_str(IndexTag::RPMTAG_NAME)?;
        let version = req_str(IndexTag::RPMTAG_VERSION)?;
        let release = req_str(IndexTag::RPMTAG_RELEASE)?;
        let epoch = h.get_entry_data_as_u32(IndexTag::RPMTAG_EPOCH).ok();
        let file_digest_algorithm = DigestAlgorithm::from_id(
            h.get_entry_data_as_u32(IndexTag::RPMTAG_FILEDIGESTALGO)
                .unwrap_or(1),
        );
        let is_source = meta.is_source_package();
        Ok(Self {
            arch: opt_str(IndexTag::RPMTAG_ARCH).unwrap_or_default(),
            summary: opt_str(IndexTag::RPMTAG_SUMMARY).unwrap_or_default(),
            license: opt_str(IndexTag::RPMTAG_LICENSE).unwrap_or_default(),
            sourcerpm: opt_str(IndexTag::RPMTAG_SOURCERPM).filter(|_| !is_source),
            payload_compressor: opt_str(IndexTag::RPMTAG_PAYLOADCOMPRESSOR)
                .unwrap_or_else(|| "gzip".into()),
            payload_format: opt_str(IndexTag::RPMTAG_PAYLOADFORMAT)
                .unwrap_or_else(|| "cpio".into()),
            requires: deps(
                meta,
                path,
                IndexTag::RPMTAG_REQUIRENAME,
                IndexTag::RPMTAG_REQUIREFLAGS,
                IndexTag::RPMTAG_REQUIREVERSION,
            )?,
            provides: deps(
                meta,
                path,
                IndexTag::RPMTAG_PROVIDENAME,
                IndexTag::RPMTAG_PROVIDEFLAGS,
                IndexTag::RPMTAG_PROVIDEVERSION,
            )?,
            conflicts: deps(
                meta,
                path,
                IndexTag::RPMTAG_CONFLICTNAME,
                IndexTag::RPMTAG_CONFLICTFLAGS,
                IndexTag::RPMTAG_CONFLICTVERSION,
            )?,
            obsoletes: deps(
                meta,
                path,
                IndexTag::RPMTAG_OBSOLETENAME,
                IndexTag::RPMTAG_OBSOLETEFLAGS,
                IndexTag::RPMTAG_OBSOLETEVERSION,
            )?,
            files: files(meta, path)?,
            scriptlets: scriptlets(meta),
            triggers: triggers(meta, path)?,
            file_digest_algorithm,
            is_source,
            name,
            epoch,
            version,
            release,
        })
    }
}

/// Reads a dependency triple of tags; all absent = no dependencies.
fn deps(
    meta: &PackageMetadata,
    path: &Path,
    names: IndexTag,
    flags: IndexTag,
    versions: IndexTag,
) -> Result<Vec<Dependency>, Error> {
    let h = &meta.header;
    let Ok(names) = h.get_entry_data_as_string_array(names) else {
        return Ok(Vec::new());
    };
    let flags = h.get_entry_data_as_u32_array(flags).unwrap_or_default();
    let versions = h
        .get_entry_data_as_string_array(versions)
        .unwrap_or_default();
    if flags.len() != names.len() || versions.len() != names.len() {
        return Err(Error::Malformed {
            path: path.to_owned(),
            reason: format!(
                "{names:?}: {} names but {} flags and {} versions",
                names.len(),
                flags.len(),
                versions.len()
            ),
        });
    }
    Ok(names
        .iter()
        .zip(flags)
        .zip(versions)
        .map(|((n, f), v)| Dependency {
            name: (*n).to_owned(),
            flags: f,
            evr: (!v.is_empty()).then(|| v.to_owned()),
        })
        .collect())
}

/// Reads the file list from the per-file tag arrays.
fn files(meta: &PackageMetadata, path: &Path) -> Result<Vec<FileInfo>, Error> {
    let h = &meta.header;
    let malformed = |reason: String| Error::Malformed {
        path: path.to_owned(),
        reason,
    };
    // Paths: compressed (BASENAMES + DIRNAMES + DIRINDEXES) or OLDFILENAMES.
    let paths: Vec<String> =
        if let Ok(basenames) = h.get_entry_data_as_string_array(IndexTag::RPMTAG_BASENAMES) {
            let dirnames = h
                .get_entry_data_as_string_array(IndexTag::RPMTAG_DIRNAMES)
                .map_err(|e| malformed(format!("DIRNAMES: {e}")))?;
            let dirindexes = h
                .get_entry_data_as_u32_array(IndexTag::RPMTAG_DIRINDEXES)
                .map_err(|e| malformed(format!("DIRINDEXES: {e}")))?;
            if dirindexes.len() != basenames.len() {
                return Err(malformed(format!(
                    "{} BASENAMES but {} DIRINDEXES",
                    basenames.len(),
                    dirindexes.len()
                )));
            }
            basenames
                .iter()
                .zip(&dirindexes)
                .map(|(b, &i)| {
                    dirnames
                        .get(i as usize)
                        .map(|d| format!("{d}{b}"))
                        .ok_or_else(|| malformed(format!("DIRINDEXES entry {i} out of range")))
                })
                .collect::<Result<_, _>>()?
        } else if let Ok(old) = h.get_entry_data_as_string_array(IndexTag::RPMTAG_OLDFILENAMES) {
            old.iter().map(|s| (*s).to_owned()).collect()
        } else {
            return Ok(Vec::new());
        };
    let n = paths.len();
    let u32s = |tag: IndexTag| -> Result<Vec<u32>, Error> {
        match h.get_entry_data_as_u32_array(tag) {
            Ok(v) if v.len() == n => Ok(v),
            Ok(v) => Err(malformed(format!(
                "{tag:?}: {} entries for {n} files",
                v.len()
            ))),
            Err(_) => Ok(vec![0; n]),
        }
    };
    let u16s = |tag: IndexTag| -> Result<Vec<u32>, Error> {
        match h.get_entry_data_as_u16_array(tag) {
            Ok(v) if v.len() == n => Ok(v.into_iter().map(u32::from).collect()),
            Ok(v) => Err(malformed(format!(
                "{tag:?}: {} entries for {n} files",
                v.len()
            ))),
            Err(_) => Ok(vec![0; n]),
        }
    };
    let strs = |tag: IndexTag| -> Result<Vec<String>, Error> {
        match h.get_entry_data_as_string_array(tag) {
            Ok(v) if v.len() == n => Ok(v.into_iter().map(str::to_owned).collect()),
            Ok(v) => Err(malformed(format!(
                "{tag:?}: {} entries for {n} files",
                v.len()
            ))),
            Err(_) => Ok(vec![String::new(); n]),
        }
    };
    let sizes: Vec<u64> = match h.get_entry_data_as_u64_array(IndexTag::RPMTAG_LONGFILESIZES) {
        Ok(v) if v.len() == n => v,
        Ok(v) => {
            return Err(malformed(format!(
                "LONGFILESIZES: {} entries for {n} files",
                v.len()
            )));
        }
        Err(_) => u32s(IndexTag::RPMTAG_FILESIZES)?
            .into_iter()
            .map(u64::from)
            .collect(),
    };
    let modes = u16s(IndexTag::RPMTAG_FILEMODES)?;
    let rdevs = u16s(IndexTag::RPMTAG_FILERDEVS)?;
    let mtimes = u32s(IndexTag::RPMTAG_FILEMTIMES)?;
    let flags = u32s(IndexTag::RPMTAG_FILEFLAGS)?;
    let inodes = u32s(IndexTag::RPMTAG_FILEINODES)?;
    let devices = u32s(IndexTag::RPMTAG_FILEDEVICES)?;
    let users = strs(IndexTag::RPMTAG_FILEUSERNAME)?;
    let groups = strs(IndexTag::RPMTAG_FILEGROUPNAME)?;
    let digests = strs(IndexTag::RPMTAG_FILEDIGESTS)?;
    let links = strs(IndexTag::RPMTAG_FILELINKTOS)?;
    let langs = strs(IndexTag::RPMTAG_FILELANGS)?;
    let caps = strs(IndexTag::RPMTAG_FILECAPS)?;
    let some = |s: &String| (!s.is_empty()).then(|| s.clone());
    Ok((0..n)
        .map(|i| FileInfo {
            path: paths[i].clone(),
            mode: modes[i],
            size: sizes[i],
            user: users[i].clone(),
            group: groups[i].clone(),
            mtime: mtimes[i],
            digest: some(&digests[i]),
            flags: flags[i],
            link_target: some(&links[i]),
            inode: inodes[i],
            device: devices[i],
            rdev: rdevs[i],
            caps: some(&caps[i]),
            lang: some(&langs[i]),
        })
        .collect())
}

fn scriptlets(meta: &PackageMetadata) -> Vec<Scriptlet> {
    let all = [
        (ScriptletKind::PreTrans, meta.get_pre_trans_script()),
        (ScriptletKind::Pre, meta.get_pre_install_script()),
        (ScriptletKind::Post, meta.get_post_install_script()),
        (ScriptletKind::PreUn, meta.get_pre_uninstall_script()),
        (ScriptletKind::PostUn, meta.get_post_uninstall_script()),
        (ScriptletKind::PostTrans, meta.get_post_trans_script()),
        (ScriptletKind::Verify, meta.get_verify_script()),
    ];
    all.into_iter()
        .filter_map(|(kind, s)| {
            let s = s.ok()?;
            Some(Scriptlet {
                kind,
                interpreter: s.program.unwrap_or_else(|| vec!["/bin/sh".into()]),
                body: s.script,
                flags: s.flags.map_or(0, |f| f.bits()),
            })
        })
        .collect()
}

fn triggers(meta: &PackageMetadata, path: &Path) -> Result<Vec<Trigger>, Error> {
    if !meta
        .header
        .entry_is_present(IndexTag::RPMTAG_TRIGGERSCRIPTS)
    {
        return Ok(Vec::new());
    }
    let triggers = meta.get_triggers().map_err(|source| Error::Header {
        path: path.to_owned(),
        source,
    })?;
    Ok(triggers
        .into_iter()
        .map(|t| Trigger {
            interpreter: t.program,
            body: t.script,
            conditions: t
                .conditions
                .into_iter()
                .map(|c| Dependency {
                    name: c.name,
                    flags: c.flags.bits(),
                    evr: (!c.version.is_empty()).then_some(c.version),
                })
                .collect(),
        })
        .collect())
}
