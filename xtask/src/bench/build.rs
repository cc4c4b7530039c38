//! `cargo xtask bench build`: `slipway build` of the mini-manylinux recipe
//! (without CPython) cold against `buildah bud` (overlay as root where the
//! kernel allows, and vfs) of an equivalent Dockerfile, alternating; then
//! warm rebuilds. The work is in `tests/e2e/src/bin/slipway-bench-build.rs`,
//! which shares the test world with the e2e tests; this runs it (release)
//! and reads back its tables.

use anyhow::Result;
use slipway_test_support::bench::Table;

pub(crate) fn run(_rest: &[String]) -> Result<Vec<Table>> {
    // The bench runs the package's own copy of the CLI, built here.
    crate::util::cargo(&[
        "build",
        "--release",
        "--quiet",
        "-p",
        "slipway-e2e",
        "--bins",
    ])?;
    super::tables_from(
        &[
            "run",
            "--release",
            "--quiet",
            "-p",
            "slipway-e2e",
            "--bin",
            "slipway-bench-build",
        ],
        &[],
    )
}
