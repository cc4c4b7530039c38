//! `slipway diff`.

/// Arguments of `slipway diff`.
#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {}

pub(crate) fn run(_args: DiffArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway diff` is not implemented yet")
}
