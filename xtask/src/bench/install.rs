//! `cargo xtask bench install`: 200 fixture RPMs installed into the
//! debootstrap builder image by `slipway install` (rpm in the sandbox, layer
//! capture, new image; also with `--disk-scratch`) against `rpm --root -i`
//! and `dnf --installroot` of the same files, round by round in the same run
//! (`SLIPWAY_BENCH_ROUNDS`, default 5); prints medians, every round's times
//! and the per-round slipway/dnf ratio. The measurement itself is the ignored
//! test `bench_install_200_rpms` of `slipway-sandbox` (it needs the test
//! harness's builder rootfs and fixture builder), run optimised.

use anyhow::Result;

pub(crate) fn run(rest: &[String]) -> Result<()> {
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
    crate::util::cargo_with_env(&args, &[("SLIPWAY_TEST_PEERS", "1")])
}
