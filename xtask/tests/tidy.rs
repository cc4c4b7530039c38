//! Invariants of the workspace's source, checked as text (rust-analyzer's
//! `tidy`): no tokio under `slipway-oci`, `unsafe` only in
//! `slipway-sandbox`, `fs-err` rather than `std::fs` calls in libraries, no
//! production function over 100 lines.
//!
//! The lists of known offenders below are what remains to fix; a new
//! offender fails, and so does a listed one that is gone (shrink the list).

use std::path::{Path, PathBuf};

/// Production functions over 100 lines that predate this check:
/// `(file, function)`.
const LONG_FUNCTIONS: &[(&str, &str)] = &[
    ("crates/slipway-oci/src/import.rs", "write_layer_from_tar"),
    ("crates/slipway-recipe/src/load.rs", "finish_image"),
    ("crates/slipway-recipe/src/plan.rs", "plan_image"),
    ("crates/slipway-registry/src/push.rs", "push_blob"),
    ("crates/slipway-registry/src/transport.rs", "copy"),
    ("crates/slipway-repro/src/diff.rs", "render_text"),
    ("crates/slipway-rpm/src/extract.rs", "extract_inner"),
    ("crates/slipway-rpm/src/header.rs", "files"),
    ("crates/slipway-rpm/src/verify.rs", "verify_digests"),
    ("crates/slipway-sandbox/src/syscall.rs", "prepare_target"),
    ("crates/slipway-vsyscall/src/srpm.rs", "unpack"),
    (
        "crates/slipway-yum/src/repodata/primary.rs",
        "parse_primary",
    ),
    ("crates/slipway-yum/src/repodata/repomd.rs", "parse_repomd"),
    (
        "crates/slipway-yum/src/repodata/sqlite.rs",
        "read_primary_db",
    ),
    ("crates/slipway-yum/src/repofile.rs", "parse_repo_file"),
    ("crates/slipway-yum/src/resolve/mod.rs", "resolve"),
];

/// Library files that call `std::fs` functions and predate this check.
const STD_FS_FILES: &[&str] = &[
    "crates/slipway-sandbox/src/capture.rs",
    "crates/slipway-sandbox/src/child.rs",
    "crates/slipway-sandbox/src/image.rs",
    "crates/slipway-sandbox/src/install/bootstrap.rs",
    "crates/slipway-sandbox/src/install/ids.rs",
    "crates/slipway-sandbox/src/install/resolve.rs",
    "crates/slipway-sandbox/src/install/transaction.rs",
    "crates/slipway-sandbox/src/sandbox.rs",
    "crates/slipway-sandbox/src/scratch.rs",
    "crates/slipway-sandbox/src/snapshot.rs",
    "crates/slipway-sandbox/src/syscall.rs",
    "crates/slipway-test-support/src/fixtures.rs",
    "crates/slipway-test-support/src/tools.rs",
    "crates/slipway/src/commands/fetch.rs",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `crates/*/src`, as `(relative path, text)`.
fn library_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs_read_dir(dir) else {
            return;
        };
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = workspace();
    let mut files = Vec::new();
    for krate in fs_read_dir(&root.join("crates")).expect("crates/") {
        walk(&krate.join("src"), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).expect("read a source file");
            let rel = f.strip_prefix(&root).expect("under the workspace");
            (rel.display().to_string(), text)
        })
        .collect()
}

fn fs_read_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect()
}

/// The text before the file's `#[cfg(test)] mod …` (tests are at the end).
fn production(text: &str) -> &str {
    let mut offset = 0;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// A line without its `//` comment and string literals (roughly).
fn code(line: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if in_string => {}
            _ => out.push(c),
        }
    }
    out
}

/// `(function name, first line, lines)` of each function of `text`.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<String> = text.lines().map(code).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = fn_name(&lines[i]) else {
            i += 1;
            continue;
        };
        let (mut depth, mut opened, mut j) = (0i64, false, i);
        while j < lines.len() {
            if !opened && lines[j].trim_end().ends_with(';') && !lines[j].contains('{') {
                break;
            }
            for c in lines[j].chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                break;
            }
            j += 1;
        }
        if opened {
            out.push((name, i + 1, j - i + 1));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn fn_name(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let qualifiers = [
        "pub",
        "pub(crate)",
        "pub(super)",
        "const",
        "async",
        "unsafe",
    ];
    if !words[..at].iter().all(|w| qualifiers.contains(w)) {
        return None;
    }
    let name = words.get(at + 1)?;
    Some(name.split(['(', '<']).next().unwrap_or_default().to_owned())
}

#[test]
fn slipway_oci_does_not_depend_on_tokio() {
    let manifest = std::fs::read_to_string(workspace().join("crates/slipway-oci/Cargo.toml"))
        .expect("slipway-oci's Cargo.toml");
    let deps: Vec<&str> = manifest
        .lines()
        .filter(|l| l.trim_start().starts_with("tokio"))
        .collect();
    assert!(deps.is_empty(), "slipway-oci depends on tokio: {deps:?}");
}

#[test]
fn only_the_sandbox_uses_unsafe() {
    let mut found = Vec::new();
    for (file, text) in library_sources() {
        if file.starts_with("crates/slipway-sandbox/") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = code(line);
            let words: Vec<&str> = code.split_whitespace().collect();
            let uses = words.windows(2).any(|w| {
                w[0] == "unsafe"
                    && (w[1].starts_with('{') || ["fn", "impl", "extern"].contains(&w[1]))
            }) || code.contains("allow(unsafe_code)");
            if uses {
                found.push(format!("{file}:{}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "`unsafe` outside slipway-sandbox: {found:?}"
    );
}

#[test]
fn libraries_use_fs_err_not_std_fs() {
    let mut found = Vec::new();
    for (file, text) in library_sources() {
        let calls = production(&text).lines().any(|line| {
            let code = code(line);
            code.match_indices("std::fs::").any(|(i, m)| {
                // Types (`File`, `Metadata`, …) are fine; calls are not.
                code[i + m.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase())
            })
        });
        if calls {
            found.push(file);
        }
    }
    let new: Vec<&String> = found
        .iter()
        .filter(|f| !STD_FS_FILES.contains(&f.as_str()))
        .collect();
    assert!(new.is_empty(), "std::fs calls (use fs_err): {new:?}");
    let fixed: Vec<&&str> = STD_FS_FILES
        .iter()
        .filter(|f| !found.iter().any(|x| x == *f))
        .collect();
    assert!(fixed.is_empty(), "fixed, drop from STD_FS_FILES: {fixed:?}");
}

#[test]
fn no_production_function_is_over_100_lines() {
    let mut found = Vec::new();
    for (file, text) in library_sources() {
        for (name, line, lines) in functions(production(&text)) {
            if lines > 100 {
                found.push((file.clone(), name, line, lines));
            }
        }
    }
    let new: Vec<_> = found
        .iter()
        .filter(|(f, n, ..)| !LONG_FUNCTIONS.contains(&(f.as_str(), n.as_str())))
        .collect();
    assert!(new.is_empty(), "functions over 100 lines: {new:?}");
    let fixed: Vec<_> = LONG_FUNCTIONS
        .iter()
        .filter(|(f, n)| !found.iter().any(|(ff, nn, ..)| ff == f && nn == n))
        .collect();
    assert!(
        fixed.is_empty(),
        "now short, drop from LONG_FUNCTIONS: {fixed:?}"
    );
}
