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

use super::fetch::{SourceOptions, get, verify_detached};
use super::store::{Store, key_hex};
use super::{
    BuildOptions, Built, Event, Reporter, assemble, build_err, fetch_sources, packages,
    prepare_base, resolve_over_rootfs, run_steps,
};
use crate::error::{Error, Result};
use crate::lock::{Lock, LockedImage, LockedSource, LockedStep};
use crate::model::{Action, Base, Recipe};
use crate::plan::{BasePlan, ImagePlan, Plan, StepPlan};

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
        version: crate::lock::LOCK_VERSION,
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
            if crate::plan::packages_request(recipe, image, step, Some(&pins))? == old.request {
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
    let store = Store::open(&options.store)?.with_offline(options.sources.offline);
    let sandbox = slipway_sandbox::Sandbox::new(store.scratch());
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
        let round = resolve_round(&store, &sandbox, recipe, &plan, options, reporter)?;
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

/// One round of [`lock_packages`]: the package steps of `plan` that can be
/// resolved now (no unlocked package step under them, their images' bases
/// built), resolved.
fn resolve_round(
    store: &Store,
    sandbox: &slipway_sandbox::Sandbox,
    recipe: &Recipe,
    plan: &Plan,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Vec<(String, LockedStep)>> {
    // An image is worked on when it has unlocked steps, or an image worked
    // on needs it whole.
    let mut needed = vec![false; plan.images.len()];
    for i in (0..plan.images.len()).rev() {
        needed[i] = !unlocked(&plan.images[i]).is_empty()
            || (i + 1..plan.images.len())
                .any(|j| needed[j] && uses(recipe, &plan.images[j], &plan.images[i].name));
    }
    let mut built: BTreeMap<String, Built> = BTreeMap::new();
    let mut out = Vec::new();
    for (image_plan, _) in plan.images.iter().zip(&needed).filter(|(_, n)| **n) {
        let image = recipe.image(&image_plan.name).ok_or_else(|| {
            build_err(
                format!("image `{}`", image_plan.name),
                "planned but not in the recipe",
            )
        })?;
        if let BasePlan::Image { name, .. } = &image_plan.base
            && !built.contains_key(name)
        {
            continue;
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
        if waits {
            continue;
        }
        reporter.event(&Event::Image(&image.name));
        let base = prepare_base(store, image, image_plan, &built, options, reporter)?;
        let sources = fetch_sources(store, image, image_plan, options, reporter)?;
        let sub = ImagePlan {
            steps: image_plan
                .steps
                .iter()
                .filter(|s| run.contains(s.name.as_str()))
                .cloned()
                .collect(),
            ..image_plan.clone()
        };
        let layers = run_steps(
            store, sandbox, recipe, image, &sub, &base, &built, &sources, options, reporter,
        )?;
        if open.is_empty() {
            let (whole, _) = assemble(store, image, &sub, base, layers, options, false, reporter)?;
            built.insert(image.name.clone(), whole);
            continue;
        }
        let runtime: BTreeMap<&str, &str> = sub
            .steps
            .iter()
            .zip(&layers)
            .map(|(s, l)| (s.name.as_str(), l.2.as_str()))
            .collect();
        for step_plan in frontier {
            let Some(step) = image.step(&step_plan.name) else {
                continue;
            };
            let Action::Packages(ops) = &step.action else {
                continue;
            };
            // Top-most first, as the step would run.
            let lowers: Vec<PathBuf> = step_plan
                .depends_on
                .iter()
                .rev()
                .filter_map(|d| runtime.get(d.as_str()).map(|k| store.tree(k)))
                .chain(base.lowers.iter().cloned())
                .collect();
            let scratch = store
                .tmp()
                .join(format!("lock-{}", key_hex(&step_plan.key)));
            let exported = match &step.from_image {
                Some(f) => match built.get(&f.image) {
                    Some(from) => Some(super::from_image::export(
                        store,
                        sandbox,
                        image,
                        step,
                        from,
                        &f.path,
                        &step_plan.key,
                    )?),
                    None => None,
                },
                None => None,
            };
            let files = packages::StepFiles {
                sources: &sources,
                scratch: &scratch,
                lowers: &lowers,
                from_image: exported.as_deref(),
                offline: store.offline,
            };
            let resolved = resolve_over_rootfs(store, sandbox, recipe, image, step, ops, &files);
            let _ = fs_err::remove_dir_all(&scratch);
            if let Some(dir) = &exported {
                let _ = fs_err::remove_dir_all(dir);
            }
            let request = step_plan.request.clone().unwrap_or_default();
            let locked = resolved?.to_locked(&step.name, &request, options.jobs.max(1))?;
            reporter.event(&Event::Resolved {
                image: &image.name,
                step: &step.name,
                packages: locked.packages.len(),
                erased: locked.erased.len(),
            });
            out.push((image.name.clone(), locked));
        }
    }
    Ok(out)
}
