//! `slipway unpack`: apply an image's layers to a directory, safely.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use slipway_oci::{ImageRef, LocalImage, UnpackOptions, UnpackReport};

/// Arguments of `slipway unpack`.
#[derive(Debug, clap::Args)]
pub(crate) struct UnpackArgs {
    /// The image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
    /// `docker-archive:FILE[:NAME:TAG]`, or a directory (an OCI layout).
    pub(crate) source: String,
    /// The directory to create (it may exist if empty). Written beside and
    /// renamed into place at the end.
    pub(crate) dir: PathBuf,
    /// Fail (and write nothing) if any entry is refused, instead of warning.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: UnpackArgs) -> anyhow::Result<()> {
    let source = ImageRef::parse_or_oci_dir(&args.source)?;
    if args.dir.exists() {
        let empty = args.dir.is_dir()
            && fs_err::read_dir(&args.dir)
                .with_context(|| format!("reading `{}`", args.dir.display()))?
                .next()
                .is_none();
        if !empty {
            bail!(
                "`{}` already exists and is not an empty directory",
                args.dir.display()
            );
        }
    }
    let image = LocalImage::open(&source).with_context(|| format!("reading `{}`", args.source))?;
    let parent = match args.dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".slipway-unpack-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a directory in `{}`", parent.display()))?;
    // The usual mode of a root directory, unless the image says otherwise (`./`).
    fs_err::set_permissions(
        temp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let report = slipway_oci::unpack(
        &image.layout,
        &image.image,
        temp.path(),
        &UnpackOptions::default(),
    )
    .with_context(|| format!("unpacking `{}` into `{}`", args.source, args.dir.display()))?;
    for refusal in &report.refused {
        eprintln!(
            "warning: layer {}: refused `{}`: {}",
            refusal.layer, refusal.path, refusal.reason
        );
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if args.strict && !report.refused.is_empty() {
        bail!(
            "{} entries were refused; nothing was written to `{}`",
            report.refused.len(),
            args.dir.display()
        );
    }
    move_into_place(temp, &args.dir)?;
    if args.json {
        println!("{}", report_json(&report));
    } else {
        eprintln!(
            "unpacked {} layers ({} entries) into `{}`{}",
            report.layers,
            report.entries,
            args.dir.display(),
            if report.refused.is_empty() {
                String::new()
            } else {
                format!("; refused {} entries", report.refused.len())
            }
        );
    }
    Ok(())
}

fn move_into_place(temp: tempfile::TempDir, dir: &Path) -> anyhow::Result<()> {
    let from = temp.path().to_owned();
    if dir.exists() {
        fs_err::remove_dir(dir)?;
    }
    fs_err::rename(&from, dir)?;
    // The directory is in place: nothing left to clean up.
    let _ = temp.keep();
    Ok(())
}

fn report_json(report: &UnpackReport) -> serde_json::Value {
    serde_json::json!({
        "layers": report.layers,
        "entries": report.entries,
        "refused": report.refused.iter().map(|r| serde_json::json!({
            "layer": r.layer, "path": r.path, "reason": r.reason,
        })).collect::<Vec<_>>(),
        "warnings": report.warnings,
    })
}
