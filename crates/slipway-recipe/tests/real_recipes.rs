//! The manylinux2010 recipes of `layers/` load, validate and plan offline,
//! and say what the seed says.

mod common;

use slipway_recipe::{Action, Base, PackageOp, Personality, Plan, Platform, Recipe};

fn load() -> Recipe {
    Recipe::load(&common::layers_dir()).expect("the real recipes load")
}

#[test]
fn the_three_images_and_the_builder_stage() {
    let recipe = load();
    let names: Vec<&str> = recipe.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "glibc-builder",
            "centos-6.9-no-vsyscall",
            "manylinux2010_i686",
            "manylinux2010_x86_64"
        ]
    );
    let published: Vec<&str> = recipe
        .images
        .iter()
        .filter(|i| i.publish)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(published.len(), 3);
    let x86 = recipe.image("manylinux2010_x86_64").expect("x86_64");
    assert_eq!(x86.base, Base::Image("centos-6.9-no-vsyscall".into()));
    assert_eq!(x86.platform, Platform::LinuxAmd64);
    let i686 = recipe.image("manylinux2010_i686").expect("i686");
    assert_eq!(i686.platform, Platform::Linux386);
    assert!(
        i686.steps
            .iter()
            .all(|s| s.personality == Personality::Linux32)
    );
    assert_eq!(
        i686.config.entrypoint.as_deref(),
        Some(&["linux32".to_owned()][..])
    );
    assert!(
        x86.steps
            .iter()
            .all(|s| s.personality == Personality::Linux64)
    );
    assert_eq!(x86.config.entrypoint, None);
    for image in [x86, i686] {
        assert_eq!(
            image.config.cmd.as_deref(),
            Some(&["/bin/bash".to_owned()][..])
        );
        assert_eq!(image.config.labels["maintainer"], "The ManyLinux project");
        assert_eq!(
            image.config.env["SSL_CERT_FILE"],
            "/opt/_internal/certs.pem"
        );
        assert_eq!(
            image.config.env["PATH"],
            "/opt/rh/devtoolset-2/root/usr/bin:$PATH"
        );
        // The original's order at the end: smoke tests, then the libc headers.
        let names: Vec<&str> = image.steps.iter().map(|s| s.name.as_str()).collect();
        let at = |n: &str| names.iter().position(|s| *s == n).expect(n);
        assert!(at("cleanup-files") < at("smoke-tests"));
        assert!(at("smoke-tests") + 1 == at("libc-headers"));
        assert!(at("yum-wrapper") < at("cleanup-packages"));
        assert!(at("devtools-repo") < at("system-packages"));
    }
    assert_eq!(
        i686.steps.last().map(|s| s.name.as_str()),
        Some("linux32"),
        "the i686 image puts its linux32 stub in place last"
    );
    assert!(x86.step("linux32").is_none());
}

#[test]
fn each_cpython_is_its_own_independent_step() {
    let recipe = load();
    let x86 = recipe.image("manylinux2010_x86_64").expect("x86_64");
    let cpythons: Vec<_> = x86
        .steps
        .iter()
        .filter(|s| s.name.starts_with("cpython-"))
        .collect();
    let names: Vec<&str> = cpythons.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cpython-2.7.14-ucs2",
            "cpython-2.7.14-ucs4",
            "cpython-3.3.7",
            "cpython-3.4.7",
            "cpython-3.5.4",
            "cpython-3.6.4"
        ]
    );
    for step in &cpythons {
        assert!(
            step.depends_on.iter().all(|d| !d.starts_with("cpython-")),
            "{} runs over another CPython: {:?}",
            step.name,
            step.depends_on
        );
        assert!(step.depends_on.contains(&"openssl".to_owned()));
        assert!(step.depends_on.contains(&"sqlite".to_owned()));
        assert!(!step.network);
    }
}

#[test]
fn every_source_is_pinned_or_signed() {
    let recipe = load();
    for image in &recipe.images {
        for source in &image.sources {
            let ok = source.sha256.is_some()
                || source.asc.is_some()
                || ["glibc-srpm", "python-release-keys"].contains(&source.name.as_str());
            assert!(
                ok,
                "{}: source {} is neither pinned nor signed",
                image.name, source.name
            );
        }
    }
    let x86 = recipe.image("manylinux2010_x86_64").expect("x86_64");
    let openssl = x86.source("openssl").expect("openssl");
    assert_eq!(
        openssl.sha256.as_deref(),
        Some("ec3f5c9714ba0fd45cb4e087301eb1336c317e0d20b575a125050470e8089e4d")
    );
    let py = x86.source("python-3.6.4").expect("3.6.4");
    assert_eq!(py.keyring.as_deref(), Some("python-release-keys"));
    assert_eq!(
        py.sha256.as_deref(),
        Some("7dc453e1a93c083388eb1a23a256862407f8234a96dc4fae0fc7682020227486"),
        "CPython tarballs are pinned as well as signed"
    );
}

/// The install operations of the `system-packages` step, in order.
fn system_installs(recipe: &Recipe) -> Vec<Vec<String>> {
    let x86 = recipe.image("manylinux2010_x86_64").expect("x86_64");
    let step = x86.step("system-packages").expect("system-packages");
    let Action::Packages(ops) = &step.action else {
        panic!("a package step")
    };
    ops.iter()
        .filter_map(|o| match o {
            PackageOp::Install(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn no_kernel_devel_as_in_the_published_images() {
    let installs = system_installs(&load());
    assert!(
        !installs
            .iter()
            .flatten()
            .any(|p| p.starts_with("kernel-devel")),
        "the original's kernel-devel-$(uname -r) matched nothing: {installs:?}"
    );
    assert_eq!(
        installs[0],
        ["wget"],
        "wget first, on its own, as the original"
    );
}

#[test]
fn the_plan_has_a_distinct_key_per_step_and_is_stable() {
    let recipe = load();
    let plan = Plan::new(&recipe, &[], None).expect("plan");
    let again = Plan::new(&load(), &[], None).expect("plan");
    let mut keys = std::collections::BTreeSet::new();
    for (a, b) in plan.images.iter().zip(&again.images) {
        for (s, t) in a.steps.iter().zip(&b.steps) {
            assert_eq!(s.key, t.key, "{}/{} is not stable", a.name, s.name);
            assert!(
                keys.insert(s.key.clone()),
                "{}/{} shares a key",
                a.name,
                s.name
            );
        }
    }
    let text = plan.render(Some("/srv/mirror"));
    assert!(text.contains("fetch: openssl from /srv/mirror/openssl-1.0.2o.tar.gz (mirror of https://www.openssl.org/source/openssl-1.0.2o.tar.gz)"));
    assert!(text.contains(
        "base: pull docker.io/library/centos:6.9@sha256:1eaeaf2ccf8822afe60b4f14e9f0daf5127776ef39c3480448f531431c8bb47c for linux/amd64 (sha256:1eaeaf2ccf8822afe60b4f14e9f0daf5127776ef39c3480448f531431c8bb47c)"
    ));
}

#[test]
fn selecting_an_image_plans_what_it_is_built_from() {
    let recipe = load();
    let plan = Plan::new(&recipe, &["manylinux2010_x86_64".to_owned()], None).expect("plan");
    let names: Vec<&str> = plan.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "glibc-builder",
            "centos-6.9-no-vsyscall",
            "manylinux2010_x86_64"
        ]
    );
    let err = Plan::new(&recipe, &["manylinux2010_x86".to_owned()], None).unwrap_err();
    assert!(
        err.to_string()
            .contains("did you mean `manylinux2010_x86_64`?"),
        "{err}"
    );
}
