//! `slipway lock`: pin base digests and unpinned sources, and resolve the
//! package steps (network I/O and the build driver live here, not in the
//! lock format).
//!
//! Resolving a package step needs the rootfs it runs over, so
//! [`lock_packages`] drives the build in rounds: each round plans with the
//! lock so far, builds (or takes from the step cache) the steps the
//! unlocked package steps run over, resolves those whose earlier package
//! steps are all locked, and records them. The next round plans again with
//! the new entries, so every step runs under the key a later `slipway build`
//! computes: the steps run here are cache hits there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use slipway_recipe::lock::{Lock, LockedImage, LockedSource, LockedStep};
use slipway_recipe::plan::{BasePlan, ImagePlan, Plan, StepPlan};
use slipway_recipe::{Action, Base, Image, Recipe};

use crate::driver::{BuildOptions, Built, Driver, ImageRun};
use crate::error::{Error, Result, build_err};
use crate::report::{Event, Reporter};
use crate::sources::{SourceOptions, get, verify_detached};
use crate::steps::{StepFiles, StepJob, StepLayer, resolve_over_rootfs};
use crate::store::key_hex;

/// Make the lock of `recipe`: resolve every unpinned registry base to its
/// image manifest digest for the image's platform, and hash every source the
/// recipe does not pin (keeping pins of `previous` for unchanged references
/// and URLs). Package steps keep their `previous` entries while those are
/// current (the step still asks for what it asked for when locked); the
/// others are left for [`lock_packages`].
pub fn make_lock(
    recipe: &Recipe,
    previous: Option<&Lock>,
    registry: &slipway_registry::ClientOptions,
    sources: &SourceOptions,
) -> Result<Lock> {
    let mut lock = Lock {
        version: slipway_recipe::lock::LOCK_VERSION,
        ..Lock::default()
    };
    let client = slipway_registry::Client::new(registry.clone()).map_err(|source| Error::Pull {
        reference: "(client)".into(),
        source,
    })?;
    for image in &recipe.images {
        let old = previous.and_then(|p| p.image(&image.name));
        let mut entry = LockedImage {
            name: image.name.clone(),
            steps: old.map(|o| o.steps.clone()).unwrap_or_default(),
            ..LockedImage::default()
        };
        if let Base::Registry {
            reference,
            platform,
        } = &image.base
            && image.base.pinned_digest().is_none()
        {
            let pull_err = |source| Error::Pull {
                reference: reference.clone(),
                source,
            };
            let parsed = slipway_registry::Reference::parse(reference).map_err(pull_err)?;
            let wanted = slipway_oci::Platform::parse(platform.as_str())?;
            let (manifest, _) = slipway_registry::block_on(async {
                let session = client.session(&parsed, false, &[])?;
                slipway_registry::resolve_image(&session, &parsed, Some(&wanted)).await
            })
            .and_then(|r| r)
            .map_err(pull_err)?;
            entry.base_ref = Some(reference.clone());
            entry.base_digest = Some(manifest.digest);
        }
        for source in &image.sources {
            if source.sha256.is_some() || lock.source_sha256(&source.url).is_some() {
                continue;
            }
            let sha256 = match previous.and_then(|p| p.source_sha256(&source.url)) {
                Some(s) => s.to_owned(),
                None => {
                    let (location, bytes) = get(&source.url, &source.file_name, sources)?;
                    // A signed source is pinned only once its signature verifies.
                    if let Some(asc) = &source.asc {
                        let keyring = source.keyring.clone().unwrap_or_default();
                        let fail = |message: String| Error::Signature {
                            what: format!("source `{}` from {location}", source.name),
                            asc: asc.clone(),
                            keyring: keyring.clone(),
                            message,
                        };
                        let ring = image
                            .source(&keyring)
                            .ok_or_else(|| fail("the keyring is not a source".into()))?;
                        let (_, keys) = get(&ring.url, &ring.file_name, sources)?;
                        let asc_name = asc.rsplit('/').next().unwrap_or(asc);
                        let (_, signature) = get(asc, asc_name, sources)?;
                        verify_detached(&bytes, &signature, &keys).map_err(fail)?;
                    }
                    hex::encode(Sha256::digest(&bytes))
                }
            };
            lock.sources.push(LockedSource {
                url: source.url.clone(),
                sha256,
            });
        }
        lock.images.push(entry);
    }
    drop_stale_entries(recipe, &mut lock)?;
    Ok(lock)
}

/// Drop the entries of images and package steps the recipe no longer has,
/// and of steps that ask for something else now (their request changed).
pub fn drop_stale_entries(recipe: &Recipe, lock: &mut Lock) -> Result<()> {
    lock.images
        .retain(|entry| recipe.image(&entry.name).is_some());
    let pins = lock.clone();
    for entry in &mut lock.images {
        let Some(image) = recipe.image(&entry.name) else {
            continue;
        };
        let mut kept = Vec::new();
        for old in std::mem::take(&mut entry.steps) {
            let Some(step) = image.step(&old.name) else {
                continue;
            };
            if !matches!(step.action, Action::Packages(_)) {
                continue;
            }
            if slipway_recipe::plan::packages_request(recipe, image, step, Some(&pins))?
                == old.request
            {
                kept.push(old);
            }
        }
        entry.steps = kept;
    }
    Ok(())
}

/// Resolve every package step of `images` (all when empty, and the images
/// they are built from) that has no current entry in `lock`, and record
/// it there; returns the `(image, step)`s recorded, in the order resolved.
///
/// Runs what those steps run over (pulling bases, fetching sources, running
/// earlier steps in the sandbox, or taking them from the step cache in
/// `options.store`, which it fills); runs no step after the last package
/// step of an image and writes no image. Base images of images with
/// unlocked steps are built whole. Bases must be pinned already. Entries
/// of images and steps the recipe no longer has are dropped first.
pub fn lock_packages(
    recipe: &Recipe,
    images: &[String],
    lock: &mut Lock,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Vec<(String, String)>> {
    drop_stale_entries(recipe, lock)?;
    let driver = Driver::open(recipe, options, reporter)?;
    let mut recorded = Vec::new();
    loop {
        let plan = Plan::new(recipe, images, Some(lock))?;
        let pending: Vec<String> = plan
            .unlocked_package_steps()
            .iter()
            .map(|(i, s)| format!("{i}/{s}"))
            .collect();
        if pending.is_empty() {
            return Ok(recorded);
        }
        let round = driver.resolve_round(&plan)?;
        if round.is_empty() {
            return Err(build_err(
                "locking the package steps",
                format!("none of {} could be resolved", pending.join(", ")),
            ));
        }
        for (image, step) in round {
            recorded.push((image.clone(), step.name.clone()));
            lock.set_step(&image, step);
        }
    }
}

fn unlocked(plan: &ImagePlan) -> BTreeSet<&str> {
    plan.steps
        .iter()
        .filter(|s| s.request.is_some() && s.locked.is_none())
        .map(|s| s.name.as_str())
        .collect()
}

/// Whether image `user` is built on image `name` or takes files from it.
fn uses(recipe: &Recipe, user: &ImagePlan, name: &str) -> bool {
    if matches!(&user.base, BasePlan::Image { name: n, .. } if n == name) {
        return true;
    }
    recipe.image(&user.name).is_some_and(|i| {
        i.steps
            .iter()
            .any(|s| s.from_image.as_ref().is_some_and(|f| f.image == name))
    })
}

/// What one image does in a round: the steps to run, and the unlocked
/// package steps to resolve over them (none: the image is built whole).
struct Work<'p> {
    run: BTreeSet<&'p str>,
    frontier: Vec<&'p StepPlan>,
}

/// The work of `image_plan` in this round, `None` when it must wait for an
/// image not built yet (its base, or the image a step takes files from).
fn work<'p>(
    image: &Image,
    image_plan: &'p ImagePlan,
    built: &BTreeMap<String, Built>,
) -> Option<Work<'p>> {
    if let BasePlan::Image { name, .. } = &image_plan.base
        && !built.contains_key(name)
    {
        return None;
    }
    let open = unlocked(image_plan);
    let frontier: Vec<&StepPlan> = image_plan
        .steps
        .iter()
        .filter(|s| {
            open.contains(s.name.as_str())
                && !s.depends_on.iter().any(|d| open.contains(d.as_str()))
        })
        .collect();
    let run: BTreeSet<&str> = if open.is_empty() {
        image_plan.steps.iter().map(|s| s.name.as_str()).collect()
    } else {
        frontier
            .iter()
            .flat_map(|s| s.depends_on.iter().map(String::as_str))
            .collect()
    };
    // Steps that take files from an image wait for it (package steps
    // resolve `install-local` RPMs from there).
    let waits = run
        .iter()
        .copied()
        .chain(frontier.iter().map(|s| s.name.as_str()))
        .any(|name| {
            image
                .step(name)
                .and_then(|s| s.from_image.as_ref())
                .is_some_and(|f| !built.contains_key(&f.image))
        });
    (!waits).then_some(Work { run, frontier })
}

impl Driver<'_> {
    /// One round of [`lock_packages`]: the package steps of `plan` that can
    /// be resolved now (no unlocked package step under them, their images'
    /// bases built), resolved.
    fn resolve_round(&self, plan: &Plan) -> Result<Vec<(String, LockedStep)>> {
        // An image is worked on when it has unlocked steps, or an image
        // worked on needs it whole.
        let recipe = self.recipe;
        let mut needed = vec![false; plan.images.len()];
        for i in (0..plan.images.len()).rev() {
            needed[i] = !unlocked(&plan.images[i]).is_empty()
                || (i + 1..plan.images.len())
                    .any(|j| needed[j] && uses(recipe, &plan.images[j], &plan.images[i].name));
        }
        let mut built: BTreeMap<String, Built> = BTreeMap::new();
        let mut out = Vec::new();
        for (image_plan, _) in plan.images.iter().zip(&needed).filter(|(_, n)| **n) {
            let image = self.image(image_plan)?;
            let Some(work) = work(image, image_plan, &built) else {
                continue;
            };
            self.reporter.event(&Event::Image(&image.name));
            let base = self.prepare_base(image, image_plan, &built)?;
            let sources = self.fetch_sources(image, image_plan)?;
            let sub = ImagePlan {
                steps: image_plan
                    .steps
                    .iter()
                    .filter(|s| work.run.contains(s.name.as_str()))
                    .cloned()
                    .collect(),
                ..image_plan.clone()
            };
            let cx = self.image_run(image, &sources);
            let layers = cx.run_steps(&sub, &base, &built)?;
            if work.frontier.is_empty() {
                let (whole, _) = self.assemble(image, &sub, base, layers, false)?;
                built.insert(image.name.clone(), whole);
                continue;
            }
            let runtime: BTreeMap<&str, &StepLayer> = sub
                .steps
                .iter()
                .zip(&layers)
                .map(|(s, l)| (s.name.as_str(), l))
                .collect();
            for step_plan in work.frontier {
                if let Some(locked) = resolve_one(&cx, step_plan, &runtime, &base, &built)? {
                    out.push((image.name.clone(), locked));
                }
            }
        }
        Ok(out)
    }
}

/// Resolve the unlocked package step `step_plan` over the layers `runtime`
/// of the steps it runs over, as its lock entry.
fn resolve_one(
    cx: &ImageRun<'_>,
    step_plan: &StepPlan,
    runtime: &BTreeMap<&str, &StepLayer>,
    base: &Built,
    built: &BTreeMap<String, Built>,
) -> Result<Option<LockedStep>> {
    let (store, image) = (cx.store, cx.image);
    let Some(step) = image.step(&step_plan.name) else {
        return Ok(None);
    };
    let Action::Packages(ops) = &step.action else {
        return Ok(None);
    };
    // Top-most first, as the step would run.
    let lowers: Vec<PathBuf> = step_plan
        .depends_on
        .iter()
        .rev()
        .filter_map(|d| runtime.get(d.as_str()).map(|l| store.tree(&l.key)))
        .chain(base.lowers.iter().cloned())
        .collect();
    let no_env = BTreeMap::new();
    let job = StepJob {
        cx: *cx,
        step,
        plan: step_plan.clone(),
        lowers,
        from: step.from_image.as_ref().and_then(|f| built.get(&f.image)),
        env: &no_env,
    };
    let scratch = store
        .tmp()
        .join(format!("lock-{}", key_hex(&step_plan.key)));
    let exported = job.export_from_image()?;
    let files = StepFiles {
        sources: cx.sources,
        scratch: &scratch,
        lowers: &job.lowers,
        from_image: exported.as_deref(),
        offline: store.offline,
    };
    let resolved = resolve_over_rootfs(&job, ops, &files);
    let _ = fs_err::remove_dir_all(&scratch);
    if let Some(dir) = &exported {
        let _ = fs_err::remove_dir_all(dir);
    }
    let request = step_plan.request.clone().unwrap_or_default();
    let resolved = resolved?;
    job.report_skipped(&resolved);
    let locked = resolved.to_locked(&step.name, &request, cx.jobs)?;
    cx.reporter.event(&Event::Resolved {
        image: &image.name,
        step: &step.name,
        packages: locked.packages.len(),
        erased: locked.erased.len(),
    });
    Ok(Some(locked))
}
