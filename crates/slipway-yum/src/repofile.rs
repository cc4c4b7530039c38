//! `.repo` files, as yum reads them from `/etc/yum.repos.d`.
//!
//! An INI dialect: `[id]` sections, `key=value` lines, values continued on
//! following indented lines (how `baseurl` lists are usually written),
//! `#`/`;` comments, and `$basearch`, `$arch`, `$releasever`, `$infra`
//! (also `${var}`) substituted in every value. Hand-written because yum's
//! dialect (continuation lines, `$var` substitution, its booleans) is not
//! what the generic INI crates parse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The yum variables substituted in `.repo` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    /// `$arch`: the machine architecture (`x86_64`, `i686`).
    pub arch: String,
    /// `$basearch`: the base architecture (`x86_64`, `i386`).
    pub basearch: String,
    /// `$releasever` (`6`).
    pub releasever: String,
    /// `$infra` (`stock` by default, as on CentOS).
    pub infra: String,
}

impl Vars {
    /// Variables for `arch` and `releasever`; `$basearch` is derived as yum does.
    pub fn new(arch: &str, releasever: &str) -> Self {
        Self {
            arch: arch.to_owned(),
            basearch: basearch(arch).to_owned(),
            releasever: releasever.to_owned(),
            infra: "stock".to_owned(),
        }
    }

    /// Replace `$var` and `${var}` for the known variables; unknown ones stay.
    pub fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => (&inner[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let n = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..n], n)
            };
            let value = match name {
                "basearch" => Some(&self.basearch),
                "arch" => Some(&self.arch),
                "releasever" => Some(&self.releasever),
                "infra" => Some(&self.infra),
                _ => None,
            };
            match value {
                Some(v) => {
                    out.push_str(v);
                    rest = &after[consumed..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// yum's base architecture of a machine architecture.
pub fn basearch(arch: &str) -> &str {
    match arch {
        "i386" | "i486" | "i586" | "i686" | "athlon" | "geode" => "i386",
        "amd64" | "ia32e" => "x86_64",
        other => other,
    }
}

/// One `[section]` of a `.repo` file, with variables substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    /// The section name (`base`, `updates`, `epel`).
    pub id: String,
    /// `name=`, or the id.
    pub name: String,
    /// `baseurl=` entries, in order.
    pub baseurls: Vec<String>,
    /// `mirrorlist=`: a URL or path of a file listing base URLs.
    pub mirrorlist: Option<String>,
    /// `enabled=` (default true).
    pub enabled: bool,
    /// `gpgcheck=` (default false, as yum's own default).
    pub gpgcheck: bool,
    /// `gpgkey=` entries.
    pub gpgkeys: Vec<String>,
    /// `priority=` of yum-plugin-priorities: lower wins (default 99).
    pub priority: i32,
    /// `cost=` (default 1000): among equal versions the cheaper repo wins.
    pub cost: i32,
    /// `exclude=` globs: matching packages are invisible.
    pub exclude: Vec<String>,
    /// `includepkgs=` globs: when set, only matching packages are visible.
    pub includepkgs: Vec<String>,
    /// The file this section came from.
    pub source: PathBuf,
}

impl RepoConfig {
    /// A repository with defaults and one base URL (handy for tests and tools).
    pub fn with_baseurl(id: &str, baseurl: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: id.to_owned(),
            baseurls: vec![baseurl.to_owned()],
            mirrorlist: None,
            enabled: true,
            gpgcheck: false,
            gpgkeys: Vec::new(),
            priority: 99,
            cost: 1000,
            exclude: Vec::new(),
            includepkgs: Vec::new(),
            source: PathBuf::new(),
        }
    }

    /// Is a package named `name` (arch `arch`) visible through `exclude`/`includepkgs`?
    pub fn admits(&self, name: &str, arch: &str) -> bool {
        let matches =
            |pat: &String| glob_match(pat, name) || glob_match(pat, &format!("{name}.{arch}"));
        if self.exclude.iter().any(matches) {
            return false;
        }
        self.includepkgs.is_empty() || self.includepkgs.iter().any(matches)
    }
}

/// A parsed section: name, header line, key -> (line, raw value).
type Section = (String, usize, BTreeMap<String, (usize, String)>);

/// Read a `.repo` file and return its repository sections (all, enabled or not).
pub fn read_repo_file(path: &Path, vars: &Vars) -> Result<Vec<RepoConfig>> {
    let text = fs_err::read_to_string(path)?;
    parse_repo_file(&text, path, vars)
}

/// Parse the text of a `.repo` file; `path` is only used in errors.
pub fn parse_repo_file(text: &str, path: &Path, vars: &Vars) -> Result<Vec<RepoConfig>> {
    let err = |line: usize, message: String| Error::RepoFile {
        path: path.to_path_buf(),
        line,
        message,
    };
    // section -> (key -> (line, value))
    let mut sections: Vec<Section> = Vec::new();
    let mut last_key: Option<String> = None;
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            // Continuation of the previous key's value.
            let (Some(key), Some((_, _, keys))) = (&last_key, sections.last_mut()) else {
                return Err(err(
                    lineno,
                    format!("continuation line `{trimmed}` outside a value"),
                ));
            };
            if let Some((_, value)) = keys.get_mut(key) {
                value.push('\n');
                value.push_str(trimmed);
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(id) = rest.strip_suffix(']') else {
                return Err(err(lineno, format!("section header `{trimmed}` lacks `]`")));
            };
            let id = id.trim();
            if id.is_empty() || id.contains(char::is_whitespace) {
                return Err(err(lineno, format!("invalid section name `{id}`")));
            }
            if sections.iter().any(|(s, _, _)| s == id) {
                return Err(err(lineno, format!("section `{id}` appears twice")));
            }
            sections.push((id.to_owned(), lineno, BTreeMap::new()));
            last_key = None;
            continue;
        }
        let Some((key, value)) = trimmed.split_once(['=', ':']) else {
            return Err(err(
                lineno,
                format!("expected `key=value` or `[section]`, found `{trimmed}`"),
            ));
        };
        let Some((_, _, keys)) = sections.last_mut() else {
            return Err(err(
                lineno,
                format!("`{}` appears before any [section]", key.trim()),
            ));
        };
        let key = key.trim().to_ascii_lowercase();
        keys.insert(key.clone(), (lineno, value.trim().to_owned()));
        last_key = Some(key);
    }

    let mut repos = Vec::new();
    for (id, header_line, keys) in sections {
        if id == "main" {
            continue;
        }
        let get = |k: &str| keys.get(k).map(|(l, v)| (*l, vars.substitute(v)));
        let list = |k: &str| {
            get(k)
                .map(|(_, v)| {
                    v.split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let boolean = |k: &str, default: bool| -> Result<bool> {
            match get(k) {
                None => Ok(default),
                Some((line, v)) => match v.to_ascii_lowercase().as_str() {
                    "1" | "yes" | "true" | "on" => Ok(true),
                    "0" | "no" | "false" | "off" => Ok(false),
                    other => Err(err(line, format!("`{k}` must be 0 or 1, found `{other}`"))),
                },
            }
        };
        let int = |k: &str, default: i32| -> Result<i32> {
            match get(k) {
                None => Ok(default),
                Some((line, v)) => v
                    .parse()
                    .map_err(|_| err(line, format!("`{k}` must be an integer, found `{v}`"))),
            }
        };
        let baseurls = list("baseurl");
        let mirrorlist = get("mirrorlist").map(|(_, v)| v).filter(|v| !v.is_empty());
        if baseurls.is_empty() && mirrorlist.is_none() && get("metalink").is_none() {
            return Err(err(
                header_line,
                format!("repository `{id}` has neither baseurl nor mirrorlist"),
            ));
        }
        repos.push(RepoConfig {
            name: get("name").map(|(_, v)| v).unwrap_or_else(|| id.clone()),
            baseurls,
            mirrorlist,
            enabled: boolean("enabled", true)?,
            gpgcheck: boolean("gpgcheck", false)?,
            gpgkeys: list("gpgkey"),
            priority: int("priority", 99)?,
            cost: int("cost", 1000)?,
            exclude: list("exclude"),
            includepkgs: list("includepkgs"),
            source: path.to_path_buf(),
            id,
        });
    }
    Ok(repos)
}

/// `fnmatch`-style glob (`*`, `?`, `[...]`), as yum's `exclude=` uses.
/// Hand-written: thirty lines, and the `glob` crates are path-oriented.
///
/// Iterative, remembering only the last `*` (a later star can match anything
/// an earlier one could): time is at most pattern length × text length,
/// whatever the number of stars.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // After the last `*` seen: (pattern index past it, text index it matched up to).
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if p.get(pi) == Some(&'*') {
            pi += 1;
            star = Some((pi, ti));
        } else if let Some(used) = match_one(&p[pi..], t[ti]) {
            pi += used;
            ti += 1;
        } else if let Some((after_star, matched)) = star {
            // Let the star swallow one more character and retry.
            pi = after_star;
            ti = matched + 1;
            star = Some((after_star, ti));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether the first element of `p` (a character, `?` or a `[...]` set)
/// matches `c`; `Some(pattern chars used)` when it does.
fn match_one(p: &[char], c: char) -> Option<usize> {
    match p.first()? {
        '*' => None,
        '?' => Some(1),
        '[' => {
            let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                return (c == '[').then_some(1);
            };
            let (negate, set) = match p[1] {
                '!' | '^' => (true, &p[2..close]),
                _ => (false, &p[1..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            (hit != negate).then_some(close + 1)
        }
        &literal => (literal == c).then_some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `yum_repofile` fuzz target: `includepkgs=gl?**********?86`
    /// took exponential time (minutes) against a long package name, and
    /// `admits` runs every glob against every package of a repository.
    #[test]
    fn globs_with_many_stars_stay_fast() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let name = "a".repeat(64);
            let _ = done.send((
                glob_match("gl?**********?86", &name),
                glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", &name),
                glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", &name),
            ));
        });
        let result = finished.recv_timeout(std::time::Duration::from_secs(5));
        assert_eq!(result, Ok((false, false, true)), "too slow, or wrong");
    }

    #[test]
    fn parses_centos_style_file() {
        let text = "\
[main]
cachedir=/var/cache/yum

# comment
[base]
name=CentOS-$releasever - Base
baseurl=http://vault.centos.org/6.9/os/$basearch/
        http://mirror.example/centos/$releasever/os/${basearch}/
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-6
priority=1
exclude=kernel* foo.i686

[epel]
mirrorlist=http://mirrors.example/mirrorlist?repo=epel-$releasever&arch=$basearch
enabled=0
";
        let repos = parse_repo_file(text, Path::new("x.repo"), &Vars::new("x86_64", "6")).unwrap();
        assert_eq!(repos.len(), 2);
        let base = &repos[0];
        assert_eq!(base.name, "CentOS-6 - Base");
        assert_eq!(
            base.baseurls,
            [
                "http://vault.centos.org/6.9/os/x86_64/",
                "http://mirror.example/centos/6/os/x86_64/"
            ]
        );
        assert!(base.gpgcheck && base.enabled);
        assert_eq!(base.priority, 1);
        assert!(!base.admits("kernel-devel", "x86_64"));
        assert!(!base.admits("foo", "i686"));
        assert!(base.admits("foo", "x86_64"));
        let epel = &repos[1];
        assert!(!epel.enabled);
        assert_eq!(epel.priority, 99);
        assert_eq!(
            epel.mirrorlist.as_deref(),
            Some("http://mirrors.example/mirrorlist?repo=epel-6&arch=x86_64")
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let vars = Vars::new("i686", "6");
        let e = parse_repo_file(
            "[a]\nbaseurl=x\nenabled=maybe\n",
            Path::new("f.repo"),
            &vars,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.repo:3: `enabled` must be 0 or 1, found `maybe`"
        );
        let e = parse_repo_file("[a]\nname=x\n", Path::new("f.repo"), &vars).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.repo:1: repository `a` has neither baseurl nor mirrorlist"
        );
        let e = parse_repo_file("garbage\n", Path::new("f.repo"), &vars).unwrap_err();
        assert!(e.to_string().starts_with("f.repo:1: "));
        assert_eq!(vars.basearch, "i386");
    }

    #[test]
    fn globs() {
        assert!(glob_match("kernel*", "kernel-headers"));
        assert!(glob_match("lib?.so", "liba.so"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[!a-c]x", "bx"));
        assert!(!glob_match("foo", "foobar"));
    }

    /// Keys are case-insensitive, as in yum's ConfigParser: a `metaliNk=`
    /// repository is accepted like a `metalink=` one (found by the
    /// `yum_repofile` fuzz target, whose invariant compared case-sensitively).
    #[test]
    fn keys_are_case_insensitive() {
        let vars = Vars::new("x86_64", "6");
        let repos = parse_repo_file(
            "[a]\nmetaliNk=http://x/\nBaseURL=http://y/\n",
            Path::new("f.repo"),
            &vars,
        )
        .unwrap();
        assert_eq!(repos[0].baseurls, ["http://y/"]);
        let only_metalink =
            parse_repo_file("[b]\nMETALINK=http://x/\n", Path::new("f.repo"), &vars).unwrap();
        assert!(only_metalink[0].baseurls.is_empty());
    }
}
