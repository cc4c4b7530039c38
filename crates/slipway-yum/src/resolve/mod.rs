//! Dependency resolution as yum does it, on in-memory repodata.
//!
//! **Architecture Invariant:** the resolver does no I/O: [`Repo`]s and an
//! installed set in, a [`Transaction`] out.
//!
//! ```
//! use slipway_yum::resolve::{Job, Request, resolve};
//! use slipway_yum::Repo;
//! use slipway_yum::repofile::RepoConfig;
//! let repos = vec![Repo::from_packages(RepoConfig::with_baseurl("base", "file:///r"), vec![])];
//! let request = Request { job: Job::Install, specs: vec![] };
//! let tx = resolve(&repos, &[], &request, "x86_64").unwrap();
//! assert!(tx.items.is_empty());
//! ```

mod arch;
mod provider;
mod spec;

pub use arch::{arch_rank, compatible_arches};
pub use spec::{parse_installed, parse_installed_file};

use std::collections::{BTreeSet, HashMap, HashSet};

use resolvo::{ConditionalRequirement, Problem, Requirement, Solver, UnsolvableOrCancelled};

use crate::evr::Dep;
use crate::repodata::Package;
use crate::source::Repo;
use crate::{Error, Result};
use provider::{Cand, Provider, VSet};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// `yum install PKG…`
    Install,
    /// `yum update [PKG…]` (no specs: update everything).
    Update,
    /// `yum erase PKG…`
    Erase,
}

/// A request: a job and its package specs (`name`, `name.arch`,
/// `name-version[-release]`, NEVRA, globs, or a capability/file).
#[derive(Debug, Clone)]
pub struct Request {
    /// The job.
    pub job: Job,
    /// The specs, as typed on the command line.
    pub specs: Vec<String>,
}

/// The action on one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// A package newly installed.
    Install,
    /// A package replacing an older installed one of the same name.arch.
    Upgrade,
    /// A package replacing a newer installed one.
    Downgrade,
    /// An installed package removed (erased, or replaced by an obsoleter).
    Erase,
}

impl Action {
    /// `install`, `upgrade`, `downgrade`, `erase`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Install => "install",
            Action::Upgrade => "upgrade",
            Action::Downgrade => "downgrade",
            Action::Erase => "erase",
        }
    }
}

/// One line of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What happens.
    pub action: Action,
    /// The package (for `Erase`, the installed one).
    pub package: Package,
    /// Repository id (`@System` for installed packages).
    pub repo: String,
    /// NEVRAs of installed packages this one replaces (upgrade or obsoletes).
    pub replaces: Vec<String>,
}

/// The resolver's answer, in a stable order (action, name, arch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// The lines.
    pub items: Vec<Item>,
    /// The specs that matched nothing, in request order. yum 3 reports each
    /// ("No package … available", "No Match for argument") and goes on with
    /// the others; the caller should warn about them.
    pub skipped: Vec<String>,
}

impl Transaction {
    /// Packages to download and install (install, upgrade, downgrade).
    pub fn to_install(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.action != Action::Erase)
    }

    /// NEVRAs installed by the transaction and NEVRAs removed (erased or
    /// replaced): the two sets an rpm transaction is made of.
    pub fn install_and_remove_sets(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut install = BTreeSet::new();
        let mut remove = BTreeSet::new();
        for item in &self.items {
            if item.action == Action::Erase {
                remove.insert(item.package.nevra());
            } else {
                install.insert(item.package.nevra());
                remove.extend(item.replaces.iter().cloned());
            }
        }
        (install, remove)
    }
}

/// Name of the pseudo repository of installed packages.
pub const INSTALLED_REPO: &str = "@System";

/// Resolve `request` against `repos` on a machine of `arch`, with
/// `installed` packages already present.
pub fn resolve(
    repos: &[Repo],
    installed: &[Package],
    request: &Request,
    arch: &str,
) -> Result<Transaction> {
    if request.job == Job::Erase {
        return erase(installed, &request.specs);
    }
    let cands = candidates(repos, installed, arch);
    let mut provider = Provider::new(arch, cands);

    // Which specs match what. A spec that matches nothing is skipped, as
    // yum 3 does, unless no spec matches anything.
    let mut spec_reqs = Vec::new();
    let mut skipped = Vec::new();
    for text in &request.specs {
        let from_repos = request.job == Job::Install;
        let matched = spec::match_spec(&provider, text, from_repos);
        if matched.is_empty() {
            skipped.push(text.clone());
            continue;
        }
        for &id in &matched {
            provider.targets.insert(provider.name_of(id));
        }
        let n = provider.specs.len();
        provider.specs.push(matched.iter().copied().collect());
        provider.spec_text.push(text.clone());
        spec_reqs.push((n, matched));
    }
    check_some_matched(&request.specs, &skipped)?;
    if request.job == Job::Update && request.specs.is_empty() {
        provider.targets = provider.installed.keys().copied().collect();
    }
    // The installed names a spec of `update` names are targets only if installed.
    if request.job == Job::Update {
        let installed_names: HashSet<_> = provider.installed.keys().copied().collect();
        provider.targets.retain(|n| installed_names.contains(n));
    }

    let mut requirements: Vec<ConditionalRequirement> = Vec::new();
    if request.job == Job::Install {
        for (n, matched) in &spec_reqs {
            let req = provider.requirement_over(matched, |_| VSet::Spec(*n), "");
            requirements.push(ConditionalRequirement {
                condition: None,
                requirement: req,
            });
        }
    }
    // Every installed package stays, or is replaced by something that obsoletes it.
    let mut installed_ids: Vec<_> = provider.installed.iter().map(|(n, s)| (*n, *s)).collect();
    installed_ids.sort_by_key(|(n, _)| provider.pool.resolve_package_name(*n).clone());
    for (name, inst) in installed_ids {
        let pkg = provider.cand(inst).pkg;
        let obsoleters = provider.obsoleters_of(pkg);
        let keep = provider.pool.intern_version_set(name, VSet::Any);
        let mut sets = Vec::new();
        let updating = provider.targets.contains(&name);
        if !updating {
            sets.push(keep);
        }
        for &o in &obsoleters {
            let oname = provider.name_of(o);
            // "an obsoleter of this package", as a spec-like version set.
            let idx = provider.specs.len();
            let set: HashSet<_> = provider
                .solvables_of_pkgname(&provider.cand(o).pkg.name)
                .into_iter()
                .filter(|&s| obsoleters.contains(&s))
                .collect();
            provider.specs.push(set);
            provider
                .spec_text
                .push(format!("obsoleting {}", pkg.nevra()));
            let vs = provider.pool.intern_version_set(oname, VSet::Spec(idx));
            if !sets.contains(&vs) {
                sets.push(vs);
            }
        }
        if updating {
            sets.push(keep);
        }
        let requirement = if sets.len() == 1 {
            Requirement::Single(sets[0])
        } else {
            Requirement::Union(
                provider
                    .pool
                    .intern_version_set_union(sets[0], sets[1..].iter().copied()),
            )
        };
        requirements.push(ConditionalRequirement {
            condition: None,
            requirement,
        });
    }

    let mut solver = Solver::new(provider);
    let problem = Problem::new().requirements(requirements);
    let solution = match solver.solve(problem) {
        Ok(s) => s,
        Err(UnsolvableOrCancelled::Unsolvable(conflict)) => {
            let text = conflict.display_user_friendly(&solver).to_string();
            return Err(Error::Unsatisfiable(text.trim_end().to_owned()));
        }
        Err(UnsolvableOrCancelled::Cancelled(_)) => {
            return Err(Error::Unsatisfiable("resolution was cancelled".to_owned()));
        }
    };
    let provider = solver.provider();
    let mut tx = transaction(provider, repos, &solution);
    tx.skipped = skipped;
    Ok(tx)
}

/// yum 3 goes on when some names match nothing; when none of the names
/// matches anything there is nothing to do, and that is an error naming them.
fn check_some_matched(specs: &[String], skipped: &[String]) -> Result<()> {
    if !specs.is_empty() && skipped.len() == specs.len() {
        return Err(Error::NoMatch(skipped.to_vec()));
    }
    Ok(())
}

/// Candidates: repository packages for this machine's arches (priorities
/// applied as yum-plugin-priorities does: a name present in a repository of
/// better (lower) priority hides it in the others), then the installed set.
fn candidates<'a>(repos: &'a [Repo], installed: &'a [Package], arch: &str) -> Vec<Cand<'a>> {
    let mut best_prio: HashMap<&str, i32> = HashMap::new();
    for repo in repos {
        for p in &repo.packages {
            let e = best_prio
                .entry(p.name.as_str())
                .or_insert(repo.config.priority);
            *e = (*e).min(repo.config.priority);
        }
    }
    let installed_nevras: HashSet<String> = installed.iter().map(Package::nevra).collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut order: Vec<usize> = (0..repos.len()).collect();
    order.sort_by_key(|&i| (repos[i].config.priority, repos[i].config.cost, i));
    let mut out = Vec::new();
    for i in order {
        let repo = &repos[i];
        for p in &repo.packages {
            if arch_rank(arch, &p.arch).is_none()
                || best_prio.get(p.name.as_str()) != Some(&repo.config.priority)
            {
                continue;
            }
            let nevra = p.nevra();
            if installed_nevras.contains(&nevra) || !seen.insert(nevra) {
                continue;
            }
            out.push(Cand {
                pkg: p,
                repo: Some(i),
                rank: (repo.config.priority, repo.config.cost, i),
            });
        }
    }
    for p in installed {
        out.push(Cand {
            pkg: p,
            repo: None,
            rank: (i32::MIN, i32::MIN, 0),
        });
    }
    out
}

fn transaction(
    provider: &Provider<'_>,
    repos: &[Repo],
    solution: &[resolvo::SolvableId],
) -> Transaction {
    let chosen: HashSet<_> = solution.iter().copied().collect();
    let mut items = Vec::new();
    let mut replaced: HashSet<resolvo::SolvableId> = HashSet::new();
    for &id in solution {
        let c = provider.cand(id);
        let Some(repo) = c.repo else { continue };
        let name = provider.name_of(id);
        let mut action = Action::Install;
        let mut replaces = Vec::new();
        if let Some(&inst) = provider.installed.get(&name) {
            let old = provider.cand(inst).pkg;
            action = if c.pkg.evr.rpm_cmp(&old.evr) == std::cmp::Ordering::Less {
                Action::Downgrade
            } else {
                Action::Upgrade
            };
            replaces.push(old.nevra());
            replaced.insert(inst);
        }
        for &inst in provider.installed.values() {
            if chosen.contains(&inst) || replaced.contains(&inst) {
                continue;
            }
            let old = provider.cand(inst).pkg;
            if c.pkg.name != old.name
                && c.pkg
                    .obsoletes
                    .iter()
                    .any(|d| d.name == old.name && d.matches_evr(&old.evr))
                && !replaces.contains(&old.nevra())
            {
                replaces.push(old.nevra());
                replaced.insert(inst);
            }
        }
        replaces.sort();
        items.push(Item {
            action,
            package: c.pkg.clone(),
            repo: repos[repo].config.id.clone(),
            replaces,
        });
    }
    for &inst in provider.installed.values() {
        if !chosen.contains(&inst) && !replaced.contains(&inst) {
            items.push(Item {
                action: Action::Erase,
                package: provider.cand(inst).pkg.clone(),
                repo: INSTALLED_REPO.to_owned(),
                replaces: Vec::new(),
            });
        }
    }
    items.sort_by(|a, b| {
        (a.action == Action::Erase, &a.package.name, &a.package.arch).cmp(&(
            b.action == Action::Erase,
            &b.package.name,
            &b.package.arch,
        ))
    });
    Transaction {
        items,
        skipped: Vec::new(),
    }
}

/// `yum erase`: the named installed packages and, transitively, every
/// installed package whose requirements no longer hold. Names that match
/// no installed package are skipped (unless none matches).
fn erase(installed: &[Package], specs: &[String]) -> Result<Transaction> {
    let mut removed: BTreeSet<usize> = BTreeSet::new();
    let mut skipped = Vec::new();
    for text in specs {
        let hits = spec::match_installed(installed, text);
        if hits.is_empty() {
            skipped.push(text.clone());
        }
        removed.extend(hits);
    }
    check_some_matched(specs, &skipped)?;
    let satisfied = |dep: &Dep, removed: &BTreeSet<usize>, me: usize| {
        installed.iter().enumerate().any(|(i, p)| {
            (i == me || !removed.contains(&i))
                && (p
                    .provides
                    .iter()
                    .any(|pr| pr.name == dep.name && dep.range_overlaps(pr))
                    || (dep.name.starts_with('/') && p.files.contains(&dep.name)))
        })
    };
    // Only requirements that hold now can break (an installed set read from
    // `rpm -qa` may lack metadata for some packages).
    let none = BTreeSet::new();
    let holding: Vec<Vec<&Dep>> = installed
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.requires
                .iter()
                .filter(|d| satisfied(d, &none, i))
                .collect()
        })
        .collect();
    loop {
        let mut grew = false;
        for (i, _) in installed.iter().enumerate() {
            if removed.contains(&i) {
                continue;
            }
            if holding[i].iter().any(|d| !satisfied(d, &removed, i)) {
                removed.insert(i);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let mut items: Vec<Item> = removed
        .into_iter()
        .map(|i| Item {
            action: Action::Erase,
            package: installed[i].clone(),
            repo: INSTALLED_REPO.to_owned(),
            replaces: Vec::new(),
        })
        .collect();
    items.sort_by(|a, b| {
        (&a.package.name, &a.package.arch).cmp(&(&b.package.name, &b.package.arch))
    });
    Ok(Transaction { items, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evr::Evr;
    use crate::repodata::Checksum;
    use crate::repofile::RepoConfig;

    fn pkg(name: &str) -> Package {
        Package {
            name: name.into(),
            arch: "x86_64".into(),
            evr: Evr::new(0, "1.0", "1"),
            checksum: Checksum {
                kind: "sha256".into(),
                value: "0".repeat(64),
            },
            location: format!("{name}.rpm"),
            location_base: None,
            size: 1,
            sourcerpm: String::new(),
            provides: vec![Dep::name(name)],
            requires: Vec::new(),
            conflicts: Vec::new(),
            obsoletes: Vec::new(),
            files: Vec::new(),
        }
    }

    fn request(job: Job, specs: &[&str]) -> Request {
        Request {
            job,
            specs: specs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_that_match_nothing_are_skipped_beside_others_and_an_error_alone() {
        let repos = vec![Repo::from_packages(
            RepoConfig::with_baseurl("base", "file:///r"),
            vec![pkg("wget"), pkg("gettext")],
        )];
        let installed = vec![pkg("gettext")];
        for (job, specs, names, skipped) in [
            (
                Job::Install,
                &["nope", "wget"][..],
                vec!["wget"],
                vec!["nope"],
            ),
            (
                Job::Erase,
                &["gtk2", "gettext", "avahi"][..],
                vec!["gettext"],
                vec!["gtk2", "avahi"],
            ),
            (Job::Update, &["gettext", "wget"][..], vec![], vec!["wget"]),
        ] {
            let tx = resolve(&repos, &installed, &request(job, specs), "x86_64").unwrap();
            let got: Vec<&str> = tx.items.iter().map(|i| i.package.name.as_str()).collect();
            assert_eq!(
                (got, tx.skipped),
                (names, skipped.iter().map(|s| s.to_string()).collect())
            );
        }
        for job in [Job::Install, Job::Erase, Job::Update] {
            let err = resolve(
                &repos,
                &installed,
                &request(job, &["nope", "gtk2"]),
                "x86_64",
            )
            .unwrap_err()
            .to_string();
            assert_eq!(err, "no package matches `nope`, `gtk2`", "{job:?}");
        }
    }
}
