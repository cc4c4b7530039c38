//! The recipe format of slipway (`layers/*.toml`), its validation with
//! file:line errors, the build plan with a cache key per step, and the lock
//! format. The build driver that runs a plan is `slipway-build`.
//!
//! A recipe directory holds one TOML file per image; fragments shared between
//! images live in subdirectories and are pulled in with `include`. Loading
//! checks every name, path and hash and reports the first problem with its
//! file and line:
//!
//! ```no_run
//! use slipway_recipe::{Plan, Recipe};
//!
//! let recipe = Recipe::load(std::path::Path::new("layers"))?;
//! let plan = Plan::new(&recipe, &[], None)?;
//! for image in &plan.images {
//!     for step in &image.steps {
//!         println!("{} {} {}", image.name, step.name, step.key);
//!     }
//! }
//! # Ok::<(), slipway_recipe::Error>(())
//! ```
#![warn(missing_docs)]

mod error;
pub mod key;
mod load;
pub mod lock;
mod model;
pub mod plan;
mod raw;
mod suggest;

pub use error::{Error, Loc, Result, Suggestion};
pub use lock::Lock;
pub use model::*;
pub use plan::Plan;
