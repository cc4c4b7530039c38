//! `srpm-patch` steps: slipway-vsyscall unpacks the source RPM (as `rpm -i`
//! does), adds the patch to its spec (next free `PatchN:`, `%patchN` with the
//! step's flags, release bump) and copies it into `SOURCES/`, in a scratch
//! topdir on the host; the step then copies that topdir to `topdir` in the
//! rootfs, so the layer holds the patched source tree for a later
//! `rpmbuild` step.

use std::path::{Path, PathBuf};
use std::time::Instant;

use slipway_recipe::{Image, SrpmPatch, Step};
use slipway_vsyscall::srpm::{PatchFile, patch_srpm};

use crate::error::{Error, Result, build_err};
use crate::steps::{StepJob, StepLayer};
use crate::store::key_hex;

/// Run the srpm-patch step `job` (a cache miss): patch the source RPM on
/// the host, then `rpmbuild -bp` it in the sandbox.
pub(crate) fn run(job: &StepJob<'_>, patch: &SrpmPatch) -> Result<StepLayer> {
    job.report_running();
    let started = Instant::now();
    let scratch = job
        .cx
        .store
        .tmp()
        .join(format!("srpm-{}", key_hex(&job.plan.key)));
    let result = (|| {
        let script = prepare(job.cx.image, job.step, patch, job.cx.sources, &scratch)?;
        let mut run = job.sandbox_step(["/bin/sh", "-c", &script]);
        run.inputs.push((scratch.clone(), PathBuf::from(MOUNT)));
        let outcome = job.run_in_sandbox(&job.lowers, &run)?;
        job.capture(&job.plan.key, outcome, started)
    })();
    let _ = fs_err::remove_dir_all(&scratch);
    result
}

/// Where the step sees the patched topdir, read-only.
pub(crate) const MOUNT: &str = "/inputs/srpm-topdir";

/// Unpack and patch into `scratch` (emptied first); return the shell script
/// that puts the result at the recipe's `topdir`.
pub(crate) fn prepare(
    image: &Image,
    step: &Step,
    patch: &SrpmPatch,
    sources: &std::collections::BTreeMap<String, PathBuf>,
    scratch: &Path,
) -> Result<String> {
    let context = format!("{}: srpm-patch step `{}`", step.loc, step.name);
    let what = |m: String| build_err(context.clone(), m);
    let file_of = |name: &str| -> Result<PathBuf> {
        let source = image
            .source(name)
            .ok_or_else(|| what(format!("source `{name}` is not declared")))?;
        let dir = sources
            .get(name)
            .ok_or_else(|| what(format!("source `{name}` was not fetched")))?;
        Ok(dir.join(&source.file_name))
    };
    let srpm = file_of(&patch.srpm)?;
    let patch_file = file_of(&patch.patch)?;
    let patch_name = patch_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "patch".into());
    let mut flags = format!("-p{}", patch.strip);
    if patch.remove_empty_files {
        flags = format!("-E {flags}");
    }
    if scratch.exists() {
        fs_err::remove_dir_all(scratch).map_err(|e| Error::io(scratch, e))?;
    }
    fs_err::create_dir_all(scratch).map_err(|e| Error::io(scratch, e))?;
    let patched = patch_srpm(
        &srpm,
        &[PatchFile::new(&patch_name, &patch_file, &flags)],
        scratch,
    )
    .map_err(|source| Error::SrpmPatch {
        what: context.clone(),
        source: Box::new(source),
    })?;
    // slipway-vsyscall's bump: the release's leading number gains `.1` (or
    // its third component is incremented); the recipe states which it expects.
    let leading = patched
        .new_release()
        .split('%')
        .next()
        .unwrap_or_default()
        .to_owned();
    if !leading.ends_with(&patch.release_suffix) {
        return Err(what(format!(
            "the release was bumped from `{}` to `{}`, which does not end in the recipe's release-suffix `{}`",
            patched.edit.old_release,
            patched.new_release(),
            patch.release_suffix
        )));
    }
    let topdir = patch.topdir.trim_end_matches('/');
    if !topdir.starts_with('/') || topdir.contains('\'') {
        return Err(what(format!(
            "topdir `{}` must be an absolute path without quotes",
            patch.topdir
        )));
    }
    Ok(format!(
        "set -eu\nmkdir -p '{topdir}'\ncp -a {MOUNT}/. '{topdir}/'\n"
    ))
}

/// The vsyscall fixture's source RPM (made by `rpmbuild -bs`) patched as an
/// `srpm-patch` step does, then `%prep` run by the real `rpmbuild -bp`.
#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::process::Command;

    use slipway_test_support::{fixtures_dir, generated_dir, require_tool};

    use super::prepare;
    use slipway_recipe::{Action, Recipe};

    fn run(cmd: &mut Command) {
        let out = cmd.output().expect("spawn");
        assert!(
            out.status.success(),
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn srpm_patch_unpacks_patches_and_preps() {
        for tool in ["rpmbuild", "tar"] {
            if require_tool(tool).is_none() {
                return;
            }
        }
        let fixture = fixtures_dir().join("vsyscall");
        let work = generated_dir("recipe-srpm-patch");
        let _ = fs_err::remove_dir_all(&work);
        // The source RPM, as the vsyscall crate's tests make it.
        let top = work.join("srpm-top");
        let sources = top.join("SOURCES");
        fs_err::create_dir_all(&sources).expect("SOURCES");
        for entry in fs_err::read_dir(&fixture).expect("fixture") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "patch")
                && !path.ends_with("remove-vsyscall.patch")
            {
                fs_err::copy(&path, sources.join(path.file_name().expect("name"))).expect("copy");
            }
        }
        run(Command::new("tar")
            .arg("czf")
            .arg(sources.join("vstime-1.0.tar.gz"))
            .arg("-C")
            .arg(&fixture)
            .arg("vstime-1.0"));
        run(Command::new("rpmbuild")
            .arg("-bs")
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            .arg(fixture.join("vstime.spec")));
        let fetched = work.join("fetched");
        fs_err::create_dir_all(&fetched).expect("fetched");
        fs_err::copy(
            top.join("SRPMS/vstime-1.0-1.209.src.rpm"),
            fetched.join("vstime-1.0-1.209.src.rpm"),
        )
        .expect("srpm");
        fs_err::copy(
            fixture.join("remove-vsyscall.patch"),
            fetched.join("remove-vsyscall.patch"),
        )
        .expect("patch");

        let recipes = work.join("recipes");
        fs_err::create_dir_all(&recipes).expect("recipes");
        fs_err::write(
            recipes.join("builder.toml"),
            r#"platform = "linux/amd64"
publish = false
[base]
ref = "registry.invalid/centos:6.9"
platform = "linux/amd64"
[[sources]]
name = "srpm"
url = "https://example.invalid/vstime-1.0-1.209.src.rpm"
[[sources]]
name = "patch"
url = "https://example.invalid/remove-vsyscall.patch"
[[steps]]
name = "unpack-and-patch"
srpm-patch = { srpm = "srpm", patch = "patch", strip = 3, remove-empty-files = true, release-suffix = ".1", topdir = "/root/rpmbuild" }
"#,
        )
        .expect("recipe");
        let recipe = Recipe::load(&recipes).expect("recipe loads");
        let image = recipe.image("builder").expect("image");
        let step = image.step("unpack-and-patch").expect("step");
        let Action::SrpmPatch(patch) = &step.action else {
            panic!("an srpm-patch step");
        };
        let fetched_sources: BTreeMap<String, _> = [
            ("srpm".to_owned(), fetched.clone()),
            ("patch".to_owned(), fetched.clone()),
        ]
        .into_iter()
        .collect();
        let scratch = work.join("topdir");
        let script = prepare(image, step, patch, &fetched_sources, &scratch).expect("patched");
        assert!(
            script.contains("cp -a /inputs/srpm-topdir/. '/root/rpmbuild/'"),
            "{script}"
        );
        let spec = fs_err::read_to_string(scratch.join("SPECS/vstime.spec")).expect("spec");
        assert!(
            spec.contains("Patch12: vstime-notes-rh12.patch\nPatch13: remove-vsyscall.patch\n"),
            "{spec}"
        );
        assert!(spec.contains("%patch12 -p1\n%patch13 -E -p3\n"), "{spec}");
        assert!(
            spec.contains("%define vstimerelease 1.209.1%{?dist}"),
            "{spec}"
        );
        assert!(scratch.join("SOURCES/remove-vsyscall.patch").is_file());

        // The real rpmbuild runs %prep of the patched spec: the patch applies.
        run(Command::new("rpmbuild")
            .arg("-bp")
            .arg("--nodeps")
            .arg("--define")
            .arg(format!("_topdir {}", scratch.display()))
            .arg(scratch.join("SPECS/vstime.spec")));
        let source = fs_err::read_to_string(scratch.join("BUILD/vstime-1.0/vstime.c"))
            .expect("patched source");
        assert!(!source.contains("0xffffffffff600400"), "{source}");

        // A release-suffix the bump does not give is refused.
        let mut other = patch.clone();
        other.release_suffix = ".2".into();
        let err =
            prepare(image, step, &other, &fetched_sources, &scratch).expect_err("another suffix");
        assert!(err.to_string().contains("release-suffix `.2`"), "{err}");
    }
}
