//! `slipway build`.

use std::path::PathBuf;

use anyhow::Context as _;
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
    /// `DIR/<image>`) or `oci-archive:FILE` (one archive, one tag per image).
    #[arg(
        long,
        short,
        value_name = "DIR|oci-archive:FILE",
        default_value = "out"
    )]
    pub(crate) output: String,

    /// Steps run at the same time at most (default: the number of CPUs).
    #[arg(long, short, value_name = "N")]
    pub(crate) jobs: Option<usize>,

    /// Never use the network: bases, packages and sources come from the store
    /// or from `--mirror`.
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
    let plan = Plan::new(&recipe, &args.images, lock.as_ref())?;
    if args.dry_run {
        print!("{}", plan.render(args.mirror.as_deref()));
        return Ok(());
    }
    anyhow::bail!(
        "building is not wired up yet: the driver needs the registry, yum, sandbox and OCI crates; \
         `slipway build --dry-run` shows the plan"
    )
}
