//! Seeds of the layer, image and archive targets.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use slipway_oci::oci_spec::image::Descriptor;
use slipway_oci::tar::{EntryKind, TarEntry, TarWriter};
use slipway_oci::{
    Compression, Digest, ImageConfig, ImageRef, LayerOptions, LocalImage, OciLayout, Platform,
    write_image, write_image_to, write_layer_from_dir,
};

use crate::{Seeds, have, joined, run};

/// Layer targets: every layer seed goes to both.
const LAYER_TARGETS: &[&str] = &["layer_unpack", "layer_index"];

pub(crate) fn write(seeds: &Seeds, scratch: &Path) -> Result<()> {
    let tree = scratch.join("tree");
    make_tree(&tree)?;
    let layout = slipway_image(seeds, scratch, &tree).context("slipway's layers")?;
    hostile_layers(seeds)?;
    if have("tar") {
        gnu_tar_layers(seeds, scratch, &tree).context("GNU tar layers")?;
    }
    if have("umoci") {
        umoci_image(seeds, scratch, &tree).context("umoci's layers")?;
    }
    if have("skopeo") {
        skopeo_archives(seeds, scratch, &layout).context("skopeo's archives")?;
    }
    index_seeds(seeds)
}

/// A small rootfs: files, a directory, a relative symlink, a hard link and
/// a path too long for a USTAR header.
fn make_tree(root: &Path) -> Result<()> {
    let long = "a-directory-name-long-enough-that-the-path-needs-a-pax-header".repeat(2);
    fs_err::create_dir_all(root.join("etc"))?;
    fs_err::create_dir_all(root.join("usr/bin"))?;
    fs_err::create_dir_all(root.join(&long))?;
    fs_err::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    fs_err::write(root.join("usr/bin/x"), b"\x7fELF\x02\x01\x01\0not really")?;
    fs_err::write(root.join(&long).join("file"), "deep\n")?;
    std::os::unix::fs::symlink("../etc/passwd", root.join("usr/passwd-link"))?;
    fs_err::hard_link(root.join("etc/passwd"), root.join("etc/passwd-hard"))?;
    Ok(())
}

/// Layers of every compression, an image, and its oci- and docker-archive.
fn slipway_image(seeds: &Seeds, scratch: &Path, tree: &Path) -> Result<OciLayout> {
    let layout = OciLayout::create(scratch.join("slipway-layout"))?;
    let mut layers = Vec::new();
    let mut config = ImageConfig::new(&Platform::parse("linux/amd64")?, 0);
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let options = LayerOptions {
            compression,
            ..LayerOptions::default()
        };
        let layer = write_layer_from_dir(&layout, tree, &options)?;
        let blob = layout.read_blob(&Digest::try_from(layer.descriptor.digest())?)?;
        for target in LAYER_TARGETS {
            seeds.add(target, &format!("slipway-{compression:?}.tar"), &blob)?;
        }
        // docker-archives cannot hold zstd layers (skopeo refuses them).
        if compression != Compression::Zstd {
            config.append_layer(&layer.diff_id, "fuzz seed", 0);
            layers.push(layer.descriptor);
        }
    }
    config.set_env("PATH", "/usr/bin:/bin");
    config.set_label("org.example", "seed");
    let manifest = write_image(&layout, &config, &layers, Some("latest"))?;
    image_seeds(seeds, "slipway", &layout, &manifest)?;
    let image = LocalImage::open(&ImageRef::parse(&format!(
        "oci:{}:latest",
        layout.path().display()
    ))?)?;
    for transport in ["oci-archive", "docker-archive"] {
        let path = scratch.join(format!("slipway-{transport}.tar"));
        write_image_to(
            &image,
            &ImageRef::parse(&format!("{transport}:{}", path.display()))?,
        )?;
        seeds.add_file(&["oci_archive"], &format!("slipway-{transport}.tar"), &path)?;
    }
    Ok(layout)
}

/// The manifest and config of an image as seeds of `oci_image` (with the
/// placeholders it replaces) and `registry_manifest`.
fn image_seeds(seeds: &Seeds, name: &str, layout: &OciLayout, manifest: &Descriptor) -> Result<()> {
    let manifest_bytes = layout.read_blob(&Digest::try_from(manifest.digest())?)?;
    let doc: serde_json::Value = serde_json::from_slice(&manifest_bytes)?;
    let config_digest = doc["config"]["digest"]
        .as_str()
        .context("no config digest")?;
    let config = layout.read_blob(&config_digest.parse::<Digest>()?)?;
    let text = String::from_utf8(manifest_bytes.clone())?.replace(config_digest, "@CONFIG@");
    seeds.add(
        "oci_image",
        &format!("{name}-manifest"),
        &joined(&[text.as_bytes()]),
    )?;
    // The manifest given twice: as the top document and as the manifest part.
    let with_config = joined(&[text.as_bytes(), text.as_bytes(), &config]);
    seeds.add(
        "oci_image",
        &format!("{name}-manifest-config"),
        &with_config,
    )?;
    seeds.add(
        "registry_manifest",
        &format!("{name}-manifest"),
        &manifest_bytes,
    )?;
    Ok(())
}

/// Indexes: multi-platform, with the manifest part behind `@MANIFEST@`.
fn index_seeds(seeds: &Seeds) -> Result<()> {
    let entry = |os: &str, arch: &str, variant: Option<&str>| {
        let mut platform = serde_json::json!({"os": os, "architecture": arch});
        if let Some(v) = variant {
            platform["variant"] = v.into();
        }
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "@MANIFEST@", "size": 100, "platform": platform,
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry("linux", "amd64", None), entry("linux", "arm64", Some("v8")),
                      entry("linux", "386", None), entry("unknown", "unknown", None)],
    });
    let index = serde_json::to_vec_pretty(&index)?;
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"@CONFIG@","size":2},"layers":[]}"#;
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    seeds.add("oci_image", "index", &joined(&[&index, manifest, config]))?;
    let list = String::from_utf8(index.clone())?
        .replace(
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .replace("@MANIFEST@", &format!("sha256:{}", "ab".repeat(32)));
    seeds.add("registry_manifest", "index", &index)?;
    seeds.add("registry_manifest", "docker-list", list.as_bytes())?;
    seeds.add("registry_manifest", "platform", b"linux/arm64/v8")?;
    Ok(())
}

/// Layers that try to leave the directory they are unpacked in.
fn hostile_layers(seeds: &Seeds) -> Result<()> {
    let file = |path: &str, data: &str| {
        (
            TarEntry::new(
                path,
                EntryKind::File {
                    size: data.len() as u64,
                },
            ),
            data.to_owned(),
        )
    };
    let link = |path: &str, target: &str| {
        (
            TarEntry::new(
                path,
                EntryKind::Symlink {
                    target: target.into(),
                },
            ),
            String::new(),
        )
    };
    let hard = |path: &str, target: &str| {
        (
            TarEntry::new(
                path,
                EntryKind::Hardlink {
                    target: target.into(),
                },
            ),
            String::new(),
        )
    };
    let dir = |path: &str| (TarEntry::new(path, EntryKind::Directory), String::new());
    let cases: Vec<(&str, Vec<(TarEntry, String)>)> = vec![
        (
            "dotdot",
            vec![
                file("../outside/new", "x"),
                file("a/../../outside/canary", "x"),
            ],
        ),
        (
            "absolute",
            vec![file("/outside/new", "x"), dir("/tmp/slipway-fuzz-abs")],
        ),
        (
            "symlink-escape",
            vec![
                link("esc", "../outside"),
                file("esc/new", "x"),
                file("esc/canary", "x"),
            ],
        ),
        (
            "symlink-absolute",
            vec![link("root", "/"), file("root/tmp/slipway-fuzz-abs", "x")],
        ),
        (
            "symlink-chain",
            vec![link("a", "b"), link("b", "../outside"), file("a/new", "x")],
        ),
        (
            "hardlink-out",
            vec![hard("h", "../outside/canary"), file("h", "overwritten")],
        ),
        (
            "hardlink-through-symlink",
            vec![
                link("esc", "../outside"),
                hard("h", "esc/canary"),
                file("h", "x"),
            ],
        ),
        (
            "whiteouts",
            vec![
                file(".wh...", ""),
                file("a/.wh...", ""),
                file(".wh..wh..opq", ""),
                file("x/.wh.y", ""),
            ],
        ),
        (
            "dir-replaced-by-symlink",
            vec![
                dir("d"),
                file("d/f", "x"),
                link("d", "../outside"),
                file("d/new", "x"),
            ],
        ),
        (
            "file-then-dir",
            vec![
                file("p", "x"),
                dir("p"),
                file("p/q", "y"),
                link("p/q", "../../outside/canary"),
            ],
        ),
    ];
    for (name, entries) in cases {
        let mut tar = TarWriter::new(Vec::new());
        for (entry, data) in &entries {
            tar.append_data(entry, data.as_bytes())?;
        }
        let bytes = tar.finish()?;
        for target in LAYER_TARGETS {
            seeds.add(target, &format!("hostile-{name}.tar"), &bytes)?;
        }
    }
    Ok(())
}

/// The tree as GNU tar writes it, in each of its formats, and gzipped.
fn gnu_tar_layers(seeds: &Seeds, scratch: &Path, tree: &Path) -> Result<()> {
    for (name, args) in [
        ("gnu", &["--format=gnu", "-cf"][..]),
        ("pax", &["--format=pax", "--xattrs", "-cf"][..]),
        ("oldgnu-gz", &["--format=oldgnu", "-czf"][..]),
    ] {
        let out = scratch.join(format!("gnu-{name}.tar"));
        run(Command::new("tar")
            .args(args)
            .arg(&out)
            .arg("-C")
            .arg(tree)
            .arg("."))?;
        for target in LAYER_TARGETS {
            seeds.add_file(&[target], &format!("gnu-tar-{name}.tar"), &out)?;
        }
    }
    Ok(())
}

/// An image made with `umoci new`, `unpack` and `repack`: its layer,
/// manifest and config.
fn umoci_image(seeds: &Seeds, scratch: &Path, tree: &Path) -> Result<()> {
    let layout = scratch.join("umoci-layout");
    let bundle = scratch.join("umoci-bundle");
    let image = format!("{}:t", layout.display());
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout))?;
    run(Command::new("umoci").args(["new", "--image", &image]))?;
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image", &image])
        .arg(&bundle))?;
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", tree.display()))
        .arg(bundle.join("rootfs")))?;
    run(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle))?;
    let layout = OciLayout::open(&layout)?;
    let manifest = layout.resolve(Some("t"))?;
    image_seeds(seeds, "umoci", &layout, &manifest)?;
    let image = slipway_oci::Image::from_descriptor(&layout, manifest, &Platform::host())?;
    for (n, layer) in image.layers().iter().enumerate() {
        let blob = layout.read_blob(&Digest::try_from(layer.digest())?)?;
        for target in LAYER_TARGETS {
            seeds.add(target, &format!("umoci-{n}.tar.gz"), &blob)?;
        }
    }
    Ok(())
}

/// The slipway image copied by skopeo to a docker-archive and an oci-archive.
fn skopeo_archives(seeds: &Seeds, scratch: &Path, layout: &OciLayout) -> Result<()> {
    let src = format!("oci:{}:latest", layout.path().display());
    for (name, dst) in [
        (
            "docker-archive",
            format!(
                "docker-archive:{}/skopeo-d.tar:fuzz/seed:latest",
                scratch.display()
            ),
        ),
        (
            "oci-archive",
            format!("oci-archive:{}/skopeo-o.tar:latest", scratch.display()),
        ),
    ] {
        run(Command::new("skopeo").args(["copy", "--quiet", &src, &dst]))?;
        let path = scratch.join(if name == "docker-archive" {
            "skopeo-d.tar"
        } else {
            "skopeo-o.tar"
        });
        seeds.add_file(
            &["oci_archive", "layer_index"],
            &format!("skopeo-{name}.tar"),
            &path,
        )?;
    }
    Ok(())
}
