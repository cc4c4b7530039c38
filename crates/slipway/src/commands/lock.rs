//! `slipway lock`.

use std::path::PathBuf;

use anyhow::Context as _;
use slipway_recipe::build::SourceOptions;
use slipway_recipe::{Lock, Recipe};

/// Arguments of `slipway lock`.
///
/// Pins every image's registry base to a manifest digest and every source the
/// recipe leaves unpinned to its sha256, and writes `slipway.lock`.
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
}

pub(crate) fn run(args: LockArgs) -> anyhow::Result<()> {
    let recipe = Recipe::load(&args.recipes)
        .with_context(|| format!("reading the recipes in `{}`", args.recipes.display()))?;
    let path = args
        .lock_file
        .unwrap_or_else(|| args.recipes.join("slipway.lock"));
    let previous = Lock::read(&path)?;
    let lock = slipway_recipe::build::make_lock(
        &recipe,
        previous.as_ref(),
        &slipway_registry::ClientOptions::default(),
        &SourceOptions {
            mirror: args.mirror,
            offline: false,
        },
    )?;
    lock.write(&path)?;
    eprintln!("wrote `{}`", path.display());
    Ok(())
}
