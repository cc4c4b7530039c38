//! The recipes under `examples/` built end to end with the `slipway` CLI in
//! the test world (their `REGISTRY` and `PORT` pointed at it), then run.

use std::path::Path;
use std::process::Command;

use slipway_e2e::world::{World, ok};

/// Copy the recipe directory `src` to `dest`, leaving out `skip` (a
/// subdirectory of sources), with `REGISTRY/` and `PORT` replaced in text.
fn copy_recipe(src: &Path, dest: &Path, skip: &str, registry: &str, port: u16) {
    fs_err::create_dir_all(dest).unwrap();
    for entry in fs_err::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        if entry.file_name() == skip {
            continue;
        }
        if from.is_dir() {
            copy_recipe(&from, &to, skip, registry, port);
            continue;
        }
        let text = fs_err::read_to_string(&from).unwrap();
        let text = text
            .replace("REGISTRY/", &format!("{registry}/"))
            .replace("127.0.0.1:PORT", &format!("127.0.0.1:{port}"));
        fs_err::write(&to, text).unwrap();
    }
}

#[test]
fn rpm_tool_example_builds_and_runs() {
    let Some(world) = World::start(&["tar"]) else {
        return;
    };
    // Beside this crate (tests/e2e), so the recipe tested is this checkout's.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/rpm-tool");
    let work = tempfile::tempdir().unwrap();
    let recipes = work.path().join("recipes");
    copy_recipe(
        &example,
        &recipes,
        "src",
        &world.registry.host(),
        world.yum.port(),
    );
    // The mirror serves the tool's tarball under the source's file name.
    let mirror = work.path().join("mirror");
    fs_err::create_dir_all(&mirror).unwrap();
    slipway_test_support::process::run_ok(
        Command::new("tar")
            .args([
                "--sort=name",
                "--mtime=@0",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-czf",
            ])
            .arg(mirror.join("tally-1.0.tar.gz"))
            .arg("-C")
            .arg(example.join("src"))
            .arg("tally-1.0"),
    );
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    let (recipes_arg, mirror_arg) = (path(&recipes), path(&mirror));
    let store = path(&work.path().join("store"));
    let out = path(&work.path().join("out"));
    let common = [
        "--recipes",
        &recipes_arg,
        "--mirror",
        &mirror_arg,
        "--store",
        &store,
    ];

    ok(&world.slipway(&[&["lock"][..], &common].concat(), None, &[]));
    let lock = fs_err::read_to_string(recipes.join("slipway.lock")).unwrap();
    assert!(lock.contains("name = \"mini-tool\""), "{lock}");
    assert!(lock.contains("tally-1.0.tar.gz"), "{lock}");

    let (stdout, _) = ok(&world.slipway(
        &[&["build", "--locked", "--output", &out][..], &common].concat(),
        None,
        &[],
    ));
    assert!(stdout.contains("rpm-tool sha256:"), "{stdout}");

    let image = format!("oci:{out}/rpm-tool:latest");
    let (ran, _) = ok(&world.slipway(
        &[
            "run",
            &image,
            "--",
            "sh",
            "-c",
            "printf 'a b\\nc\\n' | tally && rpm -q mini-tool && cat /var/lib/mini-tool.post",
        ],
        None,
        &[],
    ));
    assert!(
        ran.contains("tally 1.0 (glibc ") && ran.contains(": 2 lines, 3 words, 6 bytes"),
        "{ran}"
    );
    assert!(
        ran.contains("\nmini-tool-"),
        "the package is in the rpmdb:\n{ran}"
    );
    assert!(ran.contains("installed"), "its scriptlet ran:\n{ran}");
}
