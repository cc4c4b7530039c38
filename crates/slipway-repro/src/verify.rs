//! The comparison half of `slipway verify`: a stored image against a rebuilt one.

use crate::diff::{DiffOptions, LayerStatus, Mode, Report, diff_images, render_text};
use crate::error::Result;
use crate::source::SourceImage;

/// The verdict of [`verify_images`].
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Same manifest digest.
    Reproducible {
        /// The manifest digest (or config digest for sources without a manifest).
        digest: String,
    },
    /// The images differ; the report stops after the first differing layer.
    Differs(Box<Report>),
}

impl Verdict {
    /// One or more lines for people: `reproducible: sha256:…`, or the first
    /// differing layer and its files.
    pub fn render(&self) -> String {
        match self {
            Verdict::Reproducible { digest } => format!("reproducible: {digest}\n"),
            Verdict::Differs(report) => {
                let first = report
                    .layers
                    .iter()
                    .find(|l| !matches!(l.status, LayerStatus::Same | LayerStatus::Equivalent));
                let mut s = String::from("not reproducible: ");
                match first {
                    Some(layer) => s.push_str(&format!(
                        "layer {} of {} differs first\n",
                        layer.index + 1,
                        report.layers.len()
                    )),
                    None => s.push_str("the layers agree; the manifest or config differs\n"),
                }
                s.push_str(&render_text(report));
                s
            }
        }
    }
}

/// Compare `stored` with `rebuilt` exactly; on a difference, describe the
/// first differing layer file by file.
pub fn verify_images(stored: &SourceImage, rebuilt: &SourceImage) -> Result<Verdict> {
    let same = match (&stored.manifest_digest, &rebuilt.manifest_digest) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    if same {
        return Ok(Verdict::Reproducible {
            digest: stored.manifest_digest.clone().unwrap_or_default(),
        });
    }
    let report = diff_images(
        stored,
        rebuilt,
        &DiffOptions {
            mode: Mode::Exact,
            first_layer_only: true,
            ..DiffOptions::default()
        },
    )?;
    if report.identical {
        return Ok(Verdict::Reproducible {
            digest: stored
                .manifest_digest
                .clone()
                .unwrap_or_else(|| stored.config_digest.clone()),
        });
    }
    Ok(Verdict::Differs(Box::new(report)))
}
