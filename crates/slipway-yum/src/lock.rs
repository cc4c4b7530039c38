//! `slipway.lock`: the pinned result of a resolution.
//!
//! TOML, in a stable order (repositories by id, packages by name, arch,
//! EVR), so the same resolution always writes the same bytes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::repodata::Checksum;
use crate::resolve::Transaction;
use crate::source::Repo;
use crate::{Error, Result};

/// Format version written into every lock.
pub const LOCK_VERSION: u32 = 1;

/// A repository's metadata revision, as pinned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LockedRepo {
    /// Repository id.
    pub id: String,
    /// The base URL used.
    pub baseurl: String,
    /// `<revision>` of `repomd.xml`.
    pub revision: String,
    /// sha256 of the `repomd.xml` bytes.
    pub repomd_sha256: String,
}

/// One pinned package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LockedPackage {
    /// Name.
    pub name: String,
    /// Epoch.
    pub epoch: u32,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Arch.
    pub arch: String,
    /// Repository id.
    pub repo: String,
    /// Download URL.
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// Checksum type (`sha256`, `sha1`).
    pub checksum_type: String,
    /// Checksum value (hex).
    pub checksum: String,
}

impl LockedPackage {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        crate::evr::nevra(
            &self.name,
            self.epoch,
            &self.version,
            &self.release,
            &self.arch,
        )
    }

    /// The repodata checksum.
    pub fn checksum(&self) -> Checksum {
        Checksum {
            kind: self.checksum_type.clone(),
            value: self.checksum.clone(),
        }
    }

    /// `name-version-release.arch.rpm`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.version, self.release, self.arch
        )
    }
}

/// The lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// [`LOCK_VERSION`].
    pub version: u32,
    /// Repositories the packages came from.
    #[serde(rename = "repo", default)]
    pub repos: Vec<LockedRepo>,
    /// Packages to install.
    #[serde(rename = "package", default)]
    pub packages: Vec<LockedPackage>,
}

impl Lock {
    /// Lock what a transaction installs, pinning the revision of every repo.
    pub fn from_transaction(tx: &Transaction, repos: &[Repo]) -> Self {
        let mut packages: Vec<LockedPackage> = tx
            .to_install()
            .filter_map(|item| {
                let repo = repos.iter().find(|r| r.config.id == item.repo)?;
                let p = &item.package;
                Some(LockedPackage {
                    name: p.name.clone(),
                    epoch: p.evr.epoch,
                    version: p.evr.version.clone(),
                    release: p.evr.release.clone(),
                    arch: p.arch.clone(),
                    repo: item.repo.clone(),
                    url: repo.package_url(p),
                    size: p.size,
                    checksum_type: p.checksum.kind.clone(),
                    checksum: p.checksum.value.clone(),
                })
            })
            .collect();
        packages.sort();
        let mut locked_repos: Vec<LockedRepo> = repos
            .iter()
            .map(|r| LockedRepo {
                id: r.config.id.clone(),
                baseurl: r.baseurl.clone(),
                revision: r.repomd.revision.clone(),
                repomd_sha256: r.repomd_sha256.clone(),
            })
            .collect();
        locked_repos.sort();
        Self {
            version: LOCK_VERSION,
            repos: locked_repos,
            packages,
        }
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        let mut sorted = self.clone();
        sorted.repos.sort();
        sorted.packages.sort();
        // Serialising plain strings and integers cannot fail.
        toml::to_string(&sorted).unwrap_or_default()
    }

    /// Parse TOML text; `path` names it in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let lock: Lock = toml::from_str(text).map_err(|e| Error::Lock {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(Error::Lock {
                path: path.to_path_buf(),
                message: format!("version {} (expected {LOCK_VERSION})", lock.version),
            });
        }
        Ok(lock)
    }

    /// Read a lock file.
    pub fn read(path: &Path) -> Result<Self> {
        Self::from_toml(&fs_err::read_to_string(path)?, path)
    }

    /// Write a lock file (atomically).
    pub fn write(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, self.to_toml().as_bytes())?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Why this lock no longer matches the repositories as they are now
    /// (a repo whose `repomd.xml` changed, was added or removed); empty
    /// when it is fresh.
    pub fn is_stale(&self, repos: &[Repo]) -> Vec<String> {
        let mut reasons = Vec::new();
        for locked in &self.repos {
            match repos.iter().find(|r| r.config.id == locked.id) {
                None => reasons.push(format!(
                    "repository `{}` is no longer configured",
                    locked.id
                )),
                Some(r) if r.repomd_sha256 != locked.repomd_sha256 => reasons.push(format!(
                    "repository `{}` changed: repomd.xml sha256 {} (locked {})",
                    locked.id, r.repomd_sha256, locked.repomd_sha256
                )),
                Some(_) => {}
            }
        }
        for r in repos {
            if !self.repos.iter().any(|l| l.id == r.config.id) {
                reasons.push(format!("repository `{}` is not in the lock", r.config.id));
            }
        }
        reasons
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            epoch: 0,
            version: "1".into(),
            release: "1".into(),
            arch: "x86_64".into(),
            repo: "base".into(),
            url: format!("http://x/{name}.rpm"),
            size: 1,
            checksum_type: "sha256".into(),
            checksum: "00".into(),
        }
    }

    #[test]
    fn stable_order_and_round_trip() {
        let a = Lock {
            version: 1,
            repos: vec![],
            packages: vec![pkg("b"), pkg("a"), pkg("c")],
        };
        let b = Lock {
            version: 1,
            repos: vec![],
            packages: vec![pkg("c"), pkg("b"), pkg("a")],
        };
        assert_eq!(a.to_toml(), b.to_toml());
        let back = Lock::from_toml(&a.to_toml(), Path::new("slipway.lock")).unwrap();
        assert_eq!(back.packages[0].name, "a");
        let err = Lock::from_toml("version = 7\n", Path::new("slipway.lock")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "slipway.lock: invalid lock file: version 7 (expected 1)"
        );
    }
}
