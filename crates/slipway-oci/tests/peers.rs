//! What we write, judged by real peers: skopeo, umoci and GNU tar.
//! These need the tools (and root for owners, devices and capabilities);
//! under `cargo xtask test` or `CI=true` a missing peer fails the test.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_same_tree, rich_tree, run, snapshot};
use slipway_oci::{
    Compression, Image, ImageConfig, ImageRef, LayerOptions, LocalImage, OciLayout, Platform,
    UnpackOptions, import_rootfs, write_layer_from_dir, write_layer_from_tar,
};
use slipway_test_support::{require_root, require_tool};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn import(tree: &Path, dest: &str, compression: Compression) -> String {
    let options = LayerOptions {
        compression,
        ..LayerOptions::default()
    };
    let mut config = ImageConfig::new(&Platform::parse("linux/amd64").unwrap(), 0);
    config.set_env("PATH", "/usr/bin:/bin");
    config.set_cmd(Some(vec!["/usr/bin/tool".into()]));
    import_rootfs(
        tree,
        &ImageRef::parse(dest).unwrap(),
        None,
        config,
        &options,
    )
    .unwrap()
    .digest()
    .to_string()
}

fn diff_ids(src: &str) -> Vec<String> {
    let image = LocalImage::open(&ImageRef::parse(src).unwrap()).unwrap();
    image
        .image
        .diff_ids()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn skopeo_inspect(skopeo: &Path, src: &str) -> serde_json::Value {
    serde_json::from_str(&run(Command::new(skopeo).args(["inspect", src]))).unwrap()
}

#[test]
fn skopeo_inspects_and_copies_what_we_write() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let tree = t.join("rootfs");
    rich_tree(&tree, is_root(), false);
    let ours = format!("oci:{}:t", t.join("layout").display());
    let digest = import(&tree, &ours, Compression::Gzip);
    let want_ids = diff_ids(&ours);

    let inspected = skopeo_inspect(&skopeo, &ours);
    assert_eq!(inspected["Digest"], digest.as_str());
    assert_eq!(inspected["Architecture"], "amd64");
    assert_eq!(inspected["Env"][0], "PATH=/usr/bin:/bin");

    // skopeo: oci → docker-archive → oci, same diff ids.
    let docker = format!(
        "docker-archive:{}:slipway/test:t",
        t.join("skopeo-docker.tar").display()
    );
    run(Command::new(&skopeo).args(["copy", "-q", &ours, &docker]));
    let back = format!("oci:{}:back", t.join("back").display());
    run(Command::new(&skopeo).args(["copy", "-q", &docker, &back]));
    assert_eq!(diff_ids(&back), want_ids);
    // We read skopeo's docker-archive too.
    assert_eq!(diff_ids(&docker), want_ids);

    // Our docker-archive and oci-archive, read by skopeo.
    let our_docker = format!(
        "docker-archive:{}:slipway/ours:1",
        t.join("ours-docker.tar").display()
    );
    slipway_oci::copy(
        &ImageRef::parse(&ours).unwrap(),
        &ImageRef::parse(&our_docker).unwrap(),
    )
    .unwrap();
    let inspected = skopeo_inspect(&skopeo, &our_docker);
    assert_eq!(inspected["Env"][0], "PATH=/usr/bin:/bin");
    let from_docker = format!("oci:{}:x", t.join("from-docker").display());
    run(Command::new(&skopeo).args(["copy", "-q", &our_docker, &from_docker]));
    assert_eq!(diff_ids(&from_docker), want_ids);

    let our_archive = format!("oci-archive:{}:t", t.join("ours-oci.tar").display());
    slipway_oci::copy(
        &ImageRef::parse(&ours).unwrap(),
        &ImageRef::parse(&our_archive).unwrap(),
    )
    .unwrap();
    assert_eq!(
        skopeo_inspect(&skopeo, &our_archive)["Digest"],
        digest.as_str()
    );
    let from_archive = format!("oci:{}:y", t.join("from-archive").display());
    run(Command::new(&skopeo).args(["copy", "-q", &our_archive, &from_archive]));
    assert_eq!(diff_ids(&from_archive), want_ids);

    // skopeo's oci-archive, read by us.
    let skopeo_archive = format!("oci-archive:{}:s", t.join("skopeo-oci.tar").display());
    run(Command::new(&skopeo).args(["copy", "-q", &ours, &skopeo_archive]));
    assert_eq!(diff_ids(&skopeo_archive), want_ids);

    // A zstd layer is inspected and copied as well.
    let zstd = format!("oci:{}:z", t.join("layout").display());
    import(&tree, &zstd, Compression::Zstd);
    assert_eq!(
        skopeo_inspect(&skopeo, &zstd)["Layers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let zstd_copy = format!("oci:{}:z", t.join("zstd-copy").display());
    run(Command::new(&skopeo).args(["copy", "-q", &zstd, &zstd_copy]));
    assert_eq!(diff_ids(&zstd_copy), diff_ids(&zstd));
}

#[test]
fn umoci_unpack_gives_back_the_source_tree() {
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    if !require_root() || require_tool("setcap").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    rich_tree(&tree, true, false);
    let layout = tmp.path().join("layout");
    import(
        &tree,
        &format!("oci:{}:t", layout.display()),
        Compression::Gzip,
    );
    let bundle = tmp.path().join("bundle");
    run(Command::new(&umoci)
        .args(["unpack", "--image"])
        .arg(format!("{}:t", layout.display()))
        .arg(&bundle));
    let expected = snapshot(&tree);
    assert!(
        expected["usr/bin/ping"]
            .xattrs
            .iter()
            .any(|(k, _)| k == "security.capability")
    );
    assert_eq!(expected["etc/linked"].links.len(), 2);
    assert_same_tree(&expected, &snapshot(&bundle.join("rootfs")));
}

#[test]
fn our_unpack_of_skopeo_docker_archive_gives_back_the_source_tree() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    rich_tree(&tree, is_root(), false);
    let ours = format!("oci:{}:t", tmp.path().join("layout").display());
    import(&tree, &ours, Compression::Gzip);
    let docker = format!("docker-archive:{}", tmp.path().join("d.tar").display());
    run(Command::new(&skopeo).args(["copy", "-q", &ours, &docker]));
    let image = LocalImage::open(&ImageRef::parse(&docker).unwrap()).unwrap();
    let out = tmp.path().join("out");
    let report =
        slipway_oci::unpack(&image.layout, &image.image, &out, &UnpackOptions::default()).unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    assert_same_tree(&snapshot(&tree), &snapshot(&out));
}

#[test]
fn a_tar_of_the_tree_gives_the_same_layer_as_the_tree() {
    let Some(tar) = require_tool("tar") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("rootfs");
    rich_tree(&tree, is_root(), false);
    let layout = OciLayout::create(tmp.path().join("layout")).unwrap();
    let from_dir = write_layer_from_dir(&layout, &tree, &LayerOptions::default()).unwrap();
    for flags in [&["-cf"][..], &["-czf"][..]] {
        let archive = tmp.path().join("rootfs.tar");
        run(Command::new(&tar)
            .args(["--xattrs", "--xattrs-include=*", "--format=posix", "-C"])
            .arg(&tree)
            .args(flags)
            .arg(&archive)
            .arg("."));
        let mut file = fs_err::File::open(&archive).unwrap();
        let from_tar = write_layer_from_tar(&layout, &mut file, &LayerOptions::default()).unwrap();
        assert_eq!(from_tar.diff_id, from_dir.diff_id, "tar {flags:?}");
        assert_eq!(from_tar.descriptor.digest(), from_dir.descriptor.digest());
    }
    // And the image made from it loads.
    let mut config = ImageConfig::new(&Platform::host(), 0);
    config.append_layer(&from_dir.diff_id, "x", 0);
    slipway_oci::write_image(&layout, &config, &[from_dir.descriptor], Some("t")).unwrap();
    Image::load(&layout, Some("t")).unwrap();
}
