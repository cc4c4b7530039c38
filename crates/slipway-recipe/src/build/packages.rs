//! Package steps: slipway-yum resolves against the rootfs's installed set and
//! downloads (verified); the rootfs's own `rpm` runs the transaction in the
//! sandbox, so scriptlets run and the rpmdb is in the format that rpm expects.
//!
//! Dependencies were resolved by slipway, so `rpm` gets `--nodeps` (a builder
//! whose base system is not in its rpmdb could not satisfy them otherwise).

use std::path::{Path, PathBuf};

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

/// Resolve and download the operations of `step`; return the shell script
/// that performs them with the rootfs's rpm, and the directory of RPM files
/// it expects at `/inputs/rpms`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare(
    root: &Path,
    image: &Image,
    step: &Step,
    ops: &[PackageOp],
    installed_text: &str,
    yum_store: &Path,
    rpm_dir: &Path,
    jobs: usize,
) -> Result<String> {
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
    let mut script = String::from("set -eux\n");
    fs_err::create_dir_all(rpm_dir).map_err(|e| Error::io(rpm_dir, e))?;
    for op in ops {
        let (job, specs) = match op {
            PackageOp::Install(s) => (Job::Install, s.clone()),
            PackageOp::Update(s) => (
                Job::Update,
                s.iter().filter(|x| x.as_str() != "*").cloned().collect(),
            ),
            PackageOp::Erase(s) => (Job::Erase, s.clone()),
            PackageOp::Clean => {
                script.push_str("rm -rf /var/cache/yum\n");
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
        let to_install: Vec<_> = lock.packages.clone();
        if !to_install.is_empty() {
            let files = slipway_yum::download::download(
                &to_install,
                &store,
                &transport,
                &slipway_yum::download::DownloadOptions {
                    jobs,
                    signature: None,
                },
                &slipway_yum::download::NoReporter,
            )
            .map_err(yum_err(&step.loc, "downloading"))?;
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
        installed.retain(|p| !remove.contains(&p.nevra()));
        installed.extend(
            tx.items
                .iter()
                .filter(|i| i.action != slipway_yum::resolve::Action::Erase)
                .map(|i| i.package.clone()),
        );
    }
    Ok(script)
}

/// Where the RPMs of a step are gathered (inside the store's tmp).
pub(crate) fn rpm_dir(tmp: &Path, key: &str) -> PathBuf {
    tmp.join(format!("rpms-{}", super::store::key_hex(key)))
}
