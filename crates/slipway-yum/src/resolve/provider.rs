//! The resolvo dependency provider for RPM.
//!
//! Model (after the DESIGN note on resolvo 0.12): a resolvo *name* is an
//! RPM `name.arch` (so foo.x86_64 and foo.i686 can both be installed, one
//! version each); a requirement becomes a union of version sets, one per
//! `name.arch` that provides the capability; a version set is "the
//! solvables of this name that provide this capability" (EVR ranges compared
//! with rpmvercmp). Conflicts and obsoletes become constraints: the allowed
//! set of every name that could violate them. Capabilities nobody provides
//! become a name with no candidates, so resolvo's explanation says so.

use std::collections::{HashMap, HashSet};
use std::fmt;

use resolvo::utils::Pool;
use resolvo::{
    Candidates, Condition, ConditionId, ConditionalRequirement, Dependencies, DependencyProvider,
    HintDependenciesAvailable, Interner, KnownDependencies, NameId, Requirement, SolvableId,
    SolverCache, StringId, VersionSetId, VersionSetUnionId,
};

use super::arch::arch_rank;
use crate::evr::Dep;
use crate::repodata::Package;

/// A version set: which solvables of one name it contains.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum VSet {
    /// Solvables providing the capability (or owning the file).
    Provides(Dep),
    /// Solvables *not* providing it (the allowed set under a `Conflicts:`).
    NotProviding(Dep),
    /// Solvables not obsoleted by this `Obsoletes:` entry (matches names).
    NotObsoletedBy(Dep),
    /// Solvables matched by request spec number n.
    Spec(usize),
    /// Every solvable of the name.
    Any,
}

/// The record interned with each solvable: its index in `Provider::cands`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec(pub(crate) usize);

impl fmt::Display for Rec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl resolvo::utils::VersionSet for VSet {
    type V = Rec;
}

/// One candidate: a repository package or an installed one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cand<'a> {
    pub(crate) pkg: &'a Package,
    /// Index of the repository, `None` for the installed set.
    pub(crate) repo: Option<usize>,
    /// `(priority, cost, repo index)`: lower is preferred among equal EVRs.
    pub(crate) rank: (i32, i32, usize),
}

pub(crate) struct Provider<'a> {
    pub(crate) pool: Pool<VSet, String>,
    pub(crate) cands: Vec<Cand<'a>>,
    pub(crate) ids: Vec<SolvableId>,
    pub(crate) machine: String,
    by_name: HashMap<NameId, Vec<SolvableId>>,
    /// `name.arch` ids of every RPM name.
    names_of_pkg: HashMap<&'a str, Vec<NameId>>,
    /// Capability (provide name or file path) -> solvables.
    capability: HashMap<&'a str, Vec<SolvableId>>,
    /// Package name -> solvables that obsolete it.
    obsoleters: HashMap<&'a str, Vec<SolvableId>>,
    /// Installed solvable per name.
    pub(crate) installed: HashMap<NameId, SolvableId>,
    /// Names whose installed version is favoured (kept unless needed).
    pub(crate) favor_installed: bool,
    /// Names being updated: installed not favoured, nothing older offered.
    pub(crate) targets: HashSet<NameId>,
    /// Solvables matched by each request spec.
    pub(crate) specs: Vec<HashSet<SolvableId>>,
    pub(crate) spec_text: Vec<String>,
}

impl<'a> Provider<'a> {
    pub(crate) fn new(machine: &str, cands: Vec<Cand<'a>>) -> Self {
        let pool: Pool<VSet, String> = Pool::new();
        let mut ids = Vec::with_capacity(cands.len());
        let mut by_name: HashMap<NameId, Vec<SolvableId>> = HashMap::new();
        let mut names_of_pkg: HashMap<&str, Vec<NameId>> = HashMap::new();
        let mut capability: HashMap<&str, Vec<SolvableId>> = HashMap::new();
        let mut obsoleters: HashMap<&str, Vec<SolvableId>> = HashMap::new();
        let mut installed = HashMap::new();
        for (i, c) in cands.iter().enumerate() {
            let name = pool.intern_package_name(format!("{}.{}", c.pkg.name, c.pkg.arch));
            let id = pool.intern_solvable(name, Rec(i));
            ids.push(id);
            by_name.entry(name).or_default().push(id);
            let list = names_of_pkg.entry(c.pkg.name.as_str()).or_default();
            if !list.contains(&name) {
                list.push(name);
            }
            for p in &c.pkg.provides {
                push_unique(capability.entry(p.name.as_str()).or_default(), id);
            }
            for f in &c.pkg.files {
                push_unique(capability.entry(f.as_str()).or_default(), id);
            }
            for o in &c.pkg.obsoletes {
                push_unique(obsoleters.entry(o.name.as_str()).or_default(), id);
            }
            if c.repo.is_none() {
                installed.insert(name, id);
            }
        }
        Self {
            pool,
            cands,
            ids,
            machine: machine.to_owned(),
            by_name,
            names_of_pkg,
            capability,
            obsoleters,
            installed,
            favor_installed: true,
            targets: HashSet::new(),
            specs: Vec::new(),
            spec_text: Vec::new(),
        }
    }

    pub(crate) fn cand(&self, id: SolvableId) -> &Cand<'a> {
        let Rec(i) = self.pool.resolve_solvable(id).record;
        &self.cands[i]
    }

    pub(crate) fn name_of(&self, id: SolvableId) -> NameId {
        self.pool.resolve_solvable(id).name
    }

    fn provides(&self, id: SolvableId, dep: &Dep) -> bool {
        let pkg = self.cand(id).pkg;
        if dep.name.starts_with('/') && pkg.files.contains(&dep.name) {
            return true;
        }
        pkg.provides
            .iter()
            .any(|p| p.name == dep.name && dep.range_overlaps(p))
    }

    /// Solvables that satisfy `dep`.
    pub(crate) fn providers(&self, dep: &Dep) -> Vec<SolvableId> {
        self.capability
            .get(dep.name.as_str())
            .map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|&id| self.provides(id, dep))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// yum's multilib rule for dependencies: a package takes providers of
    /// its own word size (x86_64 or noarch for a 64-bit or noarch package,
    /// x86-32 or noarch for an i686 one) when there are any; only otherwise does it
    /// cross over (an x86_64 package requiring an i686-only library).
    pub(crate) fn arch_family_filter(
        &self,
        requirer: &Package,
        ids: Vec<SolvableId>,
    ) -> Vec<SolvableId> {
        let secondary = |a: &str| {
            matches!(self.machine.as_str(), "x86_64" | "amd64")
                && matches!(a, "i686" | "i586" | "i486" | "i386")
        };
        let want_secondary = secondary(&requirer.arch);
        let same = |id: &SolvableId| {
            let a = self.cand(*id).pkg.arch.as_str();
            a == "noarch" || secondary(a) == want_secondary
        };
        if !ids.iter().any(same) {
            return ids;
        }
        ids.into_iter().filter(same).collect()
    }

    /// Preference of a name when several could satisfy a requirement:
    /// installed first, best arch, then yum's "shortest name" rule.
    fn name_key(&self, name: NameId, members: &[SolvableId]) -> (bool, u32, usize, String) {
        let installed = self.installed.contains_key(&name);
        let best_arch = members
            .iter()
            .filter_map(|id| arch_rank(&self.machine, &self.cand(*id).pkg.arch))
            .min()
            .unwrap_or(u32::MAX);
        let text = self.pool.resolve_package_name(name).clone();
        let pkgname_len = self.cand(members[0]).pkg.name.len();
        (!installed, best_arch, pkgname_len, text)
    }

    /// Group solvables by name, best name first, as a requirement.
    pub(crate) fn requirement_over(
        &self,
        ids: &[SolvableId],
        make: impl Fn(NameId) -> VSet,
        missing_label: &str,
    ) -> Requirement {
        let mut groups: Vec<(NameId, Vec<SolvableId>)> = Vec::new();
        for &id in ids {
            let name = self.name_of(id);
            match groups.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push(id),
                None => groups.push((name, vec![id])),
            }
        }
        if groups.is_empty() {
            // A name with no candidates: resolvo reports "nothing provides".
            let name = self.pool.intern_package_name(missing_label.to_owned());
            return Requirement::Single(self.pool.intern_version_set(name, VSet::Any));
        }
        groups.sort_by_cached_key(|(n, members)| self.name_key(*n, members));
        let sets: Vec<VersionSetId> = groups
            .iter()
            .map(|(n, _)| self.pool.intern_version_set(*n, make(*n)))
            .collect();
        if sets.len() == 1 {
            Requirement::Single(sets[0])
        } else {
            Requirement::Union(
                self.pool
                    .intern_version_set_union(sets[0], sets[1..].iter().copied()),
            )
        }
    }

    pub(crate) fn solvables_of_pkgname(&self, name: &str) -> Vec<SolvableId> {
        self.names_of_pkg
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|n| self.by_name.get(n).into_iter().flatten().copied())
            .collect()
    }

    pub(crate) fn obsoleters_of(&self, pkg: &Package) -> Vec<SolvableId> {
        self.obsoleters
            .get(pkg.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&o| {
                let op = self.cand(o).pkg;
                op.name != pkg.name
                    && op
                        .obsoletes
                        .iter()
                        .any(|d| d.name == pkg.name && d.matches_evr(&pkg.evr))
            })
            .collect()
    }

    fn contains(&self, vs: &VSet, id: SolvableId) -> bool {
        match vs {
            VSet::Any => true,
            VSet::Provides(dep) => self.provides(id, dep),
            VSet::NotProviding(dep) => !self.provides(id, dep),
            VSet::NotObsoletedBy(dep) => {
                let pkg = self.cand(id).pkg;
                !(pkg.name == dep.name && dep.matches_evr(&pkg.evr))
            }
            VSet::Spec(n) => self.specs[*n].contains(&id),
        }
    }
}

fn push_unique(v: &mut Vec<SolvableId>, id: SolvableId) {
    if v.last() != Some(&id) {
        v.push(id);
    }
}

impl Interner for Provider<'_> {
    type NameId = NameId;
    type SolvableId = SolvableId;

    fn display_solvable(&self, solvable: SolvableId) -> impl fmt::Display + '_ {
        let c = self.cand(solvable);
        let from = match c.repo {
            None => " (installed)".to_owned(),
            Some(_) => String::new(),
        };
        format!("{}{from}", c.pkg.nevra())
    }

    fn display_merged_solvables(&self, solvables: &[SolvableId]) -> impl fmt::Display + '_ {
        let mut all: Vec<String> = solvables
            .iter()
            .map(|s| self.display_solvable(*s).to_string())
            .collect();
        all.sort();
        all.dedup();
        all.join(" | ")
    }

    fn display_name(&self, name: NameId) -> impl fmt::Display + '_ {
        self.pool.resolve_package_name(name).clone()
    }

    fn display_version_set(&self, version_set: VersionSetId) -> impl fmt::Display + '_ {
        match self.pool.resolve_version_set(version_set) {
            VSet::Provides(dep) => format!("providing `{dep}`"),
            VSet::NotProviding(dep) => format!("not providing conflicting `{dep}`"),
            VSet::NotObsoletedBy(dep) => format!("not obsoleted by `{dep}`"),
            VSet::Spec(n) => format!("matching `{}`", self.spec_text[*n]),
            VSet::Any => String::new(),
        }
    }

    fn display_string(&self, string_id: StringId) -> impl fmt::Display + '_ {
        self.pool.resolve_string(string_id).to_owned()
    }

    fn version_set_name(&self, version_set: VersionSetId) -> NameId {
        self.pool.resolve_version_set_package_name(version_set)
    }

    fn solvable_name(&self, solvable: SolvableId) -> NameId {
        self.name_of(solvable)
    }

    fn version_sets_in_union(
        &self,
        version_set_union: VersionSetUnionId,
    ) -> impl Iterator<Item = VersionSetId> {
        self.pool.resolve_version_set_union(version_set_union)
    }

    fn resolve_condition(&self, condition: ConditionId) -> Condition {
        self.pool.resolve_condition(condition).clone()
    }
}

impl DependencyProvider for Provider<'_> {
    async fn filter_candidates(
        &self,
        candidates: &[SolvableId],
        version_set: VersionSetId,
        inverse: bool,
    ) -> Vec<SolvableId> {
        let vs = self.pool.resolve_version_set(version_set);
        candidates
            .iter()
            .copied()
            .filter(|&id| self.contains(vs, id) != inverse)
            .collect()
    }

    async fn get_candidates(&self, name: NameId) -> Option<Candidates> {
        let all = self.by_name.get(&name)?;
        let installed = self.installed.get(&name).copied();
        let mut candidates = all.clone();
        let mut favored = None;
        if let Some(inst) = installed {
            if self.targets.contains(&name) {
                // Updating: never offer anything older than what is installed.
                let inst_evr = &self.cand(inst).pkg.evr;
                candidates.retain(|&id| {
                    self.cand(id).pkg.evr.rpm_cmp(inst_evr) != std::cmp::Ordering::Less
                });
            } else if self.favor_installed {
                favored = Some(inst);
            }
        }
        Some(Candidates {
            candidates,
            favored,
            locked: None,
            hint_dependencies_available: HintDependenciesAvailable::All,
            excluded: Vec::new(),
            allow_multiple: false,
        })
    }

    async fn sort_candidates(&self, _solver: &SolverCache<Self>, solvables: &mut [SolvableId]) {
        solvables.sort_by(|&a, &b| {
            let (ca, cb) = (self.cand(a), self.cand(b));
            cb.pkg
                .evr
                .rpm_cmp(&ca.pkg.evr)
                .then_with(|| cb.repo.is_none().cmp(&ca.repo.is_none()))
                .then_with(|| ca.rank.cmp(&cb.rank))
        });
    }

    async fn get_dependencies(&self, solvable: SolvableId) -> Dependencies {
        let me = self.cand(solvable);
        let my_name = me.pkg.name.as_str();
        let mut requirements = Vec::new();
        let mut seen = HashSet::new();
        for dep in &me.pkg.requires {
            if !seen.insert(dep) {
                continue;
            }
            if self.provides(solvable, dep) {
                continue;
            }
            let providers = self.arch_family_filter(me.pkg, self.providers(dep));
            let label = format!("nothing provides `{dep}`");
            let req = self.requirement_over(&providers, |_| VSet::Provides(dep.clone()), &label);
            requirements.push(ConditionalRequirement {
                condition: None,
                requirement: req,
            });
        }
        let mut constrains = Vec::new();
        for dep in &me.pkg.conflicts {
            let mut names: Vec<NameId> = self
                .providers(dep)
                .into_iter()
                .map(|id| self.name_of(id))
                .collect();
            names.sort();
            names.dedup();
            for name in names {
                if name == self.name_of(solvable) {
                    continue;
                }
                constrains.push(
                    self.pool
                        .intern_version_set(name, VSet::NotProviding(dep.clone())),
                );
            }
        }
        for dep in &me.pkg.obsoletes {
            if dep.name == my_name {
                continue;
            }
            for &name in self
                .names_of_pkg
                .get(dep.name.as_str())
                .into_iter()
                .flatten()
            {
                constrains.push(
                    self.pool
                        .intern_version_set(name, VSet::NotObsoletedBy(dep.clone())),
                );
            }
        }
        Dependencies::Known(KnownDependencies {
            requirements,
            constrains,
        })
    }
}
