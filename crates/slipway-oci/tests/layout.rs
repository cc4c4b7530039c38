//! The layout, blob and image API on its own (hermetic).

use std::io::Write;

use slipway_oci::oci_spec::image::MediaType;
use slipway_oci::{
    Compression, Digest, Error, Image, ImageConfig, LayerOptions, OciLayout, Platform, write_image,
    write_layer_from_dir,
};

fn tree(dir: &std::path::Path) {
    fs_err::create_dir_all(dir.join("etc")).unwrap();
    fs_err::write(dir.join("etc/hostname"), "slipway\n").unwrap();
    std::os::unix::fs::symlink("hostname", dir.join("etc/name")).unwrap();
}

#[test]
fn blobs_are_content_addressed_and_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(tmp.path().join("l")).unwrap();
    let d = layout
        .write_blob(b"hello", MediaType::Other("x".into()))
        .unwrap();
    let digest = Digest::sha256_of(b"hello");
    assert_eq!(d.digest().to_string(), digest.to_string());
    assert!(layout.has_blob(&digest));
    assert_eq!(layout.read_blob(&digest).unwrap(), b"hello");

    let mut w = layout.blob_writer().unwrap();
    w.write_all(b"not what you expect").unwrap();
    let err = w.finish_verified(&digest, 5).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::DigestMismatch { .. }));
    assert!(
        text.contains(&digest.to_string()) && text.contains("19 bytes"),
        "{text}"
    );
    // No temporary file left behind.
    let left: Vec<_> = fs_err::read_dir(tmp.path().join("l/blobs"))
        .unwrap()
        .collect();
    assert_eq!(left.len(), 1, "only blobs/sha256 remains");

    // A corrupted blob is refused when read.
    fs_err::write(layout.blob_path(&digest), b"HELLO").unwrap();
    assert!(matches!(
        layout.read_blob(&digest),
        Err(Error::DigestMismatch { .. })
    ));
}

#[test]
fn open_refuses_what_is_not_a_layout() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        OciLayout::open(tmp.path()),
        Err(Error::InvalidLayout { .. })
    ));
    fs_err::write(tmp.path().join("oci-layout"), "{").unwrap();
    assert!(matches!(
        OciLayout::open(tmp.path()),
        Err(Error::InvalidLayout { .. })
    ));
    fs_err::write(
        tmp.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    assert!(
        matches!(
            OciLayout::open(tmp.path()),
            Err(Error::InvalidLayout { .. })
        ),
        "no index.json"
    );
    fs_err::write(tmp.path().join("x"), "").unwrap();
    let other = tempfile::tempdir().unwrap();
    fs_err::write(other.path().join("x"), "").unwrap();
    assert!(matches!(
        OciLayout::create(other.path()),
        Err(Error::DestinationExists { .. })
    ));
}

#[test]
fn write_and_read_an_image_with_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    tree(&root);
    let layout = OciLayout::create(tmp.path().join("l")).unwrap();
    for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let options = LayerOptions {
            compression,
            ..LayerOptions::default()
        };
        let layer = write_layer_from_dir(&layout, &root, &options).unwrap();
        let mut config = ImageConfig::new(&Platform::parse("linux/amd64").unwrap(), 0);
        config.set_cmd(Some(vec!["/bin/sh".into()]));
        config.append_layer(&layer.diff_id, "test", 0);
        let tag = format!("{compression:?}").to_lowercase();
        let manifest = write_image(
            &layout,
            &config,
            std::slice::from_ref(&layer.descriptor),
            Some(&tag),
        )
        .unwrap();
        let image = Image::load(&layout, Some(&tag)).unwrap();
        assert_eq!(image.descriptor.digest(), manifest.digest());
        assert_eq!(image.layers(), std::slice::from_ref(&layer.descriptor));
        assert_eq!(
            image.diff_ids().unwrap(),
            std::slice::from_ref(&layer.diff_id)
        );
        assert_eq!(image.config.cmd(), Some(vec!["/bin/sh".to_owned()]));
        if compression == Compression::None {
            assert_eq!(
                layer.descriptor.digest().to_string(),
                layer.diff_id.to_string()
            );
        }
    }
    let tags: Vec<String> = layout.tags().unwrap().into_iter().map(|(t, _)| t).collect();
    assert_eq!(tags, ["gzip", "zstd", "none"]);
    assert!(matches!(
        Image::load(&layout, None),
        Err(Error::AmbiguousImage { .. })
    ));
    assert!(matches!(
        Image::load(&layout, Some("nope")),
        Err(Error::ImageNotFound { .. })
    ));
    // Re-tagging replaces.
    let gz = layout.resolve(Some("gzip")).unwrap();
    layout.add_manifest(&gz, Some("zstd")).unwrap();
    assert_eq!(layout.tags().unwrap().len(), 3);
    assert_eq!(layout.resolve(Some("zstd")).unwrap().digest(), gz.digest());
}

#[test]
fn concurrent_writers_lose_no_tag() {
    let dir = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(dir.path()).unwrap();
    let manifest = layout.write_blob(b"{}", MediaType::ImageManifest).unwrap();
    // Eight writers (each with its own handle, as separate builds would
    // have), twenty tags each, all at once.
    std::thread::scope(|scope| {
        for writer in 0..8 {
            let manifest = manifest.clone();
            let path = dir.path().to_path_buf();
            scope.spawn(move || {
                let layout = OciLayout::open(&path).unwrap();
                for n in 0..20 {
                    layout
                        .add_manifest(&manifest, Some(&format!("w{writer}-{n}")))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(layout.tags().unwrap().len(), 160);
}
