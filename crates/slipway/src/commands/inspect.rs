//! `slipway inspect`: an image's manifest, config and layers.

use std::io::Write;

use anyhow::Context;
use slipway_oci::{ImageRef, LocalImage};

/// Arguments of `slipway inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// The image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE[:NAME:TAG]`, or a directory (an OCI layout).
    pub(crate) source: String,
    /// Print JSON (reference, digest, platform, layers with diff ids, the
    /// manifest and the config) instead of a summary.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: InspectArgs) -> anyhow::Result<()> {
    match print(args) {
        // `slipway inspect … | head` is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn print(args: InspectArgs) -> anyhow::Result<()> {
    let source = ImageRef::parse_or_oci_dir(&args.source)?;
    let image = LocalImage::open(&source).with_context(|| format!("reading `{}`", args.source))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = slipway_oci::inspect_json(&image, &source)?;
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        out.write_all(text.as_bytes())?;
        return Ok(());
    }
    let img = &image.image;
    let config = &img.config;
    writeln!(out, "Reference:   {source}")?;
    if let Some(tag) = &image.tag {
        writeln!(out, "Tag:         {tag}")?;
    }
    writeln!(out, "Digest:      {}", img.descriptor.digest())?;
    writeln!(out, "MediaType:   {}", img.descriptor.media_type())?;
    writeln!(out, "Platform:    {}", config.platform())?;
    if let Some(created) = config.as_value().get("created").and_then(|v| v.as_str()) {
        writeln!(out, "Created:     {created}")?;
    }
    let list = |v: Option<Vec<String>>| v.map(|v| serde_json::to_string(&v).unwrap_or_default());
    if let Some(e) = list(config.entrypoint()) {
        writeln!(out, "Entrypoint:  {e}")?;
    }
    if let Some(c) = list(config.cmd()) {
        writeln!(out, "Cmd:         {c}")?;
    }
    if let Some(w) = config.working_dir().filter(|w| !w.is_empty()) {
        writeln!(out, "WorkingDir:  {w}")?;
    }
    if let Some(u) = config.user().filter(|u| !u.is_empty()) {
        writeln!(out, "User:        {u}")?;
    }
    for env in config.env() {
        writeln!(out, "Env:         {env}")?;
    }
    for (k, v) in config.labels() {
        writeln!(out, "Label:       {k}={v}")?;
    }
    let diff_ids = img.diff_ids()?;
    writeln!(out, "Layers:      {}", img.layers().len())?;
    for (layer, diff_id) in img.layers().iter().zip(&diff_ids) {
        writeln!(
            out,
            "  {}  {:>12} bytes  {}\n    diff id {diff_id}",
            layer.digest(),
            layer.size(),
            layer.media_type()
        )?;
    }
    Ok(())
}
