//! `cargo xtask bench vsyscall [DIR]`: `slipway audit-vsyscall` on a whole
//! rootfs (default: the debootstrap builder rootfs of the tests, else `/usr`)
//! against the obvious peer, `objdump -d` of every ELF file piped to `grep`
//! for the page's addresses (2 parallel jobs, as many cores as we have).
//! slipway: one warm-up, then the median of 3 rounds; objdump: one round.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util;

const ROUNDS: usize = 3;

pub(crate) fn run(rest: &[String]) -> Result<()> {
    let root = util::workspace_root();
    let dir = match rest.first() {
        Some(dir) => PathBuf::from(dir),
        None => {
            let builder = root.join("target/test-data/builder-bookworm-amd64/rootfs");
            if builder.is_dir() {
                builder
            } else {
                PathBuf::from("/usr")
            }
        }
    };
    util::cargo(&["build", "--release", "-p", "slipway"])?;
    let slipway = root.join("target/release/slipway");

    let audit = || -> Result<f64> {
        let start = Instant::now();
        let status = Command::new(&slipway)
            .arg("audit-vsyscall")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("run slipway")?;
        // 0: nothing found, 1: findings; both are successful audits.
        if !matches!(status.code(), Some(0 | 1)) {
            bail!("slipway audit-vsyscall failed with {status}");
        }
        Ok(start.elapsed().as_secs_f64())
    };
    audit()?; // warm-up: page cache
    let mut times = (0..ROUNDS).map(|_| audit()).collect::<Result<Vec<_>>>()?;
    times.sort_by(f64::total_cmp);
    let ours = times[ROUNDS / 2];

    let script = r#"find "$1" -type f -size +0 -print0 | xargs -0 -P2 -n50 sh -c '
        for f; do head -c4 "$f" | grep -q ELF && objdump -d "$f" 2>/dev/null | grep -c ffffffffff600 >/dev/null; done' sh"#;
    let start = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(&dir)
        .stderr(Stdio::null())
        .status()
        .context("run objdump pipeline")?;
    let peer = start.elapsed().as_secs_f64();
    if !status.success() && status.code() != Some(123) {
        bail!("objdump pipeline failed with {status}");
    }
    println!("audit of {}", dir.display());
    println!("  slipway audit-vsyscall (median of {ROUNDS}): {ours:.2} s");
    println!("  objdump -d | grep (2 jobs):        {peer:.2} s");
    println!("  ratio: {:.1}x", peer / ours);
    Ok(())
}
