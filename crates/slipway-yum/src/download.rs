//! Parallel, verified downloads of locked packages into the store.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::lock::LockedPackage;
use crate::store::{Store, Transport};
use crate::{Error, Result};

/// Progress callbacks; the library never prints.
pub trait Reporter: Sync {
    /// A download of `total` bytes starts.
    fn start(&self, _nevra: &str, _total: u64) {}
    /// `bytes` more arrived.
    fn progress(&self, _nevra: &str, _bytes: u64) {}
    /// A package is in the store (downloaded or reused).
    fn done(&self, _nevra: &str) {}
}

/// A reporter that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {}

/// Checks a downloaded RPM's signature (`gpgcheck=1`). Returns why it failed.
pub type SignatureCheck<'a> =
    dyn Fn(&LockedPackage, &std::path::Path) -> std::result::Result<(), String> + Sync + 'a;

/// Options of [`download`].
pub struct DownloadOptions<'a> {
    /// How many downloads run at once.
    pub jobs: usize,
    /// Signature check per package; `None` skips it.
    pub signature: Option<&'a SignatureCheck<'a>>,
}

impl std::fmt::Debug for DownloadOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

/// Download every package (a few at once) into the store, verifying each
/// against its repodata checksum while streaming; files already stored are
/// re-verified and reused. Returns the store paths in the order given.
/// The first failure is returned; a package that fails its signature check
/// is removed from the store.
pub fn download(
    packages: &[LockedPackage],
    store: &Store,
    transport: &Transport,
    options: &DownloadOptions<'_>,
    reporter: &dyn Reporter,
) -> Result<Vec<PathBuf>> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<PathBuf>>>> =
        Mutex::new((0..packages.len()).map(|_| None).collect());
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1).min(packages.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let i = {
                        let Ok(mut n) = next.lock() else { return };
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(pkg) = packages.get(i) else { return };
                    let result = fetch_one(pkg, store, transport, options, reporter);
                    if result.is_err() {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(result);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let mut paths = Vec::with_capacity(packages.len());
    let mut first_err = None;
    for r in results {
        match r {
            Some(Ok(p)) => paths.push(p),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(paths),
    }
}

fn fetch_one(
    pkg: &LockedPackage,
    store: &Store,
    transport: &Transport,
    options: &DownloadOptions<'_>,
    reporter: &dyn Reporter,
) -> Result<PathBuf> {
    let nevra = pkg.nevra();
    reporter.start(&nevra, pkg.size);
    let path = store.fetch(transport, &pkg.url, &pkg.checksum(), &nevra, &mut |n| {
        reporter.progress(&nevra, n)
    })?;
    if let Some(check) = options.signature
        && let Err(message) = check(pkg, &path)
    {
        let _ = fs_err::remove_file(&path);
        return Err(Error::Signature {
            package: nevra,
            url: pkg.url.clone(),
            message,
        });
    }
    reporter.done(&nevra);
    Ok(path)
}
