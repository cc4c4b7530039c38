//! `slipway build`.

use std::path::PathBuf;

use anyhow::Context as _;
use slipway_recipe::build::{BuildOptions, Event, Reporter, SourceOptions};
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

    /// The store of blobs, step results and sources (default:
    /// `$XDG_CACHE_HOME/slipway`).
    #[arg(long, value_name = "DIR", env = "SLIPWAY_STORE")]
    pub(crate) store: Option<PathBuf>,
}

/// Progress on stderr, one line per event.
struct Progress;

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
    let plan = Plan::new(&recipe, &args.images, lock.as_ref())?;
    if args.dry_run {
        print!("{}", plan.render(args.mirror.as_deref()));
        return Ok(());
    }
    if let (true, Some(lock)) = (args.locked, &lock) {
        slipway_recipe::lock::check(&recipe, lock, &lock_path)?;
    }
    let Some(output) = args
        .output
        .strip_prefix("oci-archive:")
        .map_or(Some(PathBuf::from(&args.output)), |_| None)
    else {
        anyhow::bail!("`--output oci-archive:…` is not supported yet; give a directory");
    };
    let options = BuildOptions {
        store: args
            .store
            .unwrap_or_else(slipway_recipe::build::default_store),
        output,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        sources: SourceOptions {
            mirror: args.mirror,
            offline: args.offline,
        },
        registry: slipway_registry::ClientOptions::default(),
    };
    let report = slipway_recipe::build::build(&recipe, &plan, &options, &Progress)?;
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
    Ok(())
}
