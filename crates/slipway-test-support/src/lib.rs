//! Test harness shared by every slipway test that needs a real peer.
//!
//! It installs nothing. It finds real tools on `PATH`, starts real servers on
//! free loopback ports and stops them on drop. When something a test needs is
//! missing, the test must **fail** in CI (`CI=true`) or under the full suite
//! (`SLIPWAY_TEST_PEERS=1`, set by `cargo xtask test`), and may only skip —
//! loudly — in a plain local `cargo test`.
//!
//! ```no_run
//! use slipway_test_support::require_tool;
//!
//! #[test]
//! fn skopeo_reads_our_layout() {
//!     let Some(skopeo) = require_tool("skopeo") else { return };
//!     // ... run `skopeo inspect` ...
//! # let _ = skopeo;
//! }
//! ```
#![warn(missing_docs)]

pub mod bench;
pub mod builder;
pub mod fixtures;
pub mod http;
pub mod process;
pub mod registry;
pub mod tools;

pub use process::{ChildGuard, free_port, wait_for_port};
pub use tools::{must_run_peers, require_root, require_tool, unavailable};

use std::path::{Path, PathBuf};

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .expect("crates/slipway-test-support has a grandparent")
        .to_path_buf()
}

/// `../shared` beside the workspace: the design docs, seed and real-world inputs.
pub fn shared_dir() -> PathBuf {
    workspace_root().join("../shared")
}

/// `../shared/real-world/rpms`: RPMs built by other people.
pub fn real_world_rpms() -> PathBuf {
    shared_dir().join("real-world/rpms")
}

/// `fixtures/` in the workspace: sources of test data.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("fixtures")
}

/// A directory under `target/test-data/<name>` for generated test data that
/// outlives one test run (built RPMs, repos, builder images). Created if absent.
pub fn generated_dir(name: &str) -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("test-data")
        .join(name);
    fs_err::create_dir_all(&dir).expect("create target/test-data directory");
    dir
}
