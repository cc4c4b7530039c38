//! `cargo xtask bench layers [--tree DIR] [--rounds N]`: write one gzip layer
//! from a large real tree (default `/usr`) with slipway, with `umoci insert`,
//! and with `tar -c | pigz -p2` (the physical floor on 2 cores), and print the
//! wall-time ratios from the same run.
//!
//! The tree is read once first so that every contender finds it in the page
//! cache; contenders alternate across rounds and the best time of each counts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util;

pub(crate) fn run(rest: &[String]) -> Result<()> {
    let mut tree = PathBuf::from("/usr");
    let mut rounds = 1usize;
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tree" => tree = args.next().context("--tree needs a directory")?.into(),
            "--rounds" => rounds = args.next().context("--rounds needs a number")?.parse()?,
            other => bail!(
                "unknown argument `{other}` (usage: cargo xtask bench layers [--tree DIR] [--rounds N])"
            ),
        }
    }
    for tool in ["umoci", "pigz", "tar", "du"] {
        if which(tool).is_none() {
            bail!(
                "`{tool}` is missing (run `cargo xtask test` as root once to install the test world)"
            );
        }
    }

    let root = util::workspace_root();
    util::cargo(&["build", "--release", "-p", "slipway"])?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let slipway = target.join("release/slipway");
    let work = target.join("bench/layers");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    let size = tree_size(&tree)?;
    eprintln!(
        "tree: {} ({:.0} MB); warming the page cache…",
        tree.display(),
        size as f64 / 1e6
    );
    util::run(
        Command::new("sh")
            .arg("-c")
            .arg(format!("tar -C '{}' -cf - . > /dev/null", tree.display())),
    )?;

    let (mut sw, mut tp, mut um, mut zs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut sw_size, mut tp_size, mut um_size, mut zs_size) = (0, 0, 0, 0);
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        let out = work.join("slipway");
        sw.push(time(
            Command::new(&slipway)
                .arg("import-rootfs")
                .arg(&tree)
                .arg(format!("oci:{}:bench", out.display())),
        )?);
        sw_size = dir_size(&out)?;
        std::fs::remove_dir_all(&out)?;

        let out = work.join("tar.gz");
        tp.push(time(Command::new("sh").arg("-c").arg(format!(
            "tar -C '{}' -cf - . | pigz -p2 > '{}'",
            tree.display(),
            out.display()
        )))?);
        tp_size = std::fs::metadata(&out)?.len();
        std::fs::remove_file(&out)?;

        let out = work.join("umoci");
        util::run(Command::new("umoci").args(["init", "--layout"]).arg(&out))?;
        util::run(
            Command::new("umoci")
                .args(["new", "--image"])
                .arg(format!("{}:bench", out.display())),
        )?;
        um.push(time(
            Command::new("umoci")
                .args(["insert", "--image"])
                .arg(format!("{}:bench", out.display()))
                .arg(&tree)
                .arg("/"),
        )?);
        um_size = dir_size(&out)?;
        std::fs::remove_dir_all(&out)?;

        let out = work.join("slipway-zstd");
        zs.push(time(
            Command::new(&slipway)
                .arg("import-rootfs")
                .arg(&tree)
                .arg(format!("oci:{}:bench", out.display()))
                .args(["--compression", "zstd"]),
        )?);
        zs_size = dir_size(&out)?;
        std::fs::remove_dir_all(&out)?;
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default().as_secs_f64();
    let (sw, tp, um, zs) = (best(&sw), best(&tp), best(&um), best(&zs));
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mb = size as f64 / 1e6;
    println!(
        "layer from {} ({mb:.0} MB of files), {cpus} CPUs, best of {rounds}:",
        tree.display()
    );
    let row = |name: &str, secs: f64, out: u64| {
        println!(
            "  {name:<34} {secs:>7.2} s  {:>7.1} MB/s  output {:>7.1} MB",
            mb / secs,
            out as f64 / 1e6
        );
    };
    row("slipway import-rootfs (gzip)", sw, sw_size);
    row("tar -c | pigz -p2", tp, tp_size);
    row("umoci insert", um, um_size);
    row("slipway import-rootfs (zstd)", zs, zs_size);
    println!(
        "  slipway / tar|pigz = {:.2}  (target ≤ 1.2)\n  umoci / slipway    = {:.2}  (target ≥ 1.5)",
        sw / tp,
        um / sw
    );
    Ok(())
}

fn time(cmd: &mut Command) -> Result<Duration> {
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("could not start {cmd:?}"))?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(elapsed)
}

fn tree_size(dir: &Path) -> Result<u64> {
    let out = Command::new("du")
        .args(["-sb", "--apparent-size"])
        .arg(dir)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("`du -sb {}` printed {text:?}", dir.display()))
}

fn dir_size(dir: &Path) -> Result<u64> {
    tree_size(dir)
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}
