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
