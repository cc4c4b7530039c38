//! A hostile rootfs: symlinks where the sandbox puts its mount points
//! (`/tmp`, an input's parent, `/etc/resolv.conf`) must not lead a mount or
//! a `mkdir` outside the new root. Runs as root over the builder rootfs with
//! a small lower dir of symlinks on top.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::{builder, entries, mounts_under, scratch, sh};
use slipway_sandbox::{Base, Error, Sandbox};

/// `dir/hostile` holding `entries` as (path in the rootfs, symlink target).
fn hostile_layer(dir: &Path, links: &[(&str, &str)]) -> PathBuf {
    let layer = dir.join("hostile");
    for (path, target) in links {
        let path = layer.join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        symlink(target, &path).unwrap();
    }
    layer
}

#[test]
fn symlinked_mount_points_resolve_inside_the_new_root_and_the_host_is_untouched() {
    let Some(builder) = builder() else { return };
    let dir = scratch("hostile-links");
    // `/inputs -> /`: a naive `mkdir -p <root>/inputs/<name>` would create
    // `/<name>` on the host.
    let name = format!("slipway-hostile-{}", std::process::id());
    let host_escape = Path::new("/").join(&name);
    let layer = hostile_layer(
        &dir,
        &[
            ("tmp", "/var/tmp"),
            ("inputs", "/"),
            ("proc", "../../../../../../../mnt"),
        ],
    );
    let input = dir.join("input");
    fs_err::create_dir_all(&input).unwrap();
    fs_err::write(input.join("data"), b"input data\n").unwrap();

    let sandbox = Sandbox::new(dir.join("scratch"));
    let mut step = sh(
        "hostile",
        &format!(
            "echo probe > /tmp/probe && ls /tmp && cat /inputs/{name}/data && \
             readlink /tmp && head -c 3 /proc/1/cmdline && echo"
        ),
    );
    step.inputs = vec![(input.clone(), PathBuf::from(format!("/inputs/{name}")))];
    let outcome = sandbox
        .run(&Base::Overlay(vec![layer, builder]), &step)
        .unwrap_or_else(|e| panic!("step failed: {e}"));
    let out = outcome.output_text();
    // Inside, the links resolve as the step sees them: the tmpfs is at the
    // link's target inside the root, the input is readable through `/inputs`,
    // and proc is mounted on the rootfs's `/mnt` (`..` stops at its root).
    assert!(out.contains("probe"), "{out}");
    assert!(out.contains("input data"), "{out}");
    assert!(out.contains("/var/tmp"), "{out}");
    assert!(out.contains("/bi"), "proc not mounted: {out}");
    // The host is untouched: nothing was created at `/<name>`, the host's
    // `/var/tmp` got no probe, and no mount is left anywhere.
    assert!(!Path::new("/var/tmp/probe").exists());
    assert!(
        !host_escape.exists(),
        "`{}` was created on the host",
        host_escape.display()
    );
    assert!(mounts_under(Path::new("/var/tmp")).is_empty());
    assert!(
        entries(Path::new("/mnt"))
            .iter()
            .all(|e| !e.chars().all(|c| c.is_ascii_digit())),
        "proc mounted on the host's /mnt"
    );
    assert!(mounts_under(&dir).is_empty());
    // The step's tmpfs is not captured: the probe is not in the upper dir.
    let upper = outcome.upper();
    let probe = upper.join("var/tmp/probe");
    assert!(!probe.exists(), "{} captured", probe.display());
}

#[test]
fn a_symlink_to_a_host_path_missing_in_the_rootfs_is_refused_and_the_host_untouched() {
    let Some(builder) = builder() else { return };
    let dir = scratch("hostile-host-path");
    // `/tmp -> <a host directory>`: the rootfs has no such directory.
    let host_tmp = dir.join("host-tmp");
    fs_err::create_dir_all(&host_tmp).unwrap();
    fs_err::write(host_tmp.join("precious"), b"host data\n").unwrap();
    let layer = hostile_layer(&dir, &[("tmp", host_tmp.to_str().unwrap())]);
    let sandbox = Sandbox::new(dir.join("scratch"));
    let err = sandbox
        .run(
            &Base::Overlay(vec![layer, builder]),
            &sh("host-path", "echo probe > /tmp/probe"),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("mount point `/tmp`") && text.contains(host_tmp.to_str().unwrap()),
        "{text}"
    );
    assert_eq!(entries(&host_tmp), ["precious"]);
    assert_eq!(
        fs_err::read(host_tmp.join("precious")).unwrap(),
        b"host data\n"
    );
    assert!(mounts_under(&dir).is_empty());
    assert!(entries(&dir.join("scratch")).is_empty());
}

#[test]
fn a_dangling_symlink_at_a_mount_point_is_refused_naming_the_path() {
    let Some(builder) = builder() else { return };
    let dir = scratch("hostile-dangling");
    let layer = hostile_layer(&dir, &[("etc/resolv.conf", "/nonexistent/resolv.conf")]);
    let sandbox = Sandbox::new(dir.join("scratch"));
    let mut step = sh("dangling", "cat /etc/resolv.conf");
    step.network = true;
    let err = sandbox
        .run(&Base::Overlay(vec![layer, builder]), &step)
        .unwrap_err();
    let text = match &err {
        Error::Spawn { message, .. } => message.clone(),
        other => panic!("expected a start failure, got {other}"),
    };
    assert!(
        text.contains("`/etc/resolv.conf`") && text.contains("`/nonexistent/resolv.conf`"),
        "{text}"
    );
    assert!(!Path::new("/nonexistent").exists());
    assert!(mounts_under(&dir).is_empty());
    assert!(entries(&dir.join("scratch")).is_empty());
}

#[test]
fn steps_run_with_syncs_discarded_unless_asked() {
    let Some(builder) = builder() else { return };
    let dir = scratch("nosync");
    let sandbox = Sandbox::new(dir.join("scratch"));
    let probe = "grep '^Seccomp:' /proc/self/status; sync; echo synced";
    let mut step = sh("nosync", probe);
    let out = common::output_of(&sandbox, std::slice::from_ref(&builder), &step);
    assert!(
        out.contains("Seccomp:\t2") && out.contains("synced"),
        "{out}"
    );
    step.discard_syncs = false;
    let out = common::output_of(&sandbox, &[builder], &step);
    assert!(out.contains("Seccomp:\t0"), "{out}");
}

#[test]
fn a_symlink_loop_at_a_mount_point_is_refused_naming_the_symlink_and_its_target() {
    let Some(builder) = builder() else { return };
    let dir = scratch("hostile-loop");
    // Inside the rootfs `/tmp` resolves through itself: what a checkout under
    // the host's `/tmp` gives for `/tmp -> <checkout>/…`.
    let layer = hostile_layer(&dir, &[("tmp", "/tmp/inner/host-tmp")]);
    let sandbox = Sandbox::new(dir.join("scratch"));
    let err = sandbox
        .run(
            &Base::Overlay(vec![layer, builder]),
            &sh("loop", "echo probe > /tmp/probe"),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("mount point `/tmp`") && text.contains("symlink to `/tmp/inner/host-tmp`"),
        "{text}"
    );
    assert!(mounts_under(&dir).is_empty());
    assert!(entries(&dir.join("scratch")).is_empty());
}
