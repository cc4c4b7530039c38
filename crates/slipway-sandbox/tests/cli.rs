//! `slipway run` and `slipway install` as a user runs them.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{builder_image, mounts_under, scratch, slipway_bin};
use slipway_test_support::builder::BuilderArch;

#[test]
fn slipway_run_on_the_i386_builder_image_prints_i686() {
    let Some(image) = builder_image(BuilderArch::I386) else {
        return;
    };
    let store = scratch("cli-i386");
    let out = Command::new(slipway_bin())
        .arg("run")
        .arg("--platform")
        .arg("linux/386")
        .arg(format!("oci:{}:latest", image.display()))
        .arg("--")
        .args(["uname", "-m"])
        .env("SLIPWAY_STORE", &store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "i686");
    // A 32-bit userland really runs: the shell is an i386 ELF.
    let out = Command::new(slipway_bin())
        .arg("run")
        .arg(format!("oci:{}:latest", image.display()))
        .arg("--")
        .args(["sh", "-c", "uname -m; od -An -tx1 -j4 -N1 /bin/dash"])
        .env("SLIPWAY_STORE", &store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        ["i686", "01"],
        "{text}"
    );
}

/// Ctrl-C (SIGINT) or SIGKILL of `slipway run` mid-step: no mounts left, no
/// stray processes, no scratch directory once the next run sweeps.
fn interrupt(signal: &str) {
    let Some(image) = builder_image(BuilderArch::Amd64) else {
        return;
    };
    let store = scratch(&format!("cli-{signal}"));
    let mountinfo_before = mounts_under(&store);
    let marker = format!("slipway-{signal}-{}", std::process::id());
    let mut child = Command::new(slipway_bin())
        .arg("run")
        .arg(format!("oci:{}:latest", image.display()))
        .arg("--")
        .args([
            "sh",
            "-c",
            &format!("echo ready; exec -a {marker} sleep 1000"),
        ])
        .env("SLIPWAY_STORE", &store)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the step runs.
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
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
