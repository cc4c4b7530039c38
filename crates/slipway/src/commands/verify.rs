//! `slipway verify`: check that a recipe rebuilds to the same image.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use slipway_build::{BuildOptions, Quiet, SourceOptions};
use slipway_recipe::{Lock, Plan, Recipe};
use slipway_repro::{SourceImage, Verdict, verify_images};

/// Arguments of `slipway verify`.
///
/// Rebuilds IMAGE of the recipe directory with a fresh, empty store into a
/// temporary layout (both removed afterwards) and compares the result with
/// the stored image, exactly: prints `reproducible: sha256:…`, or the first
/// layer that differs and the files that differ in it (content with a short
/// text or hex hint, mode, owner, mtime, xattrs, link).
///
/// Exit status: 0 reproducible, 1 not, 2 error.
#[derive(Debug, clap::Args)]
#[command(
    after_long_help = "IMAGE is rebuilt with a fresh, empty store into a temporary \
                             layout (both removed afterwards) and compared with the stored image \
                             exactly: `reproducible: sha256:…`, or the first layer that differs and \
                             the files that differ in it (content with a short text or hex hint, \
                             mode, owner, mtime, xattrs, link).\n\n\
                             Exit status: 0 reproducible, 1 not reproducible, 2 error."
)]
pub(crate) struct VerifyArgs {
    /// The recipe directory.
    #[arg(value_name = "RECIPE-DIR")]
    pub(crate) recipe: PathBuf,

    /// The image of the recipe to verify (default: the only one, or the last
    /// one when there are several).
    #[arg(value_name = "IMAGE")]
    pub(crate) image: Option<String>,

    /// The stored image (default: `oci:out/<IMAGE>`), in `slipway diff`'s
    /// syntax: `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, …
    #[arg(long, value_name = "SRC")]
    pub(crate) against: Option<String>,

    /// Compare with this image instead of rebuilding.
    #[arg(long, value_name = "SRC")]
    pub(crate) rebuilt: Option<String>,

    /// Serve sources from a mirror (a directory or URL) for the rebuild.
    #[arg(long, value_name = "DIR|URL")]
    pub(crate) mirror: Option<String>,

    /// The lock file (default: `slipway.lock` in the recipe directory, used
    /// when it exists).
    #[arg(long, value_name = "FILE")]
    pub(crate) lock_file: Option<PathBuf>,

    /// Steps of the rebuild run at the same time at most (default: the
    /// number of CPUs).
    #[arg(long, short, value_name = "N")]
    pub(crate) jobs: Option<usize>,

    /// Print the verdict as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: VerifyArgs) -> anyhow::Result<()> {
    match check(&args) {
        Ok(true) => Ok(()),
        Ok(false) => std::process::exit(1),
        Err(err) => {
            crate::diagnostics::report(&err);
            std::process::exit(2);
        }
    }
}

fn check(args: &VerifyArgs) -> anyhow::Result<bool> {
    let recipe = Recipe::load(&args.recipe)
        .with_context(|| format!("reading the recipes in `{}`", args.recipe.display()))?;
    let image = match &args.image {
        Some(image) => image.clone(),
        None => recipe
            .images
            .last()
            .map(|i| i.name.clone())
            .ok_or_else(|| anyhow::anyhow!("`{}` defines no image", args.recipe.display()))?,
    };
    let against = args
        .against
        .clone()
        .unwrap_or_else(|| format!("oci:out/{image}"));
    let stored = SourceImage::open(&against).with_context(|| format!("open `{against}`"))?;
    // Kept alive until the comparison is done.
    let scratch = tempfile::Builder::new()
        .prefix("slipway-verify-")
        .tempdir()
        .context("create a temporary directory for the rebuild")?;
    let rebuilt_src = match &args.rebuilt {
        Some(src) => src.clone(),
        None => rebuild(args, &recipe, &image, scratch.path())?,
    };
    let rebuilt =
        SourceImage::open(&rebuilt_src).with_context(|| format!("open `{rebuilt_src}`"))?;
    let verdict = verify_images(&stored, &rebuilt)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let value = match &verdict {
            Verdict::Reproducible { digest } => {
                serde_json::json!({"reproducible": true, "digest": digest})
            }
            Verdict::Differs(report) => {
                serde_json::json!({"reproducible": false, "report": report})
            }
        };
        serde_json::to_writer_pretty(&mut stdout, &value)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(verdict.render().as_bytes())?;
    }
    stdout.flush()?;
    Ok(matches!(verdict, Verdict::Reproducible { .. }))
}

/// Build `image` with an empty store under `scratch`; returns the source of
/// the rebuilt image.
fn rebuild(
    args: &VerifyArgs,
    recipe: &Recipe,
    image: &str,
    scratch: &std::path::Path,
) -> anyhow::Result<String> {
    let lock_path = args
        .lock_file
        .clone()
        .unwrap_or_else(|| args.recipe.join("slipway.lock"));
    let lock = Lock::read(&lock_path)?;
    let plan = Plan::new(recipe, &[image.to_owned()], lock.as_ref())?;
    if let Some(lock) = &lock {
        slipway_recipe::lock::check(recipe, lock, &lock_path)?;
    }
    let options = BuildOptions {
        store: scratch.join("store"),
        output: scratch.join("out"),
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        sources: SourceOptions {
            mirror: args.mirror.clone(),
            offline: false,
        },
        registry: slipway_registry::ClientOptions::default(),
    };
    eprintln!(
        "rebuilding `{image}` with an empty store in `{}`",
        scratch.display()
    );
    let report = slipway_build::build(recipe, &plan, &options, &Quiet)
        .with_context(|| format!("rebuilding `{image}`"))?;
    let path = report
        .image(image)
        .and_then(|i| i.path.clone())
        .ok_or_else(|| anyhow::anyhow!("the rebuild wrote no layout for `{image}`"))?;
    Ok(format!("oci:{}:latest", path.display()))
}
