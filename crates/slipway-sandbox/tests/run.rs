//! The sandbox run as root over the real debootstrap builder rootfs: what a
//! step can see, its limits, and that nothing is left behind.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{builder, entries, mounts_under, output_of, scratch, sh};
use slipway_sandbox::{Base, Error, Sandbox};

/// A small lower dir on top of the builder, marking the rootfs as ours.
fn marked_lowers(name: &str, builder: &std::path::Path) -> (PathBuf, Vec<PathBuf>) {
    let dir = scratch(name);
    let marker = dir.join("marker");
    fs_err::create_dir_all(&marker).unwrap();
    fs_err::write(marker.join("slipway-marker"), b"here\n").unwrap();
    (dir.clone(), vec![marker, builder.to_path_buf()])
}

#[test]
fn a_step_sees_the_rootfs_its_own_init_and_a_fixed_hostname() {
    let Some(builder) = builder() else { return };
    let (dir, lowers) = marked_lowers("sees-rootfs", &builder);
    let sandbox = Sandbox::new(dir.join("scratch"));
    let out = output_of(
        &sandbox,
        &lowers,
        &sh(
            "look",
            "ls /; echo pid=$$; tr '\\0' ' ' < /proc/1/cmdline; echo; hostname; ls /dev; id -u",
        ),
    );
    let lines: Vec<&str> = out.lines().collect();
    for expected in ["bin", "etc", "usr", "slipway-marker"] {
        assert!(lines.contains(&expected), "`ls /` lacks {expected}: {out}");
    }
    // The host's root has things the builder does not.
    assert!(
        !lines.contains(&"work"),
        "the host's /work is visible: {out}"
    );
    assert!(lines.contains(&"pid=1"), "the step is not pid 1: {out}");
    assert!(
        out.contains("/bin/sh -c ls /"),
        "/proc/1 is not the step: {out}"
    );
    assert!(lines.contains(&"slipway"), "hostname: {out}");
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
    ] {
        assert!(lines.contains(&dev), "/dev lacks {dev}: {out}");
    }
    assert!(
        mounts_under(&dir).is_empty(),
        "leaked mounts: {:?}",
        mounts_under(&dir)
    );
    assert!(
        entries(&dir.join("scratch")).is_empty(),
        "scratch left behind"
    );
}

#[test]
fn network_is_down_unless_the_step_asks_for_it() {
    let Some(builder) = builder() else { return };
    let dir = scratch("network");
    let sandbox = Sandbox::new(dir.join("scratch"));
    let script = "sed -n '3,$p' /proc/net/dev | cut -d: -f1 | tr -d ' '";
    let offline = output_of(
        &sandbox,
        std::slice::from_ref(&builder),
        &sh("offline", script),
    );
    assert_eq!(
        offline.trim(),
        "lo",
        "interfaces without network: {offline}"
    );
    let mut online = sh("online", &format!("{script}; cat /etc/resolv.conf"));
    online.network = true;
    let online_out = output_of(&sandbox, std::slice::from_ref(&builder), &online);
    let host_ifaces = fs_err::read_to_string("/proc/net/dev").unwrap();
    let host_count = host_ifaces.lines().count() - 2;
    assert!(
        online_out.lines().filter(|l| !l.is_empty()).count() >= host_count,
        "{online_out}"
    );
    let host_resolv = fs_err::read_to_string("/etc/resolv.conf").unwrap();
    assert!(
        online_out.contains(host_resolv.trim()),
        "resolv.conf not the host's: {online_out}"
    );
}

#[test]
fn a_failing_step_reports_its_name_code_and_last_lines() {
    let Some(builder) = builder() else { return };
    let dir = scratch("failing");
    let sandbox = Sandbox::new(dir.join("scratch"));
    let err = sandbox
        .run(
            &Base::Overlay(vec![builder]),
            &sh("boom", "echo one; echo two >&2; exit 3"),
        )
        .unwrap_err();
    match &err {
        Error::StepFailed { step, code, tail } => {
            assert_eq!(step, "boom");
            assert_eq!(*code, 3);
            assert!(tail.contains("one") && tail.contains("two"), "{tail}");
        }
        other => panic!("expected StepFailed, got {other}"),
    }
    assert!(err.to_string().contains("`boom`"));
    assert!(
        entries(&dir.join("scratch")).is_empty(),
        "scratch left behind"
    );
}

#[test]
fn a_hanging_step_is_killed_at_its_timeout_with_its_whole_tree() {
    let Some(builder) = builder() else { return };
    let dir = scratch("timeout");
    let sandbox = Sandbox::new(dir.join("scratch"));
    // A background child that would outlive a naive kill, plus a hang.
    let mut step = sh("hang", "sleep 1000 & echo started; sleep 1000");
    step.timeout = Some(Duration::from_secs(1));
    let started = Instant::now();
    let err = sandbox
        .run(&Base::Overlay(vec![builder]), &step)
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("started"), "{err}");
    assert!(mounts_under(&dir).is_empty(), "leaked mounts");
    assert!(
        entries(&dir.join("scratch")).is_empty(),
        "scratch left behind"
    );
    // No `sleep 1000` survives anywhere.
    let survivors = std::process::Command::new("pgrep")
        .args(["-f", "^sleep 1000$"])
        .output()
        .unwrap();
    assert!(
        survivors.stdout.is_empty(),
        "stray processes: {}",
        String::from_utf8_lossy(&survivors.stdout)
    );
}

#[test]
fn i686_steps_run_under_a_32_bit_personality() {
    let Some(builder) = builder() else { return };
    let dir = scratch("linux32");
    let sandbox = Sandbox::new(dir.join("scratch"));
    let mut step = sh("uname", "uname -m");
    step.linux32 = true;
    assert_eq!(
        output_of(&sandbox, std::slice::from_ref(&builder), &step).trim(),
        "i686"
    );
    assert_eq!(
        output_of(&sandbox, &[builder], &sh("uname", "uname -m")).trim(),
        "x86_64"
    );
}

#[test]
fn inputs_are_read_only_env_and_workdir_apply_and_tmp_is_not_captured() {
    let Some(builder) = builder() else { return };
    let dir = scratch("inputs");
    let input = dir.join("input");
    fs_err::create_dir_all(&input).unwrap();
    fs_err::write(input.join("source.txt"), b"source\n").unwrap();
    let sandbox = Sandbox::new(dir.join("scratch"));
    let mut step = sh(
        "inputs",
        "cat /inputs/src/source.txt; pwd; echo $GREETING; \
         if touch /inputs/src/x 2>/dev/null; then echo writable; fi; echo scratch > /tmp/t",
    );
    step.inputs.push((input.clone(), "/inputs/src".into()));
    step.env.insert("GREETING".into(), "hello".into());
    step.workdir = "/usr".into();
    let outcome = sandbox.run(&Base::Overlay(vec![builder]), &step).unwrap();
    let out = outcome.output_text();
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["source", "/usr", "hello"],
        "{out}"
    );
    // Neither the input mount point nor /tmp nor /proc, /dev are changes.
    assert!(
        entries(&outcome.upper()).is_empty(),
        "upper: {:?}",
        entries(&outcome.upper())
    );
}

#[test]
fn writes_modifications_and_deletions_land_in_the_upper_dir() {
    let Some(builder) = builder() else { return };
    let dir = scratch("changes");
    let base = dir.join("base");
    fs_err::create_dir_all(base.join("data/gone-dir/sub")).unwrap();
    fs_err::write(base.join("data/keep"), b"keep\n").unwrap();
    fs_err::write(base.join("data/modify"), b"old\n").unwrap();
    fs_err::write(base.join("data/delete"), b"bye\n").unwrap();
    fs_err::write(base.join("data/gone-dir/sub/f"), b"f\n").unwrap();
    let sandbox = Sandbox::new(dir.join("scratch"));
    let step = sh(
        "change",
        "echo new > /data/new; echo changed > /data/modify; rm /data/delete; rm -r /data/gone-dir; \
         echo tmp > /data/transient; rm /data/transient",
    );
    let outcome = sandbox
        .run(&Base::Overlay(vec![base.clone(), builder]), &step)
        .unwrap();
    let upper = outcome.upper();
    assert_eq!(entries(&upper), ["data"]);
    assert_eq!(
        entries(&upper.join("data")),
        ["delete", "gone-dir", "modify", "new"]
    );
    assert_eq!(
        fs_err::read_to_string(upper.join("data/new")).unwrap(),
        "new\n"
    );
    assert_eq!(
        fs_err::read_to_string(upper.join("data/modify")).unwrap(),
        "changed\n"
    );
    for whiteout in ["data/delete", "data/gone-dir"] {
        let meta = fs_err::symlink_metadata(upper.join(whiteout)).unwrap();
        assert!(
            meta.file_type().is_char_device(),
            "{whiteout} is not a whiteout"
        );
    }
}
