//! `diff` between images made by slipway-oci's writer and by umoci/skopeo.

mod common;

use std::process::Command;

use common::{run, scratch, write_tree, write_two_layer_image};
use slipway_repro::diff::{Change, LayerStatus};
use slipway_repro::{DiffOptions, Mode, SourceImage, diff_images, render_text};

const BASE: &[(&str, &str, u32)] = &[
    ("etc/os-release", "NAME=test\n", 0o644),
    ("usr/bin/tool", "#!/bin/sh\necho tool\n", 0o755),
];
const TOP_A: &[(&str, &str, u32)] = &[
    ("etc/app.conf", "a = 1\nb = 2\nc = 3\n", 0o644),
    ("usr/bin/run", "#!/bin/sh\nexec app\n", 0o644),
    ("usr/share/app/data", "same\n", 0o644),
];
/// Differs from TOP_A in one file's content, one file's mode and one added file.
const TOP_B: &[(&str, &str, u32)] = &[
    ("etc/app.conf", "a = 1\nb = 20\nc = 3\n", 0o644),
    ("usr/bin/run", "#!/bin/sh\nexec app\n", 0o755),
    ("usr/share/app/data", "same\n", 0o644),
    ("usr/share/app/new", "new file\n", 0o644),
];

struct Pair {
    a: String,
    b: String,
    root: std::path::PathBuf,
}

fn make_pair(name: &str) -> Pair {
    let root = scratch(name);
    let base = root.join("base");
    let top_a = root.join("top-a");
    let top_b = root.join("top-b");
    write_tree(&base, BASE);
    write_tree(&top_a, TOP_A);
    write_tree(&top_b, TOP_B);
    write_two_layer_image(&root.join("a"), &base, &top_a, "latest");
    write_two_layer_image(&root.join("b"), &base, &top_b, "latest");
    Pair {
        a: format!("oci:{}:latest", root.join("a").display()),
        b: format!("oci:{}:latest", root.join("b").display()),
        root,
    }
}

/// The three expected differences, as (path, change, fields).
fn assert_three(report: &slipway_repro::Report, semantic: bool) {
    assert!(!report.identical);
    assert_eq!(report.layers.len(), 2);
    assert!(
        matches!(
            report.layers[0].status,
            LayerStatus::Same | LayerStatus::Equivalent
        ),
        "{:?}",
        report.layers[0]
    );
    let top = &report.layers[1];
    assert_eq!(top.status, LayerStatus::Different);
    let got: Vec<(String, Change, Vec<String>)> = top
        .files
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                f.change,
                f.differences.iter().map(|d| d.field.clone()).collect(),
            )
        })
        .collect();
    let expected = vec![
        (
            "etc/app.conf".to_owned(),
            Change::Changed,
            vec!["content".to_owned()],
        ),
        (
            "usr/bin/run".to_owned(),
            Change::Changed,
            vec!["mode".to_owned()],
        ),
        ("usr/share/app/new".to_owned(), Change::Added, vec![]),
    ];
    // Already sorted by path; nothing else may show up (mtimes are clamped).
    let _ = semantic;
    assert_eq!(got, expected, "{}", render_text(report));
    let content = &top.files[0].differences[0];
    let hint = content.hint.as_deref().expect("a text hint");
    assert!(
        hint.contains("-b = 2") && hint.contains("+b = 20"),
        "{hint}"
    );
    let mode = &top.files[1].differences[0];
    assert_eq!((mode.a.as_str(), mode.b.as_str()), ("0644", "0755"));
}

#[test]
fn reports_exactly_mode_content_and_added_file() {
    let pair = make_pair("three");
    let a = SourceImage::open(&pair.a).unwrap();
    let b = SourceImage::open(&pair.b).unwrap();
    let report = diff_images(&a, &b, &DiffOptions::default()).unwrap();
    assert_three(&report, false);
    // The config differs only in the diff id of the top layer.
    let fields: Vec<&str> = report.config.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["rootfs.diff_ids"]);

    let text = render_text(&report);
    assert!(text.contains("layer 1/2: same"), "{text}");
    assert!(text.contains("~ /etc/app.conf: content"), "{text}");
    assert!(text.contains("~ /usr/bin/run: mode 0644 -> 0755"), "{text}");
    assert!(text.contains("+ /usr/share/app/new (file)"), "{text}");
    assert!(text.trim_end().ends_with("different"), "{text}");

    let json = serde_json::to_value(&report).unwrap();
    let files = json["layers"][1]["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0]["path"], "etc/app.conf");
    assert_eq!(files[0]["differences"][0]["field"], "content");
    assert_eq!(files[1]["differences"][0]["b"], "0755");
    assert_eq!(files[2]["change"], "added");
    assert_eq!(json["identical"], false);

    // Semantic mode: the same three, and nothing about config diff ids.
    let semantic = diff_images(
        &a,
        &b,
        &DiffOptions {
            mode: Mode::Semantic,
            ..DiffOptions::default()
        },
    )
    .unwrap();
    assert_three(&semantic, true);
    assert!(semantic.config.is_empty(), "{:?}", semantic.config);
}

/// Each mode says what it is; the semantic one lists what it ignored, in
/// text and in JSON.
#[test]
fn the_mode_and_what_it_ignores_are_reported() {
    let pair = make_pair("mode");
    let a = SourceImage::open(&pair.a).unwrap();
    let b = SourceImage::open(&pair.b).unwrap();
    let exact = diff_images(&a, &b, &DiffOptions::default()).unwrap();
    let text = render_text(&exact);
    assert!(text.contains("mode: exact (every byte"), "{text}");
    assert!(exact.ignored.is_empty());
    assert_eq!(serde_json::to_value(&exact).unwrap()["mode"], "exact");

    let semantic = DiffOptions {
        mode: Mode::Semantic,
        ..DiffOptions::default()
    };
    let report = diff_images(&a, &b, &semantic).unwrap();
    let text = render_text(&report);
    assert!(text.contains("mode: semantic, ignoring:"), "{text}");
    for what in [
        "file mtimes",
        "config created and history[].created",
        "tar entry order",
        "owner names",
        "compression",
        "rootfs.diff_ids",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("  - ") && l.contains(what)),
            "`{what}` not listed:\n{text}"
        );
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["mode"], "semantic");
    let ignored: Vec<&str> = json["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ignored, Mode::Semantic.ignores());
}

#[test]
fn identical_images_are_identical() {
    let pair = make_pair("same");
    let a = SourceImage::open(&pair.a).unwrap();
    let again = SourceImage::open(&pair.a).unwrap();
    let report = diff_images(&a, &again, &DiffOptions::default()).unwrap();
    assert!(report.identical);
    assert!(report.layers.iter().all(|l| l.status == LayerStatus::Same));
    // A second layout written from the same trees has the same digest.
    let copy = pair.root.join("a2");
    write_two_layer_image(
        &copy,
        &pair.root.join("base"),
        &pair.root.join("top-a"),
        "latest",
    );
    let b = SourceImage::open(&format!("oci:{}:latest", copy.display())).unwrap();
    assert!(
        diff_images(&a, &b, &DiffOptions::default())
            .unwrap()
            .identical
    );
}

#[test]
fn binary_content_gets_an_offset_hint() {
    let hint =
        slipway_repro::diff::content_hint(b"\x7fELF\x00\x01\x02", b"\x7fELF\x00\x01\x03\x04", 10);
    assert!(hint.contains("offset 0x6"), "{hint}");
    assert!(hint.contains("7 vs 8 bytes"), "{hint}");
}

#[test]
fn bad_locations_are_errors() {
    let err = SourceImage::open("docker://example.com/x").unwrap_err();
    assert!(
        err.to_string().contains("pull registry images first"),
        "{err}"
    );
    let err = SourceImage::open("oci:/nonexistent/layout").unwrap_err();
    assert!(err.to_string().contains("nonexistent"), "{err}");
}

/// Images slipway did not write: umoci builds them, skopeo turns them into
/// archives; the diff reads all three transports.
#[test]
fn umoci_and_skopeo_images() {
    let (Some(umoci), Some(skopeo)) = (
        slipway_test_support::require_tool("umoci"),
        slipway_test_support::require_tool("skopeo"),
    ) else {
        return;
    };
    let pair = make_pair("umoci");
    let layout = pair.root.join("umoci");
    run(Command::new(&umoci)
        .arg("init")
        .arg("--layout")
        .arg(&layout));
    for (tag, top) in [("a", "top-a"), ("b", "top-b")] {
        let image = format!("{}:{tag}", layout.display());
        run(Command::new(&umoci).args(["new", "--image", &image]));
        run(Command::new(&umoci)
            .args(["insert", "--image", &image])
            .arg(pair.root.join("base"))
            .arg("/"));
        run(Command::new(&umoci)
            .args(["insert", "--image", &image])
            .arg(pair.root.join(top))
            .arg("/"));
    }
    let a = format!("oci:{}:a", layout.display());
    let b = format!("oci:{}:b", layout.display());
    // umoci keeps the trees' real mtimes, so compare semantically.
    let semantic = DiffOptions {
        mode: Mode::Semantic,
        ..DiffOptions::default()
    };
    let report = diff_images(
        &SourceImage::open(&a).unwrap(),
        &SourceImage::open(&b).unwrap(),
        &semantic,
    )
    .unwrap();
    assert_three(&report, true);

    // The same image through skopeo's archives: semantically identical,
    // exactly different (docker archives hold uncompressed layers).
    let oci_archive = pair.root.join("a.oci.tar");
    let docker_archive = pair.root.join("a.docker.tar");
    run(Command::new(&skopeo)
        .args(["copy", "--quiet", &a])
        .arg(format!("oci-archive:{}:a", oci_archive.display())));
    run(Command::new(&skopeo)
        .args(["copy", "--quiet", &a])
        .arg(format!(
            "docker-archive:{}:test/a:latest",
            docker_archive.display()
        )));
    let source = SourceImage::open(&a).unwrap();
    let from_oci_archive =
        SourceImage::open(&format!("oci-archive:{}", oci_archive.display())).unwrap();
    let from_docker_archive =
        SourceImage::open(&format!("docker-archive:{}", docker_archive.display())).unwrap();
    let exact = diff_images(&source, &from_oci_archive, &DiffOptions::default()).unwrap();
    assert!(exact.identical, "{}", render_text(&exact));
    let exact = diff_images(&source, &from_docker_archive, &DiffOptions::default()).unwrap();
    assert!(!exact.identical);
    assert!(
        exact.layers.iter().all(|l| l.files.is_empty()),
        "{}",
        render_text(&exact)
    );
    let same = diff_images(&source, &from_docker_archive, &semantic).unwrap();
    assert!(same.identical, "{}", render_text(&same));
    // And the docker archive of `a` against umoci's `b`: the same three.
    let report = diff_images(
        &from_docker_archive,
        &SourceImage::open(&b).unwrap(),
        &semantic,
    )
    .unwrap();
    assert_three(&report, true);
}
