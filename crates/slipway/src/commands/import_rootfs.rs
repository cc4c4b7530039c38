//! `slipway import-rootfs`.

/// Arguments of `slipway import-rootfs`.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportRootfsArgs {}

pub(crate) fn run(_args: ImportRootfsArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway import-rootfs` is not implemented yet")
}
