//! `cargo xtask bench layers [--tree DIR] [--rounds N]`: write one gzip layer
//! from a large real tree (default `/usr`) with slipway, with `umoci insert`,
//! and with `tar -c | pigz -p2` (the physical floor on 2 cores), and print the
//! wall-time ratios from the same run.
//!
//! The tree is read once first so that every contender finds it in the page
//! cache; contenders alternate across rounds and the best time of each counts.
//! CPU seconds (user + system, from GNU `time`) are printed too: on a shared
//! machine they move much less than wall time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

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
    for tool in ["umoci", "pigz", "tar", "du", "time"] {
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

    let load_before = load_average();
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
    let best = |v: &[Timing]| {
        v.iter()
            .copied()
            .min_by(|a, b| a.wall.total_cmp(&b.wall))
            .unwrap_or_default()
    };
    let (sw, tp, um, zs) = (best(&sw), best(&tp), best(&um), best(&zs));
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mb = size as f64 / 1e6;
    println!(
        "layer from {} ({mb:.0} MB of files), {cpus} CPUs, best of {rounds}:",
        tree.display()
    );
    let row = |name: &str, t: Timing, out: u64| {
        println!(
            "  {name:<30} {:>7.2} s wall  {:>7.2} s CPU  {:>6.1} MB/s  output {:>7.1} MB",
            t.wall,
            t.cpu,
            mb / t.wall,
            out as f64 / 1e6
        );
    };
    row("slipway import-rootfs (gzip)", sw, sw_size);
    row("tar -c | pigz -p2", tp, tp_size);
    row("umoci insert", um, um_size);
    row("slipway import-rootfs (zstd)", zs, zs_size);
    println!(
        "  slipway / tar|pigz = {:.2} wall, {:.2} CPU  (target ≤ 1.2)\n  umoci / slipway    = {:.2} wall, {:.2} CPU  (target ≥ 1.5)",
        sw.wall / tp.wall,
        sw.cpu / tp.cpu,
        um.wall / sw.wall,
        um.cpu / sw.cpu
    );
    println!(
        "  load average before/after: {load_before} / {}",
        load_average()
    );
    Ok(())
}

/// Wall time and CPU seconds (user + system of the command and its children).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Timing {
    wall: f64,
    cpu: f64,
}

fn time(cmd: &mut Command) -> Result<Timing> {
    let cpu_file = std::env::temp_dir().join(format!("slipway-bench-time-{}", std::process::id()));
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%U %S", "-o"])
        .arg(&cpu_file)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    let start = Instant::now();
    let out = timed
        .output()
        .with_context(|| format!("could not start {timed:?}"))?;
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = std::fs::read_to_string(&cpu_file).unwrap_or_default();
    let _ = std::fs::remove_file(&cpu_file);
    let cpu = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse::<f64>().ok())
        .sum();
    Ok(Timing { wall, cpu })
}

/// The 1-minute load average: other work on the machine skews wall times.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
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
