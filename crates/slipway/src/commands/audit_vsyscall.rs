//! `slipway audit-vsyscall`.

/// Arguments of `slipway audit-vsyscall`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditVsyscallArgs {}

pub(crate) fn run(_args: AuditVsyscallArgs) -> anyhow::Result<()> {
    anyhow::bail!("`slipway audit-vsyscall` is not implemented yet")
}
