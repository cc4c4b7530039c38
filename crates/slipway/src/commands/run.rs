//! `slipway run`.

/// Arguments of `slipway run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {}

pub(crate) fn run(_args: RunArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway run` is not implemented yet")
}
