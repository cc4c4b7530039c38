//! Shared test world: fixture repos built from `fixtures/yum/specs` with
//! `rpmbuild` and indexed with `createrepo_c`, served over HTTP on 127.0.0.1.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use slipway_test_support::http::HttpServer;
use slipway_test_support::{fixtures_dir, generated_dir, require_tool};
use slipway_yum::Repo;
use slipway_yum::repofile::{Vars, read_repo_file};
use slipway_yum::source::{Format, LoadOptions, load_repos};
use slipway_yum::store::{Store, Transport};

/// (repo id, priority, createrepo_c database?)
pub const REPOS: &[(&str, i32, bool)] = &[
    ("base", 10, false),
    ("updates", 10, true),
    ("extra", 99, true),
];

static BUILD: Mutex<()> = Mutex::new(());

pub fn specs_dir() -> PathBuf {
    fixtures_dir().join("yum/specs")
}

fn run(cmd: &mut Command) {
    slipway_test_support::process::run_ok(cmd);
}

/// Build (once; reused while the specs are unchanged) the fixture repos.
/// Returns the directory holding `base/`, `updates/`, `extra/`.
pub fn fixture_repos() -> Option<PathBuf> {
    let rpmbuild = require_tool("rpmbuild")?;
    let createrepo = require_tool("createrepo_c")?;
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = generated_dir("yum-fixture-repos");
    // Stamp: the concatenated spec texts.
    let mut stamp = String::new();
    let mut specs = Vec::new();
    for (repo, _, _) in REPOS {
        let mut files: Vec<_> = fs_err::read_dir(specs_dir().join(repo))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            stamp.push_str(&fs_err::read_to_string(&f).unwrap());
            specs.push((*repo, f));
        }
    }
    let stamp_file = root.join("stamp");
    if fs_err::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) {
        return Some(root);
    }
    let top = root.join("rpmbuild");
    for (repo, _, _) in REPOS {
        let _ = fs_err::remove_dir_all(root.join(repo));
    }
    for (repo, spec) in &specs {
        let stem = spec.file_stem().unwrap().to_string_lossy().into_owned();
        let arch = stem.rsplit('.').next().unwrap();
        run(Command::new(&rpmbuild)
            .args(["-bb", "--quiet", "--target", arch])
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", root.join(repo).display()))
            .args(["--define", "_build_id_links none"])
            .env("SOURCE_DATE_EPOCH", "1500000000")
            .arg(spec));
    }
    for (repo, _, database) in REPOS {
        let mut cmd = Command::new(&createrepo);
        cmd.arg("-q");
        if !database {
            cmd.arg("--no-database");
        }
        run(cmd.arg(root.join(repo)));
    }
    fs_err::write(&stamp_file, stamp).unwrap();
    Some(root)
}

/// The served repos plus a `.repo` file pointing at them.
#[derive(Debug)]
pub struct World {
    pub server: HttpServer,
    pub repos_root: PathBuf,
    pub reposd: tempfile::TempDir,
    pub repo_file: PathBuf,
}

impl World {
    pub fn start() -> Option<Self> {
        let repos_root = fixture_repos()?;
        let server = HttpServer::serve(&repos_root)?;
        let reposd = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for (id, prio, _) in REPOS {
            text.push_str(&format!(
                "[{id}]\nname=fixture {id} $releasever\nbaseurl={}/{id}/\nenabled=1\ngpgcheck=0\npriority={prio}\n\n",
                server.url()
            ));
        }
        let repo_file = reposd.path().join("fixtures.repo");
        fs_err::write(&repo_file, text).unwrap();
        Some(Self {
            server,
            repos_root,
            reposd,
            repo_file,
        })
    }

    pub fn load(&self, arch: &str, format: Format, store: &Path) -> Vec<Repo> {
        let vars = Vars::new(arch, "6");
        let configs = read_repo_file(&self.repo_file, &vars).unwrap();
        load_repos(
            &configs,
            &Store::new(store),
            &Transport::new().unwrap(),
            &LoadOptions { vars, format },
        )
        .unwrap()
    }

    /// Path of a built fixture RPM by file name (searched in every repo).
    pub fn rpm(&self, file_name: &str) -> PathBuf {
        for (repo, _, _) in REPOS {
            for arch in ["x86_64", "i686", "noarch"] {
                let p = self.repos_root.join(repo).join(arch).join(file_name);
                if p.exists() {
                    return p;
                }
            }
        }
        panic!("no fixture RPM {file_name}");
    }
}
