//! `slipway verify`.

/// Arguments of `slipway verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {}

pub(crate) fn run(_args: VerifyArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway verify` is not implemented yet")
}
