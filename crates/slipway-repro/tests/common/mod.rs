//! Shared helpers of the slipway-repro tests.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use slipway_oci::{
    ImageConfig, LayerOptions, OciLayout, Platform, write_image, write_layer_from_dir,
};

/// The epoch fixture images and normalisation use.
pub const EPOCH: i64 = 1_700_000_000;

/// A fresh directory under `target/test-data/repro/<name>`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = slipway_test_support::generated_dir("repro").join(name);
    let _ = fs_err::remove_dir_all(&dir);
    fs_err::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Write `files` (path, content, mode) under `root`.
pub fn write_tree(root: &Path, files: &[(&str, &str, u32)]) {
    for (path, content, mode) in files {
        let path = root.join(path);
        fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs_err::write(&path, content).expect("write file");
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
}

/// Write a two-layer image (`base`, then `top`) into a new layout `dir` under `tag`.
pub fn write_two_layer_image(dir: &Path, base: &Path, top: &Path, tag: &str) -> String {
    let layout = OciLayout::create(dir).expect("create layout");
    let options = LayerOptions {
        source_date_epoch: EPOCH,
        ..LayerOptions::default()
    };
    let platform = Platform::parse("linux/amd64").expect("platform");
    let mut config = ImageConfig::new(&platform, EPOCH);
    config.set_env("PATH", "/usr/bin:/bin");
    let mut descriptors = Vec::new();
    for (tree, created_by) in [(base, "base"), (top, "top")] {
        let layer = write_layer_from_dir(&layout, tree, &options).expect("write layer");
        config.append_layer(&layer.diff_id, created_by, EPOCH);
        descriptors.push(layer.descriptor);
    }
    let manifest = write_image(&layout, &config, &descriptors, Some(tag)).expect("write image");
    manifest.digest().to_string()
}

/// Run a command and return its stdout, panicking with its output on failure.
pub use slipway_test_support::process::run_stdout as run;
