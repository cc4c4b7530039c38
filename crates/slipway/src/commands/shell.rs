//! `slipway completions SHELL` and `slipway man`: generated from the clap
//! definitions by clap_complete and clap_mangen, so they never drift.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Arguments of `slipway completions`.
#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    pub(crate) shell: Shell,
}

/// The shells `slipway completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Shell {
    /// bash (`source <(slipway completions bash)`).
    Bash,
    /// zsh (put the output in a file named `_slipway` on `$fpath`).
    Zsh,
    /// fish (`slipway completions fish > ~/.config/fish/completions/slipway.fish`).
    Fish,
}

/// Print the completion script for `args.shell` on stdout.
pub(crate) fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "slipway", &mut out);
    write_stdout(&out)
}

/// Print the man page (roff) on stdout.
pub(crate) fn man() -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}
