//! Shared by the peer tests: the `vstime` fixture source RPM, built with the
//! real `rpmbuild -bs` from `fixtures/vsyscall/`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_test_support::{fixtures_dir, generated_dir, require_tool};

/// Pinned so the fixture tarball and SRPM are the same on every run.
pub const SOURCE_DATE_EPOCH: &str = "1700000000";

/// `fixtures/vsyscall`.
pub fn fixture_dir() -> PathBuf {
    fixtures_dir().join("vsyscall")
}

/// Run a command, panicking with its output when it fails; returns stdout.
pub use slipway_test_support::process::run_stdout as run;

/// A fresh directory under `target/test-data/vsyscall/<name>`.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = generated_dir("vsyscall").join(name);
    if dir.exists() {
        fs_err::remove_dir_all(&dir).expect("remove old test dir");
    }
    fs_err::create_dir_all(&dir).expect("create test dir");
    dir
}

/// Build `vstime-1.0-1.209.src.rpm` with `rpmbuild -bs` (after packing the
/// fixture source tree with `tar`) into a fresh `target/test-data` dir named
/// `name`. `None` when `rpmbuild` or `tar` is missing (loud skip locally).
#[track_caller]
pub fn fixture_srpm(name: &str) -> Option<PathBuf> {
    let rpmbuild = require_tool("rpmbuild")?;
    let tar = require_tool("tar")?;
    let top = fresh_dir(name);
    let sources = top.join("SOURCES");
    let specs = top.join("SPECS");
    fs_err::create_dir_all(&sources).expect("SOURCES");
    fs_err::create_dir_all(&specs).expect("SPECS");
    let fixture = fixture_dir();
    for entry in fs_err::read_dir(&fixture).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "patch")
            && !path.ends_with("remove-vsyscall.patch")
        {
            fs_err::copy(&path, sources.join(path.file_name().expect("name"))).expect("copy patch");
        }
    }
    fs_err::copy(fixture.join("vstime.spec"), specs.join("vstime.spec")).expect("copy spec");
    run(Command::new(tar)
        .arg("czf")
        .arg(sources.join("vstime-1.0.tar.gz"))
        .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner"])
        .arg(format!("--mtime=@{SOURCE_DATE_EPOCH}"))
        .arg("-C")
        .arg(&fixture)
        .arg("vstime-1.0")
        .env("GZIP", "-n"));
    // CentOS's source RPMs are owned by `mockbuild`; ours by `nobody`, so
    // that owners from the header are visibly not the builder's (as root).
    if std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
        run(Command::new("chown")
            .arg("-R")
            .arg("nobody:nogroup")
            .arg(&sources)
            .arg(&specs));
    }
    run(Command::new(rpmbuild)
        .arg("-bs")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg(specs.join("vstime.spec"))
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH));
    let srpm = top.join("SRPMS/vstime-1.0-1.209.src.rpm");
    assert!(
        srpm.is_file(),
        "rpmbuild -bs did not produce {}",
        srpm.display()
    );
    Some(srpm)
}

/// Unpack a binary RPM's payload with the real `rpm2cpio | cpio` into `dest`.
#[track_caller]
pub fn extract_rpm(rpm: &Path, dest: &Path) {
    fs_err::create_dir_all(dest).expect("dest");
    let script = format!(
        "rpm2cpio '{}' | cpio -idm --quiet --no-absolute-filenames",
        rpm.display()
    );
    run(Command::new("sh").arg("-c").arg(script).current_dir(dest));
}

/// `rpm -qp --qf FORMAT PKG`, the real rpm's reading of a header.
#[track_caller]
pub fn rpm_query(rpm: &Path, format: &str) -> String {
    run(Command::new("rpm").args(["-qp", "--qf", format]).arg(rpm))
}

/// Build the unpatched fixture with the real `rpmbuild --rebuild` and unpack
/// its binary RPM with `rpm2cpio | cpio`: (binary RPM, unpacked tree).
#[track_caller]
pub fn original_build(name: &str) -> Option<(PathBuf, PathBuf)> {
    let srpm = fixture_srpm(&format!("{name}-srpm"))?;
    for tool in ["rpm2cpio", "cpio"] {
        require_tool(tool)?;
    }
    let top = fresh_dir(name);
    run(Command::new("rpmbuild")
        .args(["--rebuild", "--nodeps", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .arg(&srpm));
    let rpm = top.join("RPMS/x86_64/vstime-1.0-1.209.x86_64.rpm");
    let root = top.join("root");
    extract_rpm(&rpm, &root);
    Some((rpm, root))
}
