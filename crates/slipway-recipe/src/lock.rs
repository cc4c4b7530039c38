//! `slipway.lock`: what `slipway lock` pins — base image digests, the
//! resolved package set of each package step, and the sha256 of sources the
//! recipe leaves unpinned.
//!
//! The file is TOML, written with sorted entries so the same pins give the
//! same bytes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The lock file's current format version.
pub const LOCK_VERSION: u32 = 1;

/// The contents of `slipway.lock`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lock {
    /// Format version ([`LOCK_VERSION`]).
    pub version: u32,
    /// One entry per image, sorted by name.
    #[serde(default, rename = "image")]
    pub images: Vec<LockedImage>,
    /// Source pins by URL, sorted by URL.
    #[serde(default, rename = "source")]
    pub sources: Vec<LockedSource>,
}

/// The pins of one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedImage {
    /// The image name.
    pub name: String,
    /// The registry reference of the base, as the recipe writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ref: Option<String>,
    /// The manifest digest the reference resolved to (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_digest: Option<String>,
    /// The package steps, sorted by name.
    #[serde(default, rename = "step")]
    pub steps: Vec<LockedStep>,
}

/// The resolved transactions of one package step: what each of its
/// package operations installs, upgrades and erases.
///
/// A build with this entry installs exactly these packages, operation by
/// operation (so scriptlets run as they did when the step was resolved),
/// fetched from the repositories by NEVRA and checked against `sha256`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedStep {
    /// The step name.
    pub name: String,
    /// [`crate::plan::packages_request`] of the step when it was locked: a
    /// different value means the recipe changed and the lock is stale.
    pub request: String,
    /// The packages installed or upgraded by the step, sorted by operation,
    /// then name.
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedPackage>,
    /// The packages erased by the step, sorted by operation, then NEVRA.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased: Vec<LockedErase>,
    /// Names of the step's operations that matched nothing and were skipped,
    /// as yum 3 skips them (sorted by operation, then name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<LockedSkip>,
}

/// A name of a package operation that matched nothing when the step was
/// resolved (yum 3: "No package … available", "No Match for argument").
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedSkip {
    /// The package operation of the step (1 = the first).
    pub op: u32,
    /// The name as the recipe writes it.
    pub name: String,
}

/// One package of a locked transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedPackage {
    /// The package operation of the step that installs it (1 = the first
    /// entry of the step's `packages`).
    pub op: u32,
    /// Package name.
    pub name: String,
    /// Epoch (0 when none).
    #[serde(default)]
    pub epoch: u32,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture.
    pub arch: String,
    /// sha256 of the `.rpm` file.
    pub sha256: String,
    /// Where it was found.
    pub url: String,
}

/// A package erased by a locked transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedErase {
    /// The package operation of the step that erases it (1 = the first).
    pub op: u32,
    /// `name-[epoch:]version-release.arch` of the erased package.
    pub nevra: String,
}

impl LockedPackage {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        slipway_yum::evr::nevra(
            &self.name,
            self.epoch,
            &self.version,
            &self.release,
            &self.arch,
        )
    }
}

/// The sha256 of a source the recipe does not pin itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedSource {
    /// The source URL.
    pub url: String,
    /// Its sha256 (hex).
    pub sha256: String,
}

impl Lock {
    /// Read `path`; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Lock>> {
        let text = match fs_err::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let lock: Lock = toml::from_str(&text).map_err(|e| Error::LockSyntax {
            path: path.to_path_buf(),
            message: e.message().to_owned(),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(Error::LockSyntax {
                path: path.to_path_buf(),
                message: format!(
                    "version {} is not the supported version {LOCK_VERSION}",
                    lock.version
                ),
            });
        }
        Ok(Some(lock))
    }

    /// The lock as canonical TOML (entries sorted).
    pub fn to_toml(&self) -> String {
        let mut lock = self.clone();
        lock.version = LOCK_VERSION;
        lock.images.sort_by(|a, b| a.name.cmp(&b.name));
        for image in &mut lock.images {
            image.steps.sort_by(|a, b| a.name.cmp(&b.name));
            for step in &mut image.steps {
                step.packages.sort();
                step.erased.sort();
                step.skipped.sort();
            }
        }
        lock.sources.sort();
        lock.sources.dedup();
        let body = toml::to_string(&lock).unwrap_or_default();
        format!("# slipway.lock: written by `slipway lock`; do not edit.\n{body}")
    }

    /// Write the lock to `path` atomically (a temp file renamed into place).
    pub fn write(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        fs_err::write(&tmp, self.to_toml()).map_err(|e| Error::io(&tmp, e))?;
        fs_err::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// The pins of image `name`.
    pub fn image(&self, name: &str) -> Option<&LockedImage> {
        self.images.iter().find(|i| i.name == name)
    }

    /// Record `step` as the lock entry of that step of image `image`
    /// (replacing an older entry; adding the image when it has none).
    pub fn set_step(&mut self, image: &str, step: LockedStep) {
        let entry = match self.images.iter().position(|i| i.name == image) {
            Some(i) => &mut self.images[i],
            None => {
                self.images.push(LockedImage {
                    name: image.to_owned(),
                    ..LockedImage::default()
                });
                let last = self.images.len() - 1;
                &mut self.images[last]
            }
        };
        match entry.steps.iter_mut().find(|s| s.name == step.name) {
            Some(old) => *old = step,
            None => entry.steps.push(step),
        }
    }

    /// Drop the package entries `selectors` name, so they are resolved
    /// again: `IMAGE` (all its package steps) or `IMAGE/STEP`; an empty
    /// list drops every entry. A selector that names no image or step of
    /// `recipe` is an error.
    pub fn forget_steps(&mut self, recipe: &crate::Recipe, selectors: &[String]) -> Result<()> {
        let unknown = |selector: String| Error::UnknownSelector {
            selector,
            message: "names no image or package step of the recipe".into(),
        };
        let mut drop: Vec<(String, Option<String>)> = Vec::new();
        for selector in selectors {
            let (image, step) = match selector.split_once('/') {
                Some((i, s)) => (i, Some(s)),
                None => (selector.as_str(), None),
            };
            let Some(found) = recipe.image(image) else {
                let names = recipe.images.iter().map(|i| i.name.as_str());
                let hint = match crate::suggest::suggest(image, names).0 {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => String::new(),
                };
                return Err(Error::UnknownSelector {
                    selector: selector.clone(),
                    message: format!("there is no image `{image}`{hint}"),
                });
            };
            if let Some(step) = step {
                let is_packages = found
                    .step(step)
                    .is_some_and(|s| matches!(s.action, crate::model::Action::Packages(_)));
                if !is_packages {
                    return Err(unknown(selector.clone()));
                }
            }
            drop.push((image.to_owned(), step.map(str::to_owned)));
        }
        for image in &mut self.images {
            image.steps.retain(|s| {
                !selectors.is_empty()
                    && !drop.iter().any(|(i, step)| {
                        *i == image.name && step.as_ref().is_none_or(|n| *n == s.name)
                    })
            });
        }
        Ok(())
    }

    /// The pinned sha256 of the source at `url`.
    pub fn source_sha256(&self, url: &str) -> Option<&str> {
        self.sources
            .iter()
            .find(|s| s.url == url)
            .map(|s| s.sha256.as_str())
    }
}

impl LockedImage {
    /// The locked transaction of step `name`.
    pub fn step(&self, name: &str) -> Option<&LockedStep> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// Check that every package step of `plan` has a current lock entry (for
/// `--locked`): one without (never locked, or locked for another request)
/// is named, with what to run.
pub fn check_packages(plan: &crate::Plan, path: &Path) -> Result<()> {
    let missing = plan.unlocked_package_steps();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing.iter().map(|(i, s)| format!("`{i}/{s}`")).collect();
    Err(Error::StaleLock {
        path: path.to_path_buf(),
        reason: format!(
            "the package step{} {} {} no current entry: run `slipway lock` to resolve and pin {}",
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            if names.len() == 1 { "has" } else { "have" },
            if names.len() == 1 { "it" } else { "them" },
        ),
    })
}

/// Check that `lock` pins everything `recipe` needs pinned: every registry base
/// without a digest in its reference, and every source without a sha256 in
/// the recipe; and that locked package steps still ask for what they asked
/// for when locked.
pub fn check(recipe: &crate::Recipe, lock: &Lock, path: &Path) -> Result<()> {
    let stale = |reason: String| Error::StaleLock {
        path: path.to_path_buf(),
        reason,
    };
    for image in &recipe.images {
        let locked = lock.image(&image.name);
        if let crate::Base::Registry { reference, .. } = &image.base
            && image.base.pinned_digest().is_none()
        {
            let ok = locked.is_some_and(|l| {
                l.base_ref.as_deref() == Some(reference.as_str()) && l.base_digest.is_some()
            });
            if !ok {
                return Err(stale(format!(
                    "image `{}`: base `{reference}` is not locked",
                    image.name
                )));
            }
        }
        for source in &image.sources {
            if source.sha256.is_none() && lock.source_sha256(&source.url).is_none() {
                return Err(stale(format!(
                    "image `{}`: source `{}` ({}) is not locked",
                    image.name, source.name, source.url
                )));
            }
        }
        for step in &image.steps {
            if let Some(ls) = locked.and_then(|l| l.step(&step.name)) {
                let request = crate::plan::packages_request(recipe, image, step, Some(lock))?;
                if ls.request != request {
                    return Err(stale(format!(
                        "image `{}`: the packages of step `{}` changed since they were locked \
                         (its operations, repositories, platform or base): run `slipway lock`",
                        image.name, step.name
                    )));
                }
            }
        }
    }
    Ok(())
}
