//! Running one step: one `match` over its action (script, packages,
//! srpm-patch), each run in the sandbox over the trees of what it runs over,
//! and the one capture of a finished step's upper directory as its layer.

mod packages;
mod script;
mod srpm_patch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use slipway_oci::LayerOptions;
use slipway_recipe::plan::StepPlan;
use slipway_recipe::{Action, Image, Personality, Step};

pub(crate) use packages::resolve::StepFiles;
pub(crate) use packages::resolve_over_rootfs;

use crate::driver::{Built, ImageRun};
use crate::error::{Error, Result};
use crate::report::Event;
use crate::store::CachedLayer;

/// A step ready to run: its context, its plan with its runtime key, the
/// trees it runs over (top-most first), its `from-image` image and the
/// image's env.
pub(crate) struct StepJob<'a> {
    pub(crate) cx: ImageRun<'a>,
    pub(crate) step: &'a Step,
    pub(crate) plan: StepPlan,
    pub(crate) lowers: Vec<PathBuf>,
    pub(crate) from: Option<&'a Built>,
    pub(crate) env: &'a BTreeMap<String, String>,
}

/// What a step produced.
#[derive(Debug, Clone)]
pub(crate) struct StepLayer {
    /// Its layer.
    pub(crate) layer: CachedLayer,
    /// Whether it came from the cache.
    pub(crate) cached: bool,
    /// The key it is stored under (its runtime key).
    pub(crate) key: String,
}

/// Run `job` (or take its layer from the cache).
pub(crate) fn run(job: &StepJob<'_>) -> Result<StepLayer> {
    match &job.step.action {
        // A package step's key may depend on its resolution: it looks in
        // the cache itself.
        Action::Packages(ops) => packages::run(job, ops),
        Action::Script(path) => match job.cached(&job.plan.key)? {
            Some(hit) => Ok(hit),
            None => script::run(job, path),
        },
        Action::SrpmPatch(patch) => match job.cached(&job.plan.key)? {
            Some(hit) => Ok(hit),
            None => srpm_patch::run(job, patch),
        },
    }
}

impl StepJob<'_> {
    /// The cached layer of `key`, reported as such.
    pub(crate) fn cached(&self, key: &str) -> Result<Option<StepLayer>> {
        let hit = self.cx.store.cached(key)?;
        if hit.is_some() {
            self.report_cached();
        }
        Ok(hit.map(|layer| StepLayer {
            layer,
            cached: true,
            key: key.to_owned(),
        }))
    }

    pub(crate) fn report_cached(&self) {
        self.cx.reporter.event(&Event::Cached {
            image: &self.cx.image.name,
            step: &self.step.name,
        });
    }

    /// Warn about the names of a package step that matched nothing.
    pub(crate) fn report_skipped(&self, resolved: &packages::resolve::Resolved) {
        for (_, name) in &resolved.skipped {
            self.cx.reporter.event(&Event::Skipped {
                image: &self.cx.image.name,
                step: &self.step.name,
                name,
            });
        }
    }

    pub(crate) fn report_running(&self) {
        self.cx.reporter.event(&Event::Running {
            image: &self.cx.image.name,
            step: &self.step.name,
        });
    }

    /// A sandbox step named after the image and step, running `argv` under
    /// the step's personality.
    pub(crate) fn sandbox_step<I, S>(&self, argv: I) -> slipway_sandbox::Step
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        let mut run =
            slipway_sandbox::Step::new(format!("{}/{}", self.cx.image.name, self.step.name), argv);
        run.linux32 = self.step.personality == Personality::Linux32;
        run
    }

    /// Run `run` in the sandbox over `lowers`.
    pub(crate) fn run_in_sandbox(
        &self,
        lowers: &[PathBuf],
        run: &slipway_sandbox::Step,
    ) -> Result<slipway_sandbox::StepOutcome> {
        self.cx
            .sandbox
            .run(&slipway_sandbox::Base::Overlay(lowers.to_vec()), run)
            .map_err(|source| Error::Step {
                image: self.cx.image.name.clone(),
                step: self.step.name.clone(),
                source,
            })
    }

    /// Turn a finished step's upper directory into its layer under `key`, its
    /// tree and its cache entry.
    pub(crate) fn capture(
        &self,
        key: &str,
        outcome: slipway_sandbox::StepOutcome,
        started: Instant,
    ) -> Result<StepLayer> {
        let ImageRun {
            store,
            image,
            reporter,
            ..
        } = self.cx;
        let upper = outcome.upper();
        // Transient paths and the mount points of inputs are not part of the
        // layer (nor of the tree later steps run over).
        let mut excludes: Vec<PathBuf> = vec![PathBuf::from(".slipway"), PathBuf::from("inputs")];
        excludes.extend(
            self.step
                .transient
                .iter()
                .map(|t| PathBuf::from(t.trim_start_matches('/'))),
        );
        for ex in &excludes {
            let p = upper.join(ex);
            match fs_err::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => fs_err::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?,
                Ok(_) => fs_err::remove_file(&p).map_err(|e| Error::io(&p, e))?,
                Err(_) => {}
            }
        }
        normalize_upper(image, &upper)?;
        let layout = store.blobs.open()?;
        let layer = slipway_oci::write_layer_from_dir(
            &layout,
            &upper,
            &LayerOptions {
                source_date_epoch: image.source_date_epoch,
                overlay_whiteouts: true,
                excludes,
                ..LayerOptions::default()
            },
        )?;
        let tree = store.tree(key);
        if tree.exists() {
            fs_err::remove_dir_all(&tree).map_err(|e| Error::io(&tree, e))?;
        }
        fs_err::rename(&upper, &tree).map_err(|e| Error::io(&tree, e))?;
        drop(outcome);
        let cached = CachedLayer {
            descriptor: layer.descriptor,
            diff_id: layer.diff_id.to_string(),
        };
        store.record(key, &cached)?;
        reporter.event(&Event::Built {
            image: &image.name,
            step: &self.step.name,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(StepLayer {
            layer: cached,
            cached: false,
            key: key.to_owned(),
        })
    }
}

/// The reproducibility hook: what the step's processes left behind that
/// differs from one build to the next (rpmdb install times and environment
/// files, logs, caches, backups) is normalised before the layer is captured;
/// see `slipway_repro::normalize`.
fn normalize_upper(image: &Image, upper: &Path) -> Result<()> {
    let source_date_epoch = u32::try_from(image.source_date_epoch).map_err(|_| {
        crate::error::build_err(
            format!("image `{}`", image.name),
            format!(
                "SOURCE_DATE_EPOCH {} is outside 0..=4294967295",
                image.source_date_epoch
            ),
        )
    })?;
    slipway_repro::normalize_tree(
        upper,
        &slipway_repro::NormalizeOptions {
            source_date_epoch,
            // Steps get SOURCE_DATE_EPOCH, so CPython writes checked-hash pycs.
            drop_pyc: false,
        },
    )
    .map_err(|source| Error::Normalize {
        path: upper.to_path_buf(),
        source: Box::new(source),
    })?;
    Ok(())
}
