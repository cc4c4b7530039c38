//! `shellcheck` of the step scripts: the real recipes' (`layers/steps`) and
//! the mini world's copies (`fixtures/mini-manylinux/steps`), recursively.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util;

/// Directories whose `*.sh` files must pass shellcheck.
const SCRIPT_DIRS: &[&str] = &["layers/steps", "fixtures/mini-manylinux/steps"];

/// Run shellcheck (every severity) over every step script. A finding is
/// fixed or disabled on its line with a reason.
pub(crate) fn check() -> Result<()> {
    let root = util::workspace_root();
    let mut scripts = Vec::new();
    for dir in SCRIPT_DIRS {
        collect(&root.join(dir), &mut scripts)?;
    }
    scripts.sort();
    if scripts.is_empty() {
        bail!("no step scripts found under {SCRIPT_DIRS:?}");
    }
    util::run(
        Command::new("shellcheck")
            .args(["--shell=bash", "--severity=style", "--external-sources"])
            .args(&scripts)
            .current_dir(&root),
    )
    .context("shellcheck reports findings in the step scripts (is `shellcheck` installed?)")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "sh") {
            out.push(path);
        }
    }
    Ok(())
}
