//! `slipway build`.

/// Arguments of `slipway build`.
#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {}

pub(crate) fn run(_args: BuildArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway build` is not implemented yet")
}
