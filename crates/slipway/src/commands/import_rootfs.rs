//! `slipway import-rootfs`: a one-layer image from a directory or tar file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use slipway_oci::{Compression, ImageConfig, ImageRef, LayerOptions, Platform};

/// Arguments of `slipway import-rootfs`.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportRootfsArgs {
    /// The root filesystem: a directory, or a tar file (plain, gzip or zstd).
    pub(crate) source: PathBuf,
    /// Where to write the image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE[:NAME:TAG]`, or a directory (an OCI layout).
    pub(crate) dest: String,
    /// An environment variable of the image (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub(crate) env: Vec<String>,
    /// The entrypoint: a JSON array (`'["/bin/sh","-c"]'`) or one word per use.
    #[arg(long, value_name = "JSON|WORD", allow_hyphen_values = true)]
    pub(crate) entrypoint: Vec<String>,
    /// The default command: a JSON array or one word per use.
    #[arg(long, value_name = "JSON|WORD", allow_hyphen_values = true)]
    pub(crate) cmd: Vec<String>,
    /// A label of the image (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub(crate) label: Vec<String>,
    /// The working directory of the image's process.
    #[arg(long, value_name = "DIR")]
    pub(crate) workdir: Option<String>,
    /// The user of the image's process (`UID[:GID]` or a name).
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// The image's platform [default: the host's, e.g. linux/amd64].
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub(crate) platform: Option<String>,
    /// How to compress the layer.
    #[arg(long, default_value = "gzip", value_parser = ["gzip", "zstd", "none"])]
    pub(crate) compression: String,
    /// The tag to give the image (overrides a tag in DEST) [default: latest].
    #[arg(long)]
    pub(crate) tag: Option<String>,
    /// Timestamp for file mtimes (clamped) and the image's `created` [default: 0].
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECONDS")]
    pub(crate) source_date_epoch: Option<i64>,
}

pub(crate) fn run(args: ImportRootfsArgs) -> anyhow::Result<()> {
    let dest = ImageRef::parse_or_oci_dir(&args.dest)?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let options = LayerOptions {
        compression: args.compression.parse::<Compression>()?,
        source_date_epoch: args
            .source_date_epoch
            .unwrap_or(slipway_oci::DEFAULT_SOURCE_DATE_EPOCH),
        ..LayerOptions::default()
    };
    let mut config = ImageConfig::new(&platform, options.source_date_epoch);
    for kv in &args.env {
        let (k, v) = split_kv(kv, "--env")?;
        config.set_env(k, v);
    }
    for kv in &args.label {
        let (k, v) = split_kv(kv, "--label")?;
        config.set_label(k, v);
    }
    if !args.entrypoint.is_empty() {
        config.set_entrypoint(Some(words(&args.entrypoint, "--entrypoint")?));
    }
    if !args.cmd.is_empty() {
        config.set_cmd(Some(words(&args.cmd, "--cmd")?));
    }
    if let Some(dir) = &args.workdir {
        config.set_working_dir(dir);
    }
    if let Some(user) = &args.user {
        config.set_user(user);
    }
    let manifest =
        slipway_oci::import_rootfs(&args.source, &dest, args.tag.as_deref(), config, &options)
            .with_context(|| {
                format!("importing `{}` into `{}`", args.source.display(), args.dest)
            })?;
    println!("{}", manifest.digest());
    Ok(())
}

fn split_kv<'a>(kv: &'a str, flag: &str) -> anyhow::Result<(&'a str, &'a str)> {
    match kv.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        _ => bail!("{flag} `{kv}`: expected KEY=VALUE"),
    }
}

/// One JSON array, or the words as given.
fn words(values: &[String], flag: &str) -> anyhow::Result<Vec<String>> {
    match values {
        [one] if one.trim_start().starts_with('[') => serde_json::from_str(one)
            .with_context(|| format!("{flag} `{one}` is not a JSON array of strings")),
        _ => Ok(values.to_vec()),
    }
}
