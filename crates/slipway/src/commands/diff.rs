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
/// compression (layer digests, compressed sizes, media types), the
/// manifest's format (only its annotations count) and `rootfs.diff_ids`.
/// Both modes print which one ran (`mode: …`) and, semantic, what it
/// ignored; `--json` has them as `mode` and `ignored`.
///
/// Exit status: 0 identical, 1 different, 2 error.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Exit status: 0 identical, 1 different, 2 error.")]
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
    #[arg(long, long_help = semantic_help())]
    pub(crate) semantic: bool,
}

/// `--semantic`'s long help: what it ignores, from [`Mode::ignores`] (the
/// list the output repeats).
fn semantic_help() -> String {
    let mut help = String::from(
        "Compare like diffoci's --semantic; without it every byte of the manifest digest \
         counts. Ignored:",
    );
    for what in Mode::Semantic.ignores() {
        help.push_str("\n  - ");
        help.push_str(what);
    }
    help.push_str(
        "\nThe output says which mode ran and what it ignored (JSON: `mode`, `ignored`).",
    );
    help
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
