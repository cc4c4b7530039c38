//! `slipway diff` says which differences its semantic mode ignores (issue 8,
//! "Beyond": diffoci's `--semantic` ignores timestamps and ordering; ours
//! must say which of those it ignores and offer both modes).
//!
//! Two images of the same tree written with different `SOURCE_DATE_EPOCH`s
//! differ only in timestamps (file mtimes, config `created`, history) and so
//! in every digest: exact mode reports them (exit 1), semantic mode finds the
//! images identical (exit 0) and lists what it ignored; `--help` lists the
//! same.

use std::path::Path;
use std::process::Output;

use slipway_repro::Mode;

/// A one-layer image of `tree` at `dir` (tag `latest`), timestamps at `epoch`.
fn image(dir: &Path, tree: &Path, epoch: i64) -> String {
    let layout = slipway_oci::OciLayout::create(dir).expect("layout");
    let options = slipway_oci::LayerOptions {
        source_date_epoch: epoch,
        ..slipway_oci::LayerOptions::default()
    };
    let layer = slipway_oci::write_layer_from_dir(&layout, tree, &options).expect("layer");
    let platform = slipway_oci::Platform::parse("linux/amd64").expect("platform");
    let mut config = slipway_oci::ImageConfig::new(&platform, epoch);
    config.append_layer(&layer.diff_id, "a tree", epoch);
    slipway_oci::write_image(&layout, &config, &[layer.descriptor], Some("latest")).expect("image");
    format!("oci:{}:latest", dir.display())
}

fn slipway(bin: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out: Output = std::process::Command::new(bin)
        .args(args)
        .output()
        .expect("run slipway");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "$ slipway {}\n{stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), stdout)
}

/// Whitespace runs as one space (clap wraps the help).
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn semantic_diff_says_what_it_ignores() {
    let bin = slipway_e2e::slipway_bin().expect("build slipway");
    let slipway = |args: &[&str]| slipway(&bin, args);
    let work = tempfile::tempdir().expect("temp dir");
    let tree = work.path().join("tree");
    fs_err::create_dir_all(tree.join("etc")).expect("tree");
    fs_err::write(tree.join("etc/app.conf"), "a = 1\n").expect("file");
    let a = image(&work.path().join("a"), &tree, 1_000_000);
    let b = image(&work.path().join("b"), &tree, 2_000_000);

    let (code, exact) = slipway(&["diff", &a, &b]);
    assert_eq!(code, Some(1), "{exact}");
    assert!(exact.contains("mode: exact (every byte"), "{exact}");
    assert!(exact.contains("~ /etc/app.conf: mtime"), "{exact}");

    let (code, semantic) = slipway(&["diff", "--semantic", &a, &b]);
    assert_eq!(code, Some(0), "{semantic}");
    assert!(semantic.contains("mode: semantic, ignoring:"), "{semantic}");
    for what in Mode::Semantic.ignores() {
        assert!(
            semantic.contains(&format!("  - {what}\n")),
            "`{what}` not listed:\n{semantic}"
        );
    }
    assert!(semantic.trim_end().ends_with("identical"), "{semantic}");

    let (code, json) = slipway(&["diff", "--semantic", "--json", &a, &b]);
    assert_eq!(code, Some(0), "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["mode"], "semantic");
    assert_eq!(
        json["ignored"].as_array().map(Vec::len),
        Some(Mode::Semantic.ignores().len())
    );

    let (code, help) = slipway(&["diff", "--help"]);
    assert_eq!(code, Some(0));
    let help = squeeze(&help);
    for what in Mode::Semantic.ignores() {
        assert!(
            help.contains(&format!("- {what}")),
            "`diff --help` does not list {what}:\n{help}"
        );
    }
    assert!(
        help.contains("says which mode ran and what it ignored"),
        "{help}"
    );
    assert!(
        help.contains("Exit status: 0 identical, 1 different, 2 error."),
        "{help}"
    );
    let (code, help) = slipway(&["verify", "--help"]);
    assert_eq!(code, Some(0));
    assert!(
        squeeze(&help).contains("Exit status: 0 reproducible, 1 not reproducible, 2 error."),
        "{help}"
    );
}
