//! Script steps: the recipe directory read-only at `/.slipway/recipe`, the
//! script run by its `#!` interpreter (`/bin/sh` without one), with the
//! image's env, the step's env and inputs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::from_image;
use crate::steps::{StepJob, StepLayer};

/// Run the script step `job` (a cache miss).
pub(crate) fn run(job: &StepJob<'_>, script: &Path) -> Result<StepLayer> {
    let (recipe, image, step) = (job.cx.recipe, job.cx.image, job.step);
    job.report_running();
    let started = Instant::now();
    let script_text = fs_err::read_to_string(recipe.root.join(script))
        .map_err(|e| Error::io(recipe.root.join(script), e))?;
    let interpreter = script_text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".to_owned()]);
    let recipe_root = fs_err::canonicalize(&recipe.root).map_err(|e| Error::io(&recipe.root, e))?;
    let mut argv = interpreter;
    argv.push(format!("/.slipway/recipe/{}", script.display()));
    let mut sandbox_step = job.sandbox_step(argv);
    sandbox_step.env.extend(job.env.clone());
    sandbox_step.env.insert(
        "SOURCE_DATE_EPOCH".into(),
        image.source_date_epoch.to_string(),
    );
    sandbox_step.env.extend(step.env.clone());
    sandbox_step.network = step.network;
    sandbox_step
        .inputs
        .push((recipe_root, PathBuf::from("/.slipway/recipe")));
    let exported = job.export_from_image()?;
    if let Some(dir) = &exported {
        sandbox_step
            .inputs
            .push((dir.clone(), PathBuf::from(from_image::MOUNT)));
    }
    for input in &step.inputs {
        if let Some(dir) = job.cx.sources.get(input) {
            sandbox_step
                .inputs
                .push((dir.clone(), PathBuf::from("/inputs").join(input)));
        }
    }
    let outcome = job.run_in_sandbox(&job.lowers, &sandbox_step);
    if let Some(dir) = &exported {
        let _ = fs_err::remove_dir_all(dir);
    }
    job.capture(&job.plan.key, outcome?, started)
}
