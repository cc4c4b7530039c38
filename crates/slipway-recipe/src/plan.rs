//! The build plan: for each selected image, its base, the files to fetch, and
//! its steps as a DAG with a cache key per step.
//!
//! **A step's cache key is the sha256 of everything that can change its
//! layer**: the key format version, the post-step normaliser's version
//! (`slipway_repro::NORMALIZER_VERSION`), the image platform and the step's
//! personality, the base (registry reference + pinned digest, or the key of the
//! base image), the keys of the steps it runs over, its action (the script's
//! bytes; the package operations, the repository definitions and the locked
//! package set; the source RPM and patch hashes), its inputs' sha256s, the
//! `from-image` image key and path, its env, network flag, transient paths and
//! `SOURCE_DATE_EPOCH`. The step's name is not part of it: renaming a step
//! does not rebuild it.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::key::KeyHasher;

use crate::error::{Error, Result};
use crate::lock::Lock;
use crate::model::{Action, Base, Image, PackageOp, Platform, Recipe, RepoKind, Step};

/// The plan of a build.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The images to build, bases first.
    pub images: Vec<ImagePlan>,
}

/// One image of the plan.
#[derive(Debug, Clone)]
pub struct ImagePlan {
    /// Image name.
    pub name: String,
    /// Platform.
    pub platform: Platform,
    /// Whether the image is written to the output.
    pub publish: bool,
    /// Where the base comes from.
    pub base: BasePlan,
    /// The repositories of the package steps, as `name (kind what)`.
    pub repos: Vec<String>,
    /// Files to fetch before any step runs.
    pub fetches: Vec<Fetch>,
    /// The steps, in layer order.
    pub steps: Vec<StepPlan>,
    /// Key of the whole image: base, every step key, and the config.
    pub key: String,
}

/// Where an image's base comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasePlan {
    /// Pulled from a registry.
    Registry {
        /// The reference as written.
        reference: String,
        /// The platform to choose.
        platform: Platform,
        /// The digest, from the reference or the lock; `None` if unpinned.
        digest: Option<String>,
    },
    /// Another image of the plan.
    Image {
        /// Its name.
        name: String,
        /// Its image key.
        key: String,
    },
}

/// How a fetched file is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// By the sha256 in the recipe.
    Recipe,
    /// By the sha256 in `slipway.lock`.
    Lock,
    /// Not yet: `slipway lock` will pin it.
    Unpinned,
}

/// One file to fetch.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// The source name.
    pub name: String,
    /// Upstream URL.
    pub url: String,
    /// File name in the store / mirror.
    pub file_name: String,
    /// Expected sha256, if pinned.
    pub sha256: Option<String>,
    /// Where the pin comes from.
    pub pin: Pin,
    /// Detached signature URL.
    pub asc: Option<String>,
    /// The source holding the keyring.
    pub keyring: Option<String>,
}

/// One step of the plan.
#[derive(Debug, Clone)]
pub struct StepPlan {
    /// Step name.
    pub name: String,
    /// `script PATH`, `packages`, `srpm-patch`.
    pub action: String,
    /// The steps it runs over (transitively), in layer order.
    pub depends_on: Vec<String>,
    /// The cache key, `sha256:…`.
    pub key: String,
    /// Whether it may use the network.
    pub network: bool,
    /// `linux64` or `linux32`.
    pub personality: &'static str,
    /// For package steps: the number of locked packages, `None` if unlocked.
    pub locked_packages: Option<usize>,
    /// For package steps: the lock entry the key was made from, if any.
    pub locked: Option<crate::lock::LockedStep>,
    /// For package steps: [`packages_request`], what a lock entry must have
    /// been made for to be current.
    pub request: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read(root: &Path, rel: &Path) -> Result<Vec<u8>> {
    let path = root.join(rel);
    fs_err::read(&path).map_err(|e| Error::io(&path, e))
}

/// What a package step asks for: its operations and the repository
/// definitions (file bytes, source hashes). Stored in the lock; a different
/// value means the lock is stale.
pub fn packages_request(
    recipe: &Recipe,
    image: &Image,
    step: &Step,
    lock: Option<&Lock>,
) -> Result<String> {
    let mut h = KeyHasher::new();
    h.field("platform", image.platform.as_str());
    // What the step resolves over: a registry base by its digest (a moved
    // tag that `slipway lock` pins anew makes the package pins stale), an
    // image of the recipe by name.
    h.field("over", base_identity(image, lock));
    // `linux32` steps resolve for i686.
    h.field("personality", step.personality.as_str());
    h.field("releasever", image.releasever.as_deref().unwrap_or(""));
    if let Action::Packages(ops) = &step.action {
        for op in ops {
            let (kind, args): (&str, Vec<String>) = match op {
                PackageOp::Install(v) => ("install", v.clone()),
                PackageOp::InstallLocal(v) => ("install-local", v.clone()),
                PackageOp::Update(v) => ("update", v.clone()),
                PackageOp::Erase(v) => ("erase", v.clone()),
                PackageOp::BuildDep(s) => ("builddep", vec![source_pin(image, s, lock)]),
                PackageOp::Clean => ("clean", Vec::new()),
            };
            h.field("op", kind);
            for a in args {
                h.field("arg", a);
            }
        }
    }
    for repo in &image.repos {
        h.field("repo", &repo.name);
        match &repo.kind {
            RepoKind::File(path) => h.field("file", sha256_hex(&read(&recipe.root, path)?)),
            RepoKind::Source(s) => h.field("source", source_pin(image, s, lock)),
            RepoKind::Rpm(s) => h.field("rpm", source_pin(image, s, lock)),
        }
    }
    Ok(h.finish())
}

/// The manifest digest of a registry base: from its reference
/// (`…@sha256:…`) or, for the same reference, from the lock.
fn base_digest(image: &Image, lock: Option<&Lock>) -> Option<String> {
    let Base::Registry { reference, .. } = &image.base else {
        return None;
    };
    image.base.pinned_digest().map(str::to_owned).or_else(|| {
        lock.and_then(|l| l.image(&image.name))
            .filter(|l| l.base_ref.as_deref() == Some(reference))
            .and_then(|l| l.base_digest.clone())
    })
}

/// The base an image's package steps resolve over: a registry base's digest
/// or, unpinned, its reference; another image of the recipe by name.
fn base_identity(image: &Image, lock: Option<&Lock>) -> String {
    match &image.base {
        Base::Registry { reference, .. } => {
            base_digest(image, lock).unwrap_or_else(|| reference.clone())
        }
        Base::Image(name) => format!("image {name}"),
    }
}

/// The identity of a source for keys: its sha256 when pinned, else its URL.
fn source_pin(image: &Image, name: &str, lock: Option<&Lock>) -> String {
    let Some(source) = image.source(name) else {
        return format!("missing:{name}");
    };
    match (
        &source.sha256,
        lock.and_then(|l| l.source_sha256(&source.url)),
    ) {
        (Some(s), _) => format!("sha256:{s}"),
        (None, Some(s)) => format!("sha256:{s}"),
        (None, None) => format!("unpinned:{}", source.url),
    }
}

impl Plan {
    /// Plan the images `names` (all when empty) and what they are built from.
    /// `lock` supplies base digests, package sets and source pins.
    pub fn new(recipe: &Recipe, names: &[String], lock: Option<&Lock>) -> Result<Plan> {
        let mut images: Vec<ImagePlan> = Vec::new();
        for image in recipe.select(names)? {
            let plan = plan_image(recipe, image, lock, &images)?;
            images.push(plan);
        }
        Ok(Plan { images })
    }

    /// The package steps without a current lock entry, as `(image, step)`.
    pub fn unlocked_package_steps(&self) -> Vec<(&str, &str)> {
        self.images
            .iter()
            .flat_map(|i| {
                i.steps
                    .iter()
                    .filter(|s| s.request.is_some() && s.locked.is_none())
                    .map(move |s| (i.name.as_str(), s.name.as_str()))
            })
            .collect()
    }

    /// The plan as text for `slipway build --dry-run`; `mirror` (a directory
    /// or URL) replaces upstream URLs by `MIRROR/<file>`.
    pub fn render(&self, mirror: Option<&str>) -> String {
        let mut out = String::new();
        for image in &self.images {
            let publish = if image.publish {
                ""
            } else {
                ", builder stage: not published"
            };
            let _ = writeln!(
                out,
                "image {} ({}{publish})\n  key: {}",
                image.name,
                image.platform.as_str(),
                image.key
            );
            match &image.base {
                BasePlan::Registry {
                    reference,
                    platform,
                    digest,
                } => {
                    let pin = digest.as_deref().unwrap_or("unpinned: run `slipway lock`");
                    let _ = writeln!(
                        out,
                        "  base: pull {reference} for {} ({pin})",
                        platform.as_str()
                    );
                }
                BasePlan::Image { name, key } => {
                    let _ = writeln!(out, "  base: image {name} ({key})");
                }
            }
            for repo in &image.repos {
                let _ = writeln!(out, "  repo: {repo}");
            }
            for f in &image.fetches {
                let from = match mirror {
                    Some(m) => format!(
                        "{}/{} (mirror of {})",
                        m.trim_end_matches('/'),
                        f.file_name,
                        f.url
                    ),
                    None => f.url.clone(),
                };
                let check = match (&f.sha256, f.pin) {
                    (Some(s), Pin::Recipe) => format!("sha256 {s}"),
                    (Some(s), Pin::Lock) => format!("sha256 {s} (from lock)"),
                    _ => "sha256 unpinned: `slipway lock` pins it".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "  fetch: {} from {from}\n         check {check}",
                    f.name
                );
                if let (Some(asc), Some(keyring)) = (&f.asc, &f.keyring) {
                    let _ = writeln!(
                        out,
                        "         verify signature {asc} with keyring {keyring}"
                    );
                }
            }
            for (i, step) in image.steps.iter().enumerate() {
                let deps = if step.depends_on.is_empty() {
                    "base".to_owned()
                } else {
                    step.depends_on.join(", ")
                };
                let mut extra = String::new();
                if step.network {
                    extra.push_str(", network");
                }
                if let Some(n) = step.locked_packages {
                    let _ = write!(extra, ", {n} locked packages");
                }
                let _ = writeln!(
                    out,
                    "  step {}: {} [{}, {}{extra}]\n    over: {deps}\n    key: {}",
                    i + 1,
                    step.name,
                    step.action,
                    step.personality,
                    step.key
                );
            }
            out.push('\n');
        }
        out
    }
}

fn plan_image(
    recipe: &Recipe,
    image: &Image,
    lock: Option<&Lock>,
    done: &[ImagePlan],
) -> Result<ImagePlan> {
    let locked = lock.and_then(|l| l.image(&image.name));
    let key_of = |name: &str| {
        done.iter()
            .find(|p| p.name == name)
            .map(|p| p.key.clone())
            .unwrap_or_else(|| format!("unplanned:{name}"))
    };
    let base = match &image.base {
        Base::Registry {
            reference,
            platform,
        } => {
            let digest = base_digest(image, lock);
            BasePlan::Registry {
                reference: reference.clone(),
                platform: *platform,
                digest,
            }
        }
        Base::Image(name) => BasePlan::Image {
            name: name.clone(),
            key: key_of(name),
        },
    };
    let base_identity = match &base {
        BasePlan::Registry {
            reference,
            platform,
            digest,
        } => match digest {
            Some(d) => format!(
                "registry:{}@{d}:{}",
                reference.split('@').next().unwrap_or(reference),
                platform.as_str()
            ),
            None => format!("unpinned:{reference}:{}", platform.as_str()),
        },
        BasePlan::Image { key, .. } => key.clone(),
    };
    let repos = image
        .repos
        .iter()
        .map(|r| match &r.kind {
            RepoKind::File(p) => format!("{} (file {})", r.name, p.display()),
            RepoKind::Source(s) => format!("{} (.repo from source {s})", r.name),
            RepoKind::Rpm(s) => format!("{} (release RPM from source {s})", r.name),
        })
        .collect();
    let fetches = image
        .sources
        .iter()
        .map(|s| {
            let (sha256, pin) = match (&s.sha256, lock.and_then(|l| l.source_sha256(&s.url))) {
                (Some(h), _) => (Some(h.clone()), Pin::Recipe),
                (None, Some(h)) => (Some(h.to_owned()), Pin::Lock),
                (None, None) => (None, Pin::Unpinned),
            };
            Fetch {
                name: s.name.clone(),
                url: s.url.clone(),
                file_name: s.file_name.clone(),
                sha256,
                pin,
                asc: s.asc.clone(),
                keyring: s.keyring.clone(),
            }
        })
        .collect();
    let mut steps: Vec<StepPlan> = Vec::new();
    for step in &image.steps {
        let mut h = crate::key::step_hasher();
        h.field("platform", image.platform.as_str());
        h.field("personality", step.personality.as_str());
        h.field("base", &base_identity);
        h.field("source-date-epoch", image.source_date_epoch.to_string());
        for dep in &step.depends_on {
            let key = steps
                .iter()
                .find(|s| &s.name == dep)
                .map(|s| s.key.as_str())
                .unwrap_or("missing");
            h.field("over", key);
        }
        let mut locked_packages = None;
        let mut locked_step = None;
        let mut step_request = None;
        let action = match &step.action {
            Action::Script(path) => {
                h.field("script", sha256_hex(&read(&recipe.root, path)?));
                format!("script {}", path.display())
            }
            Action::Packages(_) => {
                let request = packages_request(recipe, image, step, lock)?;
                h.field("packages-request", &request);
                if let Some(ls) = locked
                    .and_then(|l| l.step(&step.name))
                    .filter(|s| s.request == request)
                {
                    locked_packages = Some(ls.packages.len());
                    locked_step = Some(ls.clone());
                    let mut packages: Vec<String> = ls
                        .packages
                        .iter()
                        .map(|p| {
                            format!(
                                "{} {}:{}-{}-{}.{} {}",
                                p.op, p.epoch, p.name, p.version, p.release, p.arch, p.sha256
                            )
                        })
                        .collect();
                    packages.sort();
                    for p in packages {
                        h.field("package", p);
                    }
                    let mut erased: Vec<String> = ls
                        .erased
                        .iter()
                        .map(|e| format!("{} {}", e.op, e.nevra))
                        .collect();
                    erased.sort();
                    for e in erased {
                        h.field("erased", e);
                    }
                } else {
                    h.field("packages", "unlocked");
                }
                step_request = Some(request);
                "packages".to_owned()
            }
            Action::SrpmPatch(p) => {
                h.field("srpm", source_pin(image, &p.srpm, lock));
                h.field("patch", source_pin(image, &p.patch, lock));
                h.field("strip", p.strip.to_string());
                h.field(
                    "remove-empty-files",
                    if p.remove_empty_files { "yes" } else { "no" },
                );
                h.field("release-suffix", &p.release_suffix);
                h.field("topdir", &p.topdir);
                format!("srpm-patch {} + {}", p.srpm, p.patch)
            }
        };
        for input in &step.inputs {
            h.field("input", input);
            h.field("input-pin", source_pin(image, input, lock));
        }
        if let Some(from) = &step.from_image {
            h.field("from-image", key_of(&from.image));
            h.field("from-path", &from.path);
        }
        // Steps run with the image config's env, then their own on top.
        for (k, v) in &image.config.env {
            h.field("image-env", format!("{k}={v}"));
        }
        for (k, v) in &step.env {
            h.field("env", format!("{k}={v}"));
        }
        h.field("network", if step.network { "yes" } else { "no" });
        let mut transient = step.transient.clone();
        transient.sort();
        for t in transient {
            h.field("transient", t);
        }
        steps.push(StepPlan {
            name: step.name.clone(),
            action,
            depends_on: step.depends_on.clone(),
            key: h.finish(),
            network: step.network,
            personality: step.personality.as_str(),
            locked_packages,
            locked: locked_step,
            request: step_request,
        });
    }
    let mut h = KeyHasher::new();
    h.field("image-base", &base_identity);
    for s in &steps {
        h.field("layer", &s.key);
    }
    let c = &image.config;
    for (k, v) in &c.env {
        h.field("env", format!("{k}={v}"));
    }
    for (k, v) in &c.labels {
        h.field("label", format!("{k}={v}"));
    }
    for a in c.entrypoint.iter().flatten() {
        h.field("entrypoint", a);
    }
    for a in c.cmd.iter().flatten() {
        h.field("cmd", a);
    }
    h.field("workdir", c.workdir.as_deref().unwrap_or(""));
    h.field("user", c.user.as_deref().unwrap_or(""));
    Ok(ImagePlan {
        name: image.name.clone(),
        platform: image.platform,
        publish: image.publish,
        base,
        repos,
        fetches,
        steps,
        key: h.finish(),
    })
}
