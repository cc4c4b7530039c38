//! `slipway resolve` and `slipway fetch` end to end: the `base` fixture repo
//! (`fixtures/yum/specs/base`, built by rpmbuild, indexed by createrepo_c)
//! served over HTTP on 127.0.0.1; dnf (through `fixtures/yum/dnf_oracle.py`)
//! says what the answer must be.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_test_support::http::HttpServer;
use slipway_test_support::process::run_ok;
use slipway_test_support::{fixtures_dir, generated_dir, require_tool};

/// Build the `base` repo once per spec set.
fn base_repo() -> Option<PathBuf> {
    let rpmbuild = require_tool("rpmbuild")?;
    let createrepo = require_tool("createrepo_c")?;
    let specs = fixtures_dir().join("yum/specs/base");
    let root = generated_dir("yum-cli-repo");
    let repo = root.join("base");
    let mut stamp = String::new();
    let mut files: Vec<_> = fs_err::read_dir(&specs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        stamp.push_str(&fs_err::read_to_string(f).unwrap());
    }
    if fs_err::read_to_string(root.join("stamp")).ok().as_deref() == Some(stamp.as_str()) {
        return Some(root);
    }
    let _ = fs_err::remove_dir_all(&repo);
    for spec in &files {
        let stem = spec.file_stem().unwrap().to_string_lossy().into_owned();
        let arch = stem.rsplit('.').next().unwrap().to_owned();
        run_ok(
            Command::new(&rpmbuild)
                .args(["-bb", "--quiet", "--target", &arch])
                .arg("--define")
                .arg(format!("_topdir {}", root.join("top").display()))
                .arg("--define")
                .arg(format!("_rpmdir {}", repo.display()))
                .args(["--define", "_build_id_links none"])
                .arg(spec),
        );
    }
    run_ok(
        Command::new(createrepo)
            .args(["-q", "--no-database"])
            .arg(&repo),
    );
    fs_err::write(root.join("stamp"), stamp).unwrap();
    Some(root)
}

fn slipway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
}

fn dnf_install_set(reposd: &Path, spec: &str) -> BTreeSet<String> {
    let root = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = run_ok(
        Command::new("/usr/bin/python3")
            .arg(fixtures_dir().join("yum/dnf_oracle.py"))
            .arg(reposd)
            .arg(root.path())
            .arg(cache.path())
            .args(["x86_64", "install", spec]),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["install"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn resolve_json_table_errors_and_fetch() {
    if require_tool("dnf").is_none() {
        return;
    }
    let Some(root) = base_repo() else { return };
    let Some(server) = HttpServer::serve(&root) else {
        return;
    };
    let reposd = tempfile::tempdir().unwrap();
    let repo_file = reposd.path().join("base.repo");
    fs_err::write(
        &repo_file,
        format!(
            "[base]\nname=base $releasever\nbaseurl={}/base/\ngpgcheck=0\n",
            server.url()
        ),
    )
    .unwrap();
    let store = tempfile::tempdir().unwrap();
    let base_args = |cmd: &mut Command| {
        cmd.arg("--repo-file")
            .arg(&repo_file)
            .arg("--store")
            .arg(store.path());
    };

    // --json: the same set dnf installs, with the fields promised.
    let mut cmd = slipway();
    cmd.arg("resolve");
    base_args(&mut cmd);
    let out = run_ok(cmd.args(["--json", "install", "tools-suite"]));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ours: BTreeSet<String> = items
        .iter()
        .map(|i| {
            assert_eq!(i["action"], "install");
            assert_eq!(i["repo"], "base");
            let epoch = i["epoch"].as_u64().unwrap();
            let epoch = if epoch == 0 {
                String::new()
            } else {
                format!("{epoch}:")
            };
            format!(
                "{}-{epoch}{}-{}.{}",
                i["name"].as_str().unwrap(),
                i["version"].as_str().unwrap(),
                i["release"].as_str().unwrap(),
                i["arch"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(ours, dnf_install_set(reposd.path(), "tools-suite"));

    // The table, yum-style.
    let mut cmd = slipway();
    cmd.arg("resolve");
    base_args(&mut cmd);
    let out = run_ok(cmd.args(["install", "foo"]));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Installing:"), "{table}");
    assert!(table.contains(" libfoo "), "{table}");
    assert!(table.contains("Transaction Summary"), "{table}");

    // Unsatisfiable: exit 1, the failed requirement named on stderr, nothing on stdout.
    let mut cmd = slipway();
    cmd.arg("resolve");
    base_args(&mut cmd);
    let out = cmd.args(["install", "broken"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken-1.0-1.noarch") && err.contains("nothing provides `doesnotexist >= 2`"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // resolve --write-lock, then fetch --lock --locked: the locked set is what
    // resolve printed, and every package lands verified in --dest.
    let lock = reposd.path().join("slipway.lock");
    let mut cmd = slipway();
    cmd.arg("resolve");
    base_args(&mut cmd);
    run_ok(cmd.arg("--write-lock").arg(&lock).args(["install", "bar"]));
    let lock_text = fs_err::read_to_string(&lock).unwrap();
    let locked_dest = tempfile::tempdir().unwrap();
    let mut cmd = slipway();
    cmd.arg("fetch");
    base_args(&mut cmd);
    run_ok(
        cmd.arg("--lock")
            .arg(&lock)
            .arg("--locked")
            .arg("--dest")
            .arg(locked_dest.path()),
    );
    let locked_files: BTreeSet<String> = fs_err::read_dir(locked_dest.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!locked_files.is_empty());
    for file in &locked_files {
        let nevra = file.trim_end_matches(".rpm");
        let name = nevra.rsplitn(3, '-').last().unwrap();
        assert!(
            lock_text.contains(name),
            "{name} missing from the lock:\n{lock_text}"
        );
    }

    // fetch: resolve, download verified, place in --dest byte-identical.
    let dest = tempfile::tempdir().unwrap();
    let mut cmd = slipway();
    cmd.arg("fetch");
    base_args(&mut cmd);
    run_ok(cmd.arg("--dest").arg(dest.path()).args(["install", "bar"]));
    let mut got: Vec<String> = fs_err::read_dir(dest.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    let want: BTreeSet<String> = dnf_install_set(reposd.path(), "bar")
        .into_iter()
        .map(|n| format!("{n}.rpm"))
        .collect();
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want);
    for name in &got {
        let arch = name.trim_end_matches(".rpm").rsplit('.').next().unwrap();
        let original = root.join("base").join(arch).join(name);
        assert_eq!(
            fs_err::read(dest.path().join(name)).unwrap(),
            fs_err::read(original).unwrap()
        );
    }
}
