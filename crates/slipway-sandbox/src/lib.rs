//! Run build steps in Linux namespaces over a staged rootfs and capture
//! their changes as OCI layers — no daemon.
//!
//! A [`Step`] runs as pid 1 of fresh mount, pid, uts, ipc and (unless it asks
//! for network) net namespaces — plus a user namespace when slipway is not
//! root — with an overlayfs whose lower directories are the layers so far and
//! whose upper directory collects the step's changes. [`capture`] turns that
//! upper directory into exactly one OCI layer.
//!
//! ```no_run
//! use slipway_sandbox::{Base, Sandbox, Step};
//!
//! let sandbox = Sandbox::new("/var/cache/slipway/scratch");
//! let step = Step::new("hello", ["/bin/sh", "-c", "echo hi > /hello"]);
//! let outcome = sandbox.run(&Base::Overlay(vec!["/tmp/rootfs".into()]), &step)?;
//! assert!(outcome.upper().join("hello").exists());
//! # Ok::<(), slipway_sandbox::Error>(())
//! ```
#![warn(missing_docs)]
// This crate is the one place allowed to use `unsafe` (fork, personality,
// signal handlers); each use carries a `// SAFETY:` comment.
#![allow(unsafe_code)]

pub mod capture;
mod child;
mod error;
pub mod image;
pub mod install;
pub mod interrupt;
pub mod mounts;
mod output;
mod sandbox;
mod scratch;
pub mod snapshot;
pub mod syscall;

pub use capture::{Transient, capture_layer};
pub use error::{Error, Result};
pub use output::{Echo, OutputOptions, TAIL_LINES};
pub use sandbox::{Base, DEFAULT_PATH, Sandbox, Step, StepOutcome};
pub use scratch::{ScratchDir, remove_tree};
pub use slipway_oci;
pub use slipway_rpm;
