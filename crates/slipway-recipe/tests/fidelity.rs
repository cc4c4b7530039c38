//! `docs/fidelity.md` accounts for the whole of `layers/`: every step script
//! and every package operation is referenced, every `file:line` exists, and
//! its source table is `layers/common/sources.toml`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use slipway_recipe::{Action, Recipe};

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/fidelity.md");
    fs_err::read_to_string(path).expect("docs/fidelity.md")
}

#[test]
fn every_step_script_and_package_operation_is_in_the_table() {
    let recipe = Recipe::load(&common::layers_dir()).expect("the real recipes load");
    let doc = doc();
    let mut missing = BTreeSet::new();
    for image in &recipe.images {
        for step in &image.steps {
            match &step.action {
                Action::Script(path) => {
                    let path = path.to_string_lossy().into_owned();
                    if !doc.contains(&format!("`{path}`")) {
                        missing.insert(format!("{}: script `{path}`", step.name));
                    }
                }
                Action::Packages(ops) => {
                    for n in 1..=ops.len() {
                        let token = format!("`{}` op {n}", step.name);
                        if !doc.contains(&token) {
                            missing.insert(format!("{}: package operation {token}", image.name));
                        }
                    }
                }
                Action::SrpmPatch(_) => {}
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/fidelity.md:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// Every `` `file.toml:N` `` (or `` `:N` `` after one) of the doc.
fn line_references(doc: &str) -> Vec<(PathBuf, usize)> {
    let mut out = Vec::new();
    let mut last_file = None;
    for cell in doc.split('`').skip(1).step_by(2) {
        let Some((file, line)) = cell.rsplit_once(':') else {
            continue;
        };
        let Ok(line) = line.parse::<usize>() else {
            continue;
        };
        let file = if file.is_empty() {
            last_file.clone()
        } else if file.ends_with(".toml") {
            Some(PathBuf::from(file))
        } else {
            None
        };
        if let Some(file) = file {
            last_file = Some(file.clone());
            out.push((file, line));
        }
    }
    out
}

#[test]
fn every_file_and_line_exists() {
    let refs = line_references(&doc());
    assert!(refs.len() > 30, "only {} references", refs.len());
    for (file, line) in refs {
        let path = common::layers_dir().join(&file);
        let text = fs_err::read_to_string(&path)
            .unwrap_or_else(|e| panic!("`{}:{line}`: {e}", file.display()));
        let at = text.lines().nth(line.saturating_sub(1)).unwrap_or_default();
        assert!(
            line > 0 && !at.trim().is_empty() && !at.trim_start().starts_with('#'),
            "`{}:{line}` is not a line of the recipe (`{at}`)",
            file.display()
        );
    }
}

#[test]
fn the_source_table_is_sources_toml() {
    let doc = doc();
    let section = doc
        .split("\n## Sources\n")
        .nth(1)
        .expect("a Sources section");
    let table: BTreeSet<(String, String, Option<String>)> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| name "))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let sha = Some(cells[2].to_owned()).filter(|s| !s.starts_with('('));
            (cells[0].to_owned(), cells[1].to_owned(), sha)
        })
        .collect();
    let recipe = Recipe::load(&common::layers_dir()).expect("the real recipes load");
    let x86 = recipe.image("manylinux2010_x86_64").expect("x86_64");
    let text = fs_err::read_to_string(common::layers_dir().join("common/sources.toml"))
        .expect("sources.toml");
    let listed: BTreeSet<(String, String, Option<String>)> = x86
        .sources
        .iter()
        .filter(|s| text.contains(&format!("name = \"{}\"", s.name)))
        .map(|s| (s.name.clone(), s.url.clone(), s.sha256.clone()))
        .collect();
    assert_eq!(listed.len(), text.matches("[[sources]]").count());
    assert_eq!(table, listed);
}
