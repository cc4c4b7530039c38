//! Non-root mode: `slipway run` started as an unprivileged user (uid 65534
//! via `setpriv`) enters a user namespace mapping that uid to root, mounts
//! the overlay with `userxattr`, and runs the command as in root mode.

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use common::{builder_image, slipway_bin};
use slipway_test_support::builder::BuilderArch;
use slipway_test_support::{generated_dir, require_tool};

const NOBODY: u32 = 65534;

#[test]
fn slipway_run_as_an_unprivileged_user_runs_in_a_user_namespace() {
    let Some(image) = builder_image(BuilderArch::Amd64) else {
        return;
    };
    let Some(setpriv) = require_tool("setpriv") else {
        return;
    };
    // The store (and so the staged rootfs) belongs to the unprivileged user;
    // kept between runs, as the unpacked rootfs is cached there.
    let store = generated_dir("sandbox-userns-store");
    std::os::unix::fs::chown(&store, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(slipway_bin())
        .arg("run")
        .arg(format!("oci:{}:latest", image.display()))
        .args([
            "--",
            "sh",
            "-c",
            "id -u; echo written > /probe; cat /probe; ls /etc/os-release; \
             grep '^Seccomp:' /proc/self/status; tr '\\0' ' ' < /proc/1/cmdline; echo; \
             mount -t tmpfs none /mnt && echo mounted",
        ])
        .env("SLIPWAY_STORE", &store)
        .env("HOME", &store)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    // Root inside, the image's files, its own pid 1, writes in the overlay,
    // the sync filter installed, and mount rights in its own namespaces.
    assert_eq!(lines.first(), Some(&"0"), "{stdout}");
    for expected in ["written", "/etc/os-release", "Seccomp:\t2", "mounted"] {
        assert!(lines.contains(&expected), "no `{expected}`: {stdout}");
    }
    assert!(stdout.contains("sh -c id -u"), "{stdout}");
    // The staged rootfs really is the unprivileged user's, and the step's
    // scratch is gone.
    let rootfs = fs_err::read_dir(store.join("rootfs"))
        .unwrap()
        .flatten()
        .find(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .unwrap()
        .path();
    assert_eq!(fs_err::metadata(&rootfs).unwrap().uid(), NOBODY);
    assert!(common::entries(&store.join("scratch")).is_empty());
}
