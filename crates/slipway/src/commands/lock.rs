//! `slipway lock`.

/// Arguments of `slipway lock`.
#[derive(Debug, clap::Args)]
pub(crate) struct LockArgs {}

pub(crate) fn run(_args: LockArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway lock` is not implemented yet")
}
