//! `slipway verify`: check that a recipe rebuilds to the same image.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use slipway_repro::{SourceImage, Verdict, verify_images};

/// Arguments of `slipway verify`.
///
/// Compares the stored image with a rebuild, exactly: prints
/// `reproducible: sha256:…`, or the first layer that differs and the files
/// that differ in it (content with a short text or hex hint, mode, owner,
/// mtime, xattrs, link). Exit status: 0 reproducible, 1 not, 2 error.
///
/// The rebuild itself (a fresh, empty store into a temporary layout) needs
/// the recipe build driver; until it is wired in, build a second time
/// yourself (e.g. `slipway build --store $(mktemp -d) -o /tmp/rebuild`) and
/// pass the result with `--rebuilt`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The recipe directory.
    #[arg(value_name = "RECIPE-DIR")]
    pub(crate) recipe: PathBuf,

    /// The image of the recipe to verify (default: the only one).
    #[arg(value_name = "IMAGE")]
    pub(crate) image: Option<String>,

    /// The stored image (default: `oci:out/<IMAGE>`).
    #[arg(long, value_name = "SRC")]
    pub(crate) against: Option<String>,

    /// A rebuilt image to compare with instead of rebuilding.
    #[arg(long, value_name = "SRC")]
    pub(crate) rebuilt: Option<String>,

    /// Print the verdict as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: VerifyArgs) -> anyhow::Result<()> {
    match check(&args) {
        Ok(true) => Ok(()),
        Ok(false) => std::process::exit(1),
        Err(err) => {
            crate::diagnostics::report(&err);
            std::process::exit(2);
        }
    }
}

fn check(args: &VerifyArgs) -> anyhow::Result<bool> {
    let against = match (&args.against, &args.image) {
        (Some(src), _) => src.clone(),
        (None, Some(image)) => format!("oci:out/{image}"),
        (None, None) => anyhow::bail!("name the IMAGE or the stored image with `--against`"),
    };
    let Some(rebuilt) = &args.rebuilt else {
        anyhow::bail!(
            "rebuilding `{}` from `verify` is not wired to the build driver yet; \
             build again into a fresh store and pass the result with `--rebuilt`",
            args.recipe.display()
        );
    };
    let stored = SourceImage::open(&against).with_context(|| format!("open `{against}`"))?;
    let rebuilt = SourceImage::open(rebuilt).with_context(|| format!("open `{rebuilt}`"))?;
    let verdict = verify_images(&stored, &rebuilt)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let value = match &verdict {
            Verdict::Reproducible { digest } => {
                serde_json::json!({"reproducible": true, "digest": digest})
            }
            Verdict::Differs(report) => {
                serde_json::json!({"reproducible": false, "report": report})
            }
        };
        serde_json::to_writer_pretty(&mut stdout, &value)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(verdict.render().as_bytes())?;
    }
    stdout.flush()?;
    Ok(matches!(verdict, Verdict::Reproducible { .. }))
}
