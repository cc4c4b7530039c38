//! Package steps: slipway-yum resolves against the rootfs's installed set and
//! downloads (verified); the rootfs's own `rpm` runs the transaction in the
//! sandbox, so scriptlets run and the rpmdb is in the format that rpm expects.
//!
//! Dependencies were resolved by slipway, so `rpm` gets `--nodeps` (a builder
//! whose base system is not in its rpmdb could not satisfy them otherwise).
//!
//! Repositories come from `.repo` files in the recipe, `.repo` files fetched
//! as (pinned) sources, or release RPMs (`epel-release`): the `.repo` files
//! of the RPM's payload are used, and the RPM is installed by the step unless
//! the rootfs has it. With `gpgcheck=1` every downloaded package must verify
//! against the repository's `gpgkey`s; a `file:///` key is looked up in the
//! release RPM's payload, then in the rootfs the step runs over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_yum::LockedPackage;
use slipway_yum::evr::{Dep, Evr, Flag};
use slipway_yum::gpg::RepoKeys;
use slipway_yum::repodata::Package;
use slipway_yum::repofile::{RepoConfig, Vars, read_repo_file};
use slipway_yum::resolve::{Job, Request, resolve};
use slipway_yum::source::{Format, LoadOptions, load_repos};
use slipway_yum::store::Transport;

use slipway_recipe::Loc;
use slipway_recipe::lock::{LockedErase, LockedSkip, LockedStep};
use slipway_recipe::{Image, PackageOp, Personality, RepoKind, Step};

use crate::error::{Error, Result};

/// What `$releasever` expands to while neither the recipe nor the rootfs
/// says: a repository that uses it is then an error.
const UNKNOWN_RELEASEVER: &str = "\u{1}releasever-unknown\u{1}";

/// yum's `$releasever` as the rootfs says: the major version in
/// `/etc/redhat-release` (`CentOS release 6.9 (Final)` → `6`, as the
/// `centos-release` package's version is), else `VERSION_ID` of
/// `/etc/os-release` (`"12"`).
fn releasever_of(files: &StepFiles<'_>) -> Option<String> {
    let read = |path: &str| {
        files
            .in_rootfs(path)
            .and_then(|p| fs_err::read_to_string(p).ok())
    };
    for release in ["/etc/redhat-release", "/etc/system-release"] {
        if let Some(v) = read(release).as_deref().and_then(redhat_release_major) {
            return Some(v);
        }
    }
    read("/etc/os-release")
        .as_deref()
        .and_then(os_release_version)
}

/// `Name release 6.9 (Final)` → `6`.
fn redhat_release_major(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "release")?;
    let version = words.get(at + 1)?;
    let major = version.split('.').next()?;
    (!major.is_empty() && major.chars().all(|c| c.is_ascii_digit())).then(|| major.to_owned())
}

/// `VERSION_ID="12"` → `12`.
fn os_release_version(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_ID="))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
        .filter(|v| !v.is_empty())
}

fn yum_err(loc: &Loc, what: &str) -> impl Fn(slipway_yum::Error) -> Error {
    let what = format!("{loc}: {what}");
    move |source| Error::Yum {
        what: what.clone(),
        source: Box::new(source),
    }
}

/// One package operation of a step, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolvedOp {
    /// `clean`.
    Clean,
    /// `install-local`: RPM files matched by these globs under the step's
    /// `from-image` directory (its content is in the key through the
    /// image's), and what they need from the repositories.
    Local {
        /// The globs.
        globs: Vec<String>,
        /// Packages from the repositories the local RPMs require.
        deps: Vec<LockedPackage>,
    },
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
    /// Release RPMs to install first (when not installed): `(name, file)`.
    pub(crate) release_rpms: Vec<(String, PathBuf)>,
    keys: RepoKeys,
    store: slipway_yum::store::Store,
    transport: Transport,
    loc: Loc,
    /// sha256 a downloaded file must have, by NEVRA, where the repository's
    /// checksum is of another kind (a locked package from a sha1 repo).
    file_sha256: BTreeMap<String, String>,
    /// Names that matched nothing and were skipped, as yum 3 does:
    /// `(operation (1 = first), name)`.
    pub(crate) skipped: Vec<(u32, String)>,
}

/// What a package step reads besides the recipe: the image's fetched sources
/// (name → directory holding the file), a scratch directory of its own, and
/// the trees it runs over (top-most first).
pub(crate) struct StepFiles<'a> {
    /// Fetched sources: name → directory holding the file.
    pub(crate) sources: &'a BTreeMap<String, PathBuf>,
    /// A directory for the step alone (release RPMs are unpacked there).
    pub(crate) scratch: &'a Path,
    /// The rootfs trees the step runs over, top-most first.
    pub(crate) lowers: &'a [PathBuf],
    /// The step's `from-image` directory, copied out (`install-local`).
    pub(crate) from_image: Option<&'a Path>,
    /// `--offline`: repositories and packages from the store only.
    pub(crate) offline: bool,
}

impl StepFiles<'_> {
    /// The fetched file of source `name`.
    fn source(&self, image: &Image, name: &str, loc: &Loc) -> Result<PathBuf> {
        let file = image.source(name).map(|s| s.file_name.clone());
        match (self.sources.get(name), file) {
            (Some(dir), Some(file)) => Ok(dir.join(file)),
            _ => Err(Error::Build {
                what: format!("{loc}: source `{name}`"),
                message: "not fetched (is it declared in `[[sources]]`?)".into(),
            }),
        }
    }

    /// `/abs/path` in the rootfs the step runs over (no overlay whiteouts
    /// are followed: enough for key files).
    fn in_rootfs(&self, abs: &str) -> Option<PathBuf> {
        let rel = abs.trim_start_matches('/');
        self.lowers
            .iter()
            .map(|l| l.join(rel))
            .find(|p| p.is_file())
    }
}

/// The `.repo` files in a release RPM's payload (unpacked into `dir`), with
/// `file:///` keys pointing into the payload when it holds them.
fn release_repos(rpm: &Path, dir: &Path, vars: &Vars, loc: &Loc) -> Result<Vec<RepoConfig>> {
    let rpm_err = |source| Error::Rpm {
        what: format!("{loc}: release RPM `{}`", rpm.display()),
        source: Box::new(source),
    };
    if dir.exists() {
        fs_err::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    slipway_rpm::extract_to(rpm, dir).map_err(rpm_err)?;
    let repos_dir = dir.join("etc/yum.repos.d");
    let mut files: Vec<PathBuf> = fs_err::read_dir(&repos_dir)
        .map_err(|e| Error::io(&repos_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "repo"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Build {
            what: format!("{loc}: release RPM `{}`", rpm.display()),
            message: "its payload has no /etc/yum.repos.d/*.repo".into(),
        });
    }
    let mut configs = Vec::new();
    for file in files {
        configs.extend(read_repo_file(&file, vars).map_err(yum_err(loc, "release RPM repo file"))?);
    }
    for key in configs.iter_mut().flat_map(|c| c.gpgkeys.iter_mut()) {
        if let Some(rel) = key.strip_prefix("file:///") {
            let local = dir.join(rel);
            if local.is_file() {
                *key = format!("file://{}", local.display());
            }
        }
    }
    Ok(configs)
}

/// The repositories of a package step, loaded.
struct Loaded {
    repos: Vec<slipway_yum::Repo>,
    release_rpms: Vec<(String, PathBuf)>,
    keys: RepoKeys,
    store: slipway_yum::store::Store,
    transport: Transport,
    arch: &'static str,
}

impl Loaded {
    fn into_resolved(self, ops: Vec<ResolvedOp>, loc: &Loc) -> Resolved {
        self.into_resolved_checked(ops, loc, BTreeMap::new())
    }

    fn into_resolved_checked(
        self,
        ops: Vec<ResolvedOp>,
        loc: &Loc,
        file_sha256: BTreeMap<String, String>,
    ) -> Resolved {
        Resolved {
            ops,
            release_rpms: self.release_rpms,
            keys: self.keys,
            store: self.store,
            transport: self.transport,
            loc: loc.clone(),
            file_sha256,
            skipped: Vec::new(),
        }
    }
}

/// Load the repositories `image` defines, for `step`'s architecture.
fn load_step_repos(
    root: &Path,
    image: &Image,
    step: &Step,
    yum_store: &Path,
    files: &StepFiles<'_>,
) -> Result<Loaded> {
    let arch = match step.personality {
        Personality::Linux32 => "i686",
        Personality::Linux64 => image.platform.yum_basearch(),
    };
    let releasever = image
        .releasever
        .clone()
        .or_else(|| releasever_of(files))
        .unwrap_or_else(|| UNKNOWN_RELEASEVER.to_owned());
    let vars = Vars::new(arch, &releasever);
    let mut configs = Vec::new();
    let mut release_rpms = Vec::new();
    for repo in &image.repos {
        match &repo.kind {
            RepoKind::File(path) => configs.extend(
                read_repo_file(&root.join(path), &vars).map_err(yum_err(&repo.loc, "repo file"))?,
            ),
            RepoKind::Source(name) => {
                let path = files.source(image, name, &repo.loc)?;
                configs.extend(
                    read_repo_file(&path, &vars).map_err(yum_err(&repo.loc, "repo source"))?,
                );
            }
            RepoKind::Rpm(name) => {
                let rpm = files.source(image, name, &repo.loc)?;
                let dir = files.scratch.join(format!("release-{name}"));
                configs.extend(release_repos(&rpm, &dir, &vars, &repo.loc)?);
                let header = slipway_rpm::read_header(&rpm).map_err(|source| Error::Rpm {
                    what: format!("{}: release RPM `{}`", repo.loc, rpm.display()),
                    source: Box::new(source),
                })?;
                release_rpms.push((header.name.clone(), rpm));
            }
        }
    }
    if let Some(c) = configs.iter().find(|c| {
        c.baseurls
            .iter()
            .chain(&c.mirrorlist)
            .chain(&c.gpgkeys)
            .any(|u| u.contains(UNKNOWN_RELEASEVER))
    }) {
        return Err(Error::Build {
            what: format!("{}: repository `{}`", step.loc, c.id),
            message: "its URLs use `$releasever`, but the image sets no `releasever` and the \
                      rootfs has no /etc/redhat-release or /etc/os-release VERSION_ID: set \
                      `releasever = \"6\"` (for example) in the image"
                .into(),
        });
    }
    // Keys named by a path in the image come from the rootfs.
    for key in configs.iter_mut().flat_map(|c| c.gpgkeys.iter_mut()) {
        if let Some(abs) = key.strip_prefix("file://")
            && !Path::new(abs).starts_with(files.scratch)
            && let Some(local) = files.in_rootfs(abs)
        {
            *key = format!("file://{}", local.display());
        }
    }
    let transport = if files.offline {
        Transport::offline()
    } else {
        Transport::new()
    }
    .map_err(yum_err(&step.loc, "http client"))?;
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
    let keys =
        RepoKeys::load(&configs, &transport).map_err(yum_err(&step.loc, "repository keys"))?;
    Ok(Loaded {
        repos,
        release_rpms,
        keys,
        store,
        transport,
        arch,
    })
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
    files: &StepFiles<'_>,
) -> Result<Resolved> {
    let loaded = load_step_repos(root, image, step, yum_store, files)?;
    let (repos, arch) = (&loaded.repos, loaded.arch);
    let mut installed =
        slipway_yum::resolve::parse_installed(installed_text, Path::new("rpm -qa"), repos)
            .map_err(yum_err(&step.loc, "the installed set"))?;
    let mut resolved = Vec::new();
    let mut skipped = Vec::new();
    for (n, op) in (1u32..).zip(ops) {
        // `builddep`: the versions its BuildRequires ask for.
        let mut constraints: Vec<Dep> = Vec::new();
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
            PackageOp::InstallLocal(globs) => {
                let (deps, tx) = resolve_local(repos, &installed, globs, arch, files, &step.loc)?;
                let (_, remove) = tx.install_and_remove_sets();
                installed.retain(|p| !remove.contains(&p.nevra()));
                installed.extend(tx.to_install().map(|i| i.package.clone()));
                resolved.push(ResolvedOp::Local {
                    globs: globs.clone(),
                    deps,
                });
                continue;
            }
            PackageOp::BuildDep(source) => {
                let srpm = files.source(image, source, &step.loc)?;
                let deps = build_requires(&srpm, &step.loc)?;
                let mut names: Vec<String> = deps.iter().map(|d| d.name.clone()).collect();
                names.dedup();
                constraints = deps;
                (Job::Install, names)
            }
        };
        let tx = resolve(repos, &installed, &Request { job, specs }, arch)
            .map_err(yum_err(&step.loc, "resolving"))?;
        skipped.extend(tx.skipped.iter().map(|name| (n, name.clone())));
        let (_, remove) = tx.install_and_remove_sets();
        let erased: Vec<String> = tx
            .items
            .iter()
            .filter(|i| i.action == slipway_yum::resolve::Action::Erase)
            .map(|i| i.package.nevra())
            .collect();
        let lock = slipway_yum::Lock::from_transaction(&tx, repos);
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
        let unmet = unmet(&constraints, &installed);
        if !unmet.is_empty() {
            return Err(Error::Build {
                what: format!("{}: builddep in step `{}`", step.loc, step.name),
                message: format!(
                    "the repositories do not satisfy the source RPM's BuildRequires {}",
                    unmet
                        .iter()
                        .map(|(dep, have)| format!("`{dep}` (there is {have})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let mut resolved = loaded.into_resolved(resolved, &step.loc);
    resolved.skipped = skipped;
    Ok(resolved)
}

/// Resolve an `install-local` operation: the RPMs its globs match under the
/// step's `from-image` directory, installed with what they require from the
/// installed set or the repositories. Returns the packages needed from the
/// repositories, and the transaction (the local RPMs included).
fn resolve_local(
    repos: &[slipway_yum::Repo],
    installed: &[Package],
    globs: &[String],
    arch: &str,
    files: &StepFiles<'_>,
    loc: &Loc,
) -> Result<(Vec<LockedPackage>, slipway_yum::resolve::Transaction)> {
    let dir = files.from_image.ok_or_else(|| Error::Build {
        what: format!("{loc}: install-local"),
        message: "the step has no `from-image` directory".into(),
    })?;
    let mut local = Vec::new();
    for file in local_rpms(dir, globs, loc)? {
        let header = slipway_rpm::read_header(&file).map_err(|source| Error::Rpm {
            what: format!("{loc}: install-local `{}`", file.display()),
            source: Box::new(source),
        })?;
        let rel = file
            .strip_prefix(dir)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_default();
        local.push(header_package(&header, rel));
    }
    let specs: Vec<String> = local.iter().map(Package::nevra).collect();
    let mut all: Vec<slipway_yum::Repo> = repos.to_vec();
    all.push(slipway_yum::Repo::from_packages(
        RepoConfig::with_baseurl(LOCAL_REPO, &format!("file://{}", dir.display())),
        local,
    ));
    let tx = resolve(
        &all,
        installed,
        &Request {
            job: Job::Install,
            specs,
        },
        arch,
    )
    .map_err(yum_err(
        loc,
        "resolving the install-local RPMs' requirements",
    ))?;
    let deps = slipway_yum::Lock::from_transaction(&tx, &all)
        .packages
        .into_iter()
        .filter(|p| p.repo != LOCAL_REPO)
        .collect();
    Ok((deps, tx))
}

/// The pseudo repository of `install-local` RPMs.
const LOCAL_REPO: &str = "@install-local";

fn dep_of(d: &slipway_rpm::Dependency) -> Dep {
    match (
        sense_flag(d.flags),
        d.evr.as_deref().filter(|e| !e.is_empty()),
    ) {
        (Some(flag), Some(evr)) => Dep {
            name: d.name.clone(),
            flag: Some(flag),
            evr: Some(Evr::parse(evr)),
        },
        _ => Dep::name(d.name.clone()),
    }
}

/// An RPM's header as the resolver sees a repository package.
fn header_package(header: &slipway_rpm::Header, location: String) -> Package {
    let deps = |list: &[slipway_rpm::Dependency]| -> Vec<Dep> {
        list.iter()
            .filter(|d| !d.name.starts_with("rpmlib("))
            .map(dep_of)
            .collect()
    };
    Package {
        name: header.name.clone(),
        arch: header.arch.clone(),
        evr: Evr::new(
            header.epoch.unwrap_or(0),
            header.version.clone(),
            header.release.clone(),
        ),
        checksum: slipway_yum::repodata::Checksum {
            kind: "none".into(),
            value: String::new(),
        },
        location,
        location_base: None,
        size: 0,
        sourcerpm: header.sourcerpm.clone().unwrap_or_default(),
        provides: deps(&header.provides),
        requires: deps(&header.requires),
        conflicts: deps(&header.conflicts),
        obsoletes: deps(&header.obsoletes),
        files: header.files.iter().map(|f| f.path.clone()).collect(),
    }
}

/// The operations of `step` as its lock entry pins them: each locked
/// package looked up in the repositories by NEVRA (no resolution), its
/// checksum compared with the locked sha256. A repository that gained newer
/// packages still gives the locked ones; one that lost a locked package is an
/// error naming it.
pub(crate) fn locked_step(
    root: &Path,
    image: &Image,
    step: &Step,
    ops: &[PackageOp],
    locked: &LockedStep,
    yum_store: &Path,
    files: &StepFiles<'_>,
) -> Result<Resolved> {
    let loaded = load_step_repos(root, image, step, yum_store, files)?;
    let what = format!("{}: package step `{}`", step.loc, step.name);
    let count = u32::try_from(ops.len()).unwrap_or(u32::MAX);
    if let Some(op) = locked
        .packages
        .iter()
        .map(|p| p.op)
        .chain(locked.erased.iter().map(|e| e.op))
        .find(|op| *op == 0 || *op > count)
    {
        return Err(Error::Build {
            what,
            message: format!(
                "its lock entry names operation {op}, but the step has {count}: run `slipway lock`"
            ),
        });
    }
    let mut file_sha256 = BTreeMap::new();
    let mut resolved = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match op {
            PackageOp::Clean => resolved.push(ResolvedOp::Clean),
            PackageOp::InstallLocal(globs) => {
                let mut deps = Vec::new();
                for want in locked.packages.iter().filter(|p| p.op == n) {
                    let (found, check) = find_locked(&loaded.repos, want, &what)?;
                    if let Some(sha256) = check {
                        file_sha256.insert(found.nevra(), sha256);
                    }
                    deps.push(found);
                }
                resolved.push(ResolvedOp::Local {
                    globs: globs.clone(),
                    deps,
                });
            }
            PackageOp::Install(_)
            | PackageOp::Update(_)
            | PackageOp::Erase(_)
            | PackageOp::BuildDep(_) => {
                let mut packages = Vec::new();
                for want in locked.packages.iter().filter(|p| p.op == n) {
                    let (found, check) = find_locked(&loaded.repos, want, &what)?;
                    if let Some(sha256) = check {
                        file_sha256.insert(found.nevra(), sha256);
                    }
                    packages.push(found);
                }
                let erased = locked
                    .erased
                    .iter()
                    .filter(|e| e.op == n)
                    .map(|e| e.nevra.clone())
                    .collect();
                resolved.push(ResolvedOp::Transaction { packages, erased });
            }
        }
    }
    let mut resolved = loaded.into_resolved_checked(resolved, &step.loc, file_sha256);
    resolved.skipped = locked
        .skipped
        .iter()
        .map(|s| (s.op, s.name.clone()))
        .collect();
    Ok(resolved)
}

/// The repository package a lock entry names, with the sha256 the
/// downloaded file must still be checked against when the repository's
/// checksum is not a sha256.
fn find_locked(
    repos: &[slipway_yum::Repo],
    want: &slipway_recipe::lock::LockedPackage,
    what: &str,
) -> Result<(LockedPackage, Option<String>)> {
    let mut other_sums = Vec::new();
    let mut fallback = None;
    for repo in repos {
        for p in &repo.packages {
            if p.name != want.name
                || p.arch != want.arch
                || p.evr.epoch != want.epoch
                || p.evr.version != want.version
                || p.evr.release != want.release
            {
                continue;
            }
            let locked = LockedPackage {
                name: p.name.clone(),
                epoch: p.evr.epoch,
                version: p.evr.version.clone(),
                release: p.evr.release.clone(),
                arch: p.arch.clone(),
                repo: repo.config.id.clone(),
                url: repo.package_url(p),
                size: p.size,
                checksum_type: p.checksum.kind.clone(),
                checksum: p.checksum.value.clone(),
            };
            if p.checksum.kind == "sha256" {
                if p.checksum.value.eq_ignore_ascii_case(&want.sha256) {
                    return Ok((locked, None));
                }
                other_sums.push(format!("{} in `{}`", p.checksum.value, repo.config.id));
            } else if fallback.is_none() {
                fallback = Some(locked);
            }
        }
    }
    if let Some(found) = fallback {
        return Ok((found, Some(want.sha256.clone())));
    }
    let ids: Vec<&str> = repos.iter().map(|r| r.config.id.as_str()).collect();
    let message = if other_sums.is_empty() {
        format!(
            "the locked package `{}` (sha256 {}) is in none of the repositories ({}): \
             run `slipway lock --update` to resolve the step again",
            want.nevra(),
            want.sha256,
            ids.join(", ")
        )
    } else {
        format!(
            "the locked package `{}` has sha256 {} in the lock but {} in the repositories: \
             the repository rebuilt it; run `slipway lock --update` to pin the new file",
            want.nevra(),
            want.sha256,
            other_sums.join(", ")
        )
    };
    Err(Error::Build {
        what: what.to_owned(),
        message,
    })
}

/// A package's identity in keys: NEVRA and repodata checksum.
fn package_id(p: &LockedPackage) -> String {
    format!(
        "{}:{}-{}-{}.{} {}:{}",
        p.epoch, p.name, p.version, p.release, p.arch, p.checksum_type, p.checksum
    )
}

/// The part of a package step's cache key that only the resolution knows:
/// every operation's packages (NEVRA + checksum, sorted) and erasures. The
/// URL and repository a package came from are left out: the same bytes from
/// another mirror make the same layer.
pub(crate) fn resolved_key(ops: &[ResolvedOp]) -> String {
    let mut h = slipway_recipe::key::KeyHasher::new();
    for op in ops {
        match op {
            ResolvedOp::Clean => h.field("op", "clean"),
            ResolvedOp::Local { globs, deps } => {
                h.field("op", "local");
                for g in globs {
                    h.field("glob", g);
                }
                let mut ids: Vec<String> = deps.iter().map(package_id).collect();
                ids.sort();
                for id in ids {
                    h.field("package", id);
                }
            }
            ResolvedOp::Transaction { packages, erased } => {
                h.field("op", "transaction");
                let mut ids: Vec<String> = packages.iter().map(package_id).collect();
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

impl Resolved {
    /// Check a downloaded file against the locked sha256 when the
    /// repository's own checksum was of another kind.
    fn check_file_sha256(&self, package: &LockedPackage, file: &Path) -> Result<()> {
        let Some(want) = self.file_sha256.get(&package.nevra()) else {
            return Ok(());
        };
        let got = sha256_file(file)?;
        if got.eq_ignore_ascii_case(want) {
            return Ok(());
        }
        Err(Error::DigestMismatch {
            what: format!(
                "{}: locked package `{}` from {}",
                self.loc,
                package.nevra(),
                package.url
            ),
            expected: want.clone(),
            actual: got,
        })
    }

    /// The lock entry of this resolution, for step `name` asking for
    /// `request`: every operation's packages (NEVRA, sha256, URL) and
    /// erasures. A package whose repository gives no sha256 checksum is
    /// downloaded (into the yum store) and hashed.
    pub(crate) fn to_locked(&self, name: &str, request: &str, jobs: usize) -> Result<LockedStep> {
        let mut step = LockedStep {
            name: name.to_owned(),
            request: request.to_owned(),
            ..LockedStep::default()
        };
        for (i, op) in self.ops.iter().enumerate() {
            let (packages, erased): (&[LockedPackage], &[String]) = match op {
                ResolvedOp::Transaction { packages, erased } => (packages, erased),
                ResolvedOp::Local { deps, .. } => (deps, &[]),
                ResolvedOp::Clean => continue,
            };
            let op = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let unsummed: Vec<LockedPackage> = packages
                .iter()
                .filter(|p| p.checksum_type != "sha256")
                .cloned()
                .collect();
            let mut hashed = BTreeMap::new();
            if !unsummed.is_empty() {
                let files = slipway_yum::download::download(
                    &unsummed,
                    &self.store,
                    &self.transport,
                    &slipway_yum::download::DownloadOptions {
                        jobs,
                        signature: None,
                    },
                    &slipway_yum::download::NoReporter,
                )
                .map_err(yum_err(&self.loc, "downloading to hash"))?;
                for (p, file) in unsummed.iter().zip(files) {
                    hashed.insert(p.nevra(), sha256_file(&file)?);
                }
            }
            for p in packages {
                let sha256 = match hashed.get(&p.nevra()) {
                    Some(h) => h.clone(),
                    None => p.checksum.to_ascii_lowercase(),
                };
                step.packages.push(slipway_recipe::lock::LockedPackage {
                    op,
                    name: p.name.clone(),
                    epoch: p.epoch,
                    version: p.version.clone(),
                    release: p.release.clone(),
                    arch: p.arch.clone(),
                    sha256,
                    url: p.url.clone(),
                });
            }
            step.erased.extend(erased.iter().map(|nevra| LockedErase {
                op,
                nevra: nevra.clone(),
            }));
        }
        step.skipped = self
            .skipped
            .iter()
            .map(|(op, name)| LockedSkip {
                op: *op,
                name: name.clone(),
            })
            .collect();
        step.packages.sort();
        step.erased.sort();
        step.skipped.sort();
        Ok(step)
    }

    /// Download (verified) what the operations install into `rpm_dir` and
    /// return the shell script that performs them with the rootfs's rpm,
    /// which expects `rpm_dir` at `/inputs/rpms`.
    pub(crate) fn materialize(
        &self,
        rpm_dir: &Path,
        jobs: usize,
        from_image: Option<&Path>,
    ) -> Result<String> {
        let mut script = String::from("set -eux\n");
        fs_err::create_dir_all(rpm_dir).map_err(|e| Error::io(rpm_dir, e))?;
        for (name, rpm) in &self.release_rpms {
            let file = rpm
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let target = rpm_dir.join(&file);
            fs_err::copy(rpm, &target).map_err(|e| Error::io(&target, e))?;
            script.push_str(&format!(
                "rpm -q --quiet {name} || rpm -Uvh --nodeps /inputs/rpms/{file}\n"
            ));
        }
        let check = |p: &LockedPackage, path: &Path| self.keys.check(p, path);
        for op in &self.ops {
            let (packages, local, erased): (&[LockedPackage], Vec<PathBuf>, &[String]) = match op {
                ResolvedOp::Clean => {
                    script.push_str("rm -rf /var/cache/yum\n");
                    continue;
                }
                ResolvedOp::Local { globs, deps } => {
                    let dir = from_image.ok_or_else(|| Error::Build {
                        what: format!("{}: install-local", self.loc),
                        message: "the step has no `from-image` directory".into(),
                    })?;
                    (deps, local_rpms(dir, globs, &self.loc)?, &[])
                }
                ResolvedOp::Transaction { packages, erased } => (packages, Vec::new(), erased),
            };
            let mut files = local;
            if !packages.is_empty() {
                let downloaded = slipway_yum::download::download(
                    packages,
                    &self.store,
                    &self.transport,
                    &slipway_yum::download::DownloadOptions {
                        jobs,
                        signature: Some(&check),
                    },
                    &slipway_yum::download::NoReporter,
                )
                .map_err(yum_err(&self.loc, "downloading"))?;
                for (p, file) in packages.iter().zip(&downloaded) {
                    self.check_file_sha256(p, file)?;
                }
                files.extend(downloaded);
            }
            if !files.is_empty() {
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

/// The files under `dir` (relative paths) matched by `globs`, sorted; a glob
/// that matches nothing is an error.
pub(crate) fn local_rpms(dir: &Path, globs: &[String], loc: &Loc) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        for entry in fs_err::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push((rel.to_string_lossy().into_owned(), path.clone()));
            }
        }
        Ok(())
    }
    let mut all = Vec::new();
    walk(dir, dir, &mut all)?;
    all.sort();
    let mut found = Vec::new();
    for glob in globs {
        let matched: Vec<&PathBuf> = all
            .iter()
            .filter(|(rel, _)| slipway_yum::repofile::glob_match(glob, rel))
            .map(|(_, p)| p)
            .collect();
        if matched.is_empty() {
            return Err(Error::Build {
                what: format!("{loc}: install-local `{glob}`"),
                message: format!(
                    "matches no file under the from-image directory ({} files)",
                    all.len()
                ),
            });
        }
        found.extend(matched.into_iter().cloned());
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// What `yum-builddep` installs for a source RPM: its requirements, with
/// their version constraints (rpmlib features left out).
fn build_requires(srpm: &Path, loc: &Loc) -> Result<Vec<Dep>> {
    let header = slipway_rpm::read_header(srpm).map_err(|source| Error::Rpm {
        what: format!("{loc}: builddep `{}`", srpm.display()),
        source: Box::new(source),
    })?;
    let mut deps: Vec<Dep> = header
        .requires
        .iter()
        .filter(|d| !d.name.starts_with("rpmlib("))
        .map(dep_of)
        .collect();
    deps.sort();
    deps.dedup();
    Ok(deps)
}

/// The comparison of an rpm header dependency's `RPMSENSE_*` flags.
fn sense_flag(flags: u32) -> Option<Flag> {
    use slipway_rpm::header::sense::{EQUAL, GREATER, LESS};
    match (flags & LESS != 0, flags & EQUAL != 0, flags & GREATER != 0) {
        (false, true, false) => Some(Flag::Eq),
        (true, false, false) => Some(Flag::Lt),
        (false, false, true) => Some(Flag::Gt),
        (true, true, false) => Some(Flag::Le),
        (false, true, true) => Some(Flag::Ge),
        _ => None,
    }
}

/// The versioned requirements of `deps` no package of `installed` provides,
/// each with what the installed set has of that name instead.
fn unmet<'a>(
    deps: &'a [Dep],
    installed: &[slipway_yum::repodata::Package],
) -> Vec<(&'a Dep, String)> {
    deps.iter()
        .filter(|d| d.flag.is_some())
        .filter(|d| {
            !installed.iter().any(|p| {
                p.provides
                    .iter()
                    .any(|pr| pr.name == d.name && d.range_overlaps(pr))
                    || (p.name == d.name && d.matches_evr(&p.evr))
            })
        })
        .map(|d| {
            let have: Vec<String> = installed
                .iter()
                .filter(|p| p.name == d.name || p.provides.iter().any(|pr| pr.name == d.name))
                .map(slipway_yum::repodata::Package::nevra)
                .collect();
            let have = if have.is_empty() {
                "none".to_owned()
            } else {
                have.join(", ")
            };
            (d, have)
        })
        .collect()
}

fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest as _;
    let mut file = fs_err::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Where the RPMs of a step are gathered (inside the store's tmp).
pub(crate) fn rpm_dir(tmp: &Path, key: &str) -> PathBuf {
    tmp.join(format!("rpms-{}", crate::store::key_hex(key)))
}

#[cfg(test)]
mod tests {
    use slipway_yum::evr::{Dep, Evr, Flag};
    use slipway_yum::repodata::Package;

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
    fn install_local_globs_match_under_the_from_image_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        for f in [
            "x86_64/glibc-2.12.rpm",
            "x86_64/glibc-devel-2.12.rpm",
            "noarch/n.rpm",
        ] {
            let p = dir.path().join(f);
            fs_err::create_dir_all(p.parent().expect("parent")).expect("dir");
            fs_err::write(&p, b"").expect("file");
        }
        let loc = slipway_recipe::Loc {
            file: "x.toml".into(),
            line: 1,
        };
        let found = super::local_rpms(dir.path(), &["x86_64/*.rpm".into()], &loc).expect("globs");
        let names: Vec<_> = found
            .iter()
            .map(|p| {
                p.strip_prefix(dir.path())
                    .expect("under")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            ["x86_64/glibc-2.12.rpm", "x86_64/glibc-devel-2.12.rpm"]
        );
        let err =
            super::local_rpms(dir.path(), &["i686/*.rpm".into()], &loc).expect_err("no match");
        assert!(err.to_string().contains("i686/*.rpm"), "{err}");
    }

    fn installed(name: &str, version: &str, provides: &[(&str, &str)]) -> Package {
        Package {
            name: name.into(),
            arch: "x86_64".into(),
            evr: Evr::new(0, version, "1.el6"),
            checksum: slipway_yum::repodata::Checksum {
                kind: "sha256".into(),
                value: "00".into(),
            },
            location: String::new(),
            location_base: None,
            size: 0,
            sourcerpm: String::new(),
            provides: provides
                .iter()
                .map(|(n, v)| Dep {
                    name: (*n).into(),
                    flag: Some(Flag::Eq),
                    evr: Some(Evr::parse(v)),
                })
                .collect(),
            requires: Vec::new(),
            conflicts: Vec::new(),
            obsoletes: Vec::new(),
            files: Vec::new(),
        }
    }

    #[test]
    fn builddep_version_constraints_are_checked_against_what_is_installed() {
        use slipway_rpm::header::sense::{EQUAL, GREATER, LESS};
        assert_eq!(super::sense_flag(GREATER | EQUAL), Some(Flag::Ge));
        assert_eq!(super::sense_flag(LESS), Some(Flag::Lt));
        assert_eq!(super::sense_flag(EQUAL), Some(Flag::Eq));
        assert_eq!(super::sense_flag(0), None);
        let dep = |name: &str, flag, evr: &str| Dep {
            name: name.into(),
            flag: Some(flag),
            evr: Some(Evr::parse(evr)),
        };
        let set = [
            installed("glibc-devel", "2.12", &[("glibc-devel", "2.12-1.el6")]),
            installed("zlib-devel", "1.2.3", &[]),
            installed("perl", "5.10.1", &[("perl(Carp)", "1.11")]),
        ];
        let wanted = [
            dep("glibc-devel", Flag::Ge, "2.12"),
            dep("zlib-devel", Flag::Ge, "1.2.3"),
            dep("perl(Carp)", Flag::Ge, "1.0"),
            Dep::name("make"),
        ];
        assert!(super::unmet(&wanted, &set).is_empty());
        let too_new = [
            dep("glibc-devel", Flag::Ge, "2.17"),
            dep("zlib-devel", Flag::Gt, "1.2.3"),
        ];
        let unmet = super::unmet(&too_new, &set);
        let said: Vec<String> = unmet
            .iter()
            .map(|(d, have)| format!("{d} / {have}"))
            .collect();
        assert_eq!(
            said,
            [
                "glibc-devel >= 2.17 / glibc-devel-2.12-1.el6.x86_64",
                "zlib-devel > 1.2.3 / zlib-devel-1.2.3-1.el6.x86_64"
            ]
        );
    }

    #[test]
    fn releasever_is_read_as_yum_reads_it() {
        assert_eq!(
            super::redhat_release_major("CentOS release 6.9 (Final)\n").as_deref(),
            Some("6")
        );
        assert_eq!(
            super::redhat_release_major("Fedora release 38 (Thirty Eight)").as_deref(),
            Some("38")
        );
        assert_eq!(super::redhat_release_major("no version here"), None);
        assert_eq!(
            super::os_release_version("NAME=\"Debian\"\nVERSION_ID=\"12\"\n").as_deref(),
            Some("12")
        );
        assert_eq!(super::os_release_version("NAME=x\n"), None);
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

/// Repositories from a release RPM and from a `.repo` source, resolved with
/// slipway-yum over repositories made by `createrepo_c` from RPMs made by
/// `rpmbuild`, and the step's RPMs installed by the real `rpm`.
#[cfg(test)]
mod repo_sources {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    use slipway_test_support::fixtures::{build_rpms, createrepo, rpm_files};
    use slipway_test_support::{fixtures_dir, generated_dir, require_tool};

    use super::{ResolvedOp, StepFiles, resolve_step};
    use slipway_recipe::{Action, Recipe};

    fn repo_of(rpms: &Path, dir: &Path) {
        fs_err::create_dir_all(dir).expect("repo dir");
        for rpm in rpm_files(rpms) {
            let target = dir.join(rpm.file_name().expect("name"));
            fs_err::copy(&rpm, target).expect("copy rpm");
        }
        createrepo(dir, false);
    }

    /// A fresh `target/test-data/<name>` when every tool is there (a missing
    /// one fails under CI, skips loudly otherwise).
    fn fresh_work(name: &str, tools: &[&str]) -> Option<std::path::PathBuf> {
        for tool in tools {
            require_tool(tool)?;
        }
        let work = generated_dir(name);
        let _ = fs_err::remove_dir_all(&work);
        fs_err::create_dir_all(&work).expect("work dir");
        Some(work)
    }

    /// The mini-manylinux fixture repositories under `work`: `repo-a` (the
    /// `base` specs: mini-tool 1.0, mini-extra, mini-system) and `repo-b`
    /// (`updates`: mini-tool 1.1).
    fn mini_repos(work: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let fixtures = fixtures_dir().join("mini-manylinux/rpms");
        let repo_a = work.join("repo-a");
        repo_of(
            &build_rpms(&fixtures.join("base"), "recipe-mini-base"),
            &repo_a,
        );
        let repo_b = work.join("repo-b");
        repo_of(
            &build_rpms(&fixtures.join("updates"), "recipe-mini-updates"),
            &repo_b,
        );
        (repo_a, repo_b)
    }

    /// A recipe whose package step installs `*.rpm` from the `builder`
    /// image with the `[[repos]]` in `repos` (a `.repo` file per entry).
    fn install_local_recipe(dir: &Path, repos: &[(&str, &Path)]) -> Recipe {
        let mut text = String::from(
            "platform = \"linux/amd64\"\n[base]\nref = \"registry.invalid/base:1\"\n\
             platform = \"linux/amd64\"\n",
        );
        for (name, repo) in repos {
            fs_err::write(
                dir.join(format!("{name}.repo")),
                format!("[{name}]\nbaseurl=file://{}/\ngpgcheck=0\n", repo.display()),
            )
            .expect("repo file");
            text.push_str(&format!(
                "[[repos]]\nname = \"{name}\"\nfile = \"{name}.repo\"\n"
            ));
        }
        text.push_str(
            "[[steps]]\nname = \"local\"\npackages = [{ install-local = [\"rpms/*.rpm\"] }]\n\
             from-image = { image = \"builder\", path = \"/out\" }\n",
        );
        fs_err::write(dir.join("img.toml"), text).expect("recipe");
        fs_err::write(
            dir.join("builder.toml"),
            "platform = \"linux/amd64\"\npublish = false\n[base]\n\
             ref = \"registry.invalid/base:1\"\nplatform = \"linux/amd64\"\n",
        )
        .expect("builder");
        Recipe::load(dir).expect("recipe loads")
    }

    #[test]
    fn install_local_rpms_get_their_requirements_from_the_repositories() {
        let Some(work) = fresh_work("recipe-install-local", &["rpmbuild", "createrepo_c", "rpm"])
        else {
            return;
        };
        let (repo_a, repo_b) = mini_repos(&work);
        // The local RPM (as a from-image directory would hold it) needs
        // mini-extra, which only repository A has.
        let spec_dir = work.join("local-spec");
        fs_err::create_dir_all(&spec_dir).expect("spec dir");
        fs_err::write(
            spec_dir.join("mini-local.spec"),
            "Name: mini-local\nVersion: 1\nRelease: 1\nSummary: local\nLicense: MIT\n\
             BuildArch: noarch\nRequires: mini-extra >= 1.0\n%description\nlocal\n%install\n\
             mkdir -p %{buildroot}/usr/share/mini-local\n\
             echo 1 > %{buildroot}/usr/share/mini-local/v\n%files\n/usr/share/mini-local/v\n",
        )
        .expect("spec");
        let from_image = work.join("from-image");
        fs_err::create_dir_all(from_image.join("rpms")).expect("from-image dir");
        for rpm in rpm_files(&build_rpms(&spec_dir, "recipe-install-local-rpm")) {
            fs_err::copy(
                &rpm,
                from_image.join("rpms").join(rpm.file_name().expect("name")),
            )
            .expect("copy");
        }

        let resolve_with = |name: &str, repos: &[(&str, &Path)]| {
            let recipes = work.join(name);
            fs_err::create_dir_all(&recipes).expect("recipes");
            let recipe = install_local_recipe(&recipes, repos);
            let image = recipe.image("img").expect("image").clone();
            let step = image.step("local").expect("step").clone();
            let Action::Packages(ops) = step.action.clone() else {
                panic!("a package step");
            };
            let sources = BTreeMap::new();
            let files = StepFiles {
                sources: &sources,
                scratch: &work.join("scratch"),
                lowers: &[],
                from_image: Some(&from_image),
                offline: false,
            };
            let resolved = resolve_step(
                &recipes,
                &image,
                &step,
                &ops,
                "",
                &work.join("yum-store"),
                &files,
            );
            (recipes, image, step, ops, resolved)
        };

        let (recipes, image, step, ops, resolved) =
            resolve_with("both", &[("a", &repo_a), ("b", &repo_b)]);
        let resolved = resolved.expect("resolves");
        let [ResolvedOp::Local { globs, deps }] = resolved.ops.as_slice() else {
            panic!("one install-local: {:?}", resolved.ops);
        };
        assert_eq!(globs, &["rpms/*.rpm"]);
        let nevras: Vec<String> = deps.iter().map(super::LockedPackage::nevra).collect();
        // mini-extra's %post needs /bin/sh: mini-system provides it.
        assert_eq!(
            nevras,
            ["mini-extra-1.0-1.noarch", "mini-system-1.0-1.noarch"]
        );

        // Locked: the dependency is pinned as a package of operation 1 and
        // comes back from the repositories by NEVRA.
        let locked = resolved
            .to_locked("local", "sha256:r", 2)
            .expect("lock entry");
        assert_eq!(locked.packages.len(), 2);
        assert!(locked.packages.iter().all(|p| p.op == 1));
        assert_eq!(locked.packages[0].name, "mini-extra");
        let replay = super::locked_step(
            &recipes,
            &image,
            &step,
            &ops,
            &locked,
            &work.join("yum-store"),
            &StepFiles {
                sources: &BTreeMap::new(),
                scratch: &work.join("scratch"),
                lowers: &[],
                from_image: Some(&from_image),
                offline: false,
            },
        )
        .expect("locked");
        assert_eq!(replay.ops, resolved.ops);
        let rpm_dir = work.join("rpms");
        let script = replay
            .materialize(&rpm_dir, 2, Some(&from_image))
            .expect("downloads");
        let installs: Vec<&str> = script
            .lines()
            .filter(|l| l.starts_with("rpm -Uvh"))
            .collect();
        assert_eq!(installs.len(), 1, "{script}");
        assert!(
            installs[0].contains("/inputs/rpms/mini-local-1-1.noarch.rpm"),
            "{script}"
        );
        assert_eq!(
            fs_err::read_dir(&rpm_dir).expect("rpm dir").count(),
            3,
            "the local RPM, mini-extra and mini-system: {script}"
        );

        // Without the repository holding mini-extra: an error naming it.
        let (_, _, _, _, resolved) = resolve_with("only-b", &[("b", &repo_b)]);
        let err = resolved.err().expect("unresolvable").to_string();
        assert!(
            err.contains("install-local") && err.contains("mini-extra"),
            "{err}"
        );
    }

    #[test]
    fn releasever_comes_from_the_recipe_or_the_rootfs() {
        let Some(work) = fresh_work("recipe-releasever", &["rpmbuild", "createrepo_c"]) else {
            return;
        };
        fs_err::create_dir_all(work.join("rel")).expect("work dir");
        let fixtures = fixtures_dir().join("mini-manylinux/rpms");
        // The repository lives at rel/6/: only `$releasever` = 6 finds it.
        repo_of(
            &build_rpms(&fixtures.join("base"), "recipe-mini-base"),
            &work.join("rel/6"),
        );
        let rootfs = work.join("rootfs");
        fs_err::create_dir_all(rootfs.join("etc")).expect("etc");
        let resolve_with = |name: &str, releasever: Option<&str>, lowers: &[std::path::PathBuf]| {
            let recipes = work.join(name);
            fs_err::create_dir_all(&recipes).expect("recipes");
            fs_err::write(
                recipes.join("mini.repo"),
                format!(
                    "[mini]\nbaseurl=file://{}/rel/$releasever/\ngpgcheck=0\n",
                    work.display()
                ),
            )
            .expect("repo");
            let releasever = releasever
                .map(|r| format!("releasever = \"{r}\"\n"))
                .unwrap_or_default();
            fs_err::write(
                recipes.join("img.toml"),
                format!(
                    "platform = \"linux/amd64\"\n{releasever}[base]\n\
                     ref = \"registry.invalid/base:1\"\nplatform = \"linux/amd64\"\n\
                     [[repos]]\nname = \"mini\"\nfile = \"mini.repo\"\n\
                     [[steps]]\nname = \"pkgs\"\n\
                     packages = [{{ install = [\"mini-tool\", \"no-such-package\"] }}]\n"
                ),
            )
            .expect("recipe");
            let recipe = Recipe::load(&recipes).expect("recipe loads");
            let image = recipe.image("img").expect("image");
            let step = image.step("pkgs").expect("step");
            let Action::Packages(ops) = &step.action else {
                panic!("a package step");
            };
            resolve_step(
                &recipes,
                image,
                step,
                ops,
                "",
                &work.join("yum-store"),
                &StepFiles {
                    sources: &BTreeMap::new(),
                    scratch: &work.join("scratch"),
                    lowers,
                    from_image: None,
                    offline: false,
                },
            )
            .map(|r| {
                // yum 3: the name that matches nothing is skipped, and the
                // lock entry says so.
                let entry = r.to_locked("pkgs", "sha256:r", 1).expect("lock entry");
                let skipped: Vec<(u32, &str)> = entry
                    .skipped
                    .iter()
                    .map(|s| (s.op, s.name.as_str()))
                    .collect();
                assert_eq!(skipped, [(1, "no-such-package")]);
                r.ops.len()
            })
        };
        assert_eq!(
            resolve_with("recipe", Some("6"), &[]).expect("from the recipe"),
            1
        );
        let err = resolve_with("none", None, &[])
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains("`$releasever`") && err.contains("releasever = "),
            "{err}"
        );
        fs_err::write(
            rootfs.join("etc/redhat-release"),
            "CentOS release 6.9 (Final)\n",
        )
        .expect("release file");
        assert_eq!(
            resolve_with("rootfs", None, std::slice::from_ref(&rootfs)).expect("from the rootfs"),
            1
        );
        // The recipe wins over the rootfs.
        let err = resolve_with("wins", Some("7"), std::slice::from_ref(&rootfs))
            .expect_err("no rel/7")
            .to_string();
        assert!(err.contains("rel/7"), "{err}");
    }

    #[test]
    fn release_rpm_and_repo_source_resolve_and_install() {
        let Some(work) = fresh_work("recipe-repo-sources", &["rpmbuild", "createrepo_c", "rpm"])
        else {
            return;
        };
        // Repository A (mini-tool 1.0, mini-extra, mini-system), named by a
        // release RPM; repository B (mini-tool 1.1), named by a .repo source.
        let (repo_a, repo_b) = mini_repos(&work);
        let spec_dir = work.join("release-spec");
        fs_err::create_dir_all(&spec_dir).expect("spec dir");
        fs_err::write(
            spec_dir.join("test-release.spec"),
            format!(
                "Name: test-release\nVersion: 1\nRelease: 1\nSummary: release\nLicense: MIT\n\
                 BuildArch: noarch\n%description\nrelease\n%install\n\
                 mkdir -p %{{buildroot}}/etc/yum.repos.d\n\
                 printf '[rel-a]\\nname=A\\nbaseurl=file://{}/\\ngpgcheck=0\\n' > %{{buildroot}}/etc/yum.repos.d/rel.repo\n\
                 %files\n/etc/yum.repos.d/rel.repo\n",
                repo_a.display()
            ),
        )
        .expect("spec");
        let release_dir = build_rpms(&spec_dir, "recipe-release-rpm");
        let release = rpm_files(&release_dir).pop().expect("release rpm");
        let sources_dir = work.join("sources");
        fs_err::create_dir_all(&sources_dir).expect("sources");
        fs_err::copy(&release, sources_dir.join("test-release-1-1.noarch.rpm")).expect("copy");
        fs_err::write(
            sources_dir.join("b.repo"),
            format!(
                "[repo-b]\nbaseurl=file://{}/\ngpgcheck=0\n",
                repo_b.display()
            ),
        )
        .expect("b.repo");

        let recipes = work.join("recipes");
        fs_err::create_dir_all(&recipes).expect("recipes");
        fs_err::write(
            recipes.join("img.toml"),
            r#"platform = "linux/amd64"
[base]
ref = "registry.invalid/base:1"
platform = "linux/amd64"
[[repos]]
name = "release"
rpm = "release"
[[repos]]
name = "b"
source = "b-repo"
[[sources]]
name = "release"
url = "https://example.invalid/test-release-1-1.noarch.rpm"
[[sources]]
name = "b-repo"
url = "https://example.invalid/b.repo"
[[steps]]
name = "pkgs"
packages = [{ install = ["mini-tool", "mini-extra"] }]
"#,
        )
        .expect("recipe");
        let recipe = Recipe::load(&recipes).expect("recipe loads");
        let image = recipe.image("img").expect("image");
        let step = image.step("pkgs").expect("step");
        let Action::Packages(ops) = &step.action else {
            panic!("a package step");
        };
        let sources: BTreeMap<String, _> = [
            ("release".to_owned(), sources_dir.clone()),
            ("b-repo".to_owned(), sources_dir.clone()),
        ]
        .into_iter()
        .collect();
        let resolved = resolve_step(
            &recipes,
            image,
            step,
            ops,
            "",
            &work.join("yum-store"),
            &StepFiles {
                sources: &sources,
                scratch: &work.join("scratch"),
                lowers: &[],
                from_image: None,
                offline: false,
            },
        )
        .expect("resolves");
        let [ResolvedOp::Transaction { packages, .. }] = resolved.ops.as_slice() else {
            panic!("one transaction: {:?}", resolved.ops);
        };
        let mut nevras: Vec<String> = packages.iter().map(|p| p.nevra()).collect();
        nevras.sort();
        // mini-tool 1.1 from repository B beats 1.0 from A.
        assert!(
            nevras.contains(&"mini-tool-1.1-1.noarch".to_owned()),
            "{nevras:?}"
        );
        assert!(
            nevras.iter().any(|n| n.starts_with("mini-extra-1.0")),
            "{nevras:?}"
        );
        assert_eq!(resolved.release_rpms.len(), 1);
        assert_eq!(resolved.release_rpms[0].0, "test-release");

        let rpm_dir = work.join("rpms");
        let script = resolved.materialize(&rpm_dir, 2, None).expect("downloads");
        assert!(
            script.contains(
                "rpm -q --quiet test-release || rpm -Uvh --nodeps /inputs/rpms/test-release-1-1.noarch.rpm"
            ),
            "{script}"
        );
        // The real rpm installs what the step would, the release RPM included.
        let root = work.join("root");
        fs_err::create_dir_all(&root).expect("root");
        // Downloads are named by checksum: every file of the directory.
        let mut files: Vec<_> = fs_err::read_dir(&rpm_dir)
            .expect("rpm dir")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        let out = Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(["-Uvh", "--nodeps", "--noscripts"])
            .args(&files)
            .output()
            .expect("rpm");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let qa = Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .arg("-qa")
            .output()
            .expect("rpm -qa");
        let qa = String::from_utf8_lossy(&qa.stdout);
        for want in [
            "test-release-1-1.noarch",
            "mini-tool-1.1-1.noarch",
            "mini-extra-1.0-1.noarch",
        ] {
            assert!(qa.contains(want), "{want} not in {qa}");
        }
        assert!(root.join("etc/yum.repos.d/rel.repo").is_file());
    }
}
