//! `slipway lock` pins package steps end to end (issue 6): the
//! mini-manylinux recipe without CPython, plus a second package step over
//! the first, against a copy of the fixture yum repositories served over
//! HTTP.
//!
//! `slipway lock --no-packages` pins the base only and names what it left;
//! `slipway lock` records both package steps operation by operation with
//! the NEVRAs dnf picks; `build --locked` installs exactly those, and still
//! does (same image digest, from a cold store) after the repository gains a
//! newer `mini-tool`; `lock --update` picks the newer one; a locked package
//! the repository lost is named with its sha256; a changed package step makes
//! `--locked` fail and a plain build record the new resolution.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use slipway_e2e::world::{World, digest_of, ok, umoci_unpack};
use slipway_recipe::Lock;
use slipway_test_support::fixtures::{build_rpms, createrepo, rpm_files};
use slipway_test_support::http::HttpServer;
use slipway_test_support::{fixtures_dir, workspace_root};

const IMAGE: &str = "mini-manylinux";

/// A second package step over the first: `mini-extra`, which the first
/// erased, installed again.
const MORE_PACKAGES: &str = r#"
[[steps]]
name = "more-packages"
packages = [{ install = ["mini-extra"] }]
depends-on = ["packages"]
"#;

fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `(operation, NEVRA)` pairs of a lock entry.
type OpNevras = Vec<(u32, String)>;

/// The entries of `step` in the lock as `(op, NEVRA)` and `(op, erased NEVRA)`.
fn entries(lock_path: &Path, step: &str) -> (OpNevras, OpNevras) {
    let lock = Lock::read(lock_path).expect("lock").expect("lock written");
    let entry = lock
        .image(IMAGE)
        .and_then(|i| i.step(step))
        .unwrap_or_else(|| panic!("no lock entry for `{step}`:\n{}", lock.to_toml()));
    for p in &entry.packages {
        assert_eq!(p.sha256.len(), 64, "{p:?}");
        assert!(p.url.starts_with("http://127.0.0.1:"), "{p:?}");
    }
    (
        entry.packages.iter().map(|p| (p.op, p.nevra())).collect(),
        entry
            .erased
            .iter()
            .map(|e| (e.op, e.nevra.clone()))
            .collect(),
    )
}

fn pairs(items: &[(u32, &str)]) -> OpNevras {
    items.iter().map(|(op, n)| (*op, (*n).to_owned())).collect()
}

/// What dnf (python3-dnf, through the oracle script of the resolver tests)
/// installs for `install SPEC…` into an empty root from the repositories of
/// `reposd`.
fn dnf_installs(reposd: &Path, work: &Path, specs: &[&str]) -> BTreeSet<String> {
    let root = work.join("dnf-root");
    let cache = work.join("dnf-cache");
    for dir in [&root, &cache] {
        let _ = fs_err::remove_dir_all(dir);
        fs_err::create_dir_all(dir).expect("dnf dirs");
    }
    let out = Command::new("/usr/bin/python3")
        .arg(fixtures_dir().join("yum/dnf_oracle.py"))
        .args([reposd, &root, &cache])
        .args(["x86_64", "install"])
        .args(specs)
        .output()
        .expect("run dnf_oracle.py");
    assert!(
        out.status.success(),
        "dnf oracle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("oracle JSON");
    answer["install"]
        .as_array()
        .unwrap_or_else(|| panic!("dnf: {answer}"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// `rpm -qa` of the image in layout `layout`, unpacked by umoci under `dir`.
fn installed(layout: &Path, dir: &Path) -> (BTreeSet<String>, String) {
    let bundle = dir.join("bundle");
    let _ = fs_err::remove_dir_all(&bundle);
    umoci_unpack(layout, &bundle);
    let root = bundle.join("rootfs");
    let qa = Command::new("chroot")
        .arg(&root)
        .args(["rpm", "-qa"])
        .output()
        .expect("rpm -qa");
    assert!(
        qa.status.success(),
        "{}",
        String::from_utf8_lossy(&qa.stderr)
    );
    let version =
        fs_err::read_to_string(root.join("usr/share/mini-tool/version")).expect("mini-tool");
    (
        String::from_utf8_lossy(&qa.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
        version,
    )
}

/// Steps reported `running`.
fn ran(stderr: &str) -> BTreeSet<String> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_suffix(": running"))
        .filter_map(|l| l.split_once('/').map(|(_, s)| s.to_owned()))
        .collect()
}

fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "slipway succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run by `e2e.rs` in the shared world.
pub fn lock_pins_package_steps_and_locked_builds_install_exactly_them(world: &World) {
    let work = tempfile::tempdir().expect("temp dir");
    let work = work.path();

    // A copy of the fixture repositories, served on its own port.
    let yum = work.join("yum");
    for repo in ["base", "updates"] {
        let dir = yum.join(repo);
        fs_err::create_dir_all(&dir).expect("repo dir");
        for rpm in rpm_files(&world.yum.root().join(repo)) {
            fs_err::copy(&rpm, dir.join(rpm.file_name().expect("name"))).expect("copy rpm");
        }
        createrepo(&dir, false);
    }
    let Some(http) = HttpServer::serve(&yum) else {
        return;
    };
    let recipes = work.join("recipes");
    world.recipe(&recipes, false);
    let repo_file = recipes.join("repos/mini.repo");
    let repo_text = fs_err::read_to_string(&repo_file)
        .expect("repo file")
        .replace(
            &format!("127.0.0.1:{}/", world.yum.port()),
            &format!("127.0.0.1:{}/", http.port()),
        );
    fs_err::write(&repo_file, &repo_text).expect("repo file");
    let reposd = work.join("yum.repos.d");
    fs_err::create_dir_all(&reposd).expect("repos.d");
    fs_err::write(reposd.join("mini.repo"), &repo_text).expect("repos.d");
    let toml = recipes.join(format!("{IMAGE}.toml"));
    let mut text = fs_err::read_to_string(&toml).expect("recipe");
    text.push_str(MORE_PACKAGES);
    fs_err::write(&toml, &text).expect("recipe");
    let lock_path = recipes.join("slipway.lock");

    let store1 = work.join("store1");
    let lock_args = |store: &Path, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "lock",
            "--recipes",
            arg(&recipes),
            "--mirror",
            world.mirror_arg(),
            "--store",
            arg(store),
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let build_args = |store: &Path, out: &Path, locked: bool| -> Vec<String> {
        let mut args: Vec<String> = [
            "build",
            "--recipes",
            arg(&recipes),
            "--mirror",
            world.mirror_arg(),
            "--store",
            arg(store),
            "--output",
            arg(out),
            "--jobs",
            "2",
        ]
        .map(str::to_owned)
        .to_vec();
        if locked {
            args.push("--locked".into());
        }
        args
    };
    let run = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        world.slipway(&args, Some(work), &[])
    };

    // 0. lock --no-packages: bases and sources only, and it says what is
    //    left unlocked; no step runs.
    let (_, stderr) = ok(&run(&lock_args(&store1, &["--no-packages"])));
    assert!(
        stderr.contains(
            "not locked (--no-packages): mini-manylinux/more-packages, mini-manylinux/packages"
        ) || stderr.contains(
            "not locked (--no-packages): mini-manylinux/packages, mini-manylinux/more-packages"
        ),
        "{stderr}"
    );
    assert!(ran(&stderr).is_empty(), "{stderr}");
    let pins = Lock::read(&lock_path).expect("lock").expect("lock written");
    let image = pins.image(IMAGE).expect("image pinned");
    assert_eq!(image.base_digest.as_deref(), Some(world.pushed.as_str()));
    assert!(image.steps.is_empty(), "{}", pins.to_toml());

    // 1. lock: both package steps, operation by operation; the first as dnf
    //    resolves it; nothing after them runs.
    let (_, stderr) = ok(&run(&lock_args(&store1, &[])));
    assert!(
        stderr.contains("mini-manylinux/packages: resolved 4 packages, 1 erased"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mini-manylinux/more-packages: resolved 1 packages, 0 erased"),
        "{stderr}"
    );
    let lock_ran = ran(&stderr);
    assert!(
        lock_ran.iter().all(|s| s == "packages"),
        "lock runs only what the package steps run over: {lock_ran:?}"
    );
    let (packages, erased) = entries(&lock_path, "packages");
    assert_eq!(
        packages,
        pairs(&[
            (1, "mini-extra-1.0-1.noarch"),
            (1, "mini-system-1.0-1.noarch"),
            (1, "mini-tool-1.0-1.noarch"),
            (2, "mini-tool-1.1-1.noarch"),
        ])
    );
    assert_eq!(erased, pairs(&[(3, "mini-extra-1.0-1.noarch")]));
    let op1: BTreeSet<String> = packages
        .iter()
        .filter(|(op, _)| *op == 1)
        .map(|(_, n)| n.clone())
        .collect();
    assert_eq!(
        op1,
        dnf_installs(&reposd, work, &["mini-tool-1.0", "mini-extra"])
    );
    assert_eq!(
        entries(&lock_path, "more-packages"),
        (pairs(&[(1, "mini-extra-1.0-1.noarch")]), Vec::new())
    );
    let first_lock = fs_err::read_to_string(&lock_path).expect("lock");
    // Locking again keeps every pin: the same bytes.
    ok(&run(&lock_args(&store1, &[])));
    assert_eq!(
        fs_err::read_to_string(&lock_path).expect("lock"),
        first_lock
    );

    // 2. build --locked installs exactly the pins; what lock ran is cached.
    let out1 = work.join("out1");
    let (stdout, stderr) = ok(&run(&build_args(&store1, &out1, true)));
    let digest = digest_of(&stdout, IMAGE);
    assert!(
        !ran(&stderr).contains("packages"),
        "the package step lock ran is a cache hit: {stderr}"
    );
    let (qa, version) = installed(&out1.join(IMAGE), &work.join("unpack1"));
    let minis: BTreeSet<&str> = qa
        .iter()
        .filter(|p| p.starts_with("mini-"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        minis,
        BTreeSet::from([
            "mini-extra-1.0-1.noarch",
            "mini-system-1.0-1.noarch",
            "mini-tool-1.1-1.noarch"
        ])
    );
    assert_eq!(version, "1.1\n");

    // 3. The repository gains mini-tool 1.2: a locked build from a cold
    //    store still makes the same image.
    let spec_dir = work.join("spec-1.2");
    fs_err::create_dir_all(&spec_dir).expect("spec dir");
    let spec = fs_err::read_to_string(
        workspace_root().join("fixtures/mini-manylinux/rpms/updates/mini-tool.spec"),
    )
    .expect("spec")
    .replace("1.1", "1.2");
    fs_err::write(spec_dir.join("mini-tool.spec"), spec).expect("spec");
    let newer: Vec<PathBuf> = rpm_files(&build_rpms(&spec_dir, "e2e-lock-mini-tool-1.2"));
    let updates = yum.join("updates");
    for rpm in &newer {
        fs_err::copy(rpm, updates.join(rpm.file_name().expect("name"))).expect("copy");
    }
    createrepo(&updates, false);
    let store2 = work.join("store2");
    let out2 = work.join("out2");
    let (stdout, _) = ok(&run(&build_args(&store2, &out2, true)));
    assert_eq!(
        digest_of(&stdout, IMAGE),
        digest,
        "a locked build ignores the newer package"
    );
    assert_eq!(
        fs_err::read_to_string(&lock_path).expect("lock"),
        first_lock
    );

    // 4. lock --update re-resolves: the update operation takes 1.2.
    ok(&run(&lock_args(&store2, &["--update"])));
    let (packages, _) = entries(&lock_path, "packages");
    assert!(
        packages.contains(&(2, "mini-tool-1.2-1.noarch".to_owned())),
        "{packages:?}"
    );
    assert!(
        packages.contains(&(1, "mini-tool-1.0-1.noarch".to_owned())),
        "the request pins 1.0 for the install: {packages:?}"
    );
    let locked_12 = Lock::read(&lock_path)
        .expect("lock")
        .expect("lock")
        .image(IMAGE)
        .and_then(|i| i.step("packages"))
        .and_then(|s| s.packages.iter().find(|p| p.version == "1.2").cloned())
        .expect("mini-tool 1.2 locked");

    // 4b. --offline: the repositories answer nothing (their directory is
    //     gone, so any request would fail); lock --update resolves from the
    //     repomd.xml and packages store 2 remembers, to the same pins.
    let pins_online = fs_err::read_to_string(&lock_path).expect("lock");
    let hidden = work.join("yum-hidden");
    fs_err::rename(&yum, &hidden).expect("hide the repositories");
    let offline = run(&lock_args(&store2, &["--update", "--offline"]));
    fs_err::rename(&hidden, &yum).expect("restore the repositories");
    ok(&offline);
    assert_eq!(
        fs_err::read_to_string(&lock_path).expect("lock"),
        pins_online,
        "offline resolution from the store gives the same pins"
    );

    // 5. The repository loses the locked package: the error names it and
    //    its sha256. (Store 1 has every step but the new package set: lock
    //    --update filled store 2 with it.)
    let moved = work.join("moved");
    fs_err::create_dir_all(&moved).expect("dir");
    for rpm in &newer {
        let name = rpm.file_name().expect("name");
        fs_err::rename(updates.join(name), moved.join(name)).expect("move");
    }
    createrepo(&updates, false);
    let stderr = failed(&run(&build_args(&store1, &out1, true)));
    assert!(
        stderr.contains("mini-tool-1.2-1.noarch") && stderr.contains(&locked_12.sha256),
        "{stderr}"
    );
    for rpm in &newer {
        let name = rpm.file_name().expect("name");
        fs_err::rename(moved.join(name), updates.join(name)).expect("move back");
    }
    createrepo(&updates, false);
    let (_, stderr) = ok(&run(&build_args(&store1, &out1, true)));
    assert!(ran(&stderr).contains("packages"), "{stderr}");
    let (qa, version) = installed(&out1.join(IMAGE), &work.join("unpack2"));
    assert!(qa.contains("mini-tool-1.2-1.noarch"), "{qa:?}");
    assert_eq!(version, "1.2\n");

    // 6. A changed package step: --locked refuses, naming it; a plain build
    //    resolves, records and builds it.
    let changed = text.replace(
        "{ install = [\"mini-tool-1.0\", \"mini-extra\"] },",
        "{ install = [\"mini-tool-1.0\", \"mini-extra\", \"mini-system\"] },",
    );
    assert_ne!(changed, text, "the recipe's install operation moved");
    fs_err::write(&toml, &changed).expect("recipe");
    let stderr = failed(&run(&build_args(&store2, &out2, true)));
    assert!(
        stderr.contains("the packages of step `packages` changed since they were locked")
            && stderr.contains("run `slipway lock`"),
        "{stderr}"
    );
    let (_, stderr) = ok(&run(&build_args(&store2, &out2, false)));
    assert!(
        stderr.contains("recorded the packages of mini-manylinux/packages in"),
        "{stderr}"
    );
    let lock = Lock::read(&lock_path).expect("lock").expect("lock");
    let recipe = slipway_recipe::Recipe::load(&recipes).expect("recipe");
    slipway_recipe::lock::check(&recipe, &lock, &lock_path).expect("the lock is current");
    ok(&run(&build_args(&store2, &out2, true)));
}
