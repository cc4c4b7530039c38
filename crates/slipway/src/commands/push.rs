//! `slipway push`.

/// Arguments of `slipway push`.
#[derive(Debug, clap::Args)]
pub(crate) struct PushArgs {}

pub(crate) fn run(_args: PushArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway push` is not implemented yet")
}
