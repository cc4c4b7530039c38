//! `slipway copy`.

use anyhow::Context;
use slipway_registry::{CopyOptions, ImageLocation, Platform};

use super::pull::{RegistryArgs, reporter};

/// Arguments of `slipway copy`.
#[derive(Debug, clap::Args)]
pub(crate) struct CopyArgs {
    /// Source: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE` or `docker://REF`.
    pub(crate) source: String,
    /// Destination: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME:TAG]` or `docker://REF`.
    pub(crate) dest: String,
    /// Platform to choose when the source is a multi-platform image.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub(crate) platform: Option<String>,
    /// Refuse to convert a Docker manifest for an `oci:`/`oci-archive:`
    /// destination instead of rewriting it with OCI media types (skopeo's flag).
    #[arg(long)]
    pub(crate) preserve_digests: bool,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

pub(crate) fn run(args: CopyArgs) -> anyhow::Result<()> {
    let source = ImageLocation::parse(&args.source)?;
    let dest = ImageLocation::parse(&args.dest)?;
    let digest = slipway_registry::copy_blocking(
        &args.registry.client_options()?,
        &source,
        &dest,
        &CopyOptions {
            platform: args.platform.as_deref().map(Platform::parse).transpose()?,
            reporter: reporter(),
            preserve_digests: args.preserve_digests,
        },
    )
    .with_context(|| format!("copying `{source}` to `{dest}`"))?;
    println!("{digest}");
    Ok(())
}
