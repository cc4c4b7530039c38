//! `slipway lock`.

use std::path::PathBuf;

use anyhow::Context as _;
use slipway_build::{BuildOptions, SourceOptions};
use slipway_recipe::{Lock, Recipe};

use super::build::Progress;

/// Arguments of `slipway lock`.
///
/// Pins every image's registry base to a manifest digest, every source the
/// recipe leaves unpinned to its sha256, and every package step to the
/// packages it resolves to (NEVRA, sha256, URL, erasures), and writes
/// `slipway.lock`. Resolving a package step runs the steps it runs over in
/// the sandbox (or takes them from the step cache), so it needs root or user
/// namespaces; steps after the last package step of an image do not run.
/// Entries whose step still asks for the same packages are kept unless
/// `--update` names them.
#[derive(Debug, clap::Args)]
pub(crate) struct LockArgs {
    /// The recipe directory.
    #[arg(long, value_name = "DIR", default_value = "layers")]
    pub(crate) recipes: PathBuf,

    /// The lock file to write (default: `slipway.lock` in the recipe directory).
    #[arg(long, value_name = "FILE")]
    pub(crate) lock_file: Option<PathBuf>,

    /// Hash sources from a mirror (directory or URL) instead of their URLs.
    #[arg(long, value_name = "DIR|URL")]
    pub(crate) mirror: Option<String>,

    /// Resolve the package steps again instead of keeping their pins: all of
    /// them when given alone, else those of each `IMAGE` or the one
    /// `IMAGE/STEP`.
    #[arg(long, value_name = "IMAGE[/STEP]", num_args = 0..)]
    pub(crate) update: Option<Vec<String>>,

    /// Pin only bases and sources; keep the package entries as they are
    /// (dropping those of changed steps) and resolve nothing.
    #[arg(long)]
    pub(crate) no_packages: bool,

    /// Use no network for what slipway fetches: sources come from the store
    /// or `--mirror`, package steps read the repositories' metadata and
    /// packages the store remembers from an earlier online run (steps that
    /// declare `network` still get it).
    #[arg(long)]
    pub(crate) offline: bool,

    /// Steps run at the same time at most (default: the number of CPUs).
    #[arg(long, short, value_name = "N")]
    pub(crate) jobs: Option<usize>,

    /// The store of blobs, step results and sources (default:
    /// `$XDG_CACHE_HOME/slipway`, else `~/.cache/slipway`); a following `slipway build` with the same
    /// store takes the steps run here from it.
    #[arg(long, value_name = "DIR", env = "SLIPWAY_STORE")]
    pub(crate) store: Option<PathBuf>,
}

pub(crate) fn run(args: LockArgs) -> anyhow::Result<()> {
    let recipe = Recipe::load(&args.recipes)
        .with_context(|| format!("reading the recipes in `{}`", args.recipes.display()))?;
    let path = args
        .lock_file
        .clone()
        .unwrap_or_else(|| args.recipes.join("slipway.lock"));
    let mut previous = Lock::read(&path)?;
    if let (Some(selectors), Some(previous)) = (&args.update, &mut previous) {
        previous.forget_steps(&recipe, selectors)?;
    }
    let sources = SourceOptions {
        mirror: args.mirror.clone(),
        offline: args.offline,
    };
    let mut lock = slipway_build::make_lock(
        &recipe,
        previous.as_ref(),
        &slipway_registry::ClientOptions::default(),
        &sources,
    )?;
    if !args.no_packages {
        let options = BuildOptions {
            store: super::store_root(args.store.as_ref()),
            // Nothing is written there: lock builds no image.
            output: PathBuf::from("out"),
            jobs: args
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
            sources,
            registry: slipway_registry::ClientOptions::default(),
        };
        slipway_build::lock_packages(&recipe, &[], &mut lock, &options, &Progress)
            .map_err(|e| super::build::sandbox_hint(e, Some("slipway lock --no-packages")))
            .context("resolving the package steps")?;
    }
    if args.no_packages {
        let plan = slipway_recipe::Plan::new(&recipe, &[], Some(&lock))?;
        let unlocked: Vec<String> = plan
            .unlocked_package_steps()
            .iter()
            .map(|(i, s)| format!("{i}/{s}"))
            .collect();
        if !unlocked.is_empty() {
            eprintln!(
                "not locked (--no-packages): {}; `slipway build` records them, `--locked` refuses them",
                unlocked.join(", ")
            );
        }
    }
    lock.write(&path)?;
    eprintln!("wrote `{}`", path.display());
    Ok(())
}
