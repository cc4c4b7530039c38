//! `slipway-fuzz-seeds OUT`: writes the seed corpus of every fuzz target of
//! `fuzz/` into `OUT/<target>/`, from real files: layers and images written
//! by slipway, GNU tar, umoci and skopeo, the RPMs of `../shared/real-world`
//! indexed by createrepo_c, the repository's recipes, and hand-made hostile
//! inputs (symlink escapes, `..`, absolute names, hard links out, whiteouts
//! of `..`). Peers that are not installed are skipped, with a note: the
//! fuzz run needs nothing but the nightly toolchain.

mod files;
mod images;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Separates the parts of a multi-file input; the same bytes as
/// `slipway_fuzz::PART` in `fuzz/src/lib.rs`.
pub(crate) const PART: &[u8] = b"\n--8<-- slipway-fuzz part --8<--\n";

/// Where the seeds of the targets go.
pub(crate) struct Seeds {
    out: PathBuf,
}

impl Seeds {
    /// Write `data` as seed `name` of `target`.
    pub(crate) fn add(&self, target: &str, name: &str, data: &[u8]) -> Result<()> {
        let dir = self.out.join(target);
        fs_err::create_dir_all(&dir)?;
        fs_err::write(dir.join(name), data)?;
        Ok(())
    }

    /// Write the file at `path` as seed `name` of every target in `targets`.
    pub(crate) fn add_file(&self, targets: &[&str], name: &str, path: &Path) -> Result<()> {
        let data = fs_err::read(path)?;
        for target in targets {
            self.add(target, name, &data)?;
        }
        Ok(())
    }
}

/// `parts` joined with [`PART`].
pub(crate) fn joined(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(PART)
}

/// Whether `tool` can be run; prints a note when not.
pub(crate) fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("fuzz-seeds: `{tool}` is not installed: its seeds are left out");
    }
    found
}

/// Run a command, failing with its stderr on a non-zero exit.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The workspace root (the seeds read its fixtures and recipes).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("fuzz/seeds lives two levels below the root")
        .to_path_buf()
}

fn main() -> Result<()> {
    let Some(out) = std::env::args_os().nth(1) else {
        bail!("usage: slipway-fuzz-seeds OUT-DIR");
    };
    let seeds = Seeds { out: out.into() };
    if seeds.out.exists() {
        fs_err::remove_dir_all(&seeds.out)?;
    }
    let scratch = tempfile::tempdir()?;
    images::write(&seeds, scratch.path()).context("layer and image seeds")?;
    files::write(&seeds, scratch.path()).context("metadata and recipe seeds")?;
    eprintln!("fuzz-seeds: wrote {}", seeds.out.display());
    Ok(())
}
