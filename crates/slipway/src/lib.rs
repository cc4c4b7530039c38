//! The `slipway` command line: a thin layer over the slipway crates.
//!
//! Each `commands/<verb>.rs` turns parsed arguments into one library call.
//! Errors are printed once, as a chain, followed by `hint:` lines; the exit
//! code is 1 for a failed command, 2 for a usage error (clap's) and 130 when
//! a step was interrupted (Ctrl-C or SIGTERM), except that `slipway run`
//! exits with its command's own code.
#![warn(missing_docs)]

mod cli;
mod commands;
mod diagnostics;
mod logging;
mod publish;

use clap::Parser;

/// Run the CLI with the process's arguments and return its exit code.
pub fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.verbose);
    match commands::dispatch(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            if let Some(exited) = err.downcast_ref::<commands::run::CommandExited>() {
                return std::process::ExitCode::from(exited.code);
            }
            diagnostics::report(&err);
            if interrupted(&err) {
                // As a shell reports a command ended by SIGINT.
                return std::process::ExitCode::from(130);
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// Whether a step was interrupted (Ctrl-C or SIGTERM) somewhere in the chain.
fn interrupted(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        matches!(
            e.downcast_ref::<slipway_sandbox::Error>(),
            Some(slipway_sandbox::Error::Interrupted { .. })
        )
    })
}
