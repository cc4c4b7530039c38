//! `slipway install`.

/// Arguments of `slipway install`.
#[derive(Debug, clap::Args)]
pub(crate) struct InstallArgs {}

pub(crate) fn run(_args: InstallArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway install` is not implemented yet")
}
