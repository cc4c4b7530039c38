//! `cargo xtask bench build`: `slipway build` of the mini-manylinux recipe
//! (without CPython) cold vs `buildah bud --isolation chroot --storage-driver
//! vfs` of a generated Dockerfile, then a warm rebuild after one step changed.
//! The work is in `tests/e2e/src/bin/slipway-bench-build.rs`, which shares the
//! test world with the e2e tests; this only runs it (release build).

use anyhow::Result;

use crate::util;

pub(crate) fn run(_rest: &[String]) -> Result<()> {
    util::cargo(&[
        "run",
        "--release",
        "--quiet",
        "-p",
        "slipway-e2e",
        "--bin",
        "slipway-bench-build",
    ])
}
