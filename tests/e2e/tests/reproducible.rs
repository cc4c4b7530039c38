//! Reproducibility end to end (issue 8): the mini-manylinux recipe without
//! its CPython step built twice — different working directories, different
//! `TMPDIR`, `--jobs 1` and `--jobs 2`, each with its own cold store — gives
//! one manifest digest; `slipway verify` (a third build, fresh store) says
//! reproducible; a step writing `date +%s%N` makes `verify` name that layer
//! and that file, exit 1.

use std::path::Path;

use slipway_e2e::world::{World, digest_of, ok};
use slipway_test_support::workspace_root;

const IMAGE: &str = "mini-manylinux";

/// Build in `dir` (its own recipe copy, store, output and `TMPDIR`); returns
/// the manifest digest.
fn build_in(world: &World, dir: &Path, recipes: &Path, jobs: &str) -> String {
    let tmp = dir.join("tmp");
    fs_err::create_dir_all(&tmp).expect("tmp");
    let store = dir.join("store");
    let output = dir.join("out");
    let args = [
        "build",
        "--recipes",
        recipes.to_str().expect("utf-8"),
        "--store",
        store.to_str().expect("utf-8"),
        "--output",
        output.to_str().expect("utf-8"),
        "--mirror",
        world.mirror_arg(),
        "--locked",
        "--jobs",
        jobs,
    ];
    let (stdout, _) = ok(&world.slipway(&args, Some(dir), &[("TMPDIR", &tmp)]));
    digest_of(&stdout, IMAGE)
}

fn verify(world: &World, dir: &Path, recipes: &Path) -> (bool, String) {
    let against = format!("oci:{}:latest", dir.join("out").join(IMAGE).display());
    let out = world.slipway(
        &[
            "verify",
            recipes.to_str().expect("utf-8"),
            IMAGE,
            "--against",
            &against,
            "--mirror",
            world.mirror_arg(),
        ],
        Some(dir),
        &[],
    );
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "verify failed: {code:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        code == Some(0),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn mini_manylinux_rebuilds_to_one_digest_and_verify_names_a_stamp() {
    let Some(world) = World::start(&["apt-get", "tar"]) else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let a = work.path().join("a");
    let b = work.path().join("b");
    for dir in [&a, &b] {
        world.recipe(&dir.join("recipes"), false);
    }
    let recipes_a = a.join("recipes");
    let recipes_b = b.join("recipes");
    ok(&world.slipway(
        &[
            "lock",
            "--recipes",
            recipes_a.to_str().expect("utf-8"),
            "--mirror",
            world.mirror_arg(),
        ],
        Some(&a),
        &[],
    ));
    let lock = fs_err::read_to_string(recipes_a.join("slipway.lock")).expect("lock");
    assert!(lock.contains(&world.pushed), "{lock}");
    fs_err::write(recipes_b.join("slipway.lock"), &lock).expect("lock copy");

    let first = build_in(&world, &a, &recipes_a, "1");
    let second = build_in(&world, &b, &recipes_b, "2");
    // On a machine with more than one CPU this has caught slipway-oci's
    // parallel gzip writing different bytes for the same tar (same diff id):
    // the diff below says so ("different compression").
    if first != second {
        let side = |d: &Path| format!("oci:{}:latest", d.join("out").join(IMAGE).display());
        let diff = world.slipway(&["diff", &side(&a), &side(&b)], None, &[]);
        panic!(
            "two cold builds (--jobs 1 and --jobs 2) differ: {first} vs {second}\n{}",
            String::from_utf8_lossy(&diff.stdout)
        );
    }

    let (reproducible, said) = verify(&world, &a, &recipes_a);
    assert!(reproducible, "{said}");
    assert!(said.contains(&format!("reproducible: {first}")), "{said}");

    // A step that writes the time: verify names its layer (the last) and file.
    let fixtures = workspace_root().join("fixtures/repro");
    fs_err::copy(fixtures.join("stamp.sh"), recipes_a.join("steps/stamp.sh")).expect("script");
    let toml = recipes_a.join(format!("{IMAGE}.toml"));
    let mut text = fs_err::read_to_string(&toml).expect("recipe");
    text.push_str(&fs_err::read_to_string(fixtures.join("stamp-step.toml")).expect("step"));
    fs_err::write(&toml, text).expect("recipe");
    let stamped = build_in(&world, &a, &recipes_a, "2");
    assert_ne!(stamped, first);
    let (reproducible, said) = verify(&world, &a, &recipes_a);
    assert!(!reproducible, "{said}");
    let first_line = said.lines().next().unwrap_or_default().to_owned();
    let (n, total) = first_line
        .strip_prefix("not reproducible: layer ")
        .and_then(|rest| rest.strip_suffix(" differs first"))
        .and_then(|rest| rest.split_once(" of "))
        .unwrap_or_else(|| panic!("no first differing layer in:\n{said}"));
    assert_eq!(n, total, "the stamp step's layer is the last:\n{said}");
    let changed: Vec<&str> = said
        .lines()
        .filter(|l| ["  ~ /", "  + /", "  - /"].iter().any(|p| l.starts_with(p)))
        .collect();
    assert!(
        !changed.is_empty()
            && changed
                .iter()
                .all(|l| l.contains("/usr/local/share/slipway-stamp")),
        "only the stamp file differs:\n{said}"
    );
    assert!(
        changed.iter().any(|l| l.contains("content")),
        "its content differs:\n{said}"
    );
}
