//! Installing RPMs into a rootfs.
//!
//! - [`bootstrap`]: a rootfs without rpm gets the payloads unpacked natively,
//!   owners mapped through its own `/etc/passwd` and `/etc/group`.
//! - [`transaction`]: a rootfs with rpm runs its own `rpm` in the sandbox, so
//!   scriptlets, triggers and the rpmdb format are that rpm's.

pub mod bootstrap;
pub mod ids;
pub mod resolve;
pub mod transaction;

pub use bootstrap::{BootstrapReport, bootstrap_install};
pub use transaction::{RpmTransaction, rootfs_has_rpm};
