//! The DAG runner: one image after the other (bases first), and within an
//! image the steps of the plan as soon as the steps they run over are done,
//! `--jobs` at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::mpsc;

use slipway_oci::ImageConfig;
use slipway_oci::oci_spec::image::Descriptor;
use slipway_recipe::plan::{ImagePlan, Plan, StepPlan};
use slipway_recipe::{Image, Recipe, Step};

use crate::assemble::image_env;
use crate::error::{Error, Result, build_err};
use crate::report::{BuildReport, Event, Reporter};
use crate::sources::SourceOptions;
use crate::steps::{StepJob, StepLayer};
use crate::store::Store;
use crate::{key, steps};

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The store (`default_store()` unless told otherwise).
    pub store: PathBuf,
    /// The directory that gets one OCI layout per published image.
    pub output: PathBuf,
    /// Steps run at once at most.
    pub jobs: usize,
    /// Where sources come from.
    pub sources: SourceOptions,
    /// How the registry is reached.
    pub registry: slipway_registry::ClientOptions,
}

/// One layer of a built image and where its blob is.
#[derive(Debug, Clone)]
pub(crate) struct LayerRef {
    pub(crate) descriptor: Descriptor,
    pub(crate) blob: PathBuf,
}

/// A built image, as the base of the next.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub(crate) layers: Vec<LayerRef>,
    pub(crate) config: ImageConfig,
    /// Trees to run over, top-most first.
    pub(crate) lowers: Vec<PathBuf>,
    /// The image's runtime key when it differs from its planned key
    /// ([`key::image`]).
    pub(crate) runtime_key: Option<String>,
    /// The image's planned key (empty for a registry base).
    pub(crate) planned_key: String,
}

/// What a build (or the lock rounds) runs with: one store, one sandbox, the
/// recipe, the options and where progress goes.
pub(crate) struct Driver<'a> {
    pub(crate) store: Store,
    pub(crate) sandbox: slipway_sandbox::Sandbox,
    pub(crate) recipe: &'a Recipe,
    pub(crate) options: &'a BuildOptions,
    pub(crate) reporter: &'a dyn Reporter,
}

/// What every step of one image runs with.
#[derive(Clone, Copy)]
pub(crate) struct ImageRun<'a> {
    pub(crate) store: &'a Store,
    pub(crate) sandbox: &'a slipway_sandbox::Sandbox,
    pub(crate) recipe: &'a Recipe,
    pub(crate) image: &'a Image,
    /// Fetched sources: name → directory holding the file.
    pub(crate) sources: &'a BTreeMap<String, PathBuf>,
    pub(crate) reporter: &'a dyn Reporter,
    /// Steps run at once at most (at least 1).
    pub(crate) jobs: usize,
}

/// Build the images of `plan`.
pub fn build(
    recipe: &Recipe,
    plan: &Plan,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<BuildReport> {
    let driver = Driver::open(recipe, options, reporter)?;
    let mut built: BTreeMap<String, Built> = BTreeMap::new();
    let mut report = BuildReport::default();
    for image_plan in &plan.images {
        let image = driver.image(image_plan)?;
        reporter.event(&Event::Image(&image.name));
        let base = driver.prepare_base(image, image_plan, &built)?;
        let sources = driver.fetch_sources(image, image_plan)?;
        let cx = driver.image_run(image, &sources);
        let layers = cx.run_steps(image_plan, &base, &built)?;
        let (result, image_report) =
            driver.assemble(image, image_plan, base, layers, image.publish)?;
        built.insert(image.name.clone(), result);
        report.images.push(image_report);
    }
    Ok(report)
}

impl<'a> Driver<'a> {
    /// Open the store of `options` (creating it) and a sandbox over it.
    pub(crate) fn open(
        recipe: &'a Recipe,
        options: &'a BuildOptions,
        reporter: &'a dyn Reporter,
    ) -> Result<Self> {
        let store = Store::open(&options.store)?.with_offline(options.sources.offline);
        let sandbox = slipway_sandbox::Sandbox::new(store.scratch());
        Ok(Driver {
            store,
            sandbox,
            recipe,
            options,
            reporter,
        })
    }

    /// The recipe's image of `plan`.
    pub(crate) fn image(&self, plan: &ImagePlan) -> Result<&'a Image> {
        self.recipe.image(&plan.name).ok_or_else(|| {
            build_err(
                format!("image `{}`", plan.name),
                "planned but not in the recipe",
            )
        })
    }

    /// The context the steps of `image` run in.
    pub(crate) fn image_run<'b>(
        &'b self,
        image: &'b Image,
        sources: &'b BTreeMap<String, PathBuf>,
    ) -> ImageRun<'b> {
        ImageRun {
            store: &self.store,
            sandbox: &self.sandbox,
            recipe: self.recipe,
            image,
            sources,
            reporter: self.reporter,
            jobs: self.options.jobs.max(1),
        }
    }
}

/// The steps of one image being scheduled: what is done (name → layer) and
/// what has started.
struct Schedule<'p> {
    plan: &'p ImagePlan,
    done: BTreeMap<String, StepLayer>,
    started: BTreeSet<String>,
}

impl ImageRun<'_> {
    /// Run the steps of `plan` over `base`, each as soon as the steps it
    /// runs over are done, `--jobs` at a time; the first failure stops
    /// starting new steps and is returned once the running ones end.
    /// `built` holds the images built so far (for `from-image`).
    pub(crate) fn run_steps(
        &self,
        plan: &ImagePlan,
        base: &Built,
        built: &BTreeMap<String, Built>,
    ) -> Result<Vec<StepLayer>> {
        let env = image_env(self.image, &base.config);
        let jobs = self.jobs;
        let mut schedule = Schedule {
            plan,
            done: BTreeMap::new(),
            started: BTreeSet::new(),
        };
        let mut failure: Option<Error> = None;
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<(String, Result<StepLayer>)>();
            let mut running = 0usize;
            loop {
                while failure.is_none() && running < jobs {
                    let Some(step_plan) = schedule.next_ready() else {
                        break;
                    };
                    let Some(step) = self.image.step(&step_plan.name) else {
                        continue;
                    };
                    match self.job(&schedule, step, step_plan, base, built, &env) {
                        Ok(job) => {
                            running += 1;
                            let tx = tx.clone();
                            scope.spawn(move || {
                                let result = steps::run(&job);
                                let _ = tx.send((job.plan.name.clone(), result));
                            });
                        }
                        Err(e) => failure = Some(e),
                    }
                }
                if running == 0 {
                    break;
                }
                let Ok((name, result)) = rx.recv() else {
                    break;
                };
                running -= 1;
                match result {
                    Ok(layer) => {
                        schedule.done.insert(name, layer);
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        schedule.finish()
    }

    /// The job of `step`: the trees it runs over (top-most first), its
    /// `from-image` image, and its runtime key (its planned key, derived
    /// again when what it runs over was keyed at run time).
    fn job<'s>(
        &'s self,
        schedule: &Schedule<'_>,
        step: &'s Step,
        step_plan: &StepPlan,
        base: &'s Built,
        built: &'s BTreeMap<String, Built>,
        env: &'s BTreeMap<String, String>,
    ) -> Result<StepJob<'s>> {
        let from = match &step.from_image {
            Some(f) => Some(built.get(&f.image).ok_or_else(|| {
                build_err(
                    format!("{}: from-image `{}`", step.loc, f.image),
                    "that image is not built before this one",
                )
            })?),
            None => None,
        };
        let mut deps: Vec<(String, String)> = step_plan
            .depends_on
            .iter()
            .map(|d| schedule.keys_of(d))
            .collect();
        let lowers: Vec<PathBuf> = deps
            .iter()
            .rev()
            .map(|(_, runtime)| self.store.tree(runtime))
            .chain(base.lowers.iter().cloned())
            .collect();
        // The from-image image counts like a step run over.
        if let Some(b) = from {
            let runtime = b.runtime_key.clone().unwrap_or(b.planned_key.clone());
            deps.push((b.planned_key.clone(), runtime));
        }
        let mut plan = step_plan.clone();
        plan.key = key::derive(&plan.key, base.runtime_key.as_deref(), &deps, None);
        Ok(StepJob {
            cx: *self,
            step,
            plan,
            lowers,
            from,
            env,
        })
    }
}

impl<'p> Schedule<'p> {
    /// The next step not started whose dependencies are all done (marked
    /// started).
    fn next_ready(&mut self) -> Option<&'p StepPlan> {
        let ready = self.plan.steps.iter().find(|s| {
            !self.started.contains(&s.name)
                && s.depends_on.iter().all(|d| self.done.contains_key(d))
        })?;
        self.started.insert(ready.name.clone());
        Some(ready)
    }

    /// `(planned, runtime)` keys of the done step `name`.
    fn keys_of(&self, name: &str) -> (String, String) {
        let planned = self
            .plan
            .steps
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.key.clone())
            .unwrap_or_default();
        let runtime = self
            .done
            .get(name)
            .map(|l| l.key.clone())
            .unwrap_or_default();
        (planned, runtime)
    }

    /// The layers in plan order.
    fn finish(mut self) -> Result<Vec<StepLayer>> {
        self.plan
            .steps
            .iter()
            .map(|s| {
                self.done
                    .remove(&s.name)
                    .ok_or_else(|| build_err(format!("step `{}`", s.name), "did not run"))
            })
            .collect()
    }
}
