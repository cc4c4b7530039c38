//! `cargo xtask fuzz [TARGET…] [--seconds N]`: run the cargo-fuzz targets
//! (issue 18) for N seconds each (default 60), every target when none is
//! named. Needs only the nightly toolchain: cargo-fuzz is installed when
//! missing, and the seed corpora are generated from the repository's files
//! by `fuzz/seeds` (peers such as umoci and skopeo add seeds when present).
//!
//! Builds are release builds with debug assertions (overflow checks) and no
//! sanitizer: the workspace denies `unsafe`, so what the fuzzers look for
//! are panics, hangs and broken invariants, which need no ASan (and ASan
//! would double the build time CI pays). Corpora grow in
//! `$CARGO_TARGET_DIR/fuzz-corpus/TARGET`; a crash leaves its input in
//! `$CARGO_TARGET_DIR/fuzz-artifacts/TARGET/` and fails the command after
//! every target has run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};

use crate::util;

/// The cargo-fuzz crates, relative to the workspace root.
const FUZZ_DIRS: &[&str] = &["fuzz", "crates/slipway-rpm/fuzz"];

/// One target's outcome.
struct Outcome {
    target: String,
    runs: Option<u64>,
    ok: bool,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let (seconds, wanted) = parse_args(args)?;
    let root = util::workspace_root();
    let target_dir = target_dir(&root);
    ensure_cargo_fuzz()?;
    let seeds = target_dir.join("fuzz-seeds");
    util::cargo(&[
        "run",
        "--quiet",
        "-p",
        "slipway-fuzz-seeds",
        "--",
        path_str(&seeds)?,
    ])
    .context("generating the seed corpora")?;
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut found = Vec::new();
    for dir in FUZZ_DIRS {
        let targets: Vec<String> = list_targets(&root, dir)?
            .into_iter()
            .filter(|t| wanted.is_empty() || wanted.contains(t))
            .collect();
        found.extend(targets.iter().cloned());
        if targets.is_empty() {
            continue;
        }
        fuzz_cmd(
            &root,
            &target_dir,
            &["build", "-O", "-a", "-s", "none", "--fuzz-dir", dir],
        )
        .status()
        .map_err(anyhow::Error::from)
        .and_then(|s| {
            if s.success() {
                Ok(())
            } else {
                bail!("building {dir} failed")
            }
        })?;
        for target in targets {
            outcomes.push(run_target(&root, &target_dir, dir, &target, seconds)?);
        }
    }
    if let Some(missing) = wanted.iter().find(|w| !found.contains(w)) {
        bail!("no fuzz target `{missing}` (targets: {})", found.join(", "));
    }
    report(&outcomes, started)
}

/// `[TARGET…] [--seconds N]`.
fn parse_args(args: &[String]) -> Result<(u64, Vec<String>)> {
    let mut seconds = 60;
    let mut targets = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--seconds" {
            let value = iter
                .next()
                .ok_or_else(|| anyhow!("--seconds needs a value"))?;
            seconds = value
                .parse()
                .with_context(|| format!("--seconds {value}: not a number of seconds"))?;
        } else if arg.starts_with('-') {
            bail!("unknown option `{arg}`; usage: cargo xtask fuzz [TARGET…] [--seconds N]");
        } else {
            targets.push(arg.clone());
        }
    }
    Ok((seconds, targets))
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| anyhow!("{} is not UTF-8", path.display()))
}

/// `cargo +nightly fuzz ARGS…` in the workspace root; the fuzz builds share
/// one target directory of their own (their flags differ from the workspace's).
fn fuzz_cmd(root: &Path, target_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly")
        .arg("fuzz")
        .args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir.join("fuzz"))
        // Set by the `cargo xtask` that runs us; it would pin the stable toolchain.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO");
    cmd
}

fn ensure_cargo_fuzz() -> Result<()> {
    let installed = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz");
    util::run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))
}

fn list_targets(root: &Path, dir: &str) -> Result<Vec<String>> {
    let out = fuzz_cmd(root, Path::new(""), &["list", "--fuzz-dir", dir])
        .output()
        .with_context(|| format!("listing the fuzz targets of {dir}"))?;
    if !out.status.success() {
        bail!(
            "`cargo fuzz list --fuzz-dir {dir}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Run one target for `seconds`, from its corpus and seeds.
fn run_target(
    root: &Path,
    target_dir: &Path,
    dir: &str,
    target: &str,
    seconds: u64,
) -> Result<Outcome> {
    let corpus = target_dir.join("fuzz-corpus").join(target);
    let seeds = target_dir.join("fuzz-seeds").join(target);
    let artifacts = target_dir.join("fuzz-artifacts").join(target);
    for d in [&corpus, &seeds, &artifacts] {
        fs_create(d)?;
    }
    let max_time = format!("-max_total_time={seconds}");
    let prefix = format!("-artifact_prefix={}/", path_str(&artifacts)?);
    let args = [
        "run",
        "-O",
        "-a",
        "-s",
        "none",
        "--fuzz-dir",
        dir,
        target,
        path_str(&corpus)?,
        path_str(&seeds)?,
        "--",
        &max_time,
        "-timeout=10",
        "-rss_limit_mb=4096",
        "-max_len=65536",
        &prefix,
    ];
    eprintln!("xtask: fuzzing {target} for {seconds} s");
    let out = fuzz_cmd(root, target_dir, &args)
        .output()
        .with_context(|| format!("running fuzz target {target}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let runs = log
        .lines()
        .filter_map(|l| l.strip_prefix("Done "))
        .find_map(|l| l.split_whitespace().next()?.parse().ok());
    if !out.status.success() {
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        for line in tail.into_iter().rev() {
            eprintln!("  {line}");
        }
    }
    Ok(Outcome {
        target: target.to_owned(),
        runs,
        ok: out.status.success(),
    })
}

fn fs_create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn report(outcomes: &[Outcome], started: Instant) -> Result<()> {
    eprintln!(
        "xtask: fuzz results ({} s in all):",
        started.elapsed().as_secs()
    );
    for o in outcomes {
        let runs = o.runs.map_or("?".to_owned(), |r| r.to_string());
        let verdict = if o.ok { "ok" } else { "FAILED" };
        eprintln!("  {:<20} {:>10} runs  {verdict}", o.target, runs);
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.ok)
        .map(|o| o.target.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        bail!(
            "fuzz targets failed: {} (inputs in fuzz-artifacts/)",
            failed.join(", ")
        )
    }
}
