//! RPM files: headers, file lists, scriptlets, streamed cpio payloads, rpmvercmp, signatures.
#![warn(missing_docs)]

pub mod version;

pub use version::{Evr, rpmvercmp};
