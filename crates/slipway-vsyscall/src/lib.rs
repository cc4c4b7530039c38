//! Rebuild glibc without vsyscall use, and prove an image no longer uses it.
//!
//! Two jobs, one crate (DESIGN.md):
//!
//! * **Patch and rebuild a source RPM** — [`spec::add_patches`] edits a spec
//!   (next free `PatchN:`, a matching `%patchN <flags>` at the end of `%prep`,
//!   release bump); [`srpm::unpack`] unpacks a source RPM natively into an
//!   rpmbuild topdir; [`srpm::patch_srpm`] does both and writes the patches
//!   into `SOURCES/` ([`srpm::patch_unpacked`] after [`rebuild::check_prep`]
//!   when the original `%prep` is to be checked first); [`rebuild::rebuild`]
//!   runs `rpmbuild -ba` through a [`rebuild::BuildRunner`] —
//!   [`rebuild::HostRunner`] or [`sandbox::SandboxRunner`] (slipway-sandbox
//!   over the builder's layers) — and [`rebuild::create_repo`] indexes the
//!   binary RPMs with `createrepo_c`.
//! * **Audit ELF files** — [`audit::audit`] walks a file or directory tree
//!   (ELF executables, shared objects, relocatable objects, members of `.a`
//!   archives), decodes executable sections with iced-x86 and reports each
//!   instruction that materialises or calls an address in the vsyscall page
//!   (`0xffffffffff600000`–`0xffffffffff600fff`), plus 8-byte pointers into
//!   that page in data sections. RPM files are audited through their
//!   payload, and [`image::audit_image`] audits an OCI image's layers
//!   without unpacking them.
//!
//! ```no_run
//! use slipway_vsyscall::{audit, rebuild, spec::SpecPatch, srpm};
//! # fn main() -> Result<(), slipway_vsyscall::Error> {
//! let patches = [srpm::PatchFile::new("remove-vsyscall.patch", "/src/remove-vsyscall.patch", "-E -p3")];
//! let patched = srpm::patch_srpm("glibc-2.12-1.209.el6.src.rpm".as_ref(), &patches, "/tmp/topdir".as_ref())?;
//! println!("release {} -> {}", patched.edit.old_release, patched.edit.new_release);
//! let rpms = rebuild::rebuild(&rebuild::HostRunner::default(), &patched, &rebuild::RebuildOptions::default())?;
//! rebuild::create_repo(&rpms.binary_rpms, "/tmp/repo".as_ref())?;
//! let findings = audit::audit("/tmp/rootfs".as_ref())?;
//! assert!(findings.is_empty());
//! # let _ = SpecPatch::new("x", "-p1");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod error;

pub mod audit;
pub mod image;
pub mod rebuild;
pub mod sandbox;
pub mod spec;
pub mod srpm;

pub use error::Error;
