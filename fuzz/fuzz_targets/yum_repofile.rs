//! Arbitrary bytes as a `.repo` file, and its `exclude=`/`includepkgs=`
//! globs applied to package names (a package list is long: each glob must
//! stay cheap). Invariants: every repository has a valid section name and a
//! base URL or mirror list, and `exclude=` wins over `includepkgs=`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use slipway_yum::repofile::{Vars, parse_repo_file};

const NAMES: [(&str, &str); 4] = [
    ("glibc", "x86_64"),
    ("python-libs", "i686"),
    ("kernel-headers", "noarch"),
    (
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "x86_64",
    ),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = Vars::new("x86_64", "6");
    let Ok(repos) = parse_repo_file(text, Path::new("fuzz.repo"), &vars) else {
        return;
    };
    for repo in &repos {
        assert!(!repo.id.is_empty() && !repo.id.contains(char::is_whitespace));
        // Keys are case-insensitive, as in yum's ConfigParser (`metaliNk=`).
        assert!(
            !repo.baseurls.is_empty()
                || repo.mirrorlist.is_some()
                || text.to_ascii_lowercase().contains("metalink")
        );
        for (name, arch) in NAMES {
            let admitted = repo.admits(name, arch);
            let excluded = repo.exclude.iter().any(|p| {
                slipway_yum::repofile::glob_match(p, name)
                    || slipway_yum::repofile::glob_match(p, &format!("{name}.{arch}"))
            });
            assert!(
                !(admitted && excluded),
                "{name}.{arch} excluded but admitted"
            );
        }
    }
});
