//! `slipway fetch`.

/// Arguments of `slipway fetch`.
#[derive(Debug, clap::Args)]
pub(crate) struct FetchArgs {}

pub(crate) fn run(_args: FetchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway fetch` is not implemented yet")
}
