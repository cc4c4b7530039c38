//! Reproducibility for slipway: compare images (`slipway diff`), check that
//! a rebuild gives the same digest (`slipway verify`), and normalise what
//! build steps leave behind so that it does (rpmdb install times and free
//! pages, logs, caches, backup files).
//!
//! ```no_run
//! use slipway_repro::{DiffOptions, SourceImage, diff_images, render_text};
//!
//! # fn main() -> slipway_repro::Result<()> {
//! let a = SourceImage::open("oci:build-1:latest")?;
//! let b = SourceImage::open("oci-archive:build-2.tar")?;
//! let report = diff_images(&a, &b, &DiffOptions::default())?;
//! print!("{}", render_text(&report));
//! # Ok(()) }
//! ```
//!
//! The normaliser is a post-step hook: the build driver calls
//! [`normalize_tree`] on each step's upper directory before capturing it.
#![deny(missing_docs)]

pub mod diff;
mod error;
pub mod header;
pub mod index;
pub mod normalize;
pub mod rpmdb;
pub mod source;
pub mod verify;

pub use diff::{DiffOptions, Mode, Report, diff_images, render_text};
pub use error::{Error, Result};
pub use normalize::{NORMALIZER_VERSION, NormalizeOptions, NormalizeReport, normalize_tree};
pub use source::SourceImage;
pub use verify::{Verdict, verify_images};
