//! A step's changes become exactly one layer; base + layer unpacked by
//! `umoci` equals what the sandbox saw.

mod common;

use std::path::Path;
use std::process::Command;

use common::{builder, scratch, sh};
use slipway_sandbox::slipway_oci::{
    ImageConfig, LayerOptions, OciLayout, Platform, write_image, write_layer_from_dir,
};
use slipway_sandbox::{Base, Sandbox, Transient};
use slipway_test_support::require_tool;

/// `find` listing of `dir` with type, mode, owner, size, link target and content hash.
const LISTING: &str = "cd \"$1\" && find . -mindepth 1 -printf '%P|%y|%m|%U|%G|%s|%l\\n' | sort && \
                       find . -type f -print0 | sort -z | xargs -0 -r md5sum";

fn listing_on_host(dir: &Path) -> String {
    slipway_test_support::process::run_stdout(
        Command::new("sh").args(["-c", LISTING, "sh"]).arg(dir),
    )
}

fn tar_names(layout: &Path, digest_hex: &str) -> Vec<String> {
    let blob = layout.join("blobs/sha256").join(digest_hex);
    let out = Command::new("tar").arg("-tzf").arg(&blob).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_steps_layer_has_exactly_its_changes_and_base_plus_layer_equals_the_sandbox_view() {
    let Some(builder) = builder() else { return };
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let dir = scratch("capture");
    let base = dir.join("base");
    fs_err::create_dir_all(base.join("data/gone-dir/sub")).unwrap();
    fs_err::create_dir_all(base.join("data/opaque")).unwrap();
    fs_err::create_dir_all(base.join("var/cache/yum")).unwrap();
    fs_err::write(base.join("data/keep"), b"keep\n").unwrap();
    fs_err::write(base.join("data/modify"), b"old\n").unwrap();
    fs_err::write(base.join("data/delete"), b"bye\n").unwrap();
    fs_err::write(base.join("data/gone-dir/sub/f"), b"f\n").unwrap();
    fs_err::write(base.join("data/opaque/old"), b"old\n").unwrap();

    let layout = OciLayout::create(dir.join("layout")).unwrap();
    let options = LayerOptions::default();
    let base_layer = write_layer_from_dir(&layout, &base, &options).unwrap();

    let sandbox = Sandbox::new(dir.join("scratch"));
    let step = sh(
        "change",
        "set -e; echo new > /data/new; echo changed > /data/modify; rm /data/delete; \
         rm -r /data/gone-dir; echo tmp > /data/transient; rm /data/transient; \
         rm -r /data/opaque; mkdir /data/opaque; echo fresh > /data/opaque/fresh; \
         chown 123:456 /data/new; chmod 640 /data/new; ln /data/new /data/new-link; ln -s new /data/sym; \
         mkdir -p /var/cache/yum/x; echo cache > /var/cache/yum/x/pkg; echo c > /data/mod.pyc",
    );
    let lowers = vec![base.clone(), builder.clone()];
    let outcome = sandbox.run(&Base::Overlay(lowers.clone()), &step).unwrap();
    let transient = Transient::from_patterns(["/var/cache/yum", "*.pyc"]);
    let layer = outcome.capture(&layout, &transient, &options).unwrap();

    let names = tar_names(layout.path(), layer.descriptor.digest().digest());
    assert_eq!(
        names,
        [
            "data/",
            "data/.wh.delete",
            "data/.wh.gone-dir",
            "data/modify",
            "data/new",
            "data/new-link",
            "data/opaque/",
            "data/opaque/.wh..wh..opq",
            "data/opaque/fresh",
            "data/sym",
        ],
        "layer entries"
    );

    // The sandbox's own view of /data after the step, via a second step on top.
    let view_lowers = vec![outcome.upper(), base.clone(), builder.clone()];
    let mut look = sh("look", LISTING);
    look.argv.extend(["sh".into(), "/data".into()]);
    let seen = sandbox.run(&Base::Overlay(view_lowers), &look).unwrap();

    let mut config = ImageConfig::new(&Platform::parse("linux/amd64").unwrap(), 0);
    config.append_layer(&base_layer.diff_id, "base", 0);
    config.append_layer(&layer.diff_id, "step", 0);
    write_image(
        &layout,
        &config,
        &[base_layer.descriptor, layer.descriptor],
        Some("t"),
    )
    .unwrap();
    let bundle = dir.join("bundle");
    let out = Command::new(umoci)
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:t", layout.path().display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unpacked = listing_on_host(&bundle.join("rootfs/data"));
    assert_eq!(unpacked, seen.output_text());
    assert!(unpacked.contains("new|f|640|123|456|4|"), "{unpacked}");
    // The transient cache is not in the image.
    assert!(!bundle.join("rootfs/var/cache/yum/x").exists());
}

#[test]
fn the_snapshot_fallback_gives_the_same_layer_as_overlayfs() {
    let Some(builder) = builder() else { return };
    let dir = scratch("snapshot");
    let layout = OciLayout::create(dir.join("layout")).unwrap();
    let options = LayerOptions::default();
    let sandbox = Sandbox::new(dir.join("scratch"));
    let script = "set -e; mkdir /data; echo new > /data/new; chown 12:34 /data/new; ln /data/new /data/hard; \
                  ln -s new /data/sym; echo more >> /etc/debian_version; rm /etc/motd; \
                  rm -r /usr/share/doc/rpm; chmod 700 /srv; echo tmp > /tmp/not-captured";
    let overlay = sandbox
        .run(
            &Base::Overlay(vec![builder.clone()]),
            &sh("overlay", script),
        )
        .unwrap()
        .capture(&layout, &Transient::default(), &options)
        .unwrap();
    let snapshot = sandbox
        .run(&Base::Snapshot(builder.clone()), &sh("snapshot", script))
        .unwrap()
        .capture(&layout, &Transient::default(), &options)
        .unwrap();
    let names = tar_names(layout.path(), snapshot.descriptor.digest().digest());
    assert!(
        names.contains(&"usr/share/doc/.wh.rpm".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"etc/.wh.motd".to_string()), "{names:?}");
    assert_eq!(
        names,
        tar_names(layout.path(), overlay.descriptor.digest().digest())
    );
    assert_eq!(snapshot.diff_id, overlay.diff_id, "layers differ");
    assert!(
        common::entries(&dir.join("scratch")).is_empty(),
        "scratch left behind"
    );
}
