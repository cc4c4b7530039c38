//! Helpers shared by the recipe tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use slipway_recipe::lock::{LockedErase, LockedPackage, LockedSkip, LockedStep};
use slipway_recipe::{Lock, Recipe};

/// The real recipes of the workspace.
pub fn layers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../layers")
}

/// A valid two-image recipe to mutate: `base.toml` from a registry and
/// `app.toml` on top of it, with a fragment, a repo file, sources and steps.
pub const BASE: &str = r#"
[base]
ref = "registry.example/builder:1"
platform = "linux/amd64"

[[steps]]
name = "hello"
script = "steps/hello.sh"
"#;

pub const APP: &str = r#"include = ["common/shared.toml"]

[base]
image = "base"

[[steps]]
name = "build"
script = "steps/build.sh"
inputs = ["lib"]
depends-on = ["packages"]

[[steps]]
name = "other"
script = "steps/other.sh"
depends-on = ["packages"]

[[steps]]
name = "last"
script = "steps/hello.sh"
"#;

pub const SHARED: &str = r#"[[repos]]
name = "fixture"
file = "repos/fixture.repo"

[[sources]]
name = "lib"
url = "https://example.invalid/lib-1.0.tar.gz"
sha256 = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"

[[steps]]
name = "packages"
packages = [{ update = ["*"] }, { install = ["gcc"] }, { erase = ["vim"] }, { clean = true }]

[config]
env = { PATH = "/opt/bin:$PATH" }
cmd = ["/bin/sh"]
"#;

/// Write the valid recipe into a temp dir, with `edit(name, text)` applied to
/// each file's text first.
pub fn recipe_with(edit: impl Fn(&str, &str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = [
        ("base.toml", BASE),
        ("app.toml", APP),
        ("common/shared.toml", SHARED),
        (
            "repos/fixture.repo",
            "[fixture]\nbaseurl=http://127.0.0.1/repo\n",
        ),
        ("steps/hello.sh", "echo hello\n"),
        ("steps/build.sh", "make\n"),
        ("steps/other.sh", "true\n"),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs_err::write(&path, edit(name, text)).expect("write");
    }
    dir
}

/// The error message loading the recipe (with `edit` applied) gives.
pub fn error_of(edit: impl Fn(&str, &str) -> String) -> String {
    let dir = recipe_with(edit);
    match slipway_recipe::Recipe::load(dir.path()) {
        Ok(_) => panic!("the recipe loaded, an error was expected"),
        Err(e) => e.to_string(),
    }
}

/// Replace `from` by `to` in file `file` only.
pub fn replace(
    file: &'static str,
    from: &'static str,
    to: &'static str,
) -> impl Fn(&str, &str) -> String {
    move |name, text| {
        if name == file {
            assert!(text.contains(from), "`{from}` not in {file}");
            text.replacen(from, to, 1)
        } else {
            text.to_owned()
        }
    }
}

// Lock entries, shared with slipway-build's lock tests.

pub const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The common recipe with its base pinned in the reference (so `make_lock`
/// needs no registry), edited by `edit`.
pub fn recipe(edit: impl Fn(&str, &str) -> String) -> tempfile::TempDir {
    recipe_with(move |name, text| {
        let pinned = text.replace(
            "ref = \"registry.example/builder:1\"",
            &format!("ref = \"registry.example/builder:1@{DIGEST}\""),
        );
        edit(name, &pinned)
    })
}

pub fn package(op: u32, name: &str, version: &str) -> LockedPackage {
    LockedPackage {
        op,
        name: name.into(),
        epoch: 0,
        version: version.into(),
        release: "1.el6".into(),
        arch: "x86_64".into(),
        sha256: format!("{:0>64}", name.len()),
        url: format!("http://127.0.0.1/repo/{name}-{version}.rpm"),
    }
}

/// A lock entry for `app/packages` made for the recipe in `dir` as it is.
pub fn entry(dir: &Path) -> LockedStep {
    let recipe = Recipe::load(dir).expect("recipe");
    let app = recipe.image("app").expect("app");
    let step = app.step("packages").expect("packages");
    LockedStep {
        name: "packages".into(),
        request: slipway_recipe::plan::packages_request(&recipe, app, step, None).expect("request"),
        packages: vec![
            package(2, "gcc", "4.4.7"),
            package(1, "bash", "4.1.2"),
            package(2, "cpp", "4.4.7"),
        ],
        erased: vec![LockedErase {
            op: 3,
            nevra: "vim-enhanced-7.4-1.el6.x86_64".into(),
        }],
        // A name the erase did not find installed, skipped as yum 3 does.
        skipped: vec![LockedSkip {
            op: 3,
            name: "wireless-tools".into(),
        }],
    }
}

pub fn lock_with(step: LockedStep) -> Lock {
    let mut lock = Lock {
        version: slipway_recipe::lock::LOCK_VERSION,
        ..Lock::default()
    };
    lock.set_step("app", step);
    lock
}
