//! Package steps in the build: a locked step installs exactly its lock
//! entry; an unlocked one (a library caller that did not lock first) is
//! resolved against the installed set of the rootfs it runs over (`rpm -qa`
//! in the sandbox) and keyed by its resolution. Either way the packages are
//! downloaded (verified) and the rootfs's own `rpm` installs them in the
//! sandbox; the upper directory is captured like any step's.

pub(crate) mod resolve;

use std::path::{Path, PathBuf};
use std::time::Instant;

use slipway_recipe::PackageOp;

use self::resolve::{Resolved, StepFiles};
use crate::error::Result;
use crate::key;
use crate::steps::{StepJob, StepLayer};
use crate::store::key_hex;

/// Run the package step `job` (or take its layer from the cache).
pub(crate) fn run(job: &StepJob<'_>, ops: &[PackageOp]) -> Result<StepLayer> {
    // With a lock entry the planned key holds the package set already: a hit
    // needs no repository. Without one, the resolution goes into the key.
    if job.plan.locked.is_some()
        && let Some(hit) = job.cached(&job.plan.key)?
    {
        return Ok(hit);
    }
    let started = Instant::now();
    // The from-image directory, copied out first: `install-local` resolves
    // its RPMs' requirements.
    let exported = job.export_from_image()?;
    let result = install(job, ops, exported.as_deref(), started);
    if let Some(dir) = &exported {
        let _ = fs_err::remove_dir_all(dir);
    }
    result
}

/// [`run`] after a cache miss of its planned key: resolve (or take the lock
/// entry), then install in the sandbox and capture the layer.
fn install(
    job: &StepJob<'_>,
    ops: &[PackageOp],
    from_image: Option<&Path>,
    started: Instant,
) -> Result<StepLayer> {
    let store = job.cx.store;
    let scratch = store.tmp().join(format!("step-{}", key_hex(&job.plan.key)));
    let files = StepFiles {
        sources: job.cx.sources,
        scratch: &scratch,
        lowers: &job.lowers,
        from_image,
        offline: store.offline,
    };
    let (resolved, key) = match &job.plan.locked {
        // Locked: exactly the locked packages, looked up by NEVRA.
        Some(locked) => {
            let resolved = resolve::locked_step(
                &job.cx.recipe.root,
                job.cx.image,
                job.step,
                ops,
                locked,
                &store.yum(),
                &files,
            );
            let _ = fs_err::remove_dir_all(&scratch);
            (resolved?, job.plan.key.clone())
        }
        // Unlocked: resolve, and key the layer by the resolution.
        None => {
            let resolved = resolve_over_rootfs(job, ops, &files);
            let _ = fs_err::remove_dir_all(&scratch);
            let resolved = resolved?;
            let key = key::derive(
                &job.plan.key,
                None,
                &[],
                Some(&resolve::resolved_key(&resolved.ops)),
            );
            if let Some(hit) = store.cached(&key)? {
                job.report_cached();
                return Ok(StepLayer {
                    layer: hit,
                    cached: true,
                    key,
                });
            }
            (resolved, key)
        }
    };
    job.report_skipped(&resolved);
    job.report_running();
    transaction(job, &resolved, &key, from_image, started)
}

/// Install `resolved` with the rootfs's own rpm in the sandbox and capture
/// the layer under `key`.
fn transaction(
    job: &StepJob<'_>,
    resolved: &Resolved,
    key: &str,
    from_image: Option<&Path>,
    started: Instant,
) -> Result<StepLayer> {
    let rpm_dir = resolve::rpm_dir(&job.cx.store.tmp(), key);
    let _ = fs_err::remove_dir_all(&rpm_dir);
    let script = resolved.materialize(&rpm_dir, 4, from_image)?;
    let mut run = job.sandbox_step(["/bin/sh", "-c", &script]);
    run.env.insert(
        "SOURCE_DATE_EPOCH".into(),
        job.cx.image.source_date_epoch.to_string(),
    );
    run.inputs
        .push((rpm_dir.clone(), PathBuf::from("/inputs/rpms")));
    let outcome = job.run_in_sandbox(&job.lowers, &run);
    let result = outcome.and_then(|outcome| job.capture(key, outcome, started));
    let _ = fs_err::remove_dir_all(&rpm_dir);
    result
}

/// Resolve the package step of `job` against what is installed in the
/// rootfs it runs over (`rpm -qa` in the sandbox over `files.lowers`).
pub(crate) fn resolve_over_rootfs(
    job: &StepJob<'_>,
    ops: &[PackageOp],
    files: &StepFiles<'_>,
) -> Result<Resolved> {
    let (image, step) = (job.cx.image, job.step);
    let mut query = job.sandbox_step(["rpm", "-qa"]);
    query.name = format!("{}/{} (rpm -qa)", image.name, step.name);
    query.output.collect = true;
    let installed = job.run_in_sandbox(files.lowers, &query)?.output_text();
    resolve::resolve_step(
        &job.cx.recipe.root,
        image,
        step,
        ops,
        &installed,
        &job.cx.store.yum(),
        files,
    )
}
