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

use clap::Parser;

/// Run the CLI with the process's arguments and return its exit code.
pub fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
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

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_colour())
        .with_target(false)
        .try_init();
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (<https://no-color.org>).
fn use_colour() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}
