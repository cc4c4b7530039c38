//! The measuring and reporting of `cargo xtask bench`, shared by the xtask
//! and by the benches that live beside the tests (`bench build` in
//! `slipway-e2e`, `bench install` in `slipway-sandbox`).
//!
//! The rules every bench follows: all contenders in one run, over the same
//! input, alternating round by round (the starting contender rotates, so none
//! is always first or always after another); each contender's figure is the
//! median of its rounds (at least 3); ratios are of medians from that one
//! run; output sizes sit beside the times; the machine's load is recorded
//! before and after.
//!
//! A bench's result is a list of [`Table`]s. With `SLIPWAY_BENCH_JSON=FILE`
//! in the environment, [`emit`] writes them to `FILE` as JSON (what
//! `cargo xtask bench all` gathers into `target/bench/results.json`); it
//! always prints them as markdown.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

/// The fewest rounds a bench may report a median of.
pub const MIN_ROUNDS: usize = 3;

/// One timed run of one contender.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Wall-clock seconds.
    pub wall: f64,
    /// Bytes of output, when the contender writes something to compare.
    pub bytes: Option<u64>,
}

/// Time `f`, which returns the size of what it wrote (or `None`).
pub fn timed<E>(f: impl FnOnce() -> Result<Option<u64>, E>) -> Result<Sample, E> {
    let start = Instant::now();
    let bytes = f()?;
    Ok(Sample {
        wall: start.elapsed().as_secs_f64(),
        bytes,
    })
}

/// A contender: its name and how to run it once (given the round number).
pub struct Contender<'a, E> {
    /// The row name in the table.
    pub name: String,
    /// One timed run.
    pub run: Box<dyn FnMut(usize) -> Result<Sample, E> + 'a>,
}

impl<E> std::fmt::Debug for Contender<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contender")
            .field("name", &self.name)
            .finish()
    }
}

impl<'a, E> Contender<'a, E> {
    /// A contender named `name`.
    pub fn new(name: impl Into<String>, run: impl FnMut(usize) -> Result<Sample, E> + 'a) -> Self {
        Contender {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// Run every contender `rounds` times, alternating: round `r` starts with
/// contender `r mod n` and goes round. Returns each contender's samples, in
/// the contenders' order.
pub fn alternate<E>(
    rounds: usize,
    contenders: &mut [Contender<'_, E>],
) -> Result<Vec<Vec<Sample>>, E> {
    let n = contenders.len();
    let mut samples = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let sample = (contenders[i].run)(round)?;
            eprintln!(
                "  round {}/{rounds}: {:<40} {:>8.2} s{}",
                round + 1,
                contenders[i].name,
                sample.wall,
                sample
                    .bytes
                    .map(|b| format!("  {:.1} MB", b as f64 / 1e6))
                    .unwrap_or_default()
            );
            samples[i].push(sample);
        }
    }
    Ok(samples)
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), as text.
pub fn load_average() -> String {
    fs_err::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// One row: a contender's median, every round, and its output size.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The contender.
    pub name: String,
    /// Median wall seconds.
    pub median_s: f64,
    /// Every round's wall seconds, in order.
    pub rounds_s: Vec<f64>,
    /// Output bytes (of the last round; benches check they do not vary).
    pub output_bytes: Option<u64>,
}

/// One table of a bench: rows compared with the first (the baseline).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The bench area (`layers`, `build`, …).
    pub bench: String,
    /// What the table measures (input, durability, filesystem).
    pub title: String,
    /// The rows; ratios are each row's median over the first row's.
    pub rows: Vec<Row>,
    /// Load averages when the rounds started.
    pub load_before: String,
    /// Load averages when they ended.
    pub load_after: String,
    /// Remarks printed under the table (targets, what differs, checks).
    pub notes: Vec<String>,
}

impl Table {
    /// A table of `samples` (from [`alternate`]) of contenders named `names`.
    pub fn new(
        bench: &str,
        title: impl Into<String>,
        names: &[String],
        samples: &[Vec<Sample>],
        load_before: String,
    ) -> Table {
        let rows = names
            .iter()
            .zip(samples)
            .map(|(name, s)| {
                let walls: Vec<f64> = s.iter().map(|s| s.wall).collect();
                Row {
                    name: name.clone(),
                    median_s: median(&walls),
                    rounds_s: walls,
                    output_bytes: s.last().and_then(|s| s.bytes),
                }
            })
            .collect();
        Table {
            bench: bench.into(),
            title: title.into(),
            rows,
            load_before,
            load_after: load_average(),
            notes: Vec::new(),
        }
    }

    /// The median of the row named `name` over the median of the row named
    /// `over` (`None` when either is missing).
    pub fn ratio(&self, name: &str, over: &str) -> Option<f64> {
        let find = |n: &str| self.rows.iter().find(|r| r.name == n).map(|r| r.median_s);
        Some(find(name)? / find(over)?)
    }

    /// The table as JSON (see [`check_shape`]).
    pub fn to_json(&self) -> Value {
        let base = self.rows.first().map_or(f64::NAN, |r| r.median_s);
        json!({
            "bench": self.bench,
            "title": self.title,
            "load_before": self.load_before,
            "load_after": self.load_after,
            "notes": self.notes,
            "rows": self.rows.iter().map(|r| json!({
                "name": r.name,
                "median_s": r.median_s,
                "rounds_s": r.rounds_s,
                "ratio_to_first": r.median_s / base,
                "output_bytes": r.output_bytes,
            })).collect::<Vec<_>>(),
        })
    }

    /// The table as markdown: contender, median, ratio to the first row,
    /// output size, every round; the load and the notes below.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "#### {}: {}\n\n| contender | median s | × first | output MB | rounds s |\n|---|---:|---:|---:|---|\n",
            self.bench, self.title
        );
        let base = self.rows.first().map_or(f64::NAN, |r| r.median_s);
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {:.2} | {:.2} | {} | {} |\n",
                // A `|` in a name (a shell pipeline) would end the cell.
                r.name.replace('|', "\\|"),
                r.median_s,
                r.median_s / base,
                r.output_bytes
                    .map_or("–".into(), |b| format!("{:.1}", b as f64 / 1e6)),
                r.rounds_s
                    .iter()
                    .map(|s| format!("{s:.2}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        out.push_str(&format!(
            "\nload average (1 5 15 min) before {}, after {}\n",
            self.load_before, self.load_after
        ));
        for note in &self.notes {
            out.push_str(&format!("- {note}\n"));
        }
        out
    }
}

/// Print `tables` as markdown, and write them as a JSON array to the file
/// named by `SLIPWAY_BENCH_JSON` when it is set.
pub fn emit(tables: &[Table]) -> std::io::Result<()> {
    for t in tables {
        println!("{}", t.to_markdown());
    }
    if let Some(path) = std::env::var_os("SLIPWAY_BENCH_JSON") {
        let json = Value::Array(tables.iter().map(Table::to_json).collect());
        write_json(Path::new(&path), &json)?;
    }
    Ok(())
}

/// Write `value` pretty-printed to `path`.
pub fn write_json(path: &Path, value: &Value) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    fs_err::write(path, text + "\n")
}

/// Check the shape of one table's JSON (types and keys, not values); the
/// error names the first thing out of place.
pub fn check_shape(table: &Value) -> Result<(), String> {
    let obj = table.as_object().ok_or("a table is not an object")?;
    for key in ["bench", "title", "load_before", "load_after"] {
        obj.get(key)
            .and_then(Value::as_str)
            .ok_or(format!("table key `{key}` is not a string"))?;
    }
    let notes = obj
        .get("notes")
        .and_then(Value::as_array)
        .ok_or("table key `notes` is not an array")?;
    if notes.iter().any(|n| !n.is_string()) {
        return Err("a note is not a string".into());
    }
    let rows = obj
        .get("rows")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or("table key `rows` is not a non-empty array")?;
    for (i, row) in rows.iter().enumerate() {
        let name = row
            .get("name")
            .and_then(Value::as_str)
            .ok_or(format!("row {i}: `name` is not a string"))?;
        for key in ["median_s", "ratio_to_first"] {
            row.get(key)
                .and_then(Value::as_f64)
                .ok_or(format!("row `{name}`: `{key}` is not a number"))?;
        }
        let rounds = row
            .get("rounds_s")
            .and_then(Value::as_array)
            .ok_or(format!("row `{name}`: `rounds_s` is not an array"))?;
        if rounds.iter().any(|r| !r.is_number()) {
            return Err(format!("row `{name}`: a round is not a number"));
        }
        match row.get("output_bytes") {
            Some(Value::Null) => {}
            Some(v) if v.is_u64() => {}
            _ => {
                return Err(format!(
                    "row `{name}`: `output_bytes` is not a count or null"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall: f64) -> Sample {
        Sample {
            wall,
            bytes: Some(10),
        }
    }

    #[test]
    fn alternation_rotates_the_first_contender_and_medians_are_per_contender() {
        let order = std::cell::RefCell::new(Vec::new());
        let mut contenders = vec![
            Contender::new("a", |_| -> Result<Sample, ()> {
                order.borrow_mut().push('a');
                Ok(sample(1.0))
            }),
            Contender::new("b", |r| -> Result<Sample, ()> {
                order.borrow_mut().push('b');
                Ok(sample(2.0 + r as f64))
            }),
        ];
        let samples = alternate(3, &mut contenders).unwrap();
        drop(contenders);
        assert_eq!(order.into_inner(), ['a', 'b', 'b', 'a', 'a', 'b']);
        let names = ["a".to_owned(), "b".to_owned()];
        let table = Table::new("t", "title", &names, &samples, "0 0 0".into());
        assert_eq!(table.rows[1].median_s, 3.0);
        assert_eq!(table.ratio("b", "a"), Some(3.0));
        check_shape(&table.to_json()).unwrap();
        assert!(
            table
                .to_markdown()
                .contains("| b | 3.00 | 3.00 | 0.0 | 2.00 3.00 4.00 |")
        );
    }

    #[test]
    fn the_shape_check_names_what_is_wrong() {
        let names = ["a".to_owned()];
        let table = Table::new("t", "x", &names, &[vec![sample(1.0)]], "1".into());
        let mut json = table.to_json();
        json["rows"][0]["output_bytes"] = "big".into();
        let err = check_shape(&json).unwrap_err();
        assert!(err.contains("`output_bytes`"), "{err}");
        json["rows"] = Value::Array(Vec::new());
        assert!(check_shape(&json).unwrap_err().contains("rows"));
    }
}
