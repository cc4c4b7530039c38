//! `slipway inspect`.

/// Arguments of `slipway inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {}

pub(crate) fn run(_args: InspectArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway inspect` is not implemented yet")
}
