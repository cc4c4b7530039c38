//! Helpers shared by the fuzz targets: splitting one input into several
//! files, and a temporary directory that proves nothing was written beside it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Separates the parts of an input that stands for several files (a recipe
/// and its includes; a manifest and its config). `fuzz/seeds` writes the
/// same bytes between the parts of its seeds.
pub const PART: &[u8] = b"\n--8<-- slipway-fuzz part --8<--\n";

/// The parts of `data`, split at every [`PART`].
pub fn parts(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(PART.len()).position(|w| w == PART) {
        out.push(&rest[..at]);
        rest = &rest[at + PART.len()..];
    }
    out.push(rest);
    out
}

/// The names in `dir` (empty when it cannot be read).
pub fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A temporary directory holding `target/` (where the input is unpacked)
/// beside `outside/canary`; [`Confined::check`] panics when anything else
/// appeared next to `target/` or in `outside/`, or the canary changed.
#[derive(Debug)]
pub struct Confined {
    root: tempfile::TempDir,
    /// The directory the code under test may write to.
    pub target: PathBuf,
}

const CANARY: &[u8] = b"must not change\n";

impl Default for Confined {
    fn default() -> Self {
        Self::new()
    }
}

impl Confined {
    /// Create the directories.
    pub fn new() -> Confined {
        let root = tempfile::Builder::new()
            .prefix("slipway-fuzz-")
            .tempdir()
            .expect("creating a temporary directory");
        let target = root.path().join("target");
        std::fs::create_dir(&target).expect("creating target/");
        std::fs::create_dir(root.path().join("outside")).expect("creating outside/");
        std::fs::write(root.path().join("outside/canary"), CANARY).expect("writing the canary");
        Confined { root, target }
    }

    /// Panic unless everything outside `target/` is as [`Confined::new`] left it.
    pub fn check(&self) {
        let root = self.root.path();
        let expected: BTreeSet<String> = ["outside".to_owned(), "target".to_owned()].into();
        assert_eq!(
            names(root),
            expected,
            "something was created beside the target"
        );
        let outside: BTreeSet<String> = ["canary".to_owned()].into();
        assert_eq!(
            names(&root.join("outside")),
            outside,
            "something was created outside"
        );
        let meta = std::fs::symlink_metadata(root.join("outside/canary")).expect("the canary");
        assert!(meta.is_file(), "the canary was replaced");
        let canary = std::fs::read(root.join("outside/canary")).expect("reading the canary");
        assert_eq!(canary, CANARY, "the canary was written through");
        let target = std::fs::symlink_metadata(&self.target).expect("the target");
        assert!(target.is_dir(), "the target directory was replaced");
    }
}

impl Drop for Confined {
    fn drop(&mut self) {
        // Entries may be read-only directories: make them writable so the
        // temporary directory can be removed.
        let _ = make_writable(self.root.path());
    }
}

fn make_writable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            let path = entry.path();
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700));
            let _ = make_writable(&path);
        }
    }
    Ok(())
}
