//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `test`     the full suite: installs the test world's Debian packages (as root),
//!   checks formatting and clippy, then runs every test with real peers required.
//! - `tidy`     `cargo fmt --check` and `cargo clippy --all-targets -- -D warnings`.
//! - `fixtures` builds generated test data under `target/test-data/`.
//! - `bench <area>` benchmarks against a real peer and prints ratios.
//! - `demo`     builds the mini-manylinux image offline, end to end.

mod bench;
mod demo;
mod util;

use anyhow::{Context, Result, bail};

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
    // slipway-oci: `setcap` for the security.capability round trip through umoci
    "libcap2-bin",
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
];

const USAGE: &str = "usage: cargo xtask <test|tidy|fixtures|bench AREA|demo>";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        bail!("{USAGE}");
    };
    match cmd.as_str() {
        "test" => test(&args[1..]),
        "tidy" => tidy(),
        "fixtures" => util::cargo(&[
            "test",
            "--workspace",
            "--",
            "--ignored",
            "generate_fixtures",
        ]),
        "bench" => bench::run(args.get(1).map(String::as_str), &args[2.min(args.len())..]),
        "demo" => bench::demo(),
        _ => bail!("unknown xtask `{cmd}`; {USAGE}"),
    }
}

/// The README's test command: everything, with real peers required.
fn test(extra: &[String]) -> Result<()> {
    util::install_debian_packages(TEST_WORLD_PACKAGES).context("installing the test world")?;
    tidy()?;
    // SAFETY-free: the env var is read by slipway-test-support in the test processes.
    let mut args = vec!["test", "--workspace", "--no-fail-fast"];
    args.extend(extra.iter().map(String::as_str));
    util::cargo_with_env(&args, &[("SLIPWAY_TEST_PEERS", "1")])
}

fn tidy() -> Result<()> {
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
}
