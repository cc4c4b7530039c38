//! `cargo xtask bench install`: 200 fixture RPMs installed into the
//! debootstrap builder by `slipway install` (resolving against a repository
//! of them, rpm in the sandbox, layer capture, new image) against
//! `dnf --installroot install` of the same package names from the same
//! repository and `rpm --root -i` of the files, every contender once with its
//! scratch on disk and once on tmpfs (two tables), alternating round by round
//! (`SLIPWAY_BENCH_ROUNDS`, default 3). The measurement itself is the ignored
//! test `bench_install_200_rpms` of `slipway-sandbox` (it needs the test
//! harness's builder rootfs and fixture builder), run optimised; this reads
//! back its tables.

use anyhow::Result;
use slipway_test_support::bench::Table;

pub(crate) fn run(rest: &[String]) -> Result<Vec<Table>> {
    let mut args = vec![
        "test",
        "-p",
        "slipway-sandbox",
        "--release",
        "--test",
        "bench_install",
        "--",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    args.extend(rest.iter().map(String::as_str));
    super::tables_from(&args, &[("SLIPWAY_TEST_PEERS", "1")])
}
