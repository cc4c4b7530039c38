//! Yum repositories for slipway: `.repo` files, repodata (XML and sqlite),
//! dependency resolution as yum does it (with resolvo), `slipway.lock`, and
//! parallel verified downloads into the content store.
//!
//! The pipeline: [`repofile::read_repo_file`] → [`source::load_repos`]
//! (fetches and verifies `repomd.xml`, `primary`, `filelists` into the
//! [`store::Store`]) → [`resolve::resolve`] (no I/O) → [`lock::Lock`] →
//! [`download::download`].
//!
//! ```
//! use slipway_yum::evr::rpmvercmp;
//! assert!(rpmvercmp("1.0~rc1", "1.0").is_lt());
//! ```
#![warn(missing_docs)]

mod error;

pub mod download;
pub mod evr;
pub mod gpg;
pub mod lock;
pub mod repodata;
pub mod repofile;
pub mod resolve;
pub mod source;
pub mod store;

pub use error::{Error, Result};
pub use lock::{Lock, LockedPackage, LockedRepo};
pub use source::Repo;
