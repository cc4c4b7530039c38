//! Arbitrary bytes as the documents of an image in an OCI layout: up to
//! three parts (see `slipway_fuzz::PART`): the document the layout's index
//! points at (an index or a manifest), a manifest, a config. `@CONFIG@` in
//! the first two parts is replaced by the config's digest and `@MANIFEST@`
//! in the first by the manifest's, so that mutations reach past the digest
//! checks. Each is stored as a blob and the image loaded for several
//! platforms. Invariants: a loaded image's manifest and config round-trip
//! through canonical JSON, and its config lists a diff id per layer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_fuzz::parts;
use slipway_oci::oci_spec::image::{Descriptor, ImageManifest, MediaType};
use slipway_oci::{Digest, Image, ImageConfig, OciLayout, Platform, canonical_json};

const PLATFORMS: [&str; 3] = ["linux/amd64", "linux/arm64/v8", "linux/386"];

fn replace(data: &[u8], from: &str, to: &str) -> Vec<u8> {
    let from = from.as_bytes();
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to.as_bytes());
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn check(image: &Image) {
    let json = canonical_json(&image.manifest).expect("a manifest serialises");
    let back: ImageManifest = serde_json::from_slice(&json).expect("and parses back");
    assert_eq!(back, image.manifest);
    let json = image
        .config
        .to_canonical_json()
        .expect("a config serialises");
    let back = ImageConfig::from_slice(&json).expect("and parses back");
    assert_eq!(back, image.config);
    let diff_ids = image.diff_ids().expect("checked when loaded");
    assert_eq!(diff_ids.len(), image.layers().len());
    let _ = image.config.platform().to_string();
    let _ = (
        image.config.env(),
        image.config.labels(),
        image.config.cmd(),
    );
}

fuzz_target!(|data: &[u8]| {
    let parts = parts(data);
    let config = parts.get(2).copied().unwrap_or_default();
    let config_digest = Digest::sha256_of(config).to_string();
    let manifest = replace(
        parts.get(1).copied().unwrap_or_default(),
        "@CONFIG@",
        &config_digest,
    );
    let manifest_digest = Digest::sha256_of(&manifest).to_string();
    let top = replace(parts[0], "@CONFIG@", &config_digest);
    let top = replace(&top, "@MANIFEST@", &manifest_digest);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let layout = OciLayout::create(dir.path().join("layout")).expect("a layout");
    layout
        .write_blob(config, MediaType::ImageConfig)
        .expect("writing the config");
    layout
        .write_blob(&manifest, MediaType::ImageManifest)
        .expect("writing the manifest");
    // What an index entry or `index.json` would say the document is.
    let media_type = if top.windows(8).any(|w| w == b"\"layers\"") {
        MediaType::ImageManifest
    } else {
        MediaType::ImageIndex
    };
    let top: Descriptor = layout
        .write_blob(&top, media_type)
        .expect("writing the top");
    for platform in PLATFORMS {
        let platform = Platform::parse(platform).expect("a valid platform");
        if let Ok(image) = Image::from_descriptor(&layout, top.clone(), &platform) {
            check(&image);
        }
    }
});
