//! [`SandboxRunner`]: `rpmbuild` in slipway-sandbox over a builder rootfs.
//!
//! The topdir is bind-mounted read-only at [`INPUT_TOPDIR`]; the step copies
//! it to [`BUILD_TOPDIR`] in the overlay, runs `rpmbuild` there with no
//! network, and the runner copies `RPMS/`, `SRPMS/` and `BUILD/` back from
//! the step's upper directory into the host topdir. The builder's layers
//! (the builder image plus a layer with the build dependencies) are the
//! overlay's lower directories.

use std::path::{Path, PathBuf};
use std::time::Duration;

use slipway_sandbox::{Base, Sandbox, Step};

use crate::Error;
use crate::rebuild::BuildRunner;

/// Where the host topdir is visible, read-only, inside the sandbox.
pub const INPUT_TOPDIR: &str = "/run/slipway/topdir";
/// Where `rpmbuild` builds inside the sandbox.
pub const BUILD_TOPDIR: &str = "/root/rpmbuild";

/// Runs `rpmbuild` in the sandbox over `lowers` (top-most first).
#[derive(Debug, Clone)]
pub struct SandboxRunner {
    /// The sandbox (its scratch area).
    pub sandbox: Sandbox,
    /// The builder's layers, top-most first.
    pub lowers: Vec<PathBuf>,
    /// Kill the build after this long.
    pub timeout: Option<Duration>,
}

impl SandboxRunner {
    /// A runner over `lowers` with scratch space under `scratch_root`.
    pub fn new(scratch_root: impl Into<PathBuf>, lowers: Vec<PathBuf>) -> Self {
        Self {
            sandbox: Sandbox::new(scratch_root),
            lowers,
            timeout: None,
        }
    }
}

/// The shell script of the step: copy the topdir, build, keep the results.
const SCRIPT: &str = r#"set -e
rm -rf "$BUILD_TOPDIR"
mkdir -p "$(dirname "$BUILD_TOPDIR")"
cp -a "$INPUT_TOPDIR" "$BUILD_TOPDIR"
cd "$BUILD_TOPDIR"
exec rpmbuild --define "_topdir $BUILD_TOPDIR" "$@"
"#;

impl BuildRunner for SandboxRunner {
    fn run_rpmbuild(
        &self,
        topdir: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<(), Error> {
        let mut argv = vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            SCRIPT.to_owned(),
            "rpmbuild".to_owned(),
        ];
        argv.extend(args.iter().cloned());
        let mut step = Step::new("rpmbuild", argv);
        step.inputs
            .push((topdir.to_owned(), PathBuf::from(INPUT_TOPDIR)));
        step.timeout = self.timeout;
        step.env
            .insert("INPUT_TOPDIR".to_owned(), INPUT_TOPDIR.to_owned());
        step.env
            .insert("BUILD_TOPDIR".to_owned(), BUILD_TOPDIR.to_owned());
        for (k, v) in env {
            step.env.insert(k.clone(), v.clone());
        }
        let outcome = self
            .sandbox
            .run(&Base::Overlay(self.lowers.clone()), &step)
            .map_err(Error::Sandbox)?;
        let built = outcome.upper().join(BUILD_TOPDIR.trim_start_matches('/'));
        for dir in ["RPMS", "SRPMS", "BUILD"] {
            let from = built.join(dir);
            if from.is_dir() {
                copy_tree(&from, &topdir.join(dir))?;
            }
        }
        Ok(())
    }
}

/// Copy a tree (files, directories, symlinks), replacing what is there.
fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.map_err(|source| Error::Walk {
            path: from.to_owned(),
            source,
        })?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dest = to.join(rel);
        let kind = entry.file_type();
        if kind.is_dir() {
            fs_err::create_dir_all(&dest)?;
        } else if kind.is_symlink() {
            let target = fs_err::read_link(entry.path())?;
            if dest.symlink_metadata().is_ok() {
                fs_err::remove_file(&dest)?;
            }
            fs_err::os::unix::fs::symlink(&target, &dest)?;
        } else if kind.is_file() {
            fs_err::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}
