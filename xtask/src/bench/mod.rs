//! `cargo xtask bench <area>`: benchmarks against real peers, printing ratios.
//! Each area lives in its own module.

use anyhow::{Result, bail};

mod build;
mod install;
mod layers;
mod pull;
mod resolve;
mod vsyscall;

const AREAS: &str = "layers, pull, resolve, install, build, vsyscall";

pub(crate) fn run(area: Option<&str>, rest: &[String]) -> Result<()> {
    match area {
        Some("layers") => layers::run(rest),
        Some("pull") => pull::run(rest),
        Some("build") => build::run(rest),
        Some("resolve") => resolve::run(rest),
        Some("install") => install::run(rest),
        Some("vsyscall") => vsyscall::run(rest),
        Some(area) => bail!("benchmark area `{area}` is not implemented yet (areas: {AREAS})"),
        None => bail!("usage: cargo xtask bench <AREA> (areas: {AREAS})"),
    }
}

pub(crate) fn demo() -> Result<()> {
    crate::demo::run()
}
