//! `slipway run`: run a command in an image's rootfs inside the sandbox
//! (handy for debugging a recipe). Changes are thrown away.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use slipway_sandbox::image::stage_image_for;
use slipway_sandbox::{Base, Echo, Sandbox, Step};

/// Arguments of `slipway run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE`, or a layout directory.
    #[arg(value_name = "IMAGE")]
    pub(crate) image: String,
    /// The image's platform (`linux/386` runs under a 32-bit personality); default: the image's own.
    #[arg(long, value_name = "OS/ARCH")]
    pub(crate) platform: Option<String>,
    /// Share the host's network (default: none, only loopback).
    #[arg(long)]
    pub(crate) network: bool,
    /// Set an environment variable (repeatable).
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,
    /// Working directory inside the rootfs.
    #[arg(long, short = 'w', value_name = "DIR", default_value = "/")]
    pub(crate) workdir: PathBuf,
    /// Kill the command (and everything it started) after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<u64>,
    /// Content store (default: `$XDG_CACHE_HOME/slipway`, else `~/.cache/slipway`).
    #[arg(long, value_name = "DIR", env = "SLIPWAY_STORE")]
    pub(crate) store: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(value_name = "CMD", last = true, required = true)]
    pub(crate) command: Vec<String>,
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<()> {
    slipway_sandbox::interrupt::install_handlers().context("cannot install signal handlers")?;
    let store = super::store_root(args.store.as_ref());
    let platform = args
        .platform
        .as_deref()
        .map(slipway_sandbox::slipway_oci::Platform::parse)
        .transpose()?;
    let staged = stage_image_for(&args.image, &store, platform.as_ref())
        .with_context(|| format!("cannot stage `{}`", args.image))?;
    let linux32 = match &platform {
        Some(p) => p.architecture == "386",
        None => staged.is_i686(),
    };
    let mut step = Step::new("run", &args.command);
    // The image's own environment first, then --env.
    for kv in staged.local.image.config.env() {
        if let Some((k, v)) = kv.split_once('=') {
            step.env.insert(k.to_owned(), v.to_owned());
        }
    }
    for kv in &args.env {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("`--env {kv}` is not KEY=VALUE"))?;
        step.env.insert(k.to_owned(), v.to_owned());
    }
    step.workdir = args.workdir.clone();
    step.network = args.network;
    step.linux32 = linux32;
    step.timeout = args.timeout.map(Duration::from_secs);
    step.output.echo = Echo::Stdout;
    let sandbox = Sandbox::new(store.join("scratch"));
    match sandbox.run(&Base::Overlay(vec![staged.rootfs.clone()]), &step) {
        Ok(_) => Ok(()),
        // The command's own failure is not slipway's: pass its status on
        // (128 + signal number when a signal killed it, as a shell does),
        // with no error message; its output already said what went wrong.
        Err(slipway_sandbox::Error::StepFailed { code, .. }) => Err(CommandExited {
            code: u8::try_from(code).unwrap_or(u8::MAX),
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// `slipway run`'s command exited non-zero: slipway exits with the same
/// code and prints nothing more.
#[derive(Debug)]
pub(crate) struct CommandExited {
    /// The command's exit code (128 + signal number after a signal).
    pub(crate) code: u8,
}

impl std::fmt::Display for CommandExited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the command exited with code {}", self.code)
    }
}

impl std::error::Error for CommandExited {}
