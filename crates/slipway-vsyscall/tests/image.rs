//! Auditing OCI images layer by layer, against layouts written by the real
//! `umoci` (whiteouts, opaque directories and hard links included).

mod common;

use std::path::Path;
use std::process::Command;

use common::{fresh_dir, original_build, run};
use slipway_test_support::require_tool;
use slipway_vsyscall::audit;
use slipway_vsyscall::image::audit_image;

fn umoci(layout: &Path, args: &[&str]) {
    let image = format!("{}:latest", layout.display());
    let mut cmd = Command::new("umoci");
    cmd.arg(args[0]).arg("--image").arg(&image).args(&args[1..]);
    run(&mut cmd);
}

fn files_of(report: &audit::AuditReport) -> Vec<String> {
    let mut files: Vec<String> = report.findings.iter().map(|f| f.file.clone()).collect();
    files.dedup();
    files
}

#[test]
fn image_layers_are_audited_as_the_final_rootfs() {
    let Some((_, root)) = original_build("image-original") else {
        return;
    };
    let Some(_) = require_tool("umoci") else {
        return;
    };
    // A hard link to the program, so the image has one.
    fs_err::hard_link(
        root.join("usr/bin/vstime"),
        root.join("usr/bin/vstime-link"),
    )
    .expect("hard link");
    let dir = fresh_dir("image-layout");
    let layout = dir.join("image");
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci")
        .args(["new", "--image"])
        .arg(format!("{}:latest", layout.display())));
    let root_str = root.to_str().expect("utf-8");
    umoci(&layout, &["insert", root_str, "/"]);

    // One layer: the same findings as the unpacked tree, named by image path.
    let report = audit_image(&layout, Some("latest")).expect("audit image");
    let tree = audit::audit_report(&root).expect("audit tree");
    assert_eq!(report.elf_files, tree.elf_files);
    let mut from_tree: Vec<String> = tree
        .findings
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.file = f.file.replacen(root_str, "", 1);
            f.to_string()
        })
        .collect();
    from_tree.sort();
    let mut from_image: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    from_image.sort();
    assert_eq!(from_image, from_tree);
    assert_eq!(
        files_of(&report),
        vec![
            "/usr/bin/vstime",
            "/usr/bin/vstime-link",
            "/usr/lib64/libvstime.a(vstime.o)",
            "/usr/lib64/libvstime.so.1",
        ]
    );

    // A whiteout of the program: its link stays, with the same findings.
    umoci(&layout, &["insert", "--whiteout", "/usr/bin/vstime"]);
    let report = audit_image(&layout, None).expect("audit image");
    assert_eq!(
        files_of(&report),
        vec![
            "/usr/bin/vstime-link",
            "/usr/lib64/libvstime.a(vstime.o)",
            "/usr/lib64/libvstime.so.1",
        ]
    );

    // An opaque /usr/lib64 with only a clean file hides the libraries.
    let clean = dir.join("clean-lib64");
    fs_err::create_dir_all(&clean).expect("mkdir");
    fs_err::write(clean.join("README"), "nothing here\n").expect("write");
    umoci(
        &layout,
        &[
            "insert",
            "--opaque",
            clean.to_str().expect("utf-8"),
            "/usr/lib64",
        ],
    );
    let report = audit_image(&layout, Some("latest")).expect("audit image");
    assert_eq!(files_of(&report), vec!["/usr/bin/vstime-link"]);
    assert_eq!(report.findings.len(), 2, "{:#?}", report.findings);
}

#[test]
fn missing_layout_is_a_clear_error() {
    let err = audit_image(Path::new("/nonexistent/layout"), None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read OCI layout `/nonexistent/layout`"),
        "{err}"
    );
}
