//! `slipway copy`.

/// Arguments of `slipway copy`.
#[derive(Debug, clap::Args)]
pub(crate) struct CopyArgs {}

pub(crate) fn run(_args: CopyArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway copy` is not implemented yet")
}
