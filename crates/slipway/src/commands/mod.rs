//! One module per subcommand: each turns its arguments into a library call.

use crate::cli::Command;

pub(crate) mod audit_vsyscall;
pub(crate) mod build;
pub(crate) mod copy;
pub(crate) mod diff;
pub(crate) mod fetch;
pub(crate) mod import_rootfs;
pub(crate) mod inspect;
pub(crate) mod install;
pub(crate) mod lock;
pub(crate) mod pull;
pub(crate) mod push;
pub(crate) mod resolve;
pub(crate) mod run;
pub(crate) mod shell;
pub(crate) mod unpack;
pub(crate) mod verify;

/// Run one parsed subcommand.
pub(crate) fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => build::run(args),
        Command::Lock(args) => lock::run(args),
        Command::Pull(args) => pull::run(args),
        Command::Push(args) => push::run(args),
        Command::Copy(args) => copy::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Unpack(args) => unpack::run(args),
        Command::ImportRootfs(args) => import_rootfs::run(args),
        Command::Resolve(args) => resolve::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Run(args) => run::run(args),
        Command::Install(args) => install::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Diff(args) => diff::run(args),
        Command::AuditVsyscall(args) => audit_vsyscall::run(args),
        Command::Completions(args) => shell::completions(&args),
        Command::Man => shell::man(),
    }
}

/// `--store`, else the one default store rule
/// ([`slipway_build::default_store`]).
pub(crate) fn store_root(store: Option<&std::path::PathBuf>) -> std::path::PathBuf {
    store.cloned().unwrap_or_else(slipway_build::default_store)
}
