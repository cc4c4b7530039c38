//! The slipway build driver: runs the plan of a recipe (`slipway-recipe`)
//! and writes its images.
//!
//! Pull the pinned registry bases (slipway-registry, unpacked by
//! slipway-oci), fetch the sources (sha256-checked, `asc`-verified, from
//! upstream or a mirror), run the steps in the sandbox (slipway-sandbox;
//! independent steps in parallel, cached steps reused), capture each step's
//! upper directory as a layer, and write one OCI layout per published image.
//! [`lock_packages`] drives the same machinery in rounds to resolve the
//! package steps for `slipway.lock`.
//!
//! Modules by job: [`driver`](crate::build) runs the DAG of steps; `base`
//! pulls and stages bases; `sources` fetches; `store` is the
//! content-addressed store; `steps` runs one step (script, packages,
//! srpm-patch) and captures it; `assemble` writes images; `lock_rounds`
//! resolves package steps for the lock; `key` derives the keys known only
//! at run time.
//!
//! ```no_run
//! use slipway_build::{BuildOptions, Quiet, SourceOptions, build, default_store};
//! use slipway_recipe::{Plan, Recipe};
//!
//! let recipe = Recipe::load(std::path::Path::new("layers"))?;
//! let plan = Plan::new(&recipe, &[], None)?;
//! let options = BuildOptions {
//!     store: default_store(),
//!     output: "out".into(),
//!     jobs: 4,
//!     sources: SourceOptions::default(),
//!     registry: Default::default(),
//! };
//! let report = build(&recipe, &plan, &options, &Quiet)?;
//! for image in &report.images {
//!     println!("{} {}", image.name, image.digest);
//! }
//! # Ok::<(), slipway_build::Error>(())
//! ```
#![warn(missing_docs)]

mod assemble;
mod base;
mod driver;
mod error;
mod from_image;
mod key;
mod lock_rounds;
mod report;
mod sources;
mod steps;
mod store;

pub use driver::{BuildOptions, build};
pub use error::{Error, Result};
pub use lock_rounds::{drop_stale_entries, lock_packages, make_lock};
pub use report::{BuildReport, Event, ImageReport, Quiet, Reporter};
pub use sources::SourceOptions;
pub use store::default_store;
