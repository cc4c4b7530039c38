//! Shared helpers of the sandbox's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use slipway_sandbox::{Base, OutputOptions, Sandbox, Step};
use slipway_test_support::builder::{BuilderArch, builder_rootfs};
use slipway_test_support::generated_dir;

/// The amd64 builder rootfs, or `None` when the test must skip.
pub fn builder() -> Option<PathBuf> {
    builder_rootfs(BuilderArch::Amd64)
}

/// A fresh scratch area for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = generated_dir("sandbox-scratch").join(name);
    let _ = slipway_sandbox::remove_tree(&dir);
    fs_err::create_dir_all(&dir).unwrap();
    dir
}

/// A step running `script` with `/bin/sh -c`, output collected.
pub fn sh(name: &str, script: &str) -> Step {
    let mut step = Step::new(name, ["/bin/sh", "-c", script]);
    step.output = OutputOptions {
        collect: true,
        ..Default::default()
    };
    step
}

/// Run `script` over `lowers` and return its output.
pub fn output_of(sandbox: &Sandbox, lowers: &[PathBuf], step: &Step) -> String {
    let outcome = sandbox
        .run(&Base::Overlay(lowers.to_vec()), step)
        .unwrap_or_else(|e| panic!("step failed: {e}"));
    outcome.output_text()
}

/// Lines of `/proc/self/mountinfo` that mention `path`.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let text = fs_err::read_to_string("/proc/self/mountinfo").unwrap();
    let needle = path.display().to_string();
    text.lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// Entries of a directory, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The builder rootfs of `arch` as a one-layer OCI image layout (tag
/// `latest`), made once under `target/test-data/builder-bookworm-<arch>/image`.
///
/// Lives here rather than in `slipway-test-support` so that the harness does
/// not depend on `slipway-oci` (whose own tests depend on the harness).
pub fn builder_image(arch: BuilderArch) -> Option<PathBuf> {
    use slipway_sandbox::slipway_oci::{
        ImageConfig, LayerOptions, OciLayout, Platform, write_image, write_layer_from_dir,
    };
    let rootfs = builder_rootfs(arch)?;
    let dir = rootfs.parent().unwrap().to_path_buf();
    let layout_dir = dir.join("image");
    let lock = fs_err::File::create(dir.join("image.lock")).unwrap();
    lock.file().lock().unwrap();
    let done = dir.join("image.done");
    if !done.exists() {
        let _ = slipway_sandbox::remove_tree(&layout_dir);
        let layout = OciLayout::create(&layout_dir).unwrap();
        let options = LayerOptions::default();
        let layer = write_layer_from_dir(&layout, &rootfs, &options).unwrap();
        let platform = match arch {
            BuilderArch::Amd64 => "linux/amd64",
            BuilderArch::I386 => "linux/386",
        };
        let mut config = ImageConfig::new(&Platform::parse(platform).unwrap(), 0);
        config.set_env("PATH", slipway_sandbox::DEFAULT_PATH);
        config.append_layer(&layer.diff_id, "debootstrap bookworm + rpm gcc make", 0);
        write_image(&layout, &config, &[layer.descriptor], Some("latest")).unwrap();
        fs_err::write(&done, b"ok\n").unwrap();
    }
    Some(layout_dir)
}

/// The `slipway` binary, built by `cargo build -p slipway` (with
/// `--release` when the tests themselves are optimised, i.e. benchmarks).
pub fn slipway_bin() -> PathBuf {
    let release = !cfg!(debug_assertions);
    let root = slipway_test_support::workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join(if release {
        "release/slipway"
    } else {
        "debug/slipway"
    });
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec!["build", "-q", "-p", "slipway", "--bin", "slipway"];
    if release {
        args.push("--release");
    }
    let status = std::process::Command::new(cargo)
        .args(args)
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success(), "cargo build -p slipway failed");
    bin
}
