//! The transaction installer: the rootfs's own `rpm` run in the sandbox on
//! the downloaded package files (bind-mounted read-only), so `%pre`/`%post`
//! (Lua included), triggers and the rpmdb are exactly that rpm's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sandbox::{Base, Sandbox, Step, StepOutcome};

/// Where package directories appear inside the sandbox.
pub const PACKAGES_MOUNT: &str = "/run/slipway/rpms";

/// One rpm transaction: erase, then install/upgrade.
#[derive(Debug, Clone, Default)]
pub struct RpmTransaction {
    /// Package files to install or upgrade (`rpm -U`).
    pub install: Vec<PathBuf>,
    /// Installed package names to erase first (`rpm -e`).
    pub erase: Vec<String>,
    /// Pass `--nodeps` (a builder whose base packages are not in its rpmdb).
    pub nodeps: bool,
    /// Run under the 32-bit personality (i686 rootfs).
    pub linux32: bool,
}

/// True when the top-most lower that has `usr/bin/rpm` or `bin/rpm` has it
/// as a file (the rootfs can run its own rpm).
pub fn rootfs_has_rpm(lowers: &[PathBuf]) -> bool {
    ["usr/bin/rpm", "bin/rpm"].iter().any(|p| {
        lowers
            .iter()
            .find_map(|l| std::fs::symlink_metadata(l.join(p)).ok())
            .is_some_and(|m| m.is_file() || m.is_symlink())
    })
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl RpmTransaction {
    /// The sandbox step running this transaction, with the package
    /// directories as read-only inputs.
    pub fn step(&self, name: &str) -> Result<Step> {
        let mut dirs: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        let mut files = Vec::new();
        for rpm in &self.install {
            let (Some(dir), Some(file)) = (rpm.parent(), rpm.file_name()) else {
                return Err(Error::Rpm {
                    package: rpm.clone(),
                    message: "not a file path".into(),
                });
            };
            let dir = fs_err::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })?;
            let n = dirs.len();
            let inside = dirs
                .entry(dir)
                .or_insert_with(|| Path::new(PACKAGES_MOUNT).join(n.to_string()))
                .join(file);
            files.push(inside.display().to_string());
        }
        let nodeps = if self.nodeps { " --nodeps" } else { "" };
        let mut script = String::from("set -e\n");
        if !self.erase.is_empty() {
            let names: Vec<String> = self.erase.iter().map(|n| quote(n)).collect();
            script.push_str(&format!("rpm -e{nodeps} {}\n", names.join(" ")));
        }
        if !files.is_empty() {
            let quoted: Vec<String> = files.iter().map(|f| quote(f)).collect();
            script.push_str(&format!("rpm -U -v{nodeps} {}\n", quoted.join(" ")));
        }
        let mut step = Step::new(name, ["/bin/sh", "-c", &script]);
        step.linux32 = self.linux32;
        step.inputs = dirs.into_iter().collect();
        Ok(step)
    }

    /// Run the transaction over `lowers`; the outcome's upper dir holds the
    /// changes (capture it with [`crate::Transient::package_caches`]).
    pub fn run(
        &self,
        sandbox: &Sandbox,
        lowers: &[PathBuf],
        step_name: &str,
    ) -> Result<StepOutcome> {
        let mut step = self.step(step_name)?;
        step.output.collect = true;
        sandbox.run(&Base::Overlay(lowers.to_vec()), &step)
    }
}
