//! Records the git commit and the enabled features for `slipway --version`.
//!
//! Outside a git checkout (a source tarball, `cargo install` from a registry)
//! the commit is `unknown`. No clock is read: the date is the commit's.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let hash = git(&["rev-parse", "HEAD"]);
    let date = git(&["log", "-1", "--format=%cs"]);
    let short = match (&hash, &date) {
        (Some(h), Some(d)) => format!("{} {d}", &h[..h.len().min(9)]),
        _ => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=SLIPWAY_COMMIT_SHORT={short}");
    println!(
        "cargo:rustc-env=SLIPWAY_COMMIT_HASH={}",
        hash.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=SLIPWAY_COMMIT_DATE={}",
        date.as_deref().unwrap_or("unknown")
    );
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .map(|f| f.to_lowercase().replace('_', "-"))
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_owned()
    } else {
        features.join(", ")
    };
    println!("cargo:rustc-env=SLIPWAY_FEATURES={features}");
    println!(
        "cargo:rustc-env=SLIPWAY_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=SLIPWAY_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
    // Rebuild when HEAD moves (a commit, a checkout); only existing files, or
    // cargo would rerun this script on every build.
    let mut watched = vec![
        "HEAD".to_owned(),
        "logs/HEAD".to_owned(),
        "packed-refs".to_owned(),
    ];
    if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(head_ref);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
