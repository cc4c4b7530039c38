//! `slipway run` and `slipway install` as a user runs them.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{builder_image, mounts_under, scratch, slipway_bin};
use slipway_test_support::builder::BuilderArch;
use slipway_test_support::process::run_stdout;

#[test]
fn slipway_run_on_the_i386_builder_image_prints_i686() {
    let Some(image) = builder_image(BuilderArch::I386) else {
        return;
    };
    let store = scratch("cli-i386");
    let run = |extra: &[&str]| {
        run_stdout(
            Command::new(slipway_bin())
                .arg("run")
                .args(extra)
                .env("SLIPWAY_STORE", &store),
        )
    };
    let image_ref = format!("oci:{}:latest", image.display());
    let out = run(&["--platform", "linux/386", &image_ref, "--", "uname", "-m"]);
    assert_eq!(out.trim(), "i686");
    // A 32-bit userland really runs: the shell is an i386 ELF.
    let text = run(&[
        &image_ref,
        "--",
        "sh",
        "-c",
        "uname -m; od -An -tx1 -j4 -N1 /bin/dash",
    ]);
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        ["i686", "01"],
        "{text}"
    );
}

/// `slipway run IMAGE -- sh -c 'echo ready; exec COMMAND'`, returned once
/// the step has printed `ready`.
fn spawn_until_ready(image: &Path, store: &Path, command: &str) -> Child {
    let mut child = Command::new(slipway_bin())
        .arg("run")
        .arg(format!("oci:{}:latest", image.display()))
        .args(["--", "sh", "-c", &format!("echo ready; exec {command}")])
        .env("SLIPWAY_STORE", store)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    child
}

/// Ctrl-C (SIGINT) or SIGKILL of `slipway run` mid-step: no mounts left, no
/// stray processes, no scratch directory once the next run sweeps.
fn interrupt(signal: &str) {
    let Some(image) = builder_image(BuilderArch::Amd64) else {
        return;
    };
    let store = scratch(&format!("cli-{signal}"));
    let mountinfo_before = mounts_under(&store);
    // A unique command line (dash has no `exec -a`).
    let marker = format!("sleep 9999.{}{}", signal.len(), std::process::id());
    let mut child = spawn_until_ready(&image, &store, &marker);
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    if signal == "INT" {
        assert_eq!(
            status.code(),
            Some(130),
            "Ctrl-C exits as a shell reports SIGINT"
        );
    }
    // Everything in the step's pid namespace dies with it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        if left.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "stray processes after {signal}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        mounts_under(&store),
        mountinfo_before,
        "mounts left after {signal}"
    );
    let scratch_dir = store.join("scratch");
    if signal == "INT" {
        // A clean interrupt removes its scratch directory itself.
        assert!(
            common::entries(&scratch_dir).is_empty(),
            "scratch left after Ctrl-C"
        );
    } else {
        // After SIGKILL the next sandbox sweeps it.
        let _ = slipway_sandbox::Sandbox::new(&scratch_dir);
        assert!(
            common::entries(&scratch_dir).is_empty(),
            "scratch not swept after SIGKILL"
        );
    }
}

#[test]
fn ctrl_c_of_slipway_run_leaves_no_mounts_processes_or_scratch() {
    interrupt("INT");
}

#[test]
fn sigkill_of_slipway_run_leaves_no_mounts_processes_or_scratch() {
    interrupt("KILL");
}

#[test]
fn slipway_run_exits_with_the_commands_code_and_128_plus_a_killing_signal() {
    let Some(image) = builder_image(BuilderArch::Amd64) else {
        return;
    };
    let store = scratch("cli-exit-code");
    let image_ref = format!("oci:{}:latest", image.display());
    let run = |script: &str| {
        Command::new(slipway_bin())
            .args(["run", &image_ref, "--", "sh", "-c", script])
            .env("SLIPWAY_STORE", &store)
            .output()
            .unwrap()
    };
    let out = run("echo before; exit 7");
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "before\n");
    // The command's failure is its own: slipway adds no error message.
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("error:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(run("true").status.code(), Some(0));
    // A code above 128 passes through as it is.
    assert_eq!(run("exit 200").status.code(), Some(200));

    // Killed by a signal: 128 + the signal's number, as a shell reports it.
    let marker = format!("sleep 9999.{}", std::process::id());
    let mut child = spawn_until_ready(&image, &store, &marker);
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        let found = Command::new("pgrep")
            .args(["-f", &format!("^{marker}$")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&found.stdout).trim().to_owned();
        if !text.is_empty() {
            break text;
        }
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    // From outside its pid namespace only SIGKILL reaches the step's pid 1.
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 9), "{status:?}");
}
