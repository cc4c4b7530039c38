//! Shared helpers of the registry integration tests: test images made by
//! `umoci` (a real peer), trees to compare, and client options for loopback.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use slipway_registry::{ClientOptions, CredentialSource, Credentials};
use slipway_test_support::require_tool;

/// Run a command, panicking with its output on failure; returns stdout.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    slipway_test_support::process::run_ok(cmd).stdout
}

/// A fresh scratch directory under `target/test-data/registry-tests/<name>`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = slipway_test_support::generated_dir("registry-tests").join(name);
    let _ = fs_err::remove_dir_all(&dir);
    fs_err::create_dir_all(&dir).unwrap();
    dir
}

/// Deterministic pseudo-random bytes (incompressible layers).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Make an image `layout:tag` with `umoci`, one layer per entry of `layers`
/// (each a list of `(path, content)`), for `linux/<arch>`. Returns the
/// rootfs tree the image should unpack to.
pub fn make_image(
    layout: &Path,
    tag: &str,
    arch: &str,
    layers: &[Vec<(&str, Vec<u8>)>],
) -> Option<BTreeMap<String, Vec<u8>>> {
    let umoci = require_tool("umoci")?;
    if !layout.join("index.json").exists() {
        run(Command::new(&umoci).args(["init", "--layout"]).arg(layout));
    }
    let image = format!("{}:{tag}", layout.display());
    run(Command::new(&umoci).args(["new", "--image", &image]));
    run(Command::new(&umoci).args([
        "config",
        "--image",
        &image,
        "--os",
        "linux",
        "--architecture",
        arch,
        "--config.env",
        "PATH=/usr/bin:/bin",
    ]));
    let mut tree = BTreeMap::new();
    for (i, files) in layers.iter().enumerate() {
        let src = layout.with_extension(format!("src-{tag}-{i}"));
        let _ = fs_err::remove_dir_all(&src);
        for (path, content) in files {
            let file = src.join(path);
            fs_err::create_dir_all(file.parent().unwrap()).unwrap();
            fs_err::write(&file, content).unwrap();
            tree.insert((*path).to_owned(), content.clone());
        }
        run(Command::new(&umoci)
            .args(["insert", "--image", &image])
            .arg(&src)
            .arg("/"));
        fs_err::remove_dir_all(&src).unwrap();
    }
    Some(tree)
}

/// Regular files under `root` (relative path → content).
pub fn files_of(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let ft = entry.file_type().unwrap();
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs_err::read(&path).unwrap());
            }
        }
    }
    out
}

/// `umoci unpack` `layout:tag` and return its rootfs files.
pub fn unpack(layout: &Path, tag: &str, into: &Path) -> Option<BTreeMap<String, Vec<u8>>> {
    let umoci = require_tool("umoci")?;
    let _ = fs_err::remove_dir_all(into);
    run(Command::new(umoci)
        .args(["unpack", "--image", &format!("{}:{tag}", layout.display())])
        .arg(into));
    Some(files_of(&into.join("rootfs")))
}

/// Client options for the loopback registry: fast retries, optional credentials.
pub fn options(creds: Option<&str>) -> ClientOptions {
    ClientOptions {
        credentials: CredentialSource {
            flag: creds.map(|c| Credentials::parse_flag(c).unwrap()),
            // Never read the machine's own auth files in tests.
            authfile: Some(PathBuf::from("/nonexistent/slipway-test-auth.json")),
        },
        retry_delay: Duration::from_millis(20),
        ..ClientOptions::default()
    }
}

/// `skopeo` arguments for our plain-HTTP loopback registry.
pub fn skopeo_tls(creds: Option<&str>, flag: &str) -> Vec<String> {
    let mut args = vec![format!("--{flag}tls-verify=false")];
    if let Some(c) = creds {
        args.push(format!("--{flag}creds={c}"));
    }
    args
}

/// The files of a small two-layer test image.
pub fn small_layers(seed: u64) -> Vec<Vec<(&'static str, Vec<u8>)>> {
    vec![
        vec![
            ("etc/os-release", b"NAME=slipway-test\n".to_vec()),
            ("usr/bin/tool", noise(200_000, seed)),
        ],
        vec![("opt/data/blob.bin", noise(50_000, seed + 1))],
    ]
}
