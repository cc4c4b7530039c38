//! `slipway unpack`.

/// Arguments of `slipway unpack`.
#[derive(Debug, clap::Args)]
pub(crate) struct UnpackArgs {}

pub(crate) fn run(_args: UnpackArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway unpack` is not implemented yet")
}
