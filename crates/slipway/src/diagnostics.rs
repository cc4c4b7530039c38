//! Printing errors for people: the chain once, then hints.

use std::io::Write;

/// Print `err` and its causes to stderr as `error: a: b: c`, followed by any
/// `hint:` lines that apply.
pub(crate) fn report(err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    // Skip causes already spelled out by their parent's message.
    let mut text = String::new();
    for part in &chain {
        if text.contains(part.as_str()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(part);
    }
    let _ = writeln!(stderr, "error: {text}");
    for hint in hints(err) {
        let _ = writeln!(stderr, "hint: {hint}");
    }
}

/// The `hint:` lines for `err`: each cause of the chain is looked at once,
/// by its type (the libraries keep causes as `#[source]`, not as text).
fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut hints: Vec<String> = err.chain().filter_map(hint).collect();
    hints.dedup();
    hints
}

/// The hint for one cause, if it has one.
fn hint(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<slipway_registry::Error>() {
        // The registry crate says what to do next for its own failures.
        return e.hint();
    }
    static_hint(cause).map(str::to_owned)
}

/// The hints that are fixed texts.
fn static_hint(cause: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if let Some(e) = cause.downcast_ref::<slipway_build::Error>() {
        return match e {
            slipway_build::Error::Unpinned { .. } => Some(
                "`slipway lock` pins every base and source of the recipe in `slipway.lock`; \
                 or write the pin in the recipe (`ref = \"name:tag@sha256:…\"`, `sha256 = …`)",
            ),
            slipway_build::Error::Http { .. } => Some(UNREACHABLE_SOURCE),
            slipway_build::Error::Offline { .. } => Some(
                "run once without `--offline` to fill the store, or give `--mirror DIR|URL` \
                 for sources",
            ),
            _ => None,
        };
    }
    if let Some(e) = cause.downcast_ref::<slipway_yum::Error>() {
        return matches!(e, slipway_yum::Error::Http { .. }).then_some(
            "a repository could not be fetched: check its `baseurl` and the network, or run \
             with `--offline` (the store remembers the repositories of an earlier online run)",
        );
    }
    if let Some(slipway_sandbox::Error::Spawn { source, .. }) =
        cause.downcast_ref::<slipway_sandbox::Error>()
        && source.kind() == std::io::ErrorKind::PermissionDenied
    {
        return Some(
            "the sandbox needs root or unprivileged user namespaces: run as root, or allow \
             them (`sysctl kernel.unprivileged_userns_clone=1`, \
             `sysctl user.max_user_namespaces=15000`, or the AppArmor rule of your distribution)",
        );
    }
    if let Some(slipway_recipe::Error::StaleLock { .. }) =
        cause.downcast_ref::<slipway_recipe::Error>()
    {
        return Some(
            "run `slipway lock` to bring the lock up to date, or build without `--locked`",
        );
    }
    let io = cause.downcast_ref::<std::io::Error>()?;
    if io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(libc_enospc()) {
        return Some(
            "the disk is full: free space in the store (`--store`, `SLIPWAY_STORE`), or point \
             it at a larger file system",
        );
    }
    (io.kind() == std::io::ErrorKind::PermissionDenied)
        .then_some("check the permissions of the path above, or run as a user who may write there")
}

/// A source could not be downloaded.
const UNREACHABLE_SOURCE: &str = "a source could not be downloaded: check the network, or give \
    `--mirror DIR|URL` (a directory or server holding the files by name) or `--offline` with a \
    filled store";

/// `ENOSPC` on Linux (the CLI has no libc dependency for one number).
const fn libc_enospc() -> i32 {
    28
}

#[cfg(test)]
mod tests {
    use super::hints;

    #[test]
    fn hints_are_found_by_type_anywhere_in_the_chain() {
        let unpinned = slipway_build::Error::Unpinned {
            what: "base `x` of image `y`".into(),
        };
        let err = anyhow::Error::new(unpinned).context("building");
        assert!(hints(&err)[0].contains("slipway lock"), "{:?}", hints(&err));

        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let err = anyhow::Error::new(slipway_build::Error::Io {
            path: "/store/tmp/x".into(),
            source: full,
        });
        assert!(hints(&err)[0].contains("disk is full"), "{:?}", hints(&err));

        let stale = slipway_recipe::Error::StaleLock {
            path: "slipway.lock".into(),
            reason: "the base changed".into(),
        };
        let err = anyhow::Error::new(stale);
        assert!(hints(&err)[0].contains("slipway lock"), "{:?}", hints(&err));

        let spawn = slipway_build::Error::Step {
            image: "img".into(),
            step: "pkgs".into(),
            source: slipway_sandbox::Error::Spawn {
                step: "img/pkgs".into(),
                message: "unshare: Operation not permitted".into(),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            },
        };
        let err = anyhow::Error::new(spawn);
        assert!(
            hints(&err)[0].contains("user namespaces"),
            "{:?}",
            hints(&err)
        );

        let other = anyhow::anyhow!("something else");
        assert!(hints(&other).is_empty());
    }
}
