//! `slipway build`.

use std::path::PathBuf;

use anyhow::Context as _;
use slipway_build::{BuildOptions, Event, Reporter, SourceOptions};
use slipway_recipe::{Lock, Plan, Recipe};

/// Arguments of `slipway build`.
///
/// Builds the images of a recipe directory: pulls each base (pinned by
/// digest), resolves and installs packages, fetches and verifies sources,
/// runs the steps in the sandbox (independent steps in parallel, unchanged
/// steps from the cache) and writes one OCI layout per image.
#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    /// Images to build (default: all images of the recipe directory); the
    /// images they are built from are built too.
    #[arg(value_name = "IMAGE")]
    pub(crate) images: Vec<String>,

    /// The recipe directory: one `<image>.toml` per image, plus the fragments,
    /// repo files and step scripts they name.
    #[arg(long, value_name = "DIR", default_value = "layers")]
    pub(crate) recipes: PathBuf,

    /// Where to write the images: a directory (one OCI layout per image,
    /// `DIR/<image>`), or `oci-archive:FILE[:TAG]` / `docker-archive:FILE[:NAME:TAG]`
    /// for one image (the one named, or the only published one; tag `latest`,
    /// docker name `<image>:latest` unless given), or a registry:
    /// `docker://HOST/REPO/{image}:TAG` pushes every image (and index).
    /// `{image}` in an archive's FILE writes one archive per image:
    /// `oci-archive:out/{image}.tar`.
    #[arg(
        long,
        short,
        value_name = "DIR|oci-archive:FILE|docker://REF",
        default_value = "out"
    )]
    pub(crate) output: String,

    /// Join built images of different platforms into one image index `NAME`
    /// (`manylinux2010=manylinux2010_x86_64,manylinux2010_i686`): written as
    /// `DIR/NAME` in a directory output, pushed as `{image}` = NAME with a
    /// `docker://` output. Repeatable.
    #[arg(long, value_name = "NAME=IMAGE,IMAGE…")]
    pub(crate) index: Vec<crate::publish::IndexSpec>,

    /// Credentials and TLS for the registries of bases and of a `docker://`
    /// output.
    #[command(flatten)]
    pub(crate) registry: super::pull::RegistryAccessArgs,

    /// Steps run at the same time at most (default: the number of CPUs).
    #[arg(long, short, value_name = "N")]
    pub(crate) jobs: Option<usize>,

    /// Use no network for what slipway fetches: sources come from the store
    /// or `--mirror`, package steps read the repositories' metadata and
    /// packages the store remembers from an earlier online run (steps that
    /// declare `network` still get it).
    #[arg(long)]
    pub(crate) offline: bool,

    /// Serve sources from a mirror (a directory or URL holding the files by
    /// their file names) instead of their upstream URLs.
    #[arg(long, value_name = "DIR|URL")]
    pub(crate) mirror: Option<String>,

    /// Fail if `slipway.lock` is missing or does not match the recipe,
    /// instead of resolving again.
    #[arg(long)]
    pub(crate) locked: bool,

    /// The lock file (default: `slipway.lock` in the recipe directory).
    #[arg(long, value_name = "FILE")]
    pub(crate) lock_file: Option<PathBuf>,

    /// Print the plan (images, steps, cache keys, what is fetched from where)
    /// and stop; needs no network.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Write what was built as JSON to FILE (as BuildKit's `--metadata-file`):
    /// per image its digest, platform and output, and per step whether it
    /// came from the cache (`hit`) or ran (`miss`).
    #[arg(long, value_name = "FILE")]
    pub(crate) metadata_file: Option<PathBuf>,

    /// The store of blobs, step results and sources (default:
    /// `$XDG_CACHE_HOME/slipway`, else `~/.cache/slipway`).
    #[arg(long, value_name = "DIR", env = "SLIPWAY_STORE")]
    pub(crate) store: Option<PathBuf>,
}

/// Progress on stderr, one line per event.
pub(crate) struct Progress;

impl Reporter for Progress {
    fn event(&self, event: &Event<'_>) {
        let line = match event {
            Event::Image(name) => format!("==> {name}"),
            Event::Base { image, digest } => format!("    {image}: base {digest}"),
            Event::Source(name) => format!("    source {name}: verified"),
            Event::Cached { image, step } => format!("    {image}/{step}: cached"),
            Event::Running { image, step } => format!("    {image}/{step}: running"),
            Event::Built {
                image,
                step,
                seconds,
            } => format!("    {image}/{step}: built in {seconds:.1}s"),
            Event::Resolved {
                image,
                step,
                packages,
                erased,
            } => format!("    {image}/{step}: resolved {packages} packages, {erased} erased"),
            Event::Skipped { image, step, name } => format!(
                "    {image}/{step}: warning: no package matches `{name}`: skipped, as yum 3 does"
            ),
            Event::Written {
                image,
                digest,
                path,
            } => format!("    {image}: {digest} -> {}", path.display()),
            _ => return,
        };
        eprintln!("{line}");
    }
}

pub(crate) fn run(args: BuildArgs) -> anyhow::Result<()> {
    let recipe = Recipe::load(&args.recipes)
        .with_context(|| format!("reading the recipes in `{}`", args.recipes.display()))?;
    let lock_path = args
        .lock_file
        .clone()
        .unwrap_or_else(|| args.recipes.join("slipway.lock"));
    let lock = Lock::read(&lock_path)?;
    if args.locked && lock.is_none() {
        anyhow::bail!(
            "`--locked` was given but `{}` does not exist; run `slipway lock` first",
            lock_path.display()
        );
    }
    let mut plan = Plan::new(&recipe, &args.images, lock.as_ref())?;
    if args.dry_run {
        print!("{}", plan.render(args.mirror.as_deref()));
        return Ok(());
    }
    if let (true, Some(lock)) = (args.locked, &lock) {
        slipway_recipe::lock::check(&recipe, lock, &lock_path)?;
        slipway_recipe::lock::check_packages(&plan, &lock_path)?;
    }
    let store = super::store_root(args.store.as_ref());
    let published: Vec<String> = plan
        .images
        .iter()
        .filter(|i| i.publish)
        .map(|i| i.name.clone())
        .collect();
    crate::publish::check_indexes(&args.index, &published)?;
    let destination = Destination::parse(&args.output, &store, !args.index.is_empty())?;
    let output = destination.layouts_dir();
    let registry = args.registry.client_options()?;
    let options = BuildOptions {
        store,
        output,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        sources: SourceOptions {
            mirror: args.mirror,
            offline: args.offline,
        },
        registry: registry.clone(),
    };
    // Like `cargo build` updating Cargo.lock: package steps without a
    // current entry are resolved, recorded, and built from the entry.
    if !args.locked && !plan.unlocked_package_steps().is_empty() {
        let mut updated = lock.unwrap_or_else(|| Lock {
            version: slipway_recipe::lock::LOCK_VERSION,
            ..Lock::default()
        });
        let recorded =
            slipway_build::lock_packages(&recipe, &args.images, &mut updated, &options, &Progress)
                .map_err(|e| sandbox_hint(e, None))
                .context("resolving the package steps")?;
        updated.write(&lock_path)?;
        let names: Vec<String> = recorded.iter().map(|(i, s)| format!("{i}/{s}")).collect();
        eprintln!(
            "recorded the packages of {} in `{}`",
            names.join(", "),
            lock_path.display()
        );
        plan = Plan::new(&recipe, &args.images, Some(&updated))?;
    }
    let report = slipway_build::build(&recipe, &plan, &options, &Progress)?;
    destination.publish(&report, &args.images, &args.index, &registry)?;
    if let Some(file) = &args.metadata_file {
        let platforms = plan
            .images
            .iter()
            .map(|i| (i.name.as_str(), i.platform.as_str()))
            .collect();
        let json = metadata(&report, &platforms, |i| destination.output_of(i));
        let text = serde_json::to_string_pretty(&json)? + "\n";
        fs_err::write(file, text)
            .with_context(|| format!("writing the metadata file `{}`", file.display()))?;
    }
    Ok(())
}

/// The `--metadata-file` document: per image (bases first) its name, digest,
/// platform, output (`null` for images that are not published) and steps
/// with `"cache": "hit"` or `"miss"`.
fn metadata(
    report: &slipway_build::BuildReport,
    platforms: &std::collections::HashMap<&str, &str>,
    output_of: impl Fn(&slipway_build::ImageReport) -> Option<String>,
) -> serde_json::Value {
    let images: Vec<serde_json::Value> = report
        .images
        .iter()
        .map(|image| {
            let steps: Vec<serde_json::Value> = image
                .steps
                .iter()
                .map(|(name, cached)| {
                    serde_json::json!({
                        "name": name,
                        "cache": if *cached { "hit" } else { "miss" },
                    })
                })
                .collect();
            serde_json::json!({
                "name": image.name,
                "digest": image.digest,
                "platform": platforms.get(image.name.as_str()),
                "output": output_of(image),
                "steps": steps,
            })
        })
        .collect();
    serde_json::json!({ "images": images })
}

/// Where `--output` sends the images.
enum Destination {
    /// OCI layouts in a directory.
    Dir(PathBuf),
    /// An archive (`oci-archive:`, `docker-archive:`): the layouts go to a
    /// temporary directory in the store (so blobs are hard-linked) and the
    /// image is copied into the archive.
    Archive(String, tempfile::TempDir),
    /// `docker://…`: layouts in a temporary directory, then pushed.
    Registry(String, tempfile::TempDir),
}

impl Destination {
    /// Parse `output` before the build, so a malformed one fails first.
    fn parse(output: &str, store: &std::path::Path, indexes: bool) -> anyhow::Result<Self> {
        let temp = || -> anyhow::Result<tempfile::TempDir> {
            let tmp = store.join("tmp");
            fs_err::create_dir_all(&tmp)?;
            Ok(tempfile::tempdir_in(&tmp)?)
        };
        if output.starts_with("docker://") {
            crate::publish::push_target(output, "image")?;
            return Ok(Destination::Registry(output.to_owned(), temp()?));
        }
        if output.starts_with("oci-archive:") || output.starts_with("docker-archive:") {
            slipway_oci::ImageRef::parse(&output.replace(IMAGE_PLACEHOLDER, "image"))?;
            if indexes {
                anyhow::bail!(
                    "`--index` writes an image index, which an archive of one image cannot \
                     hold: give a directory or a `docker://` output"
                );
            }
            return Ok(Destination::Archive(output.to_owned(), temp()?));
        }
        Ok(Destination::Dir(PathBuf::from(output)))
    }

    /// The directory the build writes its layouts into.
    fn layouts_dir(&self) -> PathBuf {
        match self {
            Destination::Dir(dir) => dir.clone(),
            Destination::Archive(_, tmp) | Destination::Registry(_, tmp) => tmp.path().to_owned(),
        }
    }

    /// Where the published `image` went: its layout directory, archive or
    /// registry reference (`None` for an image that is not published).
    fn output_of(&self, image: &slipway_build::ImageReport) -> Option<String> {
        let path = image.path.as_ref()?;
        Some(match self {
            Destination::Dir(_) => path.display().to_string(),
            Destination::Archive(target, _) | Destination::Registry(target, _) => {
                target.replace(IMAGE_PLACEHOLDER, &image.name)
            }
        })
    }

    /// Write the indexes and send the built images where they go.
    fn publish(
        &self,
        report: &slipway_build::BuildReport,
        named: &[String],
        indexes: &[crate::publish::IndexSpec],
        registry: &slipway_registry::ClientOptions,
    ) -> anyhow::Result<()> {
        let built: Vec<crate::publish::Written> = report
            .images
            .iter()
            .filter(|i| named.is_empty() || named.contains(&i.name))
            .filter_map(|i| {
                Some(crate::publish::Written {
                    name: i.name.clone(),
                    layout: i.path.clone()?,
                })
            })
            .collect();
        match self {
            Destination::Archive(dst, _) => write_archive(report, named, dst),
            Destination::Dir(dir) => {
                for image in &report.images {
                    if let Some(path) = &image.path {
                        println!(
                            "{} {} oci:{}:latest",
                            image.name,
                            image.digest,
                            path.display()
                        );
                    }
                }
                crate::publish::write_indexes(indexes, &built, dir)?;
                Ok(())
            }
            Destination::Registry(target, tmp) => {
                let mut all = built.clone();
                all.extend(crate::publish::write_indexes(indexes, &built, tmp.path())?);
                let push = slipway_registry::PushOptions {
                    reporter: super::pull::reporter(),
                    ..Default::default()
                };
                crate::publish::push_all(target, &all, registry, &push)
            }
        }
    }
}

/// `e`, with what to do when the sandbox could not start (no root, no user
/// namespaces): resolving package steps runs `rpm -qa` and earlier steps in
/// it.
pub(crate) fn sandbox_hint(e: slipway_build::Error, instead: Option<&str>) -> anyhow::Error {
    let no_sandbox = matches!(
        &e,
        slipway_build::Error::Step {
            source: slipway_sandbox::Error::Spawn { .. },
            ..
        }
    );
    let e = anyhow::Error::new(e);
    if !no_sandbox {
        return e;
    }
    let what = match instead {
        Some(instead) => format!("`{instead}` pins only bases and sources"),
        None => "package steps cannot be built without it".to_owned(),
    };
    e.context(format!(
        "resolving a package step runs `rpm -qa` and the steps before it in the sandbox, \
         which needs root or unprivileged user namespaces; {what}"
    ))
}

use crate::publish::IMAGE_PLACEHOLDER;

/// Copy the images meant for the archive `output` from their layouts: the
/// one image (named, or the only one published), or with `{image}` in the
/// file name every published image into its own archive.
fn write_archive(
    report: &slipway_build::BuildReport,
    named: &[String],
    output: &str,
) -> anyhow::Result<()> {
    let published: Vec<_> = report
        .images
        .iter()
        .filter(|i| i.path.is_some() && (named.is_empty() || named.contains(&i.name)))
        .collect();
    if output.contains(IMAGE_PLACEHOLDER) {
        for image in published {
            write_one_archive(image, &output.replace(IMAGE_PLACEHOLDER, &image.name))?;
        }
        return Ok(());
    }
    let [image] = published.as_slice() else {
        anyhow::bail!(
            "`--output {output}` holds one image but {} published images were built ({}); name \
             one, put `{IMAGE_PLACEHOLDER}` in the file name for one archive each, or give a \
             directory",
            published.len(),
            published
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    write_one_archive(image, output)
}

/// Copy `image` from its layout into the archive `output`.
fn write_one_archive(image: &slipway_build::ImageReport, output: &str) -> anyhow::Result<()> {
    let dst = slipway_oci::ImageRef::parse(output)?;
    let Some(layout) = &image.path else {
        anyhow::bail!("image `{}` was not written", image.name);
    };
    let src = slipway_oci::ImageRef::Oci {
        path: layout.clone(),
        reference: Some("latest".into()),
    };
    let dst = match (&dst, dst.reference()) {
        (slipway_oci::ImageRef::DockerArchive { .. }, None) => {
            dst.with_reference(Some(format!("{}:latest", image.name)))
        }
        (_, None) => dst.with_reference(Some("latest".into())),
        _ => dst.clone(),
    };
    if let Some(dir) = dst.path().parent().filter(|d| !d.as_os_str().is_empty()) {
        fs_err::create_dir_all(dir)?;
    }
    slipway_oci::copy(&src, &dst)
        .with_context(|| format!("writing image `{}` to `{dst}`", image.name))?;
    println!("{} {} {dst}", image.name, image.digest);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn metadata_names_digest_platform_output_and_step_cache_hits() {
        let report = slipway_build::BuildReport {
            images: vec![
                slipway_build::ImageReport {
                    name: "base".into(),
                    digest: "sha256:aa".into(),
                    path: None,
                    steps: vec![("pkgs".into(), true)],
                },
                slipway_build::ImageReport {
                    name: "app".into(),
                    digest: "sha256:bb".into(),
                    path: Some("out/app".into()),
                    steps: vec![("pkgs".into(), true), ("compile".into(), false)],
                },
            ],
        };
        let platforms = [("base", "linux/386"), ("app", "linux/386")].into();
        let outputs =
            |i: &slipway_build::ImageReport| i.path.as_ref().map(|p| p.display().to_string());
        let json = super::metadata(&report, &platforms, outputs);
        assert_eq!(
            json,
            serde_json::json!({"images": [
                {"name": "base", "digest": "sha256:aa", "platform": "linux/386", "output": null,
                 "steps": [{"name": "pkgs", "cache": "hit"}]},
                {"name": "app", "digest": "sha256:bb", "platform": "linux/386", "output": "out/app",
                 "steps": [{"name": "pkgs", "cache": "hit"}, {"name": "compile", "cache": "miss"}]},
            ]})
        );
    }

    fn spawn_failure() -> slipway_build::Error {
        slipway_build::Error::Step {
            image: "img".into(),
            step: "pkgs".into(),
            source: slipway_sandbox::Error::Spawn {
                step: "img/pkgs (rpm -qa)".into(),
                message: "unshare: Operation not permitted".into(),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            },
        }
    }

    #[test]
    fn a_sandbox_that_cannot_start_says_what_it_needs_and_what_to_run_instead() {
        let text = format!(
            "{:#}",
            super::sandbox_hint(spawn_failure(), Some("slipway lock --no-packages"))
        );
        assert!(
            text.contains("needs root or unprivileged user namespaces")
                && text.contains("`slipway lock --no-packages` pins only bases and sources")
                && text.contains("unshare: Operation not permitted"),
            "{text}"
        );
        let text = format!("{:#}", super::sandbox_hint(spawn_failure(), None));
        assert!(
            text.contains("package steps cannot be built without it"),
            "{text}"
        );
        // Other failures pass through unchanged.
        let other = slipway_build::Error::Build {
            what: "x".into(),
            message: "y".into(),
        };
        assert_eq!(format!("{:#}", super::sandbox_hint(other, None)), "x: y");
    }
}
