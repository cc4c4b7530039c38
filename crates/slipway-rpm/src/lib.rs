//! RPM files: headers, file lists, scriptlets, streamed cpio payloads,
//! rpmvercmp, digests and signatures.
//!
//! Built on the `rpm` crate for the lead and header structures and the
//! OpenPGP verifier; the typed header, the cpio stream, the extraction, the
//! digest checks and the version comparison are ours.
//!
//! ```no_run
//! use slipway_rpm::{Package, extract_to, verify_digests};
//!
//! # fn main() -> Result<(), slipway_rpm::Error> {
//! let pkg = Package::open("epel-release-6-8.noarch.rpm")?;
//! println!("{} has {} files", pkg.header.nevra(), pkg.header.files.len());
//! let mut payload = pkg.payload()?;
//! while let Some(entry) = payload.next_entry()? {
//!     println!("{} {:o} {}", entry.name, entry.mode, entry.size);
//! }
//! verify_digests("epel-release-6-8.noarch.rpm")?;
//! extract_to("epel-release-6-8.noarch.rpm", "/tmp/root")?;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod caps;
pub mod cpio;
mod error;
pub mod extract;
pub mod header;
pub mod package;
mod rawheader;
pub mod verify;
pub mod version;

pub use cpio::{CpioEntry, CpioReader};
pub use error::Error;
pub use extract::{ExtractSummary, extract_to};
pub use header::{Dependency, FileInfo, Header, Scriptlet, ScriptletKind, Trigger};
pub use package::{Package, open_payload, read_header};
pub use rpm;
pub use verify::{Keyring, verify_digests, verify_signature};
pub use version::{Evr, rpmvercmp};
