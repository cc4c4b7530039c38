//! `cargo xtask bench <area>`: benchmarks against real peers, each printing
//! markdown tables of medians and ratios from one run (the rules are in
//! `slipway_test_support::bench`). Each area lives in its own module;
//! `cargo xtask bench all` runs the five of the README's table and writes
//! `target/bench/results.json` and `target/bench/results.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use slipway_test_support::bench::{Table, check_shape, write_json};

use crate::util;

mod build;
mod install;
mod layers;
mod pull;
mod resolve;
mod vsyscall;

const AREAS: &str = "all, layers, pull, resolve, install, build, vsyscall";

/// The areas `all` runs, in order.
const ALL: [&str; 5] = ["layers", "pull", "resolve", "install", "build"];

pub(crate) fn run(area: Option<&str>, rest: &[String]) -> Result<()> {
    match area {
        Some("all") => all(rest),
        Some("vsyscall") => vsyscall::run(rest),
        Some(area) if ALL.contains(&area) => {
            for table in run_area(area, rest)? {
                println!("{}", table.to_markdown());
            }
            Ok(())
        }
        Some(area) => bail!("benchmark area `{area}` is not implemented (areas: {AREAS})"),
        None => bail!("usage: cargo xtask bench <AREA> (areas: {AREAS})"),
    }
}

fn run_area(area: &str, rest: &[String]) -> Result<Vec<Table>> {
    match area {
        "layers" => layers::run(rest),
        "pull" => pull::run(rest),
        "resolve" => resolve::run(rest),
        "install" => install::run(rest),
        "build" => build::run(rest),
        _ => bail!("no bench area `{area}`"),
    }
}

/// Every area in turn; the tables gathered into `target/bench/results.json`
/// (checked with [`check_results`]) and `target/bench/results.md`.
fn all(rest: &[String]) -> Result<()> {
    if !rest.is_empty() {
        bail!("`bench all` takes no arguments (run an area alone to pass some)");
    }
    let out = util::workspace_root().join("target/bench");
    std::fs::create_dir_all(&out)?;
    let date = util::stdout_of(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))?;
    let machine = util::stdout_of(Command::new("uname").args(["-srm"]))?;
    let mut tables = Vec::new();
    for area in ALL {
        eprintln!("== bench {area}");
        tables.extend(run_area(area, &[]).with_context(|| format!("bench {area}"))?);
    }
    let results = json!({
        "date": date.trim(),
        "machine": machine.trim(),
        "cpus": std::thread::available_parallelism().map_or(1, usize::from),
        "rerun": "cargo xtask bench all (as root, with the test world installed)",
        "tables": tables.iter().map(Table::to_json).collect::<Vec<_>>(),
    });
    check_results(&results).map_err(anyhow::Error::msg)?;
    write_json(&out.join("results.json"), &results)?;
    let mut md = format!(
        "Measured {} on {} ({} CPUs) by `cargo xtask bench all`.\n\n",
        date.trim(),
        machine.trim(),
        results["cpus"]
    );
    for table in &tables {
        md.push_str(&table.to_markdown());
        md.push('\n');
    }
    std::fs::write(out.join("results.md"), &md)?;
    println!("{md}");
    eprintln!("wrote {}", out.join("results.json").display());
    Ok(())
}

/// The shape of `results.json`: `date`, `machine`, `rerun` strings, a `cpus`
/// count and `tables`, each of the shape [`check_shape`] checks.
pub(crate) fn check_results(results: &Value) -> Result<(), String> {
    for key in ["date", "machine", "rerun"] {
        results
            .get(key)
            .and_then(Value::as_str)
            .ok_or(format!("`{key}` is not a string"))?;
    }
    results
        .get("cpus")
        .and_then(Value::as_u64)
        .ok_or("`cpus` is not a count")?;
    let tables = results
        .get("tables")
        .and_then(Value::as_array)
        .ok_or("`tables` is not an array")?;
    for (i, table) in tables.iter().enumerate() {
        check_shape(table).map_err(|e| format!("table {i}: {e}"))?;
    }
    Ok(())
}

/// Run a bench that lives in another crate (`cargo ARGS…`) with
/// `SLIPWAY_BENCH_JSON` pointing at a file, and read back its tables.
pub(crate) fn tables_from(args: &[&str], env: &[(&str, &str)]) -> Result<Vec<Table>> {
    let file =
        util::workspace_root().join(format!("target/bench/tables-{}.json", std::process::id()));
    std::fs::create_dir_all(file.parent().expect("a parent"))?;
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().context("utf-8 path")?;
    let mut env = env.to_vec();
    env.push(("SLIPWAY_BENCH_JSON", path));
    util::cargo_with_env(args, &env)?;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("the bench wrote no {}", file.display()))?;
    let _ = std::fs::remove_file(&file);
    let value: Value = serde_json::from_str(&text)?;
    let tables = value.as_array().context("a JSON array of tables")?;
    tables
        .iter()
        .map(|t| {
            check_shape(t).map_err(anyhow::Error::msg)?;
            Ok(table_from_json(t))
        })
        .collect()
}

fn table_from_json(t: &Value) -> Table {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Table {
        bench: s(&t["bench"]),
        title: s(&t["title"]),
        load_before: s(&t["load_before"]),
        load_after: s(&t["load_after"]),
        notes: t["notes"]
            .as_array()
            .map(|n| n.iter().map(s).collect())
            .unwrap_or_default(),
        rows: t["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| slipway_test_support::bench::Row {
                        name: s(&r["name"]),
                        median_s: r["median_s"].as_f64().unwrap_or(f64::NAN),
                        rounds_s: r["rounds_s"]
                            .as_array()
                            .map(|v| v.iter().filter_map(Value::as_f64).collect())
                            .unwrap_or_default(),
                        output_bytes: r["output_bytes"].as_u64(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The release binaries a bench runs: `slipway`, and examples of
/// slipway-oci and slipway-registry by name.
pub(crate) struct Tools {
    pub(crate) slipway: PathBuf,
    examples: PathBuf,
}

impl Tools {
    /// Build `slipway` and the named examples (release).
    pub(crate) fn build(examples: &[&str]) -> Result<Tools> {
        util::cargo(&["build", "--release", "--quiet", "-p", "slipway"])?;
        for example in examples {
            util::cargo(&[
                "build",
                "--release",
                "--quiet",
                "-p",
                "slipway-oci",
                "--example",
                example,
            ])?;
        }
        let release = util::target_dir().join("release");
        Ok(Tools {
            slipway: release.join("slipway"),
            examples: release.join("examples"),
        })
    }

    pub(crate) fn example(&self, name: &str) -> PathBuf {
        self.examples.join(name)
    }
}

/// Apparent size in bytes of a file or tree (`du -sb --apparent-size`).
pub(crate) fn dir_size(path: &Path) -> Result<u64> {
    let text = util::stdout_of(
        Command::new("du")
            .args(["-sb", "--apparent-size"])
            .arg(path),
    )?;
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("`du -sb {}` printed {text:?}", path.display()))
}

/// `path` quoted for `sh`.
pub(crate) fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

pub(crate) fn demo() -> Result<()> {
    crate::demo::run()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_test_support::bench::{Contender, Sample, alternate};

    /// The shape of `results.json` as `bench all` writes it: built from real
    /// tables through the same code, checked, parsed back; and a results
    /// file of an earlier run, when there is one, has that shape too.
    #[test]
    fn results_json_has_the_documented_shape() {
        let mut contenders = vec![
            Contender::new("a", |_| -> Result<Sample, ()> {
                Ok(Sample {
                    wall: 1.0,
                    bytes: Some(5),
                })
            }),
            Contender::new("b", |_| -> Result<Sample, ()> {
                Ok(Sample {
                    wall: 2.0,
                    bytes: None,
                })
            }),
        ];
        let samples = alternate(3, &mut contenders).unwrap();
        let names = ["a".to_owned(), "b".to_owned()];
        let table = Table::new("layers", "t", &names, &samples, "0.1 0.2 0.3".into());
        let results = json!({
            "date": "2026-12-04 20:00 UTC", "machine": "Linux", "cpus": 2,
            "rerun": "cargo xtask bench all",
            "tables": [table.to_json()],
        });
        let text = serde_json::to_string_pretty(&results).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        check_results(&back).unwrap();
        assert_eq!(table_from_json(&back["tables"][0]), table);
        let mut broken = back.clone();
        broken["tables"][0]["rows"][0]["median_s"] = "fast".into();
        assert!(check_results(&broken).unwrap_err().contains("median_s"));

        let written = util::workspace_root().join("target/bench/results.json");
        if let Ok(text) = std::fs::read_to_string(&written) {
            let value: Value = serde_json::from_str(&text).expect("results.json is JSON");
            check_results(&value).unwrap_or_else(|e| panic!("{}: {e}", written.display()));
        }
    }
}
