//! `slipway pull`.

/// Arguments of `slipway pull`.
#[derive(Debug, clap::Args)]
pub(crate) struct PullArgs {}

pub(crate) fn run(_args: PullArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway pull` is not implemented yet")
}
