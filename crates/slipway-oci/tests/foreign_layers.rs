//! Layers other tools write, read by the one layer reader and unpacked:
//! `umoci insert … /` (a `/` member, absolute names, no final padding),
//! GNU tar `-C dir -czf … .` (`./` names) and `tar -P` (absolute names).
//! The tests needing a peer fail under `CI=true` when it is missing.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use common::{assert_same_tree, rich_tree, run, snapshot};
use slipway_oci::oci_spec::image::MediaType;
use slipway_oci::tar::{EntryKind, TarEntry, TarWriter};
use slipway_oci::{
    EntryClass, Error, ImageConfig, ImageRef, LocalImage, OciLayout, Platform, UnpackOptions,
    read_layer, unpack, write_image,
};
use slipway_test_support::require_tool;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Every entry's class and normalised path, and the digests.
fn read_all(blob: &[u8]) -> Result<(Vec<(String, EntryClass)>, slipway_oci::LayerDigests), Error> {
    let mut seen = Vec::new();
    let digests = read_layer(&mut &blob[..], "test layer", |e| -> Result<(), Error> {
        assert!(e.invalid.is_none(), "{e:?}");
        let mut data = Vec::new();
        e.read_to_end(&mut data)?;
        seen.push((
            String::from_utf8_lossy(&e.entry.path).into_owned(),
            e.class.clone(),
        ));
        Ok(())
    })?;
    Ok((seen, digests))
}

/// An image in `layout` holding one layer `blob` (as written by a peer).
fn image_of_blob(layout: &OciLayout, blob: &[u8]) -> slipway_oci::Image {
    let (_, digests) = read_all(blob).unwrap();
    let descriptor = layout.write_blob(blob, MediaType::ImageLayerGzip).unwrap();
    let mut config = ImageConfig::new(&Platform::host(), 0);
    config.append_layer(&digests.diff_id, "peer", 0);
    write_image(layout, &config, &[descriptor], Some("t")).unwrap();
    slipway_oci::Image::load(layout, Some("t")).unwrap()
}

fn unpack_clean(layout: &OciLayout, image: &slipway_oci::Image, out: &Path) {
    let report = unpack(layout, image, out, &UnpackOptions::default()).unwrap();
    assert!(report.refused.is_empty(), "{report:#?}");
}

#[test]
fn an_image_made_by_umoci_insert_unpacks_completely() {
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    rich_tree(&tree, is_root(), false);
    // Walked last, and not a multiple of 512 bytes: umoci leaves out its padding.
    fs_err::write(tree.join("zz-last"), "abc").unwrap();
    let layout = tmp.path().join("layout");
    run(Command::new(&umoci).args(["init", "--layout"]).arg(&layout));
    let image = format!("{}:t", layout.display());
    run(Command::new(&umoci).args(["new", "--image", &image]));
    run(Command::new(&umoci)
        .args(["insert", "--image", &image])
        .arg(&tree)
        .arg("/"));

    let local = LocalImage::open(&ImageRef::parse(&format!("oci:{image}")).unwrap()).unwrap();
    let blob = local
        .layout
        .read_blob(&local.image.layers()[0].digest().try_into().unwrap())
        .unwrap();
    let (entries, digests) = read_all(&blob).unwrap();
    assert_eq!(entries[0], (String::new(), EntryClass::Plain), "`/` first");
    assert!(
        digests.truncated,
        "umoci 0.4.7 leaves out the final padding"
    );

    // The same code the build stages its base with.
    let out = tmp.path().join("out");
    unpack_clean(&local.layout, &local.image, &out);
    assert_same_tree(&snapshot(&tree), &snapshot(&out));
}

#[test]
fn gnu_tar_layers_with_dot_slash_and_absolute_names_unpack() {
    let Some(tar) = require_tool("tar") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    rich_tree(&tree, is_root(), false);
    let tree_text = tree.display().to_string();
    let archive = tmp.path().join("layer.tar.gz");
    let cases: [(&str, Vec<String>); 2] = [
        ("./", vec!["-C".into(), tree_text.clone(), "-czf".into()]),
        (
            "/",
            vec![
                "-P".into(),
                format!("--transform=s,^{tree_text},,"),
                "-czf".into(),
            ],
        ),
    ];
    for (prefix, flags) in cases {
        let last = if prefix == "./" { "." } else { &tree_text };
        run(Command::new(&tar)
            .args(["--xattrs", "--xattrs-include=*", "--format=posix"])
            .args(&flags)
            .arg(&archive)
            .arg(last));
        let listing = run(Command::new(&tar).args(["-P", "-tzf"]).arg(&archive));
        assert!(
            listing.lines().all(|l| l.starts_with(prefix)),
            "{prefix}: {listing}"
        );
        let blob = fs_err::read(&archive).unwrap();
        let dir = tmp.path().join(format!("case-{}", prefix.len()));
        let layout = OciLayout::create(dir.join("layout")).unwrap();
        let image = image_of_blob(&layout, &blob);
        let out = dir.join("out");
        unpack_clean(&layout, &image, &out);
        assert_same_tree(&snapshot(&tree), &snapshot(&out));
    }
}

/// A tar with `entries`, as our writer makes it (padding and end blocks included).
fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = TarWriter::new(Vec::new());
    for (path, data) in entries {
        let mut e = TarEntry::new(
            *path,
            EntryKind::File {
                size: data.len() as u64,
            },
        );
        e.mode = 0o644;
        tar.append_data(&e, data).unwrap();
    }
    tar.finish().unwrap()
}

#[test]
fn a_tar_without_final_padding_is_read_when_its_data_is_complete() {
    let full = tar_of(&[("/a", b"first"), ("/dir/b", b"abc")]);
    // Header, 512 bytes of data, header, 3 bytes of data: what umoci leaves.
    let complete_data = 512 * 3 + 3;
    for cut in [full.len(), 512 * 4, complete_data] {
        let (entries, digests) = read_all(&full[..cut]).unwrap();
        let paths: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["a", "dir/b"], "cut at {cut}");
        assert_eq!(digests.truncated, cut == complete_data, "cut at {cut}");
        assert_eq!(digests.tar_size, cut as u64);
    }
    // Cut inside the last member's data: an error, not a short file.
    let err = read_all(&full[..complete_data - 1]).unwrap_err();
    assert!(
        err.to_string().contains("ends inside a member's data"),
        "{err}"
    );
    // A cut inside a header is an error too.
    assert!(read_all(&full[..1024 + 100]).is_err());
}

#[test]
fn whiteouts_are_classified_with_their_targets() {
    let blob = tar_of(&[("./etc/.wh.passwd", b""), ("/var/.wh..wh..opq", b"")]);
    let (entries, _) = read_all(&blob).unwrap();
    assert_eq!(
        entries,
        [
            (
                "etc/.wh.passwd".to_owned(),
                EntryClass::Whiteout {
                    target: b"etc/passwd".to_vec()
                }
            ),
            (
                "var/.wh..wh..opq".to_owned(),
                EntryClass::Opaque {
                    dir: b"var".to_vec()
                }
            ),
        ]
    );
}
