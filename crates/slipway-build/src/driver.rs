//! The build driver: pull the base, fetch sources, run the steps of the plan
//! in the sandbox (independent steps in parallel, cached steps reused),
//! capture each as a layer and write the images.
//!
//! Registry bases (pulled by digest, unpacked by slipway-oci), image-on-image
//! bases, sources (sha256-checked, `asc`-verified, from upstream or a
//! mirror), script, package and `srpm-patch` steps, `from-image` inputs, the
//! step cache (runtime keys for resolved package sets: `key.rs`), OCI layout
//! output.

mod fetch;
mod from_image;
pub(crate) mod key;
mod lock;
mod packages;
mod srpm;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use slipway_oci::oci_spec::image::{Descriptor, MediaType};
use slipway_oci::{Digest, ImageConfig, LayerOptions, OciLayout};

pub use fetch::SourceOptions;
pub use lock::{drop_stale_entries, lock_packages, make_lock};
pub use store::default_store;

use self::store::{CachedLayer, Store};
use crate::error::{Error, Result};
use crate::model::{Action, Image, Personality, Recipe};
use crate::plan::{BasePlan, ImagePlan, Plan, StepPlan};

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

/// Progress of a build, for the CLI to show.
pub trait Reporter: Sync {
    /// Something happened.
    fn event(&self, event: &Event<'_>);
}

/// What a [`Reporter`] hears.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An image starts.
    Image(&'a str),
    /// A base is ready (`digest` = manifest digest).
    Base {
        /// Image.
        image: &'a str,
        /// Manifest digest.
        digest: &'a str,
    },
    /// A source is in the store.
    Source(&'a str),
    /// A step's layer came from the cache.
    Cached {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
    },
    /// A step starts running.
    Running {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
    },
    /// A step ran.
    Built {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
        /// Seconds it took.
        seconds: f64,
    },
    /// A package step was resolved and its transaction recorded for the
    /// lock.
    Resolved {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
        /// Packages installed or upgraded.
        packages: usize,
        /// Packages erased.
        erased: usize,
    },
    /// An image was written.
    Written {
        /// Image.
        image: &'a str,
        /// Manifest digest.
        digest: &'a str,
        /// The OCI layout.
        path: &'a Path,
    },
}

/// A reporter that ignores everything.
#[derive(Debug)]
pub struct Quiet;

impl Reporter for Quiet {
    fn event(&self, _: &Event<'_>) {}
}

/// What a build did.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// One entry per image, bases first.
    pub images: Vec<ImageReport>,
}

/// What happened to one image.
#[derive(Debug, Clone)]
pub struct ImageReport {
    /// Image name.
    pub name: String,
    /// Manifest digest.
    pub digest: String,
    /// The OCI layout, for published images.
    pub path: Option<PathBuf>,
    /// `(step, came from the cache)`, in layer order.
    pub steps: Vec<(String, bool)>,
}

impl BuildReport {
    /// The report of image `name`.
    pub fn image(&self, name: &str) -> Option<&ImageReport> {
        self.images.iter().find(|i| i.name == name)
    }
}

/// One layer of a built image and where its blob is.
#[derive(Debug, Clone)]
struct LayerRef {
    descriptor: Descriptor,
    blob: PathBuf,
}

/// A built image, as the base of the next.
#[derive(Debug, Clone)]
struct Built {
    layers: Vec<LayerRef>,
    config: ImageConfig,
    /// Trees to run over, top-most first.
    lowers: Vec<PathBuf>,
    /// The image's runtime key when it differs from its planned key
    /// ([`key::image`]).
    runtime_key: Option<String>,
    /// The image's planned key (empty for a registry base).
    planned_key: String,
}

/// Build the images of `plan`.
pub fn build(
    recipe: &Recipe,
    plan: &Plan,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<BuildReport> {
    let store = Store::open(&options.store)?.with_offline(options.sources.offline);
    let sandbox = slipway_sandbox::Sandbox::new(store.scratch());
    let mut built: BTreeMap<String, Built> = BTreeMap::new();
    let mut report = BuildReport::default();
    for image_plan in &plan.images {
        let image = recipe.image(&image_plan.name).ok_or_else(|| Error::Build {
            what: format!("image `{}`", image_plan.name),
            message: "planned but not in the recipe".into(),
        })?;
        reporter.event(&Event::Image(&image.name));
        let base = prepare_base(&store, image, image_plan, &built, options, reporter)?;
        let sources = fetch_sources(&store, image, image_plan, options, reporter)?;
        let layers = run_steps(
            &store, &sandbox, recipe, image, image_plan, &base, &built, &sources, options, reporter,
        )?;
        let (result, image_report) = assemble(
            &store,
            image,
            image_plan,
            base,
            layers,
            options,
            image.publish,
            reporter,
        )?;
        built.insert(image.name.clone(), result);
        report.images.push(image_report);
    }
    Ok(report)
}

fn build_err(what: impl Into<String>, message: impl ToString) -> Error {
    Error::Build {
        what: what.into(),
        message: message.to_string(),
    }
}

fn oci_media_type(media_type: &MediaType) -> MediaType {
    let text = media_type.to_string();
    if text.contains("zstd") {
        MediaType::ImageLayerZstd
    } else if text.contains("gzip") {
        MediaType::ImageLayerGzip
    } else {
        MediaType::ImageLayer
    }
}

fn prepare_base(
    store: &Store,
    image: &Image,
    plan: &ImagePlan,
    built: &BTreeMap<String, Built>,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Built> {
    let (reference, platform, digest) = match &plan.base {
        BasePlan::Image { name, .. } => {
            return built
                .get(name)
                .cloned()
                .ok_or_else(|| build_err(format!("base image `{name}`"), "not built"));
        }
        BasePlan::Registry {
            reference,
            platform,
            digest,
        } => (reference, platform, digest),
    };
    let digest = digest.clone().ok_or_else(|| Error::Unpinned {
        what: format!("base `{reference}` of image `{}`", image.name),
    })?;
    let parsed = slipway_registry::Reference::parse(reference)
        .map_err(|source| Error::Pull {
            reference: reference.clone(),
            source,
        })?
        .with_digest(&digest);
    let layout_dir = store.base_layout(&digest);
    let oci_platform = slipway_oci::Platform::parse(platform.as_str())?;
    if !layout_dir.join("index.json").exists() && store.offline {
        return Err(build_err(
            format!("base `{reference}` ({digest}) of image `{}`", image.name),
            "offline, and the store does not have it: build once with the network",
        ));
    }
    if !layout_dir.join("index.json").exists() {
        let pull = slipway_registry::PullOptions {
            platform: Some(oci_platform.clone()),
            tag: Some("base".into()),
            ..Default::default()
        };
        let tmp = store
            .tmp()
            .join(format!("pull-{}", store::key_hex(&digest)));
        let _ = fs_err::remove_dir_all(&tmp);
        let pulled = slipway_registry::pull_blocking(&options.registry, &parsed, &tmp, &pull)
            .map_err(|source| Error::Pull {
                reference: reference.clone(),
                source,
            })?;
        let got = pulled.manifest.digest.to_string();
        if got != digest && pulled.index_digest.as_deref() != Some(digest.as_str()) {
            return Err(Error::DigestMismatch {
                what: format!("base `{reference}`"),
                expected: digest.clone(),
                actual: got,
            });
        }
        let _ = fs_err::remove_dir_all(&layout_dir);
        fs_err::rename(&tmp, &layout_dir).map_err(|e| Error::io(&layout_dir, e))?;
    }
    let layout = OciLayout::open(&layout_dir)?;
    let base = slipway_oci::Image::load_for(&layout, Some("base"), &oci_platform)?;
    let manifest_digest = base.digest()?.to_string();
    reporter.event(&Event::Base {
        image: &image.name,
        digest: &manifest_digest,
    });
    let diff_ids = base.diff_ids()?;
    let mut layers = Vec::new();
    if diff_ids.len() != base.layers().len() {
        return Err(build_err(
            format!("base `{reference}`"),
            "the config's diff_ids do not match the manifest's layers",
        ));
    }
    for descriptor in base.layers() {
        let d = Digest::try_from(descriptor.digest())?;
        let mut descriptor = descriptor.clone();
        descriptor.set_media_type(oci_media_type(descriptor.media_type()));
        layers.push(LayerRef {
            blob: layout.blob_path(&d),
            descriptor,
        });
    }
    // The base merged into one tree: the bottom lower directory of every step.
    let tree = store.base_tree(&manifest_digest);
    if !tree.is_dir() {
        let tmp = store
            .tmp()
            .join(format!("unpack-{}", store::key_hex(&manifest_digest)));
        let _ = fs_err::remove_dir_all(&tmp);
        fs_err::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        // slipway-oci's unpack: digests and diff ids checked, whiteouts
        // applied, nothing written outside the tree.
        let unpacked =
            slipway_oci::unpack(&layout, &base, &tmp, &slipway_oci::UnpackOptions::default())?;
        if let Some(refused) = unpacked.refused.first() {
            return Err(build_err(
                format!("base `{reference}`"),
                format!(
                    "layer {} entry `{}` cannot be applied: {} ({} refused in all)",
                    refused.layer,
                    refused.path,
                    refused.reason,
                    unpacked.refused.len()
                ),
            ));
        }
        fs_err::rename(&tmp, &tree).map_err(|e| Error::io(&tree, e))?;
    }
    Ok(Built {
        layers,
        config: base.config.clone(),
        lowers: vec![tree],
        runtime_key: None,
        planned_key: String::new(),
    })
}

fn fetch_sources(
    store: &Store,
    image: &Image,
    plan: &ImagePlan,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<BTreeMap<String, PathBuf>> {
    // Step inputs, repositories from sources, and the sources of srpm-patch
    // and builddep operations.
    let mut used: BTreeSet<&str> = image
        .steps
        .iter()
        .flat_map(|s| s.inputs.iter().map(String::as_str))
        .collect();
    for repo in &image.repos {
        if let crate::model::RepoKind::Source(s) | crate::model::RepoKind::Rpm(s) = &repo.kind {
            used.insert(s);
        }
    }
    for step in &image.steps {
        match &step.action {
            Action::SrpmPatch(p) => {
                used.insert(&p.srpm);
                used.insert(&p.patch);
            }
            Action::Packages(ops) => {
                for op in ops {
                    if let crate::model::PackageOp::BuildDep(s) = op {
                        used.insert(s);
                    }
                }
            }
            Action::Script(_) => {}
        }
    }
    // The keyrings of signed sources are fetched first.
    let keyrings: BTreeSet<&str> = image
        .sources
        .iter()
        .filter(|s| used.contains(s.name.as_str()) && s.asc.is_some())
        .filter_map(|s| s.keyring.as_deref())
        .collect();
    used.extend(&keyrings);
    let mut fetches: Vec<_> = plan
        .fetches
        .iter()
        .filter(|f| used.contains(f.name.as_str()))
        .collect();
    fetches.sort_by_key(|f| !keyrings.contains(f.name.as_str()));
    let mut out: BTreeMap<String, PathBuf> = BTreeMap::new();
    for fetch in fetches {
        let source = image
            .source(&fetch.name)
            .ok_or_else(|| build_err(format!("source `{}`", fetch.name), "not in the recipe"))?;
        let sha256 = fetch.sha256.as_deref().ok_or_else(|| Error::Unpinned {
            what: format!("source `{}` ({})", fetch.name, fetch.url),
        })?;
        let keyring = source.keyring.as_deref().and_then(|k| {
            let file = &image.source(k)?.file_name;
            out.get(k).map(|dir| dir.join(file))
        });
        let path =
            fetch::fetch_source(store, source, sha256, &options.sources, keyring.as_deref())?;
        reporter.event(&Event::Source(&fetch.name));
        let dir = path.parent().map(Path::to_path_buf).unwrap_or(path);
        out.insert(fetch.name.clone(), dir);
    }
    Ok(out)
}

/// The image env with `$NAME` / `${NAME}` expanded from `base`.
fn expand(value: &str, base: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
        } else {
            out.push_str(base.get(name).map(String::as_str).unwrap_or(""));
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn env_map(config: &ImageConfig) -> BTreeMap<String, String> {
    config
        .env()
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The image config env of `image` over its base's.
fn image_env(image: &Image, base: &ImageConfig) -> BTreeMap<String, String> {
    let mut env = env_map(base);
    env.entry("PATH".into())
        .or_insert_with(|| slipway_sandbox::DEFAULT_PATH.to_owned());
    let base_env = env.clone();
    for (k, v) in &image.config.env {
        env.insert(k.clone(), expand(v, &base_env));
    }
    env
}

#[allow(clippy::too_many_arguments)]
fn run_steps(
    store: &Store,
    sandbox: &slipway_sandbox::Sandbox,
    recipe: &Recipe,
    image: &Image,
    plan: &ImagePlan,
    base: &Built,
    built: &BTreeMap<String, Built>,
    sources: &BTreeMap<String, PathBuf>,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Vec<(CachedLayer, bool, String)>> {
    let env = image_env(image, &base.config);
    let cx = ImageRun {
        store,
        sandbox,
        recipe,
        image,
        sources,
        reporter,
    };
    let jobs = options.jobs.max(1);
    // name → (layer, from the cache, runtime key)
    let mut done: BTreeMap<String, (CachedLayer, bool, String)> = BTreeMap::new();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut failure: Option<Error> = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(String, Result<(CachedLayer, bool, String)>)>();
        let mut running = 0usize;
        loop {
            if failure.is_none() {
                for step_plan in &plan.steps {
                    if running >= jobs {
                        break;
                    }
                    if started.contains(&step_plan.name)
                        || !step_plan.depends_on.iter().all(|d| done.contains_key(d))
                    {
                        continue;
                    }
                    let Some(step) = image.step(&step_plan.name) else {
                        continue;
                    };
                    let from = match &step.from_image {
                        Some(f) => match built.get(&f.image) {
                            Some(b) => Some(b),
                            None => {
                                failure = Some(build_err(
                                    format!("{}: from-image `{}`", step.loc, f.image),
                                    "that image is not built before this one",
                                ));
                                break;
                            }
                        },
                        None => None,
                    };
                    started.insert(step_plan.name.clone());
                    running += 1;
                    let mut deps: Vec<(String, String)> = step_plan
                        .depends_on
                        .iter()
                        .map(|d| {
                            let planned = plan
                                .steps
                                .iter()
                                .find(|s| &s.name == d)
                                .map(|s| s.key.clone())
                                .unwrap_or_default();
                            let runtime = done.get(d).map(|x| x.2.clone()).unwrap_or_default();
                            (planned, runtime)
                        })
                        .collect();
                    let lowers: Vec<PathBuf> = deps
                        .iter()
                        .rev()
                        .map(|(_, runtime)| store.tree(runtime))
                        .chain(base.lowers.iter().cloned())
                        .collect();
                    // The from-image image counts like a step run over.
                    if let Some(b) = from {
                        let runtime = b.runtime_key.clone().unwrap_or(b.planned_key.clone());
                        deps.push((b.planned_key.clone(), runtime));
                    }
                    let mut step_plan = step_plan.clone();
                    step_plan.key =
                        key::derive(&step_plan.key, base.runtime_key.as_deref(), &deps, None);
                    let tx = tx.clone();
                    let env = &env;
                    scope.spawn(move || {
                        let result = run_one(&cx, step, &step_plan, lowers, from, env);
                        let _ = tx.send((step_plan.name.clone(), result));
                    });
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
                    done.insert(name, layer);
                }
                Err(e) => {
                    if failure.is_none() {
                        failure = Some(e);
                    }
                }
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    plan.steps
        .iter()
        .map(|s| {
            done.remove(&s.name)
                .ok_or_else(|| build_err(format!("step `{}`", s.name), "did not run"))
        })
        .collect()
}

/// What every step of one image runs with.
#[derive(Clone, Copy)]
struct ImageRun<'a> {
    store: &'a Store,
    sandbox: &'a slipway_sandbox::Sandbox,
    recipe: &'a Recipe,
    image: &'a Image,
    /// Fetched sources: name → directory holding the file.
    sources: &'a BTreeMap<String, PathBuf>,
    reporter: &'a dyn Reporter,
}

fn run_one(
    cx: &ImageRun<'_>,
    step: &crate::model::Step,
    plan: &StepPlan,
    lowers: Vec<PathBuf>,
    from: Option<&Built>,
    env: &BTreeMap<String, String>,
) -> Result<(CachedLayer, bool, String)> {
    if let Action::Packages(ops) = &step.action {
        return run_packages(cx, step, plan, ops, lowers, from);
    }
    let ImageRun {
        store,
        sandbox,
        recipe,
        image,
        sources,
        reporter,
    } = *cx;
    if let Some(hit) = store.cached(&plan.key)? {
        reporter.event(&Event::Cached {
            image: &image.name,
            step: &step.name,
        });
        return Ok((hit, true, plan.key.clone()));
    }
    let script = match &step.action {
        Action::Script(path) => path,
        Action::Packages(_) => unreachable!("handled above"),
        Action::SrpmPatch(patch) => {
            return run_srpm_patch(cx, step, plan, patch, lowers);
        }
    };
    reporter.event(&Event::Running {
        image: &image.name,
        step: &step.name,
    });
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
    let mut sandbox_step =
        slipway_sandbox::Step::new(format!("{}/{}", image.name, step.name), argv);
    sandbox_step.env.extend(env.clone());
    sandbox_step.env.insert(
        "SOURCE_DATE_EPOCH".into(),
        image.source_date_epoch.to_string(),
    );
    sandbox_step.env.extend(step.env.clone());
    sandbox_step.network = step.network;
    sandbox_step.linux32 = step.personality == Personality::Linux32;
    sandbox_step
        .inputs
        .push((recipe_root, PathBuf::from("/.slipway/recipe")));
    let exported = match (&step.from_image, from) {
        (Some(f), Some(b)) => Some(from_image::export(
            store, sandbox, image, step, b, &f.path, &plan.key,
        )?),
        _ => None,
    };
    if let Some(dir) = &exported {
        sandbox_step
            .inputs
            .push((dir.clone(), PathBuf::from(from_image::MOUNT)));
    }
    for input in &step.inputs {
        if let Some(dir) = sources.get(input) {
            sandbox_step
                .inputs
                .push((dir.clone(), PathBuf::from("/inputs").join(input)));
        }
    }
    let outcome = sandbox
        .run(&slipway_sandbox::Base::Overlay(lowers), &sandbox_step)
        .map_err(|source| Error::Step {
            image: image.name.clone(),
            step: step.name.clone(),
            source,
        });
    if let Some(dir) = &exported {
        let _ = fs_err::remove_dir_all(dir);
    }
    capture(store, image, step, plan, outcome?, started, reporter)
        .map(|(layer, cached)| (layer, cached, plan.key.clone()))
}

/// Turn a finished step's upper directory into its layer, its tree and its
/// cache entry.
fn capture(
    store: &Store,
    image: &Image,
    step: &crate::model::Step,
    plan: &StepPlan,
    outcome: slipway_sandbox::StepOutcome,
    started: Instant,
    reporter: &dyn Reporter,
) -> Result<(CachedLayer, bool)> {
    let upper = outcome.upper();
    // Transient paths and the mount points of inputs are not part of the layer
    // (nor of the tree later steps run over).
    let mut excludes: Vec<PathBuf> = vec![PathBuf::from(".slipway"), PathBuf::from("inputs")];
    excludes.extend(
        step.transient
            .iter()
            .map(|t| PathBuf::from(t.trim_start_matches('/'))),
    );
    for ex in &excludes {
        let p = upper.join(ex);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            fs_err::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        } else if std::fs::symlink_metadata(&p).is_ok() {
            fs_err::remove_file(&p).map_err(|e| Error::io(&p, e))?;
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
    let tree = store.tree(&plan.key);
    if tree.exists() {
        fs_err::remove_dir_all(&tree).map_err(|e| Error::io(&tree, e))?;
    }
    fs_err::rename(&upper, &tree).map_err(|e| Error::io(&tree, e))?;
    drop(outcome);
    let cached = CachedLayer {
        descriptor: layer.descriptor,
        diff_id: layer.diff_id.to_string(),
    };
    store.record(&plan.key, &cached)?;
    reporter.event(&Event::Built {
        image: &image.name,
        step: &step.name,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok((cached, false))
}

/// The reproducibility hook: what the step's processes left behind that
/// differs from one build to the next (rpmdb install times and environment
/// files, logs, caches, backups) is normalised before the layer is captured;
/// see `slipway_repro::normalize`.
fn normalize_upper(image: &Image, upper: &Path) -> Result<()> {
    let source_date_epoch = u32::try_from(image.source_date_epoch).map_err(|_| {
        build_err(
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
    .map_err(|e| build_err(format!("normalising `{}`", upper.display()), e))?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    store: &Store,
    image: &Image,
    plan: &ImagePlan,
    base: Built,
    layers: Vec<(CachedLayer, bool, String)>,
    options: &BuildOptions,
    publish: bool,
    reporter: &dyn Reporter,
) -> Result<(Built, ImageReport)> {
    let epoch = image.source_date_epoch;
    let mut config = base.config.clone();
    config.set_platform(&slipway_oci::Platform::parse(image.platform.as_str())?);
    config.set_created(epoch);
    let env = image_env(image, &base.config);
    for (k, v) in &env {
        if image.config.env.contains_key(k) {
            config.set_env(k, v);
        }
    }
    if let Some(e) = &image.config.entrypoint {
        config.set_entrypoint(Some(e.clone()));
    }
    if let Some(c) = &image.config.cmd {
        config.set_cmd(Some(c.clone()));
    }
    for (k, v) in &image.config.labels {
        config.set_label(k, v);
    }
    if let Some(w) = &image.config.workdir {
        config.set_working_dir(w);
    }
    if let Some(u) = &image.config.user {
        config.set_user(u);
    }
    let blobs = store.blobs.open()?;
    let mut all = base.layers.clone();
    let mut lowers = base.lowers.clone();
    let mut steps = Vec::new();
    let mut keys = Vec::new();
    for ((layer, cached, runtime_key), step) in layers.into_iter().zip(&plan.steps) {
        let digest = Digest::try_from(layer.descriptor.digest())?;
        let created_by = format!("slipway: {} ({})", step.name, step.action);
        config.append_layer(
            &Digest::from_sha256_hex(store::key_hex(&layer.diff_id))?,
            &created_by,
            epoch,
        );
        all.push(LayerRef {
            blob: blobs.blob_path(&digest),
            descriptor: layer.descriptor,
        });
        lowers.insert(0, store.tree(&runtime_key));
        keys.push((step.key.clone(), runtime_key));
        steps.push((step.name.clone(), cached));
    }
    let runtime_key = key::image(&plan.key, base.runtime_key.as_deref(), &keys);
    let descriptors: Vec<Descriptor> = all.iter().map(|l| l.descriptor.clone()).collect();
    // Always written to the store (the digest is the image's identity), and
    // to the output directory when the image is published.
    let manifest = slipway_oci::write_manifest(&blobs, &config, &descriptors)?;
    let digest = manifest.digest().to_string();
    let mut path = None;
    if publish {
        let dir = options.output.join(&image.name);
        if dir.exists() {
            fs_err::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let layout = OciLayout::create(&dir)?;
        for layer in &all {
            let d = Digest::try_from(layer.descriptor.digest())?;
            let target = layout.blob_path(&d);
            if !target.exists() {
                if let Some(parent) = target.parent() {
                    fs_err::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                if std::fs::hard_link(&layer.blob, &target).is_err() {
                    fs_err::copy(&layer.blob, &target).map_err(|e| Error::io(&target, e))?;
                }
            }
        }
        let written = slipway_oci::write_image(&layout, &config, &descriptors, Some("latest"))?;
        if written.digest().to_string() != digest {
            return Err(build_err(
                format!("image `{}`", image.name),
                "manifest differs between store and output",
            ));
        }
        reporter.event(&Event::Written {
            image: &image.name,
            digest: &digest,
            path: &dir,
        });
        path = Some(dir);
    }
    Ok((
        Built {
            layers: all,
            config,
            lowers,
            runtime_key,
            planned_key: plan.key.clone(),
        },
        ImageReport {
            name: image.name.clone(),
            digest,
            path,
            steps,
        },
    ))
}

fn run_packages(
    cx: &ImageRun<'_>,
    step: &crate::model::Step,
    plan: &StepPlan,
    ops: &[crate::model::PackageOp],
    lowers: Vec<PathBuf>,
    from: Option<&Built>,
) -> Result<(CachedLayer, bool, String)> {
    let ImageRun {
        store,
        sandbox,
        image,
        reporter,
        ..
    } = *cx;
    let cached = |key: &str| -> Result<Option<(CachedLayer, bool, String)>> {
        let hit = store.cached(key)?;
        if hit.is_some() {
            reporter.event(&Event::Cached {
                image: &image.name,
                step: &step.name,
            });
        }
        Ok(hit.map(|h| (h, true, key.to_owned())))
    };
    // With a lock entry the planned key holds the package set already: a hit
    // needs no repository. Without one, the resolution goes into the key.
    if plan.locked.is_some()
        && let Some(hit) = cached(&plan.key)?
    {
        return Ok(hit);
    }
    let started = Instant::now();
    // The from-image directory, copied out first: `install-local` resolves
    // its RPMs' requirements.
    let exported = match (&step.from_image, from) {
        (Some(f), Some(b)) => Some(from_image::export(
            store, sandbox, image, step, b, &f.path, &plan.key,
        )?),
        _ => None,
    };
    let result = install_packages(cx, step, plan, ops, &lowers, exported.as_deref(), started);
    if let Some(dir) = &exported {
        let _ = fs_err::remove_dir_all(dir);
    }
    result
}

/// [`run_packages`] after a cache miss of its planned key: resolve (or take
/// the lock entry), then install in the sandbox and capture the layer.
fn install_packages(
    cx: &ImageRun<'_>,
    step: &crate::model::Step,
    plan: &StepPlan,
    ops: &[crate::model::PackageOp],
    lowers: &[PathBuf],
    from_image: Option<&Path>,
    started: Instant,
) -> Result<(CachedLayer, bool, String)> {
    let ImageRun {
        store,
        sandbox,
        recipe,
        image,
        sources,
        reporter,
    } = *cx;
    let linux32 = step.personality == Personality::Linux32;
    let step_err = |source| Error::Step {
        image: image.name.clone(),
        step: step.name.clone(),
        source,
    };
    let base = slipway_sandbox::Base::Overlay(lowers.to_vec());
    let scratch = store
        .tmp()
        .join(format!("step-{}", store::key_hex(&plan.key)));
    let files = packages::StepFiles {
        sources,
        scratch: &scratch,
        lowers,
        from_image,
        offline: store.offline,
    };
    let (resolved, key) = match &plan.locked {
        // Locked: exactly the locked packages, looked up by NEVRA.
        Some(locked) => {
            let resolved =
                packages::locked_step(&recipe.root, image, step, ops, locked, &store.yum(), &files);
            let _ = fs_err::remove_dir_all(&scratch);
            (resolved?, plan.key.clone())
        }
        // Unlocked (a library caller that did not lock first): resolve, and
        // key the layer by the resolution.
        None => {
            let resolved = resolve_over_rootfs(store, sandbox, recipe, image, step, ops, &files);
            let _ = fs_err::remove_dir_all(&scratch);
            let resolved = resolved?;
            let key = key::derive(
                &plan.key,
                None,
                &[],
                Some(&packages::resolved_key(&resolved.ops)),
            );
            if let Some(hit) = store.cached(&key)? {
                reporter.event(&Event::Cached {
                    image: &image.name,
                    step: &step.name,
                });
                return Ok((hit, true, key));
            }
            (resolved, key)
        }
    };
    reporter.event(&Event::Running {
        image: &image.name,
        step: &step.name,
    });
    let mut plan = plan.clone();
    plan.key = key.clone();
    let plan = &plan;
    let rpm_dir = packages::rpm_dir(&store.tmp(), &plan.key);
    let _ = fs_err::remove_dir_all(&rpm_dir);
    let script = resolved.materialize(&rpm_dir, 4, from_image)?;
    let mut run = slipway_sandbox::Step::new(
        format!("{}/{}", image.name, step.name),
        ["/bin/sh", "-c", &script],
    );
    run.linux32 = linux32;
    run.env.insert(
        "SOURCE_DATE_EPOCH".into(),
        image.source_date_epoch.to_string(),
    );
    run.inputs
        .push((rpm_dir.clone(), PathBuf::from("/inputs/rpms")));
    let outcome = sandbox.run(&base, &run).map_err(step_err)?;
    let result = capture(store, image, step, plan, outcome, started, reporter);
    let _ = fs_err::remove_dir_all(&rpm_dir);
    result.map(|(layer, cached)| (layer, cached, key))
}

/// Resolve package step `step` against what is installed in the rootfs it
/// runs over (`rpm -qa` in the sandbox over `files.lowers`).
fn resolve_over_rootfs(
    store: &Store,
    sandbox: &slipway_sandbox::Sandbox,
    recipe: &Recipe,
    image: &Image,
    step: &crate::model::Step,
    ops: &[crate::model::PackageOp],
    files: &packages::StepFiles<'_>,
) -> Result<packages::Resolved> {
    let mut query = slipway_sandbox::Step::new(
        format!("{}/{} (rpm -qa)", image.name, step.name),
        ["rpm", "-qa"],
    );
    query.output.collect = true;
    query.linux32 = step.personality == Personality::Linux32;
    let installed = sandbox
        .run(
            &slipway_sandbox::Base::Overlay(files.lowers.to_vec()),
            &query,
        )
        .map_err(|source| Error::Step {
            image: image.name.clone(),
            step: step.name.clone(),
            source,
        })?
        .output_text();
    packages::resolve_step(
        &recipe.root,
        image,
        step,
        ops,
        &installed,
        &store.yum(),
        files,
    )
}

fn run_srpm_patch(
    cx: &ImageRun<'_>,
    step: &crate::model::Step,
    plan: &StepPlan,
    patch: &crate::model::SrpmPatch,
    lowers: Vec<PathBuf>,
) -> Result<(CachedLayer, bool, String)> {
    let ImageRun {
        store,
        sandbox,
        image,
        sources,
        reporter,
        ..
    } = *cx;
    reporter.event(&Event::Running {
        image: &image.name,
        step: &step.name,
    });
    let started = Instant::now();
    let scratch = store
        .tmp()
        .join(format!("srpm-{}", store::key_hex(&plan.key)));
    let result = (|| {
        let script = srpm::prepare(image, step, patch, sources, &scratch)?;
        let mut run = slipway_sandbox::Step::new(
            format!("{}/{}", image.name, step.name),
            ["/bin/sh", "-c", &script],
        );
        run.linux32 = step.personality == Personality::Linux32;
        run.inputs
            .push((scratch.clone(), PathBuf::from(srpm::MOUNT)));
        let outcome = sandbox
            .run(&slipway_sandbox::Base::Overlay(lowers), &run)
            .map_err(|source| Error::Step {
                image: image.name.clone(),
                step: step.name.clone(),
                source,
            })?;
        capture(store, image, step, plan, outcome, started, reporter)
    })();
    let _ = fs_err::remove_dir_all(&scratch);
    result.map(|(layer, cached)| (layer, cached, plan.key.clone()))
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn env_expansion() {
        let base = [("PATH".to_owned(), "/usr/bin:/bin".to_owned())]
            .into_iter()
            .collect();
        assert_eq!(expand("/opt/bin:$PATH", &base), "/opt/bin:/usr/bin:/bin");
        assert_eq!(expand("${PATH}:/x", &base), "/usr/bin:/bin:/x");
        assert_eq!(expand("$NOPE-a", &base), "-a");
        assert_eq!(expand("cost $", &base), "cost $");
    }
}
