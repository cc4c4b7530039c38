//! Cache keys change exactly when a step's output can change.

mod common;

use std::collections::BTreeMap;

use slipway_recipe::lock::{LockedErase, LockedImage, LockedPackage, LockedStep};
use slipway_recipe::{Lock, Plan, Recipe};

fn keys(dir: &std::path::Path, lock: Option<&Lock>) -> BTreeMap<String, String> {
    let recipe = Recipe::load(dir).expect("recipe");
    let plan = Plan::new(&recipe, &[], lock).expect("plan");
    plan.images
        .iter()
        .flat_map(|i| {
            i.steps
                .iter()
                .map(move |s| (format!("{}/{}", i.name, s.name), s.key.clone()))
        })
        .collect()
}

fn changed(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

#[test]
fn a_changed_script_rebuilds_its_step_and_dependents_only() {
    let before = keys(common::recipe_with(|_, t| t.to_owned()).path(), None);
    let dir = common::recipe_with(|_, t| t.to_owned());
    fs_err::write(dir.path().join("steps/build.sh"), "make -j2\n").expect("write");
    let after = keys(dir.path(), None);
    // `other` runs over `packages` only, so it keeps its key.
    assert_eq!(changed(&before, &after), ["app/build", "app/last"]);
}

#[test]
fn a_changed_base_script_rebuilds_everything_above_it() {
    let before = keys(common::recipe_with(|_, t| t.to_owned()).path(), None);
    let dir = common::recipe_with(|_, t| t.to_owned());
    fs_err::write(dir.path().join("steps/hello.sh"), "echo bonjour\n").expect("write");
    let after = keys(dir.path(), None);
    assert_eq!(
        changed(&before, &after),
        [
            "app/build",
            "app/last",
            "app/other",
            "app/packages",
            "base/hello"
        ]
    );
}

#[test]
fn renaming_a_step_keeps_its_key() {
    let before = keys(common::recipe_with(|_, t| t.to_owned()).path(), None);
    let after = keys(
        common::recipe_with(common::replace(
            "app.toml",
            "name = \"last\"",
            "name = \"final\"",
        ))
        .path(),
        None,
    );
    assert_eq!(before["app/last"], after["app/final"]);
}

#[test]
fn env_and_input_hashes_are_part_of_the_key() {
    let before = keys(common::recipe_with(|_, t| t.to_owned()).path(), None);
    let env = keys(
        common::recipe_with(common::replace(
            "common/shared.toml",
            "/opt/bin:$PATH",
            "/opt/sbin:$PATH",
        ))
        .path(),
        None,
    );
    assert_eq!(
        changed(&before, &env).len(),
        4,
        "the image env reaches every app step"
    );
    let input = keys(
        common::recipe_with(common::replace(
            "common/shared.toml",
            "2411c74b",
            "3411c74b",
        ))
        .path(),
        None,
    );
    assert_eq!(changed(&before, &input), ["app/build", "app/last"]);
}

#[test]
fn the_locked_package_set_and_base_digest_are_part_of_the_key() {
    let dir = common::recipe_with(|_, t| t.to_owned());
    let recipe = Recipe::load(dir.path()).expect("recipe");
    let app = recipe.image("app").expect("app");
    let step = app.step("packages").expect("packages");
    let request =
        slipway_recipe::plan::packages_request(&recipe, app, step, None).expect("request");
    let package = |release: &str| LockedPackage {
        op: 1,
        name: "gcc".into(),
        epoch: 0,
        version: "12.2.0".into(),
        release: release.into(),
        arch: "x86_64".into(),
        sha256: "0".repeat(64),
        url: "http://127.0.0.1/repo/gcc.rpm".into(),
    };
    let lock = |release: &str, digest: &str| Lock {
        version: 1,
        images: vec![
            LockedImage {
                name: "app".into(),
                steps: vec![LockedStep {
                    name: "packages".into(),
                    request: request.clone(),
                    packages: vec![package(release)],
                    erased: vec![LockedErase {
                        op: 1,
                        nevra: "vim-7.4-1.x86_64".into(),
                    }],
                    skipped: Vec::new(),
                }],
                ..LockedImage::default()
            },
            LockedImage {
                name: "base".into(),
                base_ref: Some("registry.example/builder:1".into()),
                base_digest: Some(format!("sha256:{}", digest.repeat(64))),
                steps: Vec::new(),
            },
        ],
        sources: Vec::new(),
    };
    let unlocked = keys(dir.path(), None);
    let one = keys(dir.path(), Some(&lock("14", "a")));
    let two = keys(dir.path(), Some(&lock("15", "a")));
    let three = keys(dir.path(), Some(&lock("15", "b")));
    assert_eq!(
        changed(&unlocked, &one).len(),
        5,
        "pinning the base changes every key"
    );
    assert_eq!(
        changed(&one, &two),
        ["app/build", "app/last", "app/other", "app/packages"]
    );
    assert_eq!(changed(&two, &three).len(), 5);
    // The lock round-trips through its canonical text.
    let l = lock("15", "b");
    let path = dir.path().join("slipway.lock");
    l.write(&path).expect("write lock");
    assert_eq!(Lock::read(&path).expect("read").expect("exists"), {
        let mut sorted = l.clone();
        sorted.images.sort_by(|a, b| a.name.cmp(&b.name));
        sorted
    });
}
