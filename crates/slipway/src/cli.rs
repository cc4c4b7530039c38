//! The clap definitions of the `slipway` command line.

use clap::{Parser, Subcommand};

use crate::commands;

/// `slipway -V`: the version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SLIPWAY_COMMIT_SHORT"),
    ")"
);

/// `slipway --version`: as `cargo --version --verbose`, with the full
/// commit, the enabled features and the target (recorded by `build.rs`).
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SLIPWAY_COMMIT_SHORT"),
    ")\ncommit-hash: ",
    env!("SLIPWAY_COMMIT_HASH"),
    "\ncommit-date: ",
    env!("SLIPWAY_COMMIT_DATE"),
    "\nfeatures: ",
    env!("SLIPWAY_FEATURES"),
    "\nhost: ",
    env!("SLIPWAY_TARGET"),
    "\nprofile: ",
    env!("SLIPWAY_PROFILE"),
);

/// Build OCI images without a daemon: pull bases, install yum packages, run
/// build steps in a sandbox, write reproducible OCI layouts and archives.
///
/// Image locations use the transports skopeo users know:
/// `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:TAG]`,
/// `docker://REGISTRY/REPO[:TAG|@DIGEST]`.
#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version = VERSION,
    long_version = LONG_VERSION,
    about,
    long_about = None,
    propagate_version = true
)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); or set SLIPWAY_LOG.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Every `slipway` subcommand.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build the images of a recipe directory (default: all images in `layers/`).
    Build(commands::build::BuildArgs),
    /// Resolve packages and base images of a recipe and write `slipway.lock`.
    Lock(commands::lock::LockArgs),
    /// Pull an image from a registry into an OCI layout or archive.
    Pull(commands::pull::PullArgs),
    /// Push an image from an OCI layout or archive to a registry.
    Push(commands::push::PushArgs),
    /// Copy an image between any two transports.
    Copy(commands::copy::CopyArgs),
    /// Show an image's manifest, config and layers.
    Inspect(commands::inspect::InspectArgs),
    /// Apply an image's layers into a directory (whiteouts handled, nothing written outside it).
    Unpack(commands::unpack::UnpackArgs),
    /// Make a one-layer image from a directory or tar file.
    ImportRootfs(commands::import_rootfs::ImportRootfsArgs),
    /// Resolve a yum transaction (install, update, erase) against repositories.
    Resolve(commands::resolve::ResolveArgs),
    /// Download the packages of a lock file into the store, verified.
    Fetch(commands::fetch::FetchArgs),
    /// Run a command in an image's rootfs inside the sandbox.
    Run(commands::run::RunArgs),
    /// Install RPM packages into an image and write it with one more layer.
    Install(commands::install::InstallArgs),
    /// Rebuild a recipe with an empty store and compare digests.
    Verify(commands::verify::VerifyArgs),
    /// Compare two images layer by layer and file by file.
    Diff(commands::diff::DiffArgs),
    /// Find ELF code that uses the vsyscall page.
    AuditVsyscall(commands::audit_vsyscall::AuditVsyscallArgs),
    /// Print a shell completion script (`source <(slipway completions bash)`).
    Completions(commands::shell::CompletionsArgs),
    /// Print the man page (roff) on stdout (`slipway man | man -l -`).
    Man,
}
