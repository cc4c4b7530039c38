//! `slipway diff`: compare two images layer by layer and file by file.

use std::io::Write as _;

use slipway_repro::{DiffOptions, Mode, SourceImage, diff_images, render_text};

/// Arguments of `slipway diff`.
///
/// Compares the manifests and configs (env, entrypoint, labels, history…),
/// then the layers position by position (digest, diff id, size), then, for
/// layers that differ, every file: added, removed, or changed in content
/// (with a short unified diff for text, the first differing offset for
/// binary), type, mode, owner, mtime, xattrs or link target. Layers are
/// streamed, never unpacked.
///
/// Exact mode (the default) counts every byte that reaches the manifest
/// digest. `--semantic` ignores, like diffoci's: file mtimes, config
/// `created` and `history[].created`, the `org.opencontainers.image.created`
/// annotation, tar entry order, owner names (numeric ids still count),
/// compression (layer digests, compressed sizes, media types) and
/// `rootfs.diff_ids`.
///
/// Exit status: 0 identical, 1 different, 2 error.
#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {
    /// The first image: `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
    /// `docker-archive:FILE[:REF]` or an OCI layout directory.
    #[arg(value_name = "SRC-A")]
    pub(crate) a: String,

    /// The second image, in the same syntax.
    #[arg(value_name = "SRC-B")]
    pub(crate) b: String,

    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,

    /// Ignore timestamps, entry order, owner names and compression.
    #[arg(long)]
    pub(crate) semantic: bool,
}

pub(crate) fn run(args: DiffArgs) -> anyhow::Result<()> {
    let identical = match compare(&args) {
        Ok(identical) => identical,
        Err(err) => {
            crate::diagnostics::report(&err);
            std::process::exit(2);
        }
    };
    if identical {
        Ok(())
    } else {
        std::process::exit(1);
    }
}

fn compare(args: &DiffArgs) -> anyhow::Result<bool> {
    let a = SourceImage::open(&args.a)?;
    let b = SourceImage::open(&args.b)?;
    let options = DiffOptions {
        mode: if args.semantic {
            Mode::Semantic
        } else {
            Mode::Exact
        },
        ..DiffOptions::default()
    };
    let report = diff_images(&a, &b, &options)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(render_text(&report).as_bytes())?;
    }
    stdout.flush()?;
    Ok(report.identical)
}
