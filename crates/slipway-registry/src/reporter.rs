//! Progress reporting: the library calls a [`Reporter`]; the CLI draws bars.

/// Receives progress of blob transfers. Every method has a no-op default.
pub trait Reporter: Send + Sync {
    /// A transfer of `size` bytes starts.
    fn blob_start(&self, _digest: &str, _size: u64) {}
    /// `bytes` more bytes were transferred (may go back to 0 on a restart: see `blob_restart`).
    fn blob_progress(&self, _digest: &str, _bytes: u64) {}
    /// The transfer restarted from `offset`.
    fn blob_restart(&self, _digest: &str, _offset: u64) {}
    /// The blob is in place (`skipped`: it was already there).
    fn blob_done(&self, _digest: &str, _skipped: bool) {}
}

/// A reporter that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {}
