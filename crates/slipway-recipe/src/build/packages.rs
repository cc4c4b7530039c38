//! Package steps: slipway-yum resolves against the rootfs's installed set and
//! downloads (verified); the rootfs's own `rpm` runs the transaction in the
//! sandbox, so scriptlets run and the rpmdb is in the format that rpm expects.
//!
//! Dependencies were resolved by slipway, so `rpm` gets `--nodeps` (a builder
//! whose base system is not in its rpmdb could not satisfy them otherwise).

use std::path::{Path, PathBuf};

use slipway_yum::LockedPackage;
use slipway_yum::repofile::{Vars, read_repo_file};
use slipway_yum::resolve::{Job, Request, resolve};
use slipway_yum::source::{Format, LoadOptions, load_repos};
use slipway_yum::store::Transport;

use crate::error::{Error, Loc, Result};
use crate::model::{Image, PackageOp, Personality, RepoKind, Step};

/// yum's `$releasever`: the recipes target CentOS 6.
const RELEASEVER: &str = "6";

fn yum_err(loc: &Loc, what: &str) -> impl Fn(slipway_yum::Error) -> Error {
    let what = format!("{loc}: {what}");
    move |e| Error::Build {
        what: what.clone(),
        message: e.to_string(),
    }
}

/// One package operation of a step, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolvedOp {
    /// `clean`.
    Clean,
    /// A transaction: what it installs or upgrades, what it erases (NEVRAs).
    Transaction {
        /// Installed or upgraded, in the resolver's order.
        packages: Vec<LockedPackage>,
        /// Erased, by NEVRA.
        erased: Vec<String>,
    },
}

/// The resolution of a package step, ready to download.
pub(crate) struct Resolved {
    /// The operations, in recipe order.
    pub(crate) ops: Vec<ResolvedOp>,
    store: slipway_yum::store::Store,
    transport: Transport,
    loc: Loc,
}

/// Resolve the operations of `step` against the rootfs's installed set
/// (`installed_text` = `rpm -qa` output).
pub(crate) fn resolve_step(
    root: &Path,
    image: &Image,
    step: &Step,
    ops: &[PackageOp],
    installed_text: &str,
    yum_store: &Path,
) -> Result<Resolved> {
    let arch = match step.personality {
        Personality::Linux32 => "i686",
        Personality::Linux64 => image.platform.yum_basearch(),
    };
    let vars = Vars::new(arch, RELEASEVER);
    let mut configs = Vec::new();
    for repo in &image.repos {
        match &repo.kind {
            RepoKind::File(path) => configs.extend(
                read_repo_file(&root.join(path), &vars).map_err(yum_err(&repo.loc, "repo file"))?,
            ),
            RepoKind::Source(_) | RepoKind::Rpm(_) => {
                return Err(Error::Unsupported {
                    loc: repo.loc.clone(),
                    what: format!("repo `{}` from a source or release RPM", repo.name),
                });
            }
        }
    }
    let transport = Transport::new().map_err(yum_err(&step.loc, "http client"))?;
    let store = slipway_yum::store::Store::new(yum_store);
    let repos = load_repos(
        &configs,
        &store,
        &transport,
        &LoadOptions {
            vars,
            format: Format::Xml,
        },
    )
    .map_err(yum_err(&step.loc, "loading the repositories"))?;
    let mut installed =
        slipway_yum::resolve::parse_installed(installed_text, Path::new("rpm -qa"), &repos)
            .map_err(yum_err(&step.loc, "the installed set"))?;
    let mut resolved = Vec::new();
    for op in ops {
        let (job, specs) = match op {
            PackageOp::Install(s) => (Job::Install, s.clone()),
            PackageOp::Update(s) => (
                Job::Update,
                s.iter().filter(|x| x.as_str() != "*").cloned().collect(),
            ),
            PackageOp::Erase(s) => (Job::Erase, s.clone()),
            PackageOp::Clean => {
                resolved.push(ResolvedOp::Clean);
                continue;
            }
            PackageOp::InstallLocal(_) | PackageOp::BuildDep(_) => {
                return Err(Error::Unsupported {
                    loc: step.loc.clone(),
                    what: "`install-local` and `builddep` operations".into(),
                });
            }
        };
        let tx = resolve(&repos, &installed, &Request { job, specs }, arch)
            .map_err(yum_err(&step.loc, "resolving"))?;
        let (_, remove) = tx.install_and_remove_sets();
        let erased: Vec<String> = tx
            .items
            .iter()
            .filter(|i| i.action == slipway_yum::resolve::Action::Erase)
            .map(|i| i.package.nevra())
            .collect();
        let lock = slipway_yum::Lock::from_transaction(&tx, &repos);
        resolved.push(ResolvedOp::Transaction {
            packages: lock.packages,
            erased,
        });
        installed.retain(|p| !remove.contains(&p.nevra()));
        installed.extend(
            tx.items
                .iter()
                .filter(|i| i.action != slipway_yum::resolve::Action::Erase)
                .map(|i| i.package.clone()),
        );
    }
    Ok(Resolved {
        ops: resolved,
        store,
        transport,
        loc: step.loc.clone(),
    })
}

/// The part of a package step's cache key that only the resolution knows:
/// every operation's packages (NEVRA + checksum, sorted) and erasures. The
/// URL and repository a package came from are left out: the same bytes from
/// another mirror make the same layer.
pub(crate) fn resolved_key(ops: &[ResolvedOp]) -> String {
    let mut h = crate::plan::KeyHasher::new();
    for op in ops {
        match op {
            ResolvedOp::Clean => h.field("op", "clean"),
            ResolvedOp::Transaction { packages, erased } => {
                h.field("op", "transaction");
                let mut ids: Vec<String> = packages
                    .iter()
                    .map(|p| {
                        format!(
                            "{}:{}-{}-{}.{} {}:{}",
                            p.epoch,
                            p.name,
                            p.version,
                            p.release,
                            p.arch,
                            p.checksum_type,
                            p.checksum
                        )
                    })
                    .collect();
                ids.sort();
                for id in ids {
                    h.field("package", id);
                }
                let mut erased = erased.clone();
                erased.sort();
                for e in erased {
                    h.field("erased", e);
                }
            }
        }
    }
    h.finish()
}

/// Check the resolution against the step's lock entry: the same NEVRAs (and
/// sha256 where the repository gives sha256 checksums).
pub(crate) fn check_lock(
    resolved: &[ResolvedOp],
    locked: &crate::lock::LockedStep,
    loc: &Loc,
) -> Result<()> {
    let mut got: Vec<(String, Option<String>)> = resolved
        .iter()
        .flat_map(|op| match op {
            ResolvedOp::Clean => Vec::new(),
            ResolvedOp::Transaction { packages, .. } => packages
                .iter()
                .map(|p| {
                    let sha = (p.checksum_type == "sha256").then(|| p.checksum.clone());
                    (
                        format!(
                            "{}:{}-{}-{}.{}",
                            p.epoch, p.name, p.version, p.release, p.arch
                        ),
                        sha,
                    )
                })
                .collect(),
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = locked
        .packages
        .iter()
        .map(|p| {
            format!(
                "{}:{}-{}-{}.{}",
                p.epoch, p.name, p.version, p.release, p.arch
            )
        })
        .collect();
    want.sort();
    let got_names: Vec<&String> = got.iter().map(|(n, _)| n).collect();
    let same_names =
        got_names.len() == want.len() && got_names.iter().zip(&want).all(|(a, b)| *a == b);
    let same_sums = got.iter().all(|(n, sha)| {
        sha.as_ref().is_none_or(|s| {
            locked.packages.iter().any(|p| {
                &format!(
                    "{}:{}-{}-{}.{}",
                    p.epoch, p.name, p.version, p.release, p.arch
                ) == n
                    && &p.sha256 == s
            })
        })
    });
    if same_names && same_sums {
        return Ok(());
    }
    Err(Error::Build {
        what: format!("{loc}: package step `{}`", locked.name),
        message: format!(
            "the repositories resolve to [{}], the lock has [{}]: run `slipway lock`",
            got_names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            want.join(", ")
        ),
    })
}

impl Resolved {
    /// Download (verified) what the operations install into `rpm_dir` and
    /// return the shell script that performs them with the rootfs's rpm,
    /// which expects `rpm_dir` at `/inputs/rpms`.
    pub(crate) fn materialize(&self, rpm_dir: &Path, jobs: usize) -> Result<String> {
        let mut script = String::from("set -eux\n");
        fs_err::create_dir_all(rpm_dir).map_err(|e| Error::io(rpm_dir, e))?;
        for op in &self.ops {
            let (packages, erased) = match op {
                ResolvedOp::Clean => {
                    script.push_str("rm -rf /var/cache/yum\n");
                    continue;
                }
                ResolvedOp::Transaction { packages, erased } => (packages, erased),
            };
            if !packages.is_empty() {
                let files = slipway_yum::download::download(
                    packages,
                    &self.store,
                    &self.transport,
                    &slipway_yum::download::DownloadOptions {
                        jobs,
                        signature: None,
                    },
                    &slipway_yum::download::NoReporter,
                )
                .map_err(yum_err(&self.loc, "downloading"))?;
                let mut names = Vec::new();
                for file in files {
                    let name = file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let target = rpm_dir.join(&name);
                    if !target.exists() {
                        fs_err::copy(&file, &target).map_err(|e| Error::io(&target, e))?;
                    }
                    names.push(format!("/inputs/rpms/{name}"));
                }
                script.push_str(&format!(
                    "rpm -Uvh --nodeps --oldpackage --replacepkgs {}\n",
                    names.join(" ")
                ));
            }
            if !erased.is_empty() {
                script.push_str(&format!("rpm -e --nodeps {}\n", erased.join(" ")));
            }
        }
        Ok(script)
    }
}

/// Where the RPMs of a step are gathered (inside the store's tmp).
pub(crate) fn rpm_dir(tmp: &Path, key: &str) -> PathBuf {
    tmp.join(format!("rpms-{}", super::store::key_hex(key)))
}

#[cfg(test)]
mod tests {
    use super::{LockedPackage, ResolvedOp, resolved_key};

    fn package(name: &str, version: &str, checksum: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            epoch: 0,
            version: version.into(),
            release: "1.el6".into(),
            arch: "x86_64".into(),
            repo: "base".into(),
            url: format!("http://mirror.example/{name}-{version}.rpm"),
            size: 100,
            checksum_type: "sha256".into(),
            checksum: checksum.into(),
        }
    }

    fn op(packages: Vec<LockedPackage>) -> Vec<ResolvedOp> {
        vec![
            ResolvedOp::Transaction {
                packages,
                erased: vec!["old-1-1.x86_64".into()],
            },
            ResolvedOp::Clean,
        ]
    }

    #[test]
    fn resolved_key_covers_nevra_and_checksum_only() {
        let base = vec![package("a", "1.0", "aa"), package("b", "2.0", "bb")];
        let key = resolved_key(&op(base.clone()));

        // A new version in the repository, or the same NEVRA rebuilt.
        let mut newer = base.clone();
        newer[1].version = "2.1".into();
        assert_ne!(resolved_key(&op(newer)), key);
        let mut rebuilt = base.clone();
        rebuilt[0].checksum = "cc".into();
        assert_ne!(resolved_key(&op(rebuilt)), key);
        let mut epoch = base.clone();
        epoch[0].epoch = 1;
        assert_ne!(resolved_key(&op(epoch)), key);
        let erased_other = vec![ResolvedOp::Transaction {
            packages: base.clone(),
            erased: vec!["other-1-1.x86_64".into()],
        }];
        assert_ne!(
            resolved_key(&erased_other),
            resolved_key(&op(base.clone())[..1])
        );

        // Where the bytes come from, and the resolver's order, do not count.
        let mut moved = base.clone();
        for p in &mut moved {
            p.url = p.url.replace("mirror.example", "other.example");
            p.repo = "updates".into();
        }
        moved.reverse();
        assert_eq!(resolved_key(&op(moved)), key);
    }
}
