//! `slipway push`.

use anyhow::Context;
use slipway_registry::{CopyOptions, ImageLocation, Reference};

use super::pull::{RegistryArgs, reporter};

/// Arguments of `slipway push`.
#[derive(Debug, clap::Args)]
pub(crate) struct PushArgs {
    /// Image to push: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]` or `docker-archive:FILE`.
    pub(crate) source: String,
    /// Where to push it: `REGISTRY/REPO[:TAG|@DIGEST]` (a `docker://` prefix is accepted).
    pub(crate) reference: String,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

pub(crate) fn run(args: PushArgs) -> anyhow::Result<()> {
    let source = ImageLocation::parse(&args.source)?;
    if matches!(source, ImageLocation::Docker(_)) {
        anyhow::bail!("`slipway push` reads local images; use `slipway copy` for `{source}`");
    }
    let text = args
        .reference
        .strip_prefix("docker://")
        .unwrap_or(&args.reference);
    let target = Reference::parse(text)?;
    let digest = slipway_registry::copy_blocking(
        &args.registry.client_options()?,
        &source,
        &ImageLocation::Docker(target.clone()),
        &CopyOptions {
            platform: None,
            reporter: reporter(),
            preserve_digests: false,
        },
    )
    .with_context(|| format!("pushing `{source}` to `{target}`"))?;
    println!("{digest}");
    Ok(())
}
