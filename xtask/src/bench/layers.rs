//! `cargo xtask bench layers [--tree DIR] [--rounds N]`: one layer from a
//! real tree (default `/usr/lib/x86_64-linux-gnu`), written by slipway and by
//! its peers in the same run.
//!
//! gzip: `slipway import-rootfs` (the pinned level), slipway at level 6 (the
//! `write-layer` example of slipway-oci) and at the lowest level whose output
//! is no larger than umoci's (found by a sweep before the timed rounds),
//! `umoci insert` (Go's gzip, level 6) and `tar -c | pigz -p2 -6`. zstd:
//! `slipway import-rootfs --compression zstd` against `tar -c | zstd -3 -T2`.
//!
//! Fairness: the tree is read once first so that every contender finds it
//! in the page cache; every output goes to `target/bench/layers` (one
//! filesystem) and none of the contenders fsyncs (umoci and slipway do not
//! sync blobs; pigz and zstd write through the shell). Contenders alternate;
//! the figures are medians of the rounds (see `slipway_test_support::bench`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use slipway_test_support::bench::{self, Contender, MIN_ROUNDS, Sample, Table};

use super::{Tools, dir_size, shell_quote};
use crate::util;

struct Args {
    tree: PathBuf,
    rounds: usize,
}

fn parse(rest: &[String]) -> Result<Args> {
    let mut args = Args {
        tree: PathBuf::from("/usr/lib/x86_64-linux-gnu"),
        rounds: MIN_ROUNDS,
    };
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--tree" => args.tree = it.next().context("--tree needs a directory")?.into(),
            "--rounds" => args.rounds = it.next().context("--rounds needs a number")?.parse()?,
            other => bail!(
                "unknown argument `{other}` (usage: cargo xtask bench layers [--tree DIR] [--rounds N])"
            ),
        }
    }
    if args.rounds < MIN_ROUNDS {
        bail!("--rounds {}: at least {MIN_ROUNDS}", args.rounds);
    }
    Ok(args)
}

pub(crate) fn run(rest: &[String]) -> Result<Vec<Table>> {
    let args = parse(rest)?;
    util::require_tools(&["umoci", "pigz", "zstd", "tar", "du"])?;
    let tools = Tools::build(&["write-layer"])?;
    let work = util::workspace_root().join("target/bench/layers");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let tree = &args.tree;
    let size = dir_size(tree)?;
    eprintln!(
        "tree: {} ({:.0} MB); warming the page cache…",
        tree.display(),
        size as f64 / 1e6
    );
    util::run(
        Command::new("sh")
            .arg("-c")
            .arg(format!("tar -C {} -cf - . > /dev/null", shell_quote(tree))),
    )?;

    let umoci_size = umoci(tree, &work.join("umoci"))?.bytes.unwrap_or(0);
    let no_larger = (1..=12)
        .find(|&level| {
            write_layer(&tools, tree, &work.join("sweep"), &format!("gzip:{level}"))
                .is_ok_and(|s| s.bytes.unwrap_or(u64::MAX) <= umoci_size)
        })
        .context("no gzip level 1–12 gives a layer as small as umoci's")?;
    eprintln!("lowest level no larger than umoci's {umoci_size} bytes: {no_larger}");

    let gzip = gzip_table(&tools, &args, &work, no_larger, umoci_size)?;
    let zstd = zstd_table(&tools, &args, &work)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(vec![gzip, zstd])
}

fn gzip_table(
    tools: &Tools,
    args: &Args,
    work: &Path,
    no_larger: u32,
    umoci_size: u64,
) -> Result<Table> {
    let tree = &args.tree;
    let pinned = slipway_pinned_level();
    let mut contenders = vec![
        Contender::new(format!("slipway import-rootfs (gzip {pinned})"), |_| {
            import_rootfs(tools, tree, &work.join("slipway"), &[])
        }),
        Contender::new("slipway gzip 6 (write-layer)", |_| {
            write_layer(tools, tree, &work.join("slipway-6"), "gzip:6")
        }),
    ];
    if no_larger != 6 && no_larger != pinned {
        contenders.push(Contender::new(
            format!("slipway gzip {no_larger} (write-layer)"),
            |_| {
                write_layer(
                    tools,
                    tree,
                    &work.join("slipway-n"),
                    &format!("gzip:{no_larger}"),
                )
            },
        ));
    }
    contenders.push(Contender::new("umoci insert (Go gzip 6)", |_| {
        umoci(tree, &work.join("umoci"))
    }));
    contenders.push(Contender::new("tar -c | pigz -p2 -6", |_| {
        shell_to_file(
            &format!("tar -C {} -cf - . | pigz -p2 -6", shell_quote(tree)),
            &work.join("tar.gz"),
        )
    }));
    let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
    let load = bench::load_average();
    let samples = bench::alternate(args.rounds, &mut contenders)?;
    drop(contenders);
    let mut table = Table::new(
        "layers",
        format!(
            "one gzip layer of {} ({:.0} MB), page cache warm, no fsync, {} CPUs",
            tree.display(),
            dir_size(tree)? as f64 / 1e6,
            cpus()
        ),
        &names,
        &samples,
        load,
    );
    let umoci_name = &names[names.len() - 2];
    let ours = table.rows[0].output_bytes.unwrap_or(u64::MAX);
    table.notes.push(format!(
        "umoci / slipway (gzip {pinned}) = {:.2} wall (target ≥ 1.5); slipway's output {} umoci's ({ours} vs {umoci_size} bytes)",
        table.ratio(umoci_name, &names[0]).unwrap_or(f64::NAN),
        if ours <= umoci_size { "≤" } else { ">" },
    ));
    table.notes.push(format!(
        "umoci / slipway gzip 6 = {:.2}",
        table.ratio(umoci_name, &names[1]).unwrap_or(f64::NAN)
    ));
    table.notes.push(format!(
        "lowest slipway level with output ≤ umoci's: {no_larger} (sweep of 1–12)"
    ));
    Ok(table)
}

fn zstd_table(tools: &Tools, args: &Args, work: &Path) -> Result<Table> {
    let tree = &args.tree;
    let mut contenders = vec![
        Contender::new("slipway import-rootfs (zstd 3)", |_| {
            import_rootfs(
                tools,
                tree,
                &work.join("slipway-zstd"),
                &["--compression", "zstd"],
            )
        }),
        Contender::new("tar -c | zstd -3 -T2", |_| {
            shell_to_file(
                &format!("tar -C {} -cf - . | zstd -q -3 -T2", shell_quote(tree)),
                &work.join("tar.zst"),
            )
        }),
    ];
    let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
    let load = bench::load_average();
    let samples = bench::alternate(args.rounds, &mut contenders)?;
    drop(contenders);
    let mut table = Table::new(
        "layers",
        format!(
            "one zstd layer of {}, page cache warm, no fsync",
            tree.display()
        ),
        &names,
        &samples,
        load,
    );
    table.notes.push(format!(
        "slipway / tar|zstd = {:.2} (target ≤ 1.2)",
        table.ratio(&names[0], &names[1]).unwrap_or(f64::NAN)
    ));
    Ok(table)
}

/// The pinned gzip level, as `slipway-oci` documents it (xtask does not
/// link slipway-oci: it only runs the binaries).
fn slipway_pinned_level() -> u32 {
    let src = util::workspace_root().join("crates/slipway-oci/src/compress.rs");
    std::fs::read_to_string(src)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("pub const GZIP_LEVEL: u32 = "))
                .and_then(|v| v.trim_end_matches(';').parse().ok())
        })
        .unwrap_or(0)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn import_rootfs(tools: &Tools, tree: &Path, out: &Path, extra: &[&str]) -> Result<Sample> {
    let _ = std::fs::remove_dir_all(out);
    let sample = bench::timed(|| {
        util::run_quiet(
            Command::new(&tools.slipway)
                .arg("import-rootfs")
                .arg(tree)
                .arg(format!("oci:{}:bench", out.display()))
                .args(extra),
        )
        .map(|()| None)
    })?;
    let bytes = dir_size(out)?;
    std::fs::remove_dir_all(out)?;
    Ok(Sample {
        bytes: Some(bytes),
        ..sample
    })
}

fn write_layer(tools: &Tools, tree: &Path, out: &Path, spec: &str) -> Result<Sample> {
    let _ = std::fs::remove_dir_all(out);
    let sample = bench::timed(|| {
        let stdout = util::stdout_of(
            Command::new(tools.example("write-layer"))
                .arg(tree)
                .arg(out)
                .arg(spec),
        )?;
        stdout
            .trim()
            .parse::<u64>()
            .map(Some)
            .with_context(|| format!("write-layer printed {stdout:?}"))
    })?;
    std::fs::remove_dir_all(out)?;
    Ok(sample)
}

fn umoci(tree: &Path, out: &Path) -> Result<Sample> {
    let _ = std::fs::remove_dir_all(out);
    util::run_quiet(Command::new("umoci").args(["init", "--layout"]).arg(out))?;
    let image = format!("{}:bench", out.display());
    util::run_quiet(Command::new("umoci").args(["new", "--image", &image]))?;
    let sample = bench::timed(|| {
        util::run_quiet(
            Command::new("umoci")
                .args(["insert", "--image", &image])
                .arg(tree)
                .arg("/"),
        )
        .map(|()| None)
    })?;
    let bytes = dir_size(out)?;
    std::fs::remove_dir_all(out)?;
    Ok(Sample {
        bytes: Some(bytes),
        ..sample
    })
}

fn shell_to_file(pipeline: &str, out: &Path) -> Result<Sample> {
    let sample = bench::timed(|| {
        util::run_quiet(
            Command::new("sh")
                .arg("-ec")
                .arg(format!("{pipeline} > {}", shell_quote(out))),
        )
        .map(|()| None)
    })?;
    let bytes = std::fs::metadata(out)?.len();
    std::fs::remove_file(out)?;
    Ok(Sample {
        bytes: Some(bytes),
        ..sample
    })
}
