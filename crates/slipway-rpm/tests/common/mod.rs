//! Shared helpers: the RPMs every test looks at, and running the peers.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every RPM under test: the real-world ones and the fixture RPMs (binary
/// and source). `None` when rpmbuild is unavailable (after a loud skip).
pub fn all_rpms() -> Option<Vec<PathBuf>> {
    slipway_test_support::require_tool("rpmbuild")?;
    let mut out = real_world();
    let fixtures = slipway_test_support::fixtures::fixture_rpms();
    out.extend(slipway_test_support::fixtures::rpm_files(&fixtures));
    out.extend(slipway_test_support::fixtures::rpm_files(
        &slipway_test_support::fixtures::source_rpms_dir(&fixtures),
    ));
    Some(out)
}

/// The real-world RPMs in `../shared/real-world/rpms`.
pub fn real_world() -> Vec<PathBuf> {
    let dir = slipway_test_support::real_world_rpms();
    assert!(dir.is_dir(), "missing {}", dir.display());
    slipway_test_support::fixtures::rpm_files(&dir)
}

/// The fixture RPM whose file name starts with `prefix`.
pub fn fixture(prefix: &str) -> Option<PathBuf> {
    slipway_test_support::require_tool("rpmbuild")?;
    let dir = slipway_test_support::fixtures::fixture_rpms();
    slipway_test_support::fixtures::rpm_files(&dir)
        .into_iter()
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
}

/// Runs a shell pipeline, panicking with its stderr on failure.
pub fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("LC_ALL", "C")
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{script}` failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Single-quotes a path for the shell.
pub fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// A fresh scratch directory under `target/test-data/rpm-tests`.
pub fn scratch(name: &str) -> tempfile::TempDir {
    let base = slipway_test_support::generated_dir("rpm-tests");
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(base)
        .expect("scratch dir")
}

/// `rpm` unpacked twice in a fresh scratch dir: by `rpm2cpio | cpio -idm`
/// (`theirs`) and by slipway's `extract_to` (`ours`).
pub fn unpack_both(rpm: &Path, name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let work = scratch(name);
    let theirs = work.path().join("theirs");
    let ours = work.path().join("ours");
    fs_err::create_dir_all(&theirs).unwrap();
    sh(&format!(
        "cd {} && rpm2cpio {} | cpio -idm --quiet",
        q(&theirs),
        q(rpm)
    ));
    slipway_rpm::extract_to(rpm, &ours).unwrap_or_else(|e| panic!("{}: {e}", rpm.display()));
    (work, theirs, ours)
}
