//! Rebuild a patched source with `rpmbuild -ba` and publish the RPMs as a repo.
//!
//! Where `rpmbuild` runs is a [`BuildRunner`]: [`HostRunner`] runs it on this
//! machine; a sandbox runner (slipway-sandbox over a builder image, with the
//! topdir bind-mounted) implements the same trait. The build dependencies of
//! the source RPM ([`crate::srpm::UnpackedSrpm::build_requires`]) are the
//! caller's to install in the builder (slipway-yum); `rpmbuild` is run with
//! `--nodeps` only when [`RebuildOptions::nodeps`] says so (a Debian builder
//! has gcc from dpkg, which rpm's database does not know).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;
use crate::srpm::{PatchedSource, UnpackedSrpm};

/// Runs `rpmbuild` somewhere.
pub trait BuildRunner {
    /// Run `rpmbuild --define "_topdir T" ARGS` in the directory `T`, where
    /// `T` is where the runner shows `topdir` (a host path) to `rpmbuild` —
    /// itself on the host, a bind mount inside a sandbox. `args` name the
    /// spec relative to the topdir (`SPECS/x.spec`). `env` is extra
    /// environment.
    fn run_rpmbuild(
        &self,
        topdir: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<(), Error>;
}

/// Runs `rpmbuild` on this machine.
#[derive(Debug, Clone)]
pub struct HostRunner {
    /// The `rpmbuild` program.
    pub rpmbuild: PathBuf,
}

impl Default for HostRunner {
    fn default() -> Self {
        Self {
            rpmbuild: PathBuf::from("rpmbuild"),
        }
    }
}

impl BuildRunner for HostRunner {
    fn run_rpmbuild(
        &self,
        topdir: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<(), Error> {
        let mut cmd = Command::new(&self.rpmbuild);
        cmd.arg("--define")
            .arg(format!("_topdir {}", topdir.display()))
            .args(args)
            .current_dir(topdir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd)
    }
}

/// Options of [`rebuild`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildOptions {
    /// Extra `--define "NAME VALUE"` pairs (e.g. `dist .el6`).
    pub defines: Vec<(String, String)>,
    /// Pass `--nodeps` (build dependencies not recorded in the builder's rpmdb).
    pub nodeps: bool,
    /// Keep `BUILD/` after the build (`--noclean`), to inspect the patched source.
    pub keep_build_dir: bool,
    /// `SOURCE_DATE_EPOCH` for the build: build time and file mtimes are
    /// clamped to it (rpm ≥ 4.14; older rpm ignores the macros).
    pub source_date_epoch: Option<u64>,
    /// `--target` (e.g. `i686`).
    pub target: Option<String>,
}

/// What a rebuild produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Binary RPMs under `RPMS/`, sorted.
    pub binary_rpms: Vec<PathBuf>,
    /// Source RPMs under `SRPMS/`, sorted.
    pub source_rpms: Vec<PathBuf>,
}

/// The `rpmbuild` arguments (after `--define "_topdir …"`) for `patched`.
pub fn rpmbuild_args(patched: &PatchedSource, options: &RebuildOptions) -> Vec<String> {
    let mut args = vec!["-ba".to_owned()];
    if options.nodeps {
        args.push("--nodeps".to_owned());
    }
    if options.keep_build_dir {
        args.push("--noclean".to_owned());
    }
    if let Some(target) = &options.target {
        args.push("--target".to_owned());
        args.push(target.clone());
    }
    if options.source_date_epoch.is_some() {
        for macro_name in [
            "use_source_date_epoch_as_buildtime",
            "clamp_mtime_to_source_date_epoch",
        ] {
            args.push("--define".to_owned());
            args.push(format!("{macro_name} 1"));
        }
    }
    for (name, value) in &options.defines {
        args.push("--define".to_owned());
        args.push(format!("{name} {value}"));
    }
    let spec_name = patched
        .spec_path()
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    args.push(format!("SPECS/{spec_name}"));
    args
}

/// Run `%prep` only (`rpmbuild -bp`) of an unpacked source through
/// `runner`: the check that the original spec's patches apply, before
/// adding ours (as the seed's builder did).
pub fn check_prep(
    runner: &dyn BuildRunner,
    unpacked: &UnpackedSrpm,
    nodeps: bool,
) -> Result<(), Error> {
    let mut args = vec!["-bp".to_owned()];
    if nodeps {
        args.push("--nodeps".to_owned());
    }
    let spec_name = unpacked
        .spec_path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    args.push(format!("SPECS/{spec_name}"));
    runner.run_rpmbuild(&unpacked.topdir, &args, &[])
}

/// Rebuild `patched` with `rpmbuild -ba` through `runner`; return the RPMs.
pub fn rebuild(
    runner: &dyn BuildRunner,
    patched: &PatchedSource,
    options: &RebuildOptions,
) -> Result<Rebuilt, Error> {
    let args = rpmbuild_args(patched, options);
    let env: Vec<(String, String)> = options
        .source_date_epoch
        .map(|t| ("SOURCE_DATE_EPOCH".to_owned(), t.to_string()))
        .into_iter()
        .collect();
    runner.run_rpmbuild(patched.topdir(), &args, &env)?;
    let rpms_dir = patched.topdir().join("RPMS");
    let binary_rpms = find_rpms(&rpms_dir)?;
    if binary_rpms.is_empty() {
        return Err(Error::NoBinaryRpms { dir: rpms_dir });
    }
    let source_rpms = find_rpms(&patched.topdir().join("SRPMS"))?;
    Ok(Rebuilt {
        binary_rpms,
        source_rpms,
    })
}

fn find_rpms(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|source| Error::Walk {
            path: dir.to_owned(),
            source,
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "rpm") {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// Copy `rpms` into `repo_dir` and index them with `createrepo_c`; returns `repo_dir`.
pub fn create_repo(rpms: &[PathBuf], repo_dir: &Path) -> Result<PathBuf, Error> {
    fs_err::create_dir_all(repo_dir)?;
    for rpm in rpms {
        if let Some(name) = rpm.file_name() {
            fs_err::copy(rpm, repo_dir.join(name))?;
        }
    }
    let mut cmd = Command::new("createrepo_c");
    cmd.arg("--quiet").arg(repo_dir);
    run(cmd)?;
    Ok(repo_dir.to_owned())
}

/// Run `cmd`, capturing output; fail with its last lines.
fn run(mut cmd: Command) -> Result<(), Error> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let line = std::iter::once(program.clone())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let output = cmd
        .output()
        .map_err(|source| Error::Spawn { program, source })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    Err(Error::CommandFailed {
        command: line,
        status: output.status.to_string(),
        output_tail: tail,
    })
}
