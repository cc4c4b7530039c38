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

fn hints(err: &anyhow::Error) -> Vec<String> {
    let mut hints = Vec::new();
    for cause in err.chain() {
        if let Some(hint) = cause
            .downcast_ref::<slipway_registry::Error>()
            .and_then(slipway_registry::Error::hint)
        {
            hints.push(hint);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
        {
            hints.push(
                "check the permissions of the path above, or run as a user who may write there"
                    .into(),
            );
        }
    }
    hints.dedup();
    hints
}
