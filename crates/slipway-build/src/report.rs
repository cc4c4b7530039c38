//! What a build tells its caller: progress events as they happen, and the
//! report of what was built.

use std::path::{Path, PathBuf};

/// Progress of a build, for the CLI to show.
pub trait Reporter: Sync {
    /// Something happened.
    fn event(&self, event: &Event<'_>);
}

/// What a [`Reporter`] hears.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An image starts.
    Image(&'a str),
    /// A base is ready (`digest` = manifest digest).
    Base {
        /// Image.
        image: &'a str,
        /// Manifest digest.
        digest: &'a str,
    },
    /// A source is in the store.
    Source(&'a str),
    /// A step's layer came from the cache.
    Cached {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
    },
    /// A step starts running.
    Running {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
    },
    /// A step ran.
    Built {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
        /// Seconds it took.
        seconds: f64,
    },
    /// A package step was resolved and its transaction recorded for the
    /// lock.
    Resolved {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
        /// Packages installed or upgraded.
        packages: usize,
        /// Packages erased.
        erased: usize,
    },
    /// A name of a package operation matched nothing and was skipped, as
    /// yum 3 does (a warning: the operation had other work).
    Skipped {
        /// Image.
        image: &'a str,
        /// Step.
        step: &'a str,
        /// The name.
        name: &'a str,
    },
    /// An image was written.
    Written {
        /// Image.
        image: &'a str,
        /// Manifest digest.
        digest: &'a str,
        /// The OCI layout.
        path: &'a Path,
    },
}

/// A reporter that ignores everything.
#[derive(Debug)]
pub struct Quiet;

impl Reporter for Quiet {
    fn event(&self, _: &Event<'_>) {}
}

/// What a build did.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// One entry per image, bases first.
    pub images: Vec<ImageReport>,
}

/// What happened to one image.
#[derive(Debug, Clone)]
pub struct ImageReport {
    /// Image name.
    pub name: String,
    /// Manifest digest.
    pub digest: String,
    /// The OCI layout, for published images.
    pub path: Option<PathBuf>,
    /// `(step, came from the cache)`, in layer order.
    pub steps: Vec<(String, bool)>,
}

impl BuildReport {
    /// The report of image `name`.
    pub fn image(&self, name: &str) -> Option<&ImageReport> {
        self.images.iter().find(|i| i.name == name)
    }
}
