//! `cargo xtask demo`: the mini-manylinux image built end to end on loopback
//! (local registry, Debian's source archive as the CPython mirror), with
//! progress, then its digest and how to run it. The work is in
//! `tests/e2e/src/bin/slipway-demo.rs`.

use anyhow::Result;

use crate::util;

pub(crate) fn run() -> Result<()> {
    // The demo runs the package's own copy of the CLI, built here.
    util::cargo(&["build", "--quiet", "-p", "slipway-e2e", "--bins"])?;
    util::cargo(&[
        "run",
        "--quiet",
        "-p",
        "slipway-e2e",
        "--bin",
        "slipway-demo",
    ])
}
