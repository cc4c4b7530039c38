//! `unpack`: layers applied in order with whiteouts, and hostile layers that
//! try to write outside the target (hermetic).

mod common;

use std::path::Path;

use slipway_oci::tar::{EntryKind, TarEntry, TarWriter};
use slipway_oci::{
    Compression, Image, ImageConfig, LayerOptions, LayerWriter, OciLayout, Platform, UnpackOptions,
    UnpackReport, unpack, write_image, write_layer_from_dir,
};

fn file(path: &str, data: &str) -> (TarEntry, Vec<u8>) {
    let mut e = TarEntry::new(
        path,
        EntryKind::File {
            size: data.len() as u64,
        },
    );
    e.mode = 0o644;
    (e, data.as_bytes().to_vec())
}

fn entry(path: &str, kind: EntryKind) -> (TarEntry, Vec<u8>) {
    let mut e = TarEntry::new(path, kind);
    e.mode = 0o755;
    (e, Vec::new())
}

fn symlink(path: &str, target: &str) -> (TarEntry, Vec<u8>) {
    entry(
        path,
        EntryKind::Symlink {
            target: target.into(),
        },
    )
}

/// A raw layer blob from entries (any paths, nothing normalised).
fn raw_layer(layout: &OciLayout, entries: &[(TarEntry, Vec<u8>)]) -> slipway_oci::Layer {
    let mut writer = LayerWriter::new(
        layout,
        &LayerOptions {
            compression: Compression::None,
            source_date_epoch: i64::MAX, // no clamping
            ..LayerOptions::default()
        },
    )
    .unwrap();
    for (e, data) in entries {
        writer.append(e, &mut &data[..]).unwrap();
    }
    writer.finish().unwrap()
}

fn image_of(layout: &OciLayout, layers: Vec<slipway_oci::Layer>) -> Image {
    let mut config = ImageConfig::new(&Platform::host(), 0);
    let mut descriptors = Vec::new();
    for layer in layers {
        config.append_layer(&layer.diff_id, "test", 0);
        descriptors.push(layer.descriptor);
    }
    write_image(layout, &config, &descriptors, Some("t")).unwrap();
    Image::load(layout, Some("t")).unwrap()
}

fn apply(layout: &OciLayout, image: &Image, target: &Path) -> UnpackReport {
    unpack(layout, image, target, &UnpackOptions::default()).unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    common::snapshot(dir).into_keys().collect()
}

#[test]
fn hostile_entries_are_refused_and_nothing_is_written_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs_err::create_dir_all(&outside).unwrap();
    fs_err::write(outside.join("victim"), "untouched").unwrap();
    let target = tmp.path().join("sandbox/target");
    fs_err::create_dir_all(&target).unwrap();
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let outside_abs = outside.display().to_string();

    let layer1 = raw_layer(
        &layout,
        &[
            file("../../outside/dotdot", "x"),
            file("a/../../../outside/dotdot2", "x"),
            file(&format!("{outside_abs}/absolute"), "x"),
            file("/../../outside/abs-dotdot", "x"),
            symlink("abs-link", &outside_abs),
            file("abs-link/through-abs", "x"),
            symlink("rel-link", "../../outside"),
            file("rel-link/through-rel", "x"),
            symlink("up", ".."),
            file("up/through-up", "x"),
            file(".wh...", ""),
            entry(
                "hard-out",
                EntryKind::Hardlink {
                    target: b"../../outside/victim".to_vec(),
                },
            ),
            entry(
                "hard-through",
                EntryKind::Hardlink {
                    target: b"abs-link/victim".to_vec(),
                },
            ),
            file("fine", "kept"),
        ],
    );
    // A later layer walks through the earlier symlinks, and replaces one with a directory.
    let layer2 = raw_layer(
        &layout,
        &[
            file("abs-link/later", "x"),
            file("rel-link/later", "x"),
            entry("up", EntryKind::Directory),
            file("up/now-inside", "ok"),
        ],
    );
    let image = image_of(&layout, vec![layer1, layer2]);
    let report = apply(&layout, &image, &target);

    let mut names: Vec<String> = fs_err::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["victim"],
        "something was written outside the target"
    );
    assert_eq!(
        fs_err::read_to_string(outside.join("victim")).unwrap(),
        "untouched"
    );
    let sandbox: Vec<String> = fs_err::read_dir(tmp.path().join("sandbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(sandbox, ["target"]);

    let refused: Vec<(usize, &str)> = report
        .refused
        .iter()
        .map(|r| (r.layer, r.path.as_str()))
        .collect();
    let expect_refused = [
        (0, "../../outside/dotdot"),
        (0, "a/../../../outside/dotdot2"),
        (0, "/../../outside/abs-dotdot"),
        (0, "abs-link/through-abs"),
        (0, "rel-link/through-rel"),
        (0, "up/through-up"),
        (0, ".wh..."),
        (0, "hard-out"),
        (0, "hard-through"),
        (1, "abs-link/later"),
        (1, "rel-link/later"),
    ];
    assert_eq!(refused, expect_refused, "{report:#?}");
    for r in &report.refused {
        assert!(!r.reason.is_empty());
    }
    // An absolute member name is applied beneath the target, as Docker,
    // containerd and GNU tar do.
    let beneath = format!("{}/absolute", outside_abs.trim_start_matches('/'));
    assert_eq!(fs_err::read_to_string(target.join(&beneath)).unwrap(), "x");
    let mut expect_listing = vec![
        "abs-link".to_owned(),
        "fine".to_owned(),
        "rel-link".to_owned(),
        "up".to_owned(),
        "up/now-inside".to_owned(),
    ];
    let mut prefix = String::new();
    for component in beneath.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(component);
        expect_listing.push(prefix.clone());
    }
    expect_listing.sort();
    assert_eq!(listing(&target), expect_listing, "the rest was applied");
    assert_eq!(fs_err::read_to_string(target.join("fine")).unwrap(), "kept");
}

#[test]
fn whiteouts_opaque_directories_and_type_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let bottom = raw_layer(
        &layout,
        &[
            entry("a", EntryKind::Directory),
            file("a/b", "1"),
            entry("a/c", EntryKind::Directory),
            file("a/c/d", "1"),
            file("gone", "1"),
            entry("dir-to-link", EntryKind::Directory),
            file("dir-to-link/x", "1"),
            file("file-to-dir", "1"),
            entry("real", EntryKind::Directory),
            symlink("inside-link", "real"),
        ],
    );
    // Opaque marker after a same-layer child: the child stays, the lower ones go.
    let mut top = LayerWriter::new(&layout, &LayerOptions::default()).unwrap();
    for (e, data) in [entry("a", EntryKind::Directory), file("a/new", "2")] {
        top.append(&e, &mut &data[..]).unwrap();
    }
    top.append_opaque(b"a").unwrap();
    top.append_whiteout(b"gone").unwrap();
    for (e, data) in [
        symlink("dir-to-link", "real"),
        entry("file-to-dir", EntryKind::Directory),
        file("inside-link/through", "3"),
    ] {
        top.append(&e, &mut &data[..]).unwrap();
    }
    let top = top.finish().unwrap();
    let image = image_of(&layout, vec![bottom, top]);
    let target = tmp.path().join("target");
    let report = apply(&layout, &image, &target);
    assert!(report.refused.is_empty(), "{report:#?}");
    assert_eq!(report.layers, 2);
    assert_eq!(
        listing(&target),
        [
            "a",
            "a/new",
            "dir-to-link",
            "file-to-dir",
            "inside-link",
            "real",
            "real/through"
        ]
    );
    assert!(
        fs_err::symlink_metadata(target.join("dir-to-link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(target.join("file-to-dir").is_dir());
}

#[test]
fn overlay_upper_dirs_become_whiteouts() {
    if !rustix::process::geteuid().is_root() {
        slipway_test_support::unavailable(
            "root (to make overlay whiteout devices and trusted.* xattrs)",
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let upper = tmp.path().join("upper");
    fs_err::create_dir_all(upper.join("opaque")).unwrap();
    fs_err::write(upper.join("opaque/kept"), "new").unwrap();
    common::set_xattr(&upper.join("opaque"), "trusted.overlay.opaque", b"y");
    common::run(
        std::process::Command::new("mknod")
            .arg(upper.join("deleted"))
            .args(["c", "0", "0"]),
    );
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let options = LayerOptions {
        overlay_whiteouts: true,
        compression: Compression::None,
        ..LayerOptions::default()
    };
    let layer = write_layer_from_dir(&layout, &upper, &options).unwrap();
    let digest = slipway_oci::Digest::try_from(layer.descriptor.digest()).unwrap();
    let data = layout.read_blob(&digest).unwrap();
    let mut archive = tar::Archive::new(&data[..]);
    let entries: Vec<(String, bool)> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let has_overlay_xattr = e
                .pax_extensions()
                .unwrap()
                .map(|x| {
                    x.into_iter()
                        .any(|x| x.unwrap().key().unwrap().contains("overlay"))
                })
                .unwrap_or(false);
            (e.path().unwrap().display().to_string(), has_overlay_xattr)
        })
        .collect();
    assert_eq!(
        entries,
        [
            (".wh.deleted".to_owned(), false),
            ("opaque/".to_owned(), false),
            ("opaque/.wh..wh..opq".to_owned(), false),
            ("opaque/kept".to_owned(), false),
        ]
    );
}

#[test]
fn our_unpack_gives_back_the_source_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    let root = rustix::process::geteuid().is_root();
    common::rich_tree(&tree, root, false);
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    for compression in [Compression::Gzip, Compression::Zstd] {
        let layer = write_layer_from_dir(
            &layout,
            &tree,
            &LayerOptions {
                compression,
                ..LayerOptions::default()
            },
        )
        .unwrap();
        let image = image_of(&layout, vec![layer]);
        let target = tmp.path().join(format!("out-{compression:?}"));
        let report = apply(&layout, &image, &target);
        assert!(
            report.refused.is_empty() && report.warnings.is_empty(),
            "{report:#?}"
        );
        common::assert_same_tree(&common::snapshot(&tree), &common::snapshot(&target));
    }
}

#[test]
fn a_corrupted_layer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let layer = raw_layer(&layout, &[file("f", "hello")]);
    let digest = slipway_oci::Digest::try_from(layer.descriptor.digest()).unwrap();
    let image = image_of(&layout, vec![layer]);
    let path = layout.blob_path(&digest);
    let mut data = fs_err::read(&path).unwrap();
    let at = data.windows(5).position(|w| w == b"hello").unwrap();
    data[at] = b'j';
    fs_err::write(&path, data).unwrap();
    let err = unpack(
        &layout,
        &image,
        &tmp.path().join("t"),
        &UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, slipway_oci::Error::DigestMismatch { .. }),
        "{err}"
    );
}

#[test]
fn tar_writer_is_usable_directly() {
    let mut w = TarWriter::new(Vec::new());
    let (e, d) = file("x", "y");
    w.append_data(&e, &d).unwrap();
    assert_eq!(w.finish().unwrap().len(), 512 * 4);
}

#[test]
fn directory_times_are_not_set_through_a_symlink_that_replaced_a_parent() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs_err::create_dir_all(outside.join("y")).unwrap();
    common::run(
        std::process::Command::new("touch")
            .args(["-d", "@1234567"])
            .arg(outside.join("y")),
    );
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let dir = |path: &str| {
        let mut e = TarEntry::new(path, EntryKind::Directory);
        e.mode = 0o555;
        e.mtime = 42;
        (e, Vec::new())
    };
    let layer = raw_layer(
        &layout,
        &[
            dir("x"),
            dir("x/y"),
            // The same layer then turns `x` into a symlink pointing out.
            symlink("x", &outside.display().to_string()),
        ],
    );
    let image = image_of(&layout, vec![layer]);
    let target = tmp.path().join("target");
    let report = apply(&layout, &image, &target);
    assert!(report.refused.is_empty(), "{report:#?}");
    let meta = fs_err::metadata(outside.join("y")).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::mtime(&meta),
        1234567,
        "a time was set outside"
    );
    assert_eq!(
        std::os::unix::fs::MetadataExt::mode(&meta) & 0o777,
        0o755,
        "a mode was set outside"
    );
}

#[test]
fn read_only_directories_get_their_mode_after_their_children() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let mut ro = TarEntry::new("ro", EntryKind::Directory);
    ro.mode = 0o555;
    ro.mtime = 42;
    let layer = raw_layer(&layout, &[(ro, Vec::new()), file("ro/inside", "x")]);
    let image = image_of(&layout, vec![layer]);
    let target = tmp.path().join("target");
    let report = apply(&layout, &image, &target);
    assert!(report.refused.is_empty(), "{report:#?}");
    let meta = fs_err::metadata(target.join("ro")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::mode(&meta) & 0o7777, 0o555);
    assert_eq!(std::os::unix::fs::MetadataExt::mtime(&meta), 42);
    assert_eq!(
        fs_err::read_to_string(target.join("ro/inside")).unwrap(),
        "x"
    );
}
