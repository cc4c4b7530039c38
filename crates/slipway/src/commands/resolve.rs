//! `slipway resolve`.

/// Arguments of `slipway resolve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ResolveArgs {}

pub(crate) fn run(_args: ResolveArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway resolve` is not implemented yet")
}
