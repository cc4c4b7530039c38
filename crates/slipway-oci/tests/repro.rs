//! Reproducibility: the same tree gives the same bytes, whatever its mtimes,
//! creation order or location, with or without `SOURCE_DATE_EPOCH` (hermetic).

mod common;

use slipway_oci::{
    Compression, ImageConfig, LayerOptions, OciLayout, Platform, write_image, write_layer_from_dir,
};

fn build(tree: &std::path::Path, layout_dir: &std::path::Path, options: &LayerOptions) -> String {
    let layout = OciLayout::create(layout_dir).unwrap();
    let layer = write_layer_from_dir(&layout, tree, options).unwrap();
    let mut config = ImageConfig::new(
        &Platform::parse("linux/amd64").unwrap(),
        options.source_date_epoch,
    );
    config.set_env("PATH", "/usr/bin:/bin");
    config.set_label("b", "2");
    config.set_label("a", "1");
    config.append_layer(&layer.diff_id, "import", options.source_date_epoch);
    write_image(&layout, &config, &[layer.descriptor], Some("t"))
        .unwrap()
        .digest()
        .to_string()
}

#[test]
fn same_tree_elsewhere_with_other_mtimes_and_order_gives_the_same_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (
        tmp.path().join("one/rootfs"),
        tmp.path().join("two/deeper/rootfs"),
    );
    common::rich_tree(&a, false, false);
    common::rich_tree(&b, false, true);
    // Both newer than the epoch, and different from each other.
    common::set_mtimes(&a, 1_750_000_000);
    common::set_mtimes(&b, 1_760_000_000);
    for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let options = LayerOptions {
            compression,
            source_date_epoch: 1_700_000_000,
            ..LayerOptions::default()
        };
        let one = build(
            &a,
            &tmp.path().join(format!("l1-{compression:?}")),
            &options,
        );
        let two = build(
            &b,
            &tmp.path().join(format!("l2-{compression:?}")),
            &options,
        );
        assert_eq!(one, two, "{compression:?}");
    }
}

#[test]
fn without_source_date_epoch_two_runs_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    common::rich_tree(&tree, false, false);
    let options = LayerOptions::default();
    assert_eq!(
        options.source_date_epoch,
        slipway_oci::DEFAULT_SOURCE_DATE_EPOCH
    );
    let one = build(&tree, &tmp.path().join("l1"), &options);
    // The clock moves on and the tree is touched: nothing changes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    common::set_mtimes(&tree, 1_800_000_000);
    let two = build(&tree, &tmp.path().join("l2"), &options);
    assert_eq!(one, two);
}

#[test]
fn mtimes_older_than_the_epoch_are_kept_newer_ones_clamped() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    fs_err::create_dir_all(&tree).unwrap();
    fs_err::write(tree.join("old"), "x").unwrap();
    fs_err::write(tree.join("new"), "y").unwrap();
    common::run(
        std::process::Command::new("touch")
            .args(["-d", "@1000"])
            .arg(tree.join("old")),
    );
    common::run(
        std::process::Command::new("touch")
            .args(["-d", "@9000"])
            .arg(tree.join("new")),
    );
    let layout = OciLayout::create(tmp.path().join("l")).unwrap();
    let options = LayerOptions {
        compression: Compression::None,
        source_date_epoch: 5000,
        ..LayerOptions::default()
    };
    let layer = write_layer_from_dir(&layout, &tree, &options).unwrap();
    let digest = slipway_oci::Digest::try_from(layer.descriptor.digest()).unwrap();
    let data = layout.read_blob(&digest).unwrap();
    let mut archive = tar::Archive::new(&data[..]);
    let mtimes: Vec<(String, u64)> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().display().to_string(),
                e.header().mtime().unwrap(),
            )
        })
        .collect();
    assert_eq!(mtimes, [("new".to_owned(), 5000), ("old".to_owned(), 1000)]);
    let header = {
        let mut archive = tar::Archive::new(&data[..]);
        let e = archive.entries().unwrap().next().unwrap().unwrap();
        e.header().clone()
    };
    assert_eq!(header.username_bytes(), Some(&b""[..]));
    assert_eq!(header.groupname_bytes(), Some(&b""[..]));
}

#[test]
fn gzip_header_has_no_time_and_a_fixed_os() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    common::rich_tree(&tree, false, false);
    let layout = OciLayout::create(tmp.path().join("l")).unwrap();
    let layer = write_layer_from_dir(&layout, &tree, &LayerOptions::default()).unwrap();
    let digest = slipway_oci::Digest::try_from(layer.descriptor.digest()).unwrap();
    let data = layout.read_blob(&digest).unwrap();
    assert_eq!(&data[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    // The diff id is the digest of the decompressed tar.
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&data[..]), &mut tar)
        .unwrap();
    assert_eq!(slipway_oci::Digest::sha256_of(&tar), layer.diff_id);
}
