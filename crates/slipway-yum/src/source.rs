//! Loading repositories: pick a working base URL, fetch and verify
//! `repomd.xml`'s files into the store, parse them into [`Package`]s.

use std::collections::{HashMap, HashSet};
use std::io::BufReader;
use std::path::Path;

use crate::repodata::{
    Checksum, Package, RepoMd, parse_filelists, parse_primary, parse_repomd, read_filelists_db,
    read_primary_db,
};
use crate::repofile::{RepoConfig, Vars};
use crate::store::{Hasher, Store, Transport, join_url};
use crate::{Error, Result};

/// A repository with its metadata loaded.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The `.repo` section.
    pub config: RepoConfig,
    /// The base URL that answered.
    pub baseurl: String,
    /// The parsed `repomd.xml`.
    pub repomd: RepoMd,
    /// sha256 of the `repomd.xml` bytes: the metadata revision a lock pins.
    pub repomd_sha256: String,
    /// Packages visible through `exclude`/`includepkgs` (source RPMs dropped).
    pub packages: Vec<Package>,
}

impl Repo {
    /// A repository built from packages already in memory (tests, benchmarks).
    pub fn from_packages(config: RepoConfig, packages: Vec<Package>) -> Self {
        Self {
            baseurl: config.baseurls.first().cloned().unwrap_or_default(),
            repomd: RepoMd {
                revision: String::new(),
                data: Default::default(),
            },
            repomd_sha256: String::new(),
            packages,
            config,
        }
    }

    /// The download URL of one of this repository's packages.
    pub fn package_url(&self, pkg: &Package) -> String {
        join_url(
            pkg.location_base.as_deref().unwrap_or(&self.baseurl),
            &pkg.location,
        )
    }
}

/// Which metadata format to read when a repository has both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `primary.xml` (streamed); the default.
    #[default]
    Xml,
    /// `primary_db` sqlite, as yum 3 reads it.
    Sqlite,
}

/// How to load repositories.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Variables for mirror lists.
    pub vars: Vars,
    /// Preferred metadata format.
    pub format: Format,
}

/// Load every enabled repository, then the filelists entries needed to
/// answer file requirements that the primary file lists do not.
pub fn load_repos(
    configs: &[RepoConfig],
    store: &Store,
    transport: &Transport,
    options: &LoadOptions,
) -> Result<Vec<Repo>> {
    let mut repos = Vec::new();
    for config in configs.iter().filter(|c| c.enabled) {
        repos.push(load_repo(config, store, transport, options)?);
    }
    let missing = unresolved_file_requires(&repos);
    if !missing.is_empty() {
        for repo in &mut repos {
            add_filelists(repo, store, transport, options, &missing)?;
        }
    }
    Ok(repos)
}

fn candidate_baseurls(config: &RepoConfig, transport: &Transport, vars: &Vars) -> Vec<String> {
    let mut urls = config.baseurls.clone();
    if let Some(list) = &config.mirrorlist {
        match transport.get_bytes(list) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                urls.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(|l| vars.substitute(l)),
                );
            }
            Err(e) => tracing::warn!("mirror list of `{}`: {e}", config.id),
        }
    }
    urls
}

/// Load one repository (primary only).
pub fn load_repo(
    config: &RepoConfig,
    store: &Store,
    transport: &Transport,
    options: &LoadOptions,
) -> Result<Repo> {
    let mut last_err = None;
    // Offline, the repomd.xml the store remembers comes first; file://
    // base URLs still answer without it.
    let remembered = transport
        .is_offline()
        .then(|| store.remembered_repomd(config))
        .flatten();
    let candidates = match remembered {
        Some((baseurl, bytes)) => vec![(baseurl, Some(bytes))],
        None => candidate_baseurls(config, transport, &options.vars)
            .into_iter()
            .map(|u| (u, None))
            .collect(),
    };
    for (baseurl, known) in candidates {
        let url = join_url(&baseurl, "repodata/repomd.xml");
        let fetched = match known {
            Some(bytes) => Ok(bytes),
            None => transport.get_bytes(&url),
        };
        let bytes = match fetched {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("{e}");
                last_err = Some(e);
                continue;
            }
        };
        let repomd = parse_repomd(bytes.as_slice(), &url)?;
        if !transport.is_offline()
            && let Err(e) = store.remember_repomd(config, &baseurl, &bytes)
        {
            tracing::warn!("cannot remember {url} for offline use: {e}");
        }
        let mut h = Hasher::new("sha256")?;
        h.update(&bytes);
        let repomd_sha256 = h.finish();
        let mut repo = Repo {
            config: config.clone(),
            baseurl: baseurl.clone(),
            repomd,
            repomd_sha256,
            packages: Vec::new(),
        };
        let packages = read_packages(&repo, store, transport, options.format)?;
        repo.packages = packages
            .into_iter()
            .filter(|p| p.arch != "src" && p.arch != "nosrc" && config.admits(&p.name, &p.arch))
            .collect();
        return Ok(repo);
    }
    Err(last_err.unwrap_or(Error::NoBaseUrl {
        repo: config.id.clone(),
    }))
}

fn fetch_entry(
    repo: &Repo,
    kind: &str,
    store: &Store,
    transport: &Transport,
) -> Result<Option<(std::path::PathBuf, String)>> {
    let Some(entry) = repo.repomd.data.get(kind) else {
        return Ok(None);
    };
    let url = join_url(&repo.baseurl, &entry.location);
    let path = store.fetch(transport, &url, &entry.checksum, &url, &mut |_| {})?;
    Ok(Some((path, url)))
}

/// Like [`fetch_entry`] for a file the caller verifies while reading it:
/// a store hit is returned unverified (`fresh` false), anything else is
/// downloaded and verified (`fresh` true).
fn fetch_entry_lazy(
    repo: &Repo,
    kind: &str,
    store: &Store,
    transport: &Transport,
    fresh: &std::cell::Cell<bool>,
) -> Result<Option<(std::path::PathBuf, String)>> {
    let Some(entry) = repo.repomd.data.get(kind) else {
        return Ok(None);
    };
    let path = store.path_of(&entry.checksum);
    if path.is_file() {
        fresh.set(false);
        return Ok(Some((path, join_url(&repo.baseurl, &entry.location))));
    }
    fresh.set(true);
    fetch_entry(repo, kind, store, transport)
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: std::io::Read> HashingReader<R> {
    fn new(inner: R, kind: &str) -> Result<Self> {
        Ok(Self {
            inner,
            hasher: Hasher::new(kind)?,
        })
    }

    /// Read to the end (the parser may stop before trailing bytes) and
    /// return the hex digest.
    fn finish(mut self) -> String {
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut self, &mut rest);
        self.hasher.finish()
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn read_packages(
    repo: &Repo,
    store: &Store,
    transport: &Transport,
    format: Format,
) -> Result<Vec<Package>> {
    let has_db = repo.repomd.data.contains_key("primary_db");
    let has_xml = repo.repomd.data.contains_key("primary");
    if has_db && (format == Format::Sqlite || !has_xml) {
        let Some((path, url)) = fetch_entry(repo, "primary_db", store, transport)? else {
            return Err(Error::Metadata {
                file: repo.baseurl.clone(),
                message: "no primary_db metadata".into(),
            });
        };
        let db = uncompressed_db(store, &path, &repo.repomd.data["primary_db"].checksum)?;
        return read_primary_db(&db, &url);
    }
    let fresh = std::cell::Cell::new(false);
    let Some((path, url)) = fetch_entry_lazy(repo, "primary", store, transport, &fresh)? else {
        return Err(Error::Metadata {
            file: repo.baseurl.clone(),
            message: "no primary metadata".into(),
        });
    };
    let entry = &repo.repomd.data["primary"];
    let mut packages = Vec::new();
    if fresh.get() {
        let file = fs_err::File::open(&path)?;
        parse_primary(BufReader::with_capacity(256 * 1024, file), &url, |p| {
            packages.push(p)
        })?;
    } else {
        // A store hit: verify the checksum in the same pass as the parse
        // (reading 100 MB twice costs more than parsing it).
        let file = fs_err::File::open(&path)?;
        let mut hashing = HashingReader::new(file, &entry.checksum.kind)?;
        let parsed = parse_primary(
            BufReader::with_capacity(256 * 1024, &mut hashing),
            &url,
            |p| packages.push(p),
        );
        if let Err(e) = parsed {
            // A damaged store entry shows up as a parse error first.
            if crate::store::hash_file(&path, &entry.checksum.kind)? == entry.checksum.value {
                return Err(e);
            }
        }
        let actual = hashing.finish();
        if actual != entry.checksum.value {
            let _ = fs_err::remove_file(&path);
            return Err(Error::Checksum {
                what: format!("store entry {}", path.display()),
                url,
                kind: entry.checksum.kind.clone(),
                expected: entry.checksum.value.clone(),
                actual,
            });
        }
    }
    Ok(packages)
}

/// Decompress a sqlite metadata file next to its store entry (cached).
fn uncompressed_db(store: &Store, path: &Path, checksum: &Checksum) -> Result<std::path::PathBuf> {
    let out = store.path_of(checksum).with_extension("sqlite");
    if out.exists() {
        return Ok(out);
    }
    let dir = out.parent().unwrap_or(store.root());
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let file = fs_err::File::open(path)?;
    let mut reader = crate::repodata::decompress_reader(BufReader::new(file))?;
    std::io::copy(&mut reader, tmp.as_file_mut())?;
    tmp.persist(&out).map_err(|e| e.error)?;
    Ok(out)
}

fn unresolved_file_requires(repos: &[Repo]) -> HashSet<String> {
    let mut known: HashSet<&str> = HashSet::new();
    for p in repos.iter().flat_map(|r| &r.packages) {
        known.extend(p.files.iter().map(String::as_str));
        known.extend(p.provides.iter().map(|d| d.name.as_str()));
    }
    let mut missing = HashSet::new();
    for p in repos.iter().flat_map(|r| &r.packages) {
        for dep in p.requires.iter().chain(&p.conflicts) {
            if dep.name.starts_with('/') && !known.contains(dep.name.as_str()) {
                missing.insert(dep.name.clone());
            }
        }
    }
    missing
}

fn add_filelists(
    repo: &mut Repo,
    store: &Store,
    transport: &Transport,
    options: &LoadOptions,
    wanted: &HashSet<String>,
) -> Result<()> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    let want = |p: &str| wanted.contains(p);
    let has_db = repo.repomd.data.contains_key("filelists_db");
    let has_xml = repo.repomd.data.contains_key("filelists");
    if has_db && (options.format == Format::Sqlite || !has_xml) {
        if let Some((path, url)) = fetch_entry(repo, "filelists_db", store, transport)? {
            let db = uncompressed_db(store, &path, &repo.repomd.data["filelists_db"].checksum)?;
            read_filelists_db(&db, &url, &want, |id, f| {
                found.entry(id.to_owned()).or_default().push(f.to_owned())
            })?;
        }
    } else if let Some((path, url)) = fetch_entry(repo, "filelists", store, transport)? {
        let file = fs_err::File::open(&path)?;
        parse_filelists(
            BufReader::with_capacity(256 * 1024, file),
            &url,
            &want,
            |id, f| found.entry(id.to_owned()).or_default().push(f.to_owned()),
        )?;
    }
    for p in &mut repo.packages {
        if let Some(files) = found.get(&p.checksum.value) {
            for f in files {
                if !p.files.contains(f) {
                    p.files.push(f.clone());
                }
            }
        }
    }
    Ok(())
}
