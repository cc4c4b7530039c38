//! Finding real tools and deciding whether a missing one fails or skips.

use std::path::PathBuf;

/// True when a missing peer must fail the test: in CI (`CI=true`) or under
/// the full suite (`SLIPWAY_TEST_PEERS=1`, set by `cargo xtask test`).
pub fn must_run_peers() -> bool {
    let set = |name: &str| {
        std::env::var(name)
            .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
            .unwrap_or(false)
    };
    set("CI") || set("SLIPWAY_TEST_PEERS")
}

/// Report that something a test needs is unavailable: panics (fails the
/// test) when [`must_run_peers`], otherwise prints a loud skip message.
/// Returns so the caller can `return` early.
#[track_caller]
pub fn unavailable(what: &str) {
    if must_run_peers() {
        panic!(
            "test needs {what}, which is unavailable; in CI and under `cargo xtask test` this is a failure \
             (run `cargo xtask test` as root to install the test world)"
        );
    }
    eprintln!(
        "\n*** SKIPPED: {what} is unavailable — this test did NOT run. \
         Run `cargo xtask test` (as root) for the full suite. ***\n"
    );
}

/// Find `name` on `PATH` (or an absolute path). `None` — after a loud skip
/// message — when it is missing locally; a panic in CI.
#[track_caller]
pub fn require_tool(name: &str) -> Option<PathBuf> {
    match find_on_path(name) {
        Some(path) => Some(path),
        None => {
            unavailable(&format!("the tool `{name}`"));
            None
        }
    }
}

/// True when running as root (needed for namespaces with real uid 0,
/// overlay mounts and device nodes); otherwise reports via [`unavailable`].
#[track_caller]
pub fn require_root() -> bool {
    // SAFETY-free: geteuid via /proc to keep this crate free of unsafe code.
    let is_root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false);
    if !is_root {
        unavailable("root privileges");
    }
    is_root
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let candidate = PathBuf::from(name);
    if candidate.is_absolute() {
        return candidate.is_file().then_some(candidate);
    }
    let path = std::env::var_os("PATH")?;
    // Debian puts some tools (debootstrap, …) in sbin, which a non-login PATH may lack.
    let extra = ["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
