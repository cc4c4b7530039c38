//! Package specs (what a user types after `yum install`) and the
//! installed-set file (`rpm -qa` output).

use std::collections::HashMap;
use std::path::Path;

use resolvo::SolvableId;

use super::arch::{arch_rank, compatible_arches};
use super::provider::Provider;
use crate::evr::{Dep, Evr};
use crate::repodata::{Checksum, Package};
use crate::repofile::glob_match;
use crate::source::Repo;
use crate::{Error, Result};

/// The names under which yum matches a package against a spec.
fn spec_forms(p: &Package) -> [String; 7] {
    let (n, e, v, r, a) = (
        &p.name,
        p.evr.epoch,
        &p.evr.version,
        &p.evr.release,
        &p.arch,
    );
    [
        n.clone(),
        format!("{n}.{a}"),
        format!("{n}-{v}"),
        format!("{n}-{v}-{r}"),
        format!("{n}-{v}-{r}.{a}"),
        format!("{n}-{e}:{v}-{r}.{a}"),
        format!("{e}:{n}-{v}-{r}.{a}"),
    ]
}

fn spec_matches(spec: &str, p: &Package) -> bool {
    let globby = spec.contains(['*', '?', '[']);
    // Every form starts with the name or with an epoch: skip the rest cheaply.
    if !globby
        && !spec.starts_with(p.name.as_str())
        && !spec.starts_with(|c: char| c.is_ascii_digit())
    {
        return false;
    }
    spec_forms(p).iter().any(|f| {
        if globby {
            glob_match(spec, f)
        } else {
            f == spec
        }
    })
}

fn names_an_arch(spec: &str) -> bool {
    let known = [
        "x86_64", "i686", "i586", "i486", "i386", "noarch", "ppc64", "aarch64",
    ];
    spec.rsplit_once('.')
        .is_some_and(|(_, a)| known.contains(&a) || compatible_arches(a).len() > 2)
}

/// Solvables a spec selects. `install`: repository and installed packages,
/// by name forms, else by capability; `multilib_policy=best` keeps only the
/// best arch of each name unless the spec names an arch. `update`: installed
/// packages only.
pub(crate) fn match_spec(provider: &Provider<'_>, spec: &str, install: bool) -> Vec<SolvableId> {
    let mut hits: Vec<SolvableId> = provider
        .ids
        .iter()
        .copied()
        .filter(|&id| {
            let c = provider.cand(id);
            (install || c.repo.is_none()) && spec_matches(spec, c.pkg)
        })
        .collect();
    if hits.is_empty() && install {
        hits = provider.providers(&Dep::name(spec));
    }
    if install {
        // yum: "Package X is obsoleted by Y, trying to install Y instead".
        let mut replaced = Vec::new();
        for &id in &hits {
            let c = provider.cand(id);
            let obsoleters: Vec<_> = provider
                .obsoleters_of(c.pkg)
                .into_iter()
                .filter(|&o| provider.cand(o).repo.is_some())
                .collect();
            if obsoleters.is_empty() || c.repo.is_none() {
                replaced.push(id);
            } else {
                replaced.extend(obsoleters);
            }
        }
        replaced.sort();
        replaced.dedup();
        hits = replaced;
    }
    if install && !names_an_arch(spec) {
        let mut best: HashMap<&str, u32> = HashMap::new();
        for &id in &hits {
            let p = provider.cand(id).pkg;
            let rank = arch_rank(&provider.machine, &p.arch).unwrap_or(u32::MAX);
            let e = best.entry(p.name.as_str()).or_insert(rank);
            *e = (*e).min(rank);
        }
        hits.retain(|&id| {
            let p = provider.cand(id).pkg;
            arch_rank(&provider.machine, &p.arch).unwrap_or(u32::MAX) == best[p.name.as_str()]
        });
    }
    hits
}

/// Indices of installed packages a spec selects (for `erase`).
pub(crate) fn match_installed(installed: &[Package], spec: &str) -> Vec<usize> {
    let hits: Vec<usize> = installed
        .iter()
        .enumerate()
        .filter(|(_, p)| spec_matches(spec, p))
        .map(|(i, _)| i)
        .collect();
    if !hits.is_empty() {
        return hits;
    }
    let dep = Dep::name(spec);
    installed
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.provides.iter().any(|pr| pr.name == dep.name) || p.files.contains(&dep.name)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Parse `name-[epoch:]version-release.arch`.
fn parse_nevra(text: &str) -> Option<(String, Evr, String)> {
    let (rest, arch) = text.rsplit_once('.')?;
    let (rest, release) = rest.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() || arch.is_empty() {
        return None;
    }
    let (epoch, version) = match version.split_once(':') {
        Some((e, v)) => (e.parse().ok()?, v),
        None => (0, version),
    };
    // `name-epoch:version` as some tools print it.
    let (name, epoch, version) = match name.rsplit_once('-') {
        Some((n, e)) if version.contains(':') => (n, e.parse().ok()?, version),
        _ => (name, epoch, version),
    };
    Some((
        name.to_owned(),
        Evr::new(epoch, version, release),
        arch.to_owned(),
    ))
}

/// Parse an installed set, one NEVRA per line as `rpm -qa` prints it
/// (`#` comments and blank lines ignored). Each package takes its metadata
/// (provides, requires, files) from the repository copy of the same NEVRA
/// when one exists (an epoch left out by `rpm -qa` matches any); otherwise
/// it only provides its own name.
pub fn parse_installed(text: &str, path: &Path, repos: &[Repo]) -> Result<Vec<Package>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("gpg-pubkey") {
            continue;
        }
        let Some((name, evr, arch)) = parse_nevra(line) else {
            return Err(Error::Installed {
                path: path.to_path_buf(),
                line: i + 1,
                text: line.to_owned(),
            });
        };
        let epoch_given = line.contains(':');
        let found = repos.iter().flat_map(|r| &r.packages).find(|p| {
            p.name == name
                && p.arch == arch
                && p.evr.version == evr.version
                && p.evr.release == evr.release
                && (!epoch_given || p.evr.epoch == evr.epoch)
        });
        out.push(match found {
            Some(p) => p.clone(),
            None => Package {
                provides: vec![Dep {
                    name: name.clone(),
                    flag: Some(crate::evr::Flag::Eq),
                    evr: Some(evr.clone()),
                }],
                name,
                arch,
                evr,
                checksum: Checksum {
                    kind: String::new(),
                    value: String::new(),
                },
                location: String::new(),
                location_base: None,
                size: 0,
                sourcerpm: String::new(),
                requires: Vec::new(),
                conflicts: Vec::new(),
                obsoletes: Vec::new(),
                files: Vec::new(),
            },
        });
    }
    Ok(out)
}

/// [`parse_installed`] on a file.
pub fn parse_installed_file(path: &Path, repos: &[Repo]) -> Result<Vec<Package>> {
    let text = fs_err::read_to_string(path)?;
    parse_installed(&text, path, repos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nevra_forms() {
        let (n, e, a) = parse_nevra("glibc-2.12-1.212.el6.x86_64").unwrap();
        assert_eq!(
            (n.as_str(), e.to_string().as_str(), a.as_str()),
            ("glibc", "2.12-1.212.el6", "x86_64")
        );
        let (n, e, _) = parse_nevra("perl-Foo-Bar-4:1.0-2.noarch").unwrap();
        assert_eq!((n.as_str(), e.epoch), ("perl-Foo-Bar", 4));
        assert!(parse_nevra("garbage").is_none());
    }
}
