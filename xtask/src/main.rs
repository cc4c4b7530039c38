//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `test`     the full suite: installs the test world's Debian packages (as root),
//!   checks formatting and clippy, then runs every test with real peers required.
//! - `tidy`     `shellcheck` of the step scripts, `cargo fmt --check`,
//!   `cargo clippy --all-targets -- -D warnings` and `cargo doc` with `-D warnings`.
//! - `bench <area>` benchmarks against a real peer and prints ratios.
//! - `demo`     builds the mini-manylinux image offline, end to end.
//! - `fuzz [TARGET…] [--seconds N]` runs the cargo-fuzz targets (nightly).

mod bench;
mod demo;
mod fuzz;
mod shellcheck;
mod util;

use anyhow::{Context, Result, anyhow};
use std::process::ExitCode;

/// Debian packages the test world needs (see `../shared/DESIGN.md`, "The test world").
pub(crate) const TEST_WORLD_PACKAGES: &[&str] = &[
    "skopeo",
    "umoci",
    "docker-registry",
    "apache2-utils",
    "rpm",
    "python3-rpm",
    "createrepo-c",
    "dnf",
    "db5.3-util",
    "cpio",
    "debootstrap",
    "runc",
    "crun",
    "pigz",
    // cargo xtask bench: `tar | zstd` in layers; dnf and rpm with syncs
    // discarded (as slipway's steps) in install
    "zstd",
    "eatmydata",
    // slipway-oci: `setcap` for the security.capability round trip through umoci
    "libcap2-bin",
    "time",
    "gcc",
    "make",
    "iproute2",
    "openssl",
    "buildah",
    // slipway-vsyscall: static binaries, %patch, and the vsyscall=none boot test
    "libc6-dev",
    "patch",
    "qemu-system-x86",
    "linux-image-amd64",
    // xtask tidy: the step scripts of layers/ and of the mini world
    "shellcheck",
];

const USAGE: &str = "usage: cargo xtask <test|tidy|bench AREA|demo|fuzz [TARGET…] [--seconds N]>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("tidy") => tidy(),
        Some("bench") => bench::run(args.get(1).map(String::as_str), &args[2.min(args.len())..]),
        Some("demo") => bench::demo(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some(cmd) => Err(anyhow!("unknown xtask `{cmd}`; {USAGE}")),
        None => Err(anyhow!("{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The chain once, no backtrace: these are reports, not crashes.
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The README's test command: everything, with real peers required.
///
/// Formatting and clippy are checked first, but a failure there does not stop
/// the tests from running: CI shows every problem of a submission at once and
/// still fails at the end. Then every fuzz target runs for a short time
/// ([`CI_FUZZ_SECONDS`], `cargo xtask fuzz`).
fn test(extra: &[String]) -> Result<()> {
    util::install_debian_packages(TEST_WORLD_PACKAGES).context("installing the test world")?;
    let tidy = tidy();
    if let Err(err) = &tidy {
        eprintln!("xtask: tidy failed (tests run anyway): {err:#}");
    }
    let mut args = vec!["test", "--workspace", "--no-fail-fast"];
    args.extend(extra.iter().map(String::as_str));
    let tests = util::cargo_with_env(&args, &[("SLIPWAY_TEST_PEERS", "1")]);
    // Every fuzz target for a short time: a parser that panics again fails CI.
    let fuzz = fuzz::run(&["--seconds".into(), CI_FUZZ_SECONDS.into()]);
    match (tidy, tests, fuzz) {
        (Ok(()), Ok(()), Ok(())) => Ok(()),
        (Err(tidy), Ok(()), _) => Err(tidy.context("the tests passed, but tidy failed")),
        (_, Err(tests), _) => Err(tests),
        (Ok(()), Ok(()), Err(fuzz)) => Err(fuzz.context("the tests passed, but fuzzing failed")),
    }
}

/// Seconds each fuzz target runs in `cargo xtask test` (and so in CI).
const CI_FUZZ_SECONDS: &str = "20";

fn tidy() -> Result<()> {
    shellcheck::check()?;
    util::cargo(&["fmt", "--all", "--", "--check"])
        .context("`cargo fmt --all` would change files")?;
    util::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])
    .context("`cargo clippy` has warnings")?;
    // Broken intra-doc links and malformed rustdoc fail too.
    util::cargo_with_env(
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )
    .context("`cargo doc` has warnings")
}
