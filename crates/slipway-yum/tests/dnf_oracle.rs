//! ORACLE: slipway's resolver against Debian's dnf 4 (libsolv) on the same
//! fixture repos served over HTTP on 127.0.0.1. Each case compares the set
//! of NEVRAs installed, the set removed, and the names skipped because they
//! match nothing (dnf with `strict=0`, as yum 3: skipped when others match;
//! slipway, as the yum 3 of the recipes: an error when none matches).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::World;
use slipway_test_support::{fixtures_dir, require_tool};
use slipway_yum::Repo;
use slipway_yum::resolve::{Job, Request, parse_installed, resolve};
use slipway_yum::source::Format;

struct Case {
    name: &'static str,
    arch: &'static str,
    installed: &'static [&'static str],
    job: Job,
    specs: &'static [&'static str],
    /// NEVRAs dnf adds that yum 3 (and we) do not, with the reason.
    dnf_extra: &'static [&'static str],
    /// Ask dnf this job instead, where yum 3 and dnf 4 name it differently.
    dnf_job: Option<Job>,
}

const BASE_SET: &[&str] = &[
    "shell-1.0-1.x86_64",
    "libfoo-1.0-1.x86_64",
    "foo-1.0-1.x86_64",
    "oldtool-1.0-1.x86_64",
    "epochpkg-1:1.0-1.noarch",
    "bar-2.0-1.noarch",
];

const fn case(
    name: &'static str,
    installed: &'static [&'static str],
    job: Job,
    specs: &'static [&'static str],
) -> Case {
    Case {
        name,
        arch: "x86_64",
        installed,
        job,
        specs,
        dnf_extra: &[],
        dnf_job: None,
    }
}

const CASES: &[Case] = &[
    case(
        "install with deps and a file dep in primary",
        &[],
        Job::Install,
        &["foo"],
    ),
    case(
        "install versioned requires chain",
        &[],
        Job::Install,
        &["bar"],
    ),
    // libsolv issue #393: when an i686 package pulls a library by name
    // (`libfoo >= 1.1`), dnf also installs the x86_64 sibling; yum 3
    // (multilib_policy=best) installs only what is required.
    Case {
        dnf_extra: &["libfoo-1.1-1.x86_64"],
        ..case(
            "multilib: name.i686 request",
            &[],
            Job::Install,
            &["foo.i686"],
        )
    },
    case(
        "multilib: only an i686 build exists",
        &[],
        Job::Install,
        &["lib32only"],
    ),
    case(
        "multilib: x86_64 package requiring an i686-only one",
        &[],
        Job::Install,
        &["uses-lib32only"],
    ),
    case(
        "file dep only in filelists",
        &[],
        Job::Install,
        &["needsdata"],
    ),
    case(
        "virtual provide with version",
        &[],
        Job::Install,
        &["virt-consumer"],
    ),
    case("priority beats version", &[], Job::Install, &["prio-pkg"]),
    case(
        "priority applies to dependencies",
        &[],
        Job::Install,
        &["extra-only"],
    ),
    case("epoch beats version", &[], Job::Install, &["epochpkg"]),
    case("package with obsoletes", &[], Job::Install, &["newtool"]),
    case("install an obsoleted name", &[], Job::Install, &["oldtool"]),
    case(
        "requires an older version",
        &[],
        Job::Install,
        &["needs-old-libfoo"],
    ),
    case(
        "several specs at once",
        &[],
        Job::Install,
        &["tools-suite", "lib32only", "epochpkg"],
    ),
    case(
        "unsatisfiable: conflicting requests",
        &[],
        Job::Install,
        &["alpha", "beta"],
    ),
    case(
        "unsatisfiable: missing capability",
        &[],
        Job::Install,
        &["broken"],
    ),
    case(
        "unsatisfiable: conflict between deps",
        &[],
        Job::Install,
        &["gamma"],
    ),
    case(
        "update all over an installed set",
        BASE_SET,
        Job::Update,
        &[],
    ),
    case(
        "update one package pulls its dep update",
        BASE_SET,
        Job::Update,
        &["foo"],
    ),
    case(
        "install keeps the installed set, upgrades a dep",
        BASE_SET,
        Job::Install,
        &["needs-new-libfoo"],
    ),
    // yum 3's `install` of an installed package updates it ("Package
    // matching bar already installed. Checking for update."); dnf 4's does
    // nothing. We follow yum 3, and compare with dnf's `upgrade`.
    Case {
        dnf_job: Some(Job::Update),
        ..case(
            "install something already installed upgrades it",
            BASE_SET,
            Job::Install,
            &["bar"],
        )
    },
    case("erase with reverse deps", BASE_SET, Job::Erase, &["libfoo"]),
    case("erase a file provider", BASE_SET, Job::Erase, &["shell"]),
    case(
        "unsatisfiable: installed package conflicts",
        &["beta-1.0-1.noarch"],
        Job::Install,
        &["alpha"],
    ),
    case(
        "update held back by a versioned requirement",
        &["libfoo-1.0-1.x86_64", "needs-old-libfoo-1.0-1.x86_64"],
        Job::Update,
        &[],
    ),
    // yum 3: "No package no-such-package available." and the rest goes on.
    case(
        "install: a missing name beside present ones is skipped",
        &[],
        Job::Install,
        &["no-such-package", "foo", "also-missing"],
    ),
    case(
        "install: no name matches anything",
        &[],
        Job::Install,
        &["no-such-package", "also-missing"],
    ),
    // yum 3: "No Match for argument: wireless-tools", the rest is erased
    // (the manylinux clean-up's erase list).
    case(
        "erase: names not installed beside installed ones are skipped",
        BASE_SET,
        Job::Erase,
        &["wireless-tools", "libfoo", "lib32only", "bar"],
    ),
    case(
        "erase: no name is installed",
        BASE_SET,
        Job::Erase,
        &["wireless-tools", "gtk2"],
    ),
    // yum 3: "Package(s) lib32only available, but not installed."
    case(
        "update: a name not installed beside an installed one",
        BASE_SET,
        Job::Update,
        &["lib32only", "foo", "no-such-package"],
    ),
    case(
        "update: no name is installed",
        BASE_SET,
        Job::Update,
        &["lib32only", "no-such-package"],
    ),
    Case {
        arch: "i686",
        ..case(
            "i686 machine: 32-bit only",
            &[],
            Job::Install,
            &["foo", "lib32only"],
        )
    },
];

#[derive(Debug, PartialEq)]
enum Answer {
    Tx {
        install: BTreeSet<String>,
        remove: BTreeSet<String>,
        /// Specs that matched nothing, in request order.
        skipped: Vec<String>,
    },
    /// None of the specs matches anything: dnf (`strict=0`) does nothing,
    /// yum 3 says "Nothing to do", slipway refuses with an error naming them.
    NothingMatches(Vec<String>),
    Unsatisfiable(String),
}

fn dnf_answer(world: &World, case: &Case, root: &Path, cache: &Path) -> Answer {
    let out = Command::new("/usr/bin/python3")
        .arg(fixtures_dir().join("yum/dnf_oracle.py"))
        .arg(world.reposd.path())
        .arg(root)
        .arg(cache)
        .arg(case.arch)
        .arg(match case.dnf_job.unwrap_or(case.job) {
            Job::Install => "install",
            Job::Update => "update",
            Job::Erase => "erase",
        })
        .args(case.specs)
        .output()
        .expect("run dnf_oracle.py");
    assert!(
        out.status.success(),
        "dnf oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    if let Some(e) = v.get("error") {
        return Answer::Unsatisfiable(e.as_str().unwrap_or_default().to_owned());
    }
    let list = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let skipped = list("skipped");
    if !case.specs.is_empty() && skipped.len() == case.specs.len() {
        return Answer::NothingMatches(skipped);
    }
    Answer::Tx {
        install: list("install").into_iter().collect(),
        remove: list("remove").into_iter().collect(),
        skipped,
    }
}

fn slipway_answer(repos: &[Repo], case: &Case) -> Answer {
    let installed =
        parse_installed(&case.installed.join("\n"), Path::new("installed"), repos).unwrap();
    let request = Request {
        job: case.job,
        specs: case.specs.iter().map(|s| s.to_string()).collect(),
    };
    match resolve(repos, &installed, &request, case.arch) {
        Ok(tx) => {
            let (install, remove) = tx.install_and_remove_sets();
            Answer::Tx {
                install,
                remove,
                skipped: tx.skipped,
            }
        }
        Err(slipway_yum::Error::NoMatch(names)) => Answer::NothingMatches(names),
        Err(e) => Answer::Unsatisfiable(e.to_string()),
    }
}

fn prepare_root(world: &World, case: &Case, root: &Path, rpm: &Path) {
    if case.installed.is_empty() {
        return;
    }
    let files: Vec<_> = case
        .installed
        .iter()
        .map(|nevra| {
            let nvra = match nevra.split_once(':') {
                Some((head, tail)) => {
                    format!("{}-{tail}", head.rsplit_once('-').unwrap().0)
                }
                None => nevra.to_string(),
            };
            world.rpm(&format!("{nvra}.rpm"))
        })
        .collect();
    let out = Command::new(rpm)
        .arg("--root")
        .arg(root)
        .args(["-i", "--nodeps", "--justdb", "--noscripts"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpm -i --justdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check_all(format: Format) {
    let Some(rpm) = require_tool("rpm") else {
        return;
    };
    if require_tool("dnf").is_none() {
        return;
    }
    let Some(world) = World::start() else { return };
    let store = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut repos_by_arch = std::collections::HashMap::new();
    for case in CASES {
        let repos = repos_by_arch
            .entry(case.arch)
            .or_insert_with(|| world.load(case.arch, format, store.path()));
        let root = tempfile::tempdir().unwrap();
        prepare_root(&world, case, root.path(), &rpm);
        let dnf = dnf_answer(&world, case, root.path(), cache.path());
        let ours = slipway_answer(repos, case);
        let agree = match (&dnf, &ours) {
            (Answer::Unsatisfiable(_), Answer::Unsatisfiable(_)) => true,
            (Answer::NothingMatches(d), Answer::NothingMatches(o)) => d == o,
            (
                Answer::Tx {
                    install: di,
                    remove: dr,
                    skipped: ds,
                },
                Answer::Tx {
                    install: oi,
                    remove: or,
                    skipped: os,
                },
            ) => {
                let mut expected = oi.clone();
                expected.extend(case.dnf_extra.iter().map(|s| s.to_string()));
                *di == expected && dr == or && ds == os
            }
            _ => false,
        };
        eprintln!(
            "{} {}: slipway {:?}",
            if agree { "ok  " } else { "FAIL" },
            case.name,
            ours
        );
        if !agree {
            failures.push(format!(
                "{}:\n  dnf:     {dnf:?}\n  slipway: {ours:?}",
                case.name
            ));
        }
    }
    assert!(CASES.len() >= 15);
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with dnf:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn resolver_agrees_with_dnf_reading_xml() {
    check_all(Format::Xml);
}

#[test]
fn resolver_agrees_with_dnf_reading_sqlite() {
    check_all(Format::Sqlite);
}
