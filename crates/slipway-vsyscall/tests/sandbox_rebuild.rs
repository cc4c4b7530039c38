//! The goal: the patched fixture is rebuilt with `rpmbuild -ba`
//! inside slipway-sandbox over the debootstrap builder rootfs (Debian's
//! `rpm`, `gcc`, `make`), plus a layer with the build tools the builder lacks
//! (`patch`, the C headers, installed by apt in a sandbox step with network — the stand-in
//! for slipway-yum installing the SRPM's `BuildRequires` into CentOS).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{extract_rpm, fixture_dir, fixture_srpm, fresh_dir, rpm_query, run};
use slipway_sandbox::{Base, Sandbox, Step};
use slipway_test_support::builder::{BuilderArch, builder_rootfs};
use slipway_test_support::{generated_dir, require_tool};
use slipway_vsyscall::audit;
use slipway_vsyscall::rebuild::{RebuildOptions, rebuild};
use slipway_vsyscall::sandbox::SandboxRunner;
use slipway_vsyscall::srpm::{PatchFile, patch_srpm};

/// Packages the rebuild needs that the builder rootfs does not have.
/// (Debian's `gcc` comes without the C library headers.)
const BUILD_TOOLS: &[&str] = &["patch", "libc6-dev"];

fn scratch() -> PathBuf {
    generated_dir("vsyscall").join("sandbox-scratch")
}

/// The build-tools layer over `builder`, made once and kept (a copy of the
/// step's upper directory, whiteouts included).
fn build_tools_layer(builder: &Path) -> PathBuf {
    let dir = generated_dir(&format!("vsyscall-build-tools-{}", BUILD_TOOLS.join("-")));
    let layer = dir.join("upper");
    let done = dir.join("done");
    let lock = fs_err::File::create(dir.join("lock")).expect("lock file");
    lock.file().lock().expect("lock");
    if done.exists() {
        return layer;
    }
    let script = format!(
        "set -e; apt-get -q -o APT::Sandbox::User=root update; \
         DEBIAN_FRONTEND=noninteractive apt-get -q -y -o APT::Sandbox::User=root \
         install --no-install-recommends {}; apt-get clean; rm -rf /var/lib/apt/lists/*",
        BUILD_TOOLS.join(" ")
    );
    let mut step = Step::new("build-tools", ["/bin/sh", "-c", script.as_str()]);
    step.network = true;
    let outcome = Sandbox::new(scratch())
        .run(&Base::Overlay(vec![builder.to_owned()]), &step)
        .expect("install build tools in the sandbox");
    if layer.exists() {
        fs_err::remove_dir_all(&layer).expect("remove old layer");
    }
    run(Command::new("cp")
        .arg("-a")
        .arg(outcome.upper())
        .arg(&layer));
    fs_err::write(&done, b"ok\n").expect("done");
    layer
}

#[test]
fn vstime_is_rebuilt_in_the_sandbox_over_the_builder() {
    let Some(builder) = builder_rootfs(BuilderArch::Amd64) else {
        return;
    };
    let Some(srpm) = fixture_srpm("sandbox-srpm") else {
        return;
    };
    for tool in ["rpm", "rpm2cpio", "cpio", "cp"] {
        if require_tool(tool).is_none() {
            return;
        }
    }
    let tools = build_tools_layer(&builder);

    let top = fresh_dir("sandbox-patched");
    let patch = PatchFile::new(
        "remove-vsyscall.patch",
        fixture_dir().join("remove-vsyscall.patch"),
        "-E -p3",
    );
    let patched = patch_srpm(&srpm, &[patch], &top).expect("patch srpm");
    let runner = SandboxRunner::new(scratch(), vec![tools, builder]);
    let options = RebuildOptions {
        // The builder's gcc and make come from dpkg, unknown to its rpmdb.
        nodeps: true,
        keep_build_dir: true,
        source_date_epoch: Some(common::SOURCE_DATE_EPOCH.parse().expect("epoch")),
        ..RebuildOptions::default()
    };
    let rebuilt = rebuild(&runner, &patched, &options).expect("rebuild in the sandbox");
    let rpm = top.join("RPMS/x86_64/vstime-1.0-1.209.1.x86_64.rpm");
    assert_eq!(rebuilt.binary_rpms, vec![rpm.clone()]);
    assert_eq!(
        rpm_query(&rpm, "%{NAME}-%{VERSION}-%{RELEASE} %{BUILDHOST}"),
        "vstime-1.0-1.209.1 slipway"
    );
    let source = fs_err::read_to_string(top.join("BUILD/vstime-1.0/vstime.c")).expect("source");
    assert!(source.contains("SYS_time = 201"));
    assert_eq!(audit::audit(&rpm).expect("audit"), Vec::new());

    let root = top.join("root");
    extract_rpm(&rpm, &root);
    let out = run(&mut Command::new(root.join("usr/bin/vstime")));
    assert!(out.starts_with("time: "), "{out}");
}
