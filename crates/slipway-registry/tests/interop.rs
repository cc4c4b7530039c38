//! Interop with skopeo and umoci through the real `docker-registry`: images
//! pushed by skopeo pull with slipway to the same digests; images pushed by
//! slipway copy out with skopeo and unpack with umoci to the original tree.
//! Also platform choice from a two-platform index, chunked upload and
//! cross-repository mount.

mod common;

use std::process::Command;

use common::{make_image, options, run, scratch, skopeo_tls, small_layers, unpack};
use slipway_registry::manifest::{
    DOCKER_MANIFEST, DescriptorPlatform, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST,
};
use slipway_registry::{
    BlobPush, Client, ClientOptions, Error, Layout, Platform, PullOptions, PushOptions, Reference,
    block_on, pull_blocking, push_blocking, sha256_digest,
};
use slipway_test_support::registry::{RegistryAuth, TestRegistry};
use slipway_test_support::require_tool;

/// `skopeo copy --format FORMAT` pushes; slipway pulls the same manifest and config digests.
/// An image made in `DIR/src` (tag `v1`) and pushed by `skopeo copy --format FORMAT`.
struct SkopeoPushed {
    skopeo: std::path::PathBuf,
    /// Kept alive for the test.
    _registry: TestRegistry,
    creds: Option<String>,
    dir: std::path::PathBuf,
    src: std::path::PathBuf,
    image: String,
    /// The manifest as the registry serves it.
    raw: Vec<u8>,
}

fn skopeo_pushed(name: &str, format: &str, seed: u64) -> Option<SkopeoPushed> {
    let skopeo = require_tool("skopeo")?;
    let registry = TestRegistry::start(RegistryAuth::Htpasswd)?;
    let dir = scratch(name);
    let src = dir.join("src");
    make_image(&src, "v1", "amd64", &small_layers(seed))?;
    let creds = registry.creds();
    let image = format!("{}/interop/{name}:v1", registry.host());
    run(Command::new(&skopeo)
        .args(["copy", "--format", format])
        .args(skopeo_tls(creds.as_deref(), "dest-"))
        .arg(format!("oci:{}:v1", src.display()))
        .arg(format!("docker://{image}")));
    let raw = run(Command::new(&skopeo)
        .args(["inspect", "--raw"])
        .args(skopeo_tls(creds.as_deref(), ""))
        .arg(format!("docker://{image}")));
    Some(SkopeoPushed {
        skopeo,
        _registry: registry,
        creds,
        dir,
        src,
        image,
        raw,
    })
}

fn skopeo_push_then_slipway_pull(format: &str, expected_media_type: &str) {
    let Some(SkopeoPushed {
        skopeo,
        _registry: registry,
        creds,
        dir,
        image,
        raw,
        ..
    }) = skopeo_pushed(&format!("skopeo-{format}"), format, 11)
    else {
        return;
    };
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_owned();

    let dest = dir.join("pulled");
    let pulled = pull_blocking(
        &options(creds.as_deref()),
        &Reference::parse(&image).unwrap(),
        &dest,
        &PullOptions::default(),
    )
    .expect("slipway pull");
    assert_eq!(pulled.manifest.digest, sha256_digest(&raw));
    assert_eq!(pulled.manifest.media_type, expected_media_type);
    assert_eq!(pulled.config_digest, config_digest);
    // Byte-exact in the layout.
    let layout = Layout::open(&dest).unwrap();
    assert_eq!(layout.read_blob(&pulled.manifest.digest).unwrap(), raw);
    // skopeo reads our layout back when the manifest is OCI. (containers/image
    // skips index.json entries with Docker media types; we keep the registry's
    // bytes anyway, because the build pins base images by their registry digest.)
    if expected_media_type == slipway_registry::manifest::OCI_MANIFEST {
        run(Command::new(&skopeo)
            .args(["inspect"])
            .arg(format!("oci:{}:v1", dest.display())));
    }
    // Registry → archives (written by slipway-oci), judged by skopeo; and an
    // archive pushed back to the registry.
    let reference = Reference::parse(&image).unwrap();
    for archive in [
        format!("oci-archive:{}:v1", dir.join("image.oci.tar").display()),
        format!(
            "docker-archive:{}:interop/{format}:v1",
            dir.join("image.docker.tar").display()
        ),
    ] {
        slipway_registry::copy_blocking(
            &options(creds.as_deref()),
            &slipway_registry::ImageLocation::Docker(reference.clone()),
            &slipway_registry::ImageLocation::parse(&archive).unwrap(),
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("pull into {archive}: {e}"));
        // A Docker manifest is converted to OCI media types for `oci-archive:`.
        run(Command::new(&skopeo).arg("inspect").arg(&archive));
        let back = Reference::parse(&format!(
            "{}/interop/from-archive:{format}",
            registry.host()
        ))
        .unwrap();
        slipway_registry::copy_blocking(
            &options(creds.as_deref()),
            &slipway_registry::ImageLocation::parse(&archive).unwrap(),
            &slipway_registry::ImageLocation::Docker(back.clone()),
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("push {archive}: {e}"));
        run(Command::new(&skopeo)
            .args(["inspect"])
            .args(skopeo_tls(creds.as_deref(), ""))
            .arg(format!("docker://{back}")));
    }
}

#[test]
fn skopeo_v2s2_push_pulls_with_same_digests() {
    skopeo_push_then_slipway_pull(
        "v2s2",
        "application/vnd.docker.distribution.manifest.v2+json",
    );
}

#[test]
fn skopeo_oci_push_pulls_with_same_digests() {
    skopeo_push_then_slipway_pull("oci", "application/vnd.oci.image.manifest.v1+json");
}

/// A v2s2 image pulled into `oci:` (the CLI's path) gets OCI media types, as
/// skopeo writes them: umoci unpacks it to the source tree and skopeo reads
/// it; the layers are the registry's blobs. `--preserve-digests` refuses.
#[test]
fn v2s2_pull_into_oci_converts_to_oci_media_types() {
    let Some(SkopeoPushed {
        skopeo,
        _registry: _alive,
        creds,
        dir,
        src,
        image,
        raw,
    }) = skopeo_pushed("v2s2-to-oci", "v2s2", 23)
    else {
        return;
    };
    let served: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(served["mediaType"], DOCKER_MANIFEST);

    let reference = Reference::parse(&image).unwrap();
    let dest = dir.join("pulled");
    let copy_into = |dest: &std::path::Path, preserve_digests: bool| {
        slipway_registry::copy_blocking(
            &options(creds.as_deref()),
            &slipway_registry::ImageLocation::Docker(reference.clone()),
            &slipway_registry::ImageLocation::Oci {
                dir: dest.to_owned(),
                tag: Some("v1".to_owned()),
            },
            &slipway_registry::CopyOptions {
                preserve_digests,
                ..Default::default()
            },
        )
    };
    let digest = copy_into(&dest, false).expect("pull v2s2 into oci:");
    assert_ne!(digest, sha256_digest(&raw));
    let layout = Layout::open(&dest).unwrap();
    let descriptor = layout.resolve(Some("v1")).unwrap();
    assert_eq!(descriptor.digest, digest);
    assert_eq!(descriptor.media_type, OCI_MANIFEST);
    let stored: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&digest).unwrap()).unwrap();
    assert_eq!(stored["mediaType"], OCI_MANIFEST);
    assert_eq!(stored["config"]["mediaType"], OCI_CONFIG);
    assert_eq!(stored["config"]["digest"], served["config"]["digest"]);
    let layers = stored["layers"].as_array().unwrap();
    assert_eq!(layers.len(), served["layers"].as_array().unwrap().len());
    for (ours, theirs) in layers.iter().zip(served["layers"].as_array().unwrap()) {
        assert_eq!(
            ours["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(ours["digest"], theirs["digest"]);
    }
    run(Command::new(&skopeo)
        .arg("inspect")
        .arg(format!("oci:{}:v1", dest.display())));
    let Some(expected) = unpack(&src, "v1", &dir.join("src-bundle")) else {
        return;
    };
    let Some(files) = unpack(&dest, "v1", &dir.join("bundle")) else {
        return;
    };
    assert_eq!(files, expected);

    let refused = dir.join("refused");
    let err = copy_into(&refused, true).expect_err("--preserve-digests refuses");
    assert!(matches!(err, Error::PreserveDigests { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(DOCKER_MANIFEST) && !text.contains('\n'),
        "{text}"
    );
    assert!(!refused.exists());
}

#[test]
fn slipway_push_copies_out_with_skopeo_and_unpacks_with_umoci() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let Some(registry) = TestRegistry::start(RegistryAuth::Token) else {
        return;
    };
    let dir = scratch("slipway-push-skopeo");
    let src = dir.join("src");
    let Some(tree) = make_image(&src, "v1", "amd64", &small_layers(21)) else {
        return;
    };
    let creds = registry.creds();
    let image = format!("{}/interop/pushed:v1", registry.host());
    let digest = push_blocking(
        &options(creds.as_deref()),
        &src,
        Some("v1"),
        &Reference::parse(&image).unwrap(),
        &PushOptions::default(),
    )
    .expect("slipway push");
    let out = dir.join("out");
    run(Command::new(&skopeo)
        .arg("copy")
        .args(skopeo_tls(creds.as_deref(), "src-"))
        .arg(format!("docker://{image}"))
        .arg(format!("oci:{}:v1", out.display())));
    let raw = run(Command::new(&skopeo)
        .args(["inspect", "--raw"])
        .args(skopeo_tls(creds.as_deref(), ""))
        .arg(format!("docker://{image}")));
    assert_eq!(sha256_digest(&raw), digest);
    let Some(files) = unpack(&out, "v1", &dir.join("bundle")) else {
        return;
    };
    assert_eq!(files, tree);
}

#[test]
fn two_platform_index_pulls_the_chosen_platform() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let Some(registry) = TestRegistry::start(RegistryAuth::Anonymous) else {
        return;
    };
    let dir = scratch("platforms");
    let src = dir.join("src");
    let amd64_files = vec![vec![("etc/arch", b"amd64\n".to_vec())]];
    let i386_files = vec![vec![("etc/arch", b"i386\n".to_vec())]];
    let (Some(_), Some(i386_tree)) = (
        make_image(&src, "amd64", "amd64", &amd64_files),
        make_image(&src, "386", "386", &i386_files),
    ) else {
        return;
    };
    // An OCI index over the two manifests, tagged `multi`.
    let layout = Layout::open(&src).unwrap();
    let mut entries = Vec::new();
    for arch in ["amd64", "386"] {
        let mut d = layout.resolve(Some(arch)).unwrap();
        d.annotations = None;
        d.platform = Some(DescriptorPlatform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: None,
        });
        entries.push(d);
    }
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let bytes = serde_json::to_vec(&index).unwrap();
    let digest = layout.write_blob(&bytes, None, "test index").unwrap();
    let index_desc = slipway_registry::manifest::Descriptor {
        media_type: OCI_INDEX.into(),
        digest: digest.clone(),
        size: bytes.len() as u64,
        platform: None,
        annotations: None,
    };
    layout.set_tag(&index_desc, Some("multi")).unwrap();
    let i386_digest = entries[1].digest.clone();

    let image = Reference::parse(&format!("{}/multi/base:6", registry.host())).unwrap();
    let opts = options(None);
    let pushed = push_blocking(&opts, &src, Some("multi"), &image, &PushOptions::default())
        .expect("push index");
    assert_eq!(pushed, digest);
    // The registry serves our index byte for byte (skopeo as the judge).
    let raw = run(Command::new(&skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{image}")));
    assert_eq!(raw, bytes);

    let dest = dir.join("pulled");
    let pulled = pull_blocking(
        &opts,
        &image,
        &dest,
        &PullOptions {
            platform: Some(Platform::parse("linux/386").unwrap()),
            ..Default::default()
        },
    )
    .expect("pull linux/386");
    assert_eq!(pulled.manifest.digest, i386_digest);
    assert_eq!(pulled.index_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(pulled.platform.as_ref().unwrap().to_string(), "linux/386");
    let Some(files) = unpack(&dest, "6", &dir.join("bundle")) else {
        return;
    };
    assert_eq!(files, i386_tree);

    let err = pull_blocking(
        &opts,
        &image,
        &dir.join("none"),
        &PullOptions {
            platform: Some(Platform::parse("linux/arm64").unwrap()),
            ..Default::default()
        },
    )
    .expect_err("absent platform");
    assert!(matches!(err, Error::PlatformNotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("linux/arm64") && text.contains("available: linux/386, linux/amd64"),
        "{text}"
    );
    // Through `copy` (the CLI's path), a failed pull leaves no new layout behind.
    let fresh = dir.join("fresh");
    let err = slipway_registry::copy_blocking(
        &opts,
        &slipway_registry::ImageLocation::Docker(image.clone()),
        &slipway_registry::ImageLocation::Oci {
            dir: fresh.clone(),
            tag: None,
        },
        &slipway_registry::CopyOptions {
            platform: Some(Platform::parse("linux/s390x").unwrap()),
            ..Default::default()
        },
    )
    .expect_err("absent platform through copy");
    assert!(matches!(err, Error::PlatformNotFound { .. }), "{err:?}");
    assert!(!fresh.exists());
}

#[test]
fn chunked_upload_and_cross_repository_mount() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let Some(registry) = TestRegistry::start(RegistryAuth::Htpasswd) else {
        return;
    };
    let dir = scratch("chunked");
    let src = dir.join("src");
    let Some(tree) = make_image(&src, "v1", "amd64", &small_layers(31)) else {
        return;
    };
    let creds = registry.creds();
    let client_options = ClientOptions {
        chunk_size: 64 * 1024,
        ..options(creds.as_deref())
    };
    let layout = Layout::open(&src).unwrap();
    let manifest_desc = layout.resolve(Some("v1")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&manifest_desc.digest).unwrap()).unwrap();
    let big: slipway_registry::manifest::Descriptor =
        serde_json::from_value(manifest["layers"][0].clone()).unwrap();
    assert!(big.size > 64 * 1024, "layer is large enough to chunk");

    let first = Reference::parse(&format!("{}/team/a:v1", registry.host())).unwrap();
    let second = Reference::parse(&format!("{}/team/b:v1", registry.host())).unwrap();
    let client = Client::new(client_options.clone()).unwrap();
    let outcome = block_on(async {
        let a = client.session(&first, true, &[])?;
        let chunked = a
            .push_blob(&big, &layout, &[], &slipway_registry::NoReporter)
            .await?;
        let again = a
            .push_blob(&big, &layout, &[], &slipway_registry::NoReporter)
            .await?;
        let b = client.session(&second, true, &["team/a".to_owned()])?;
        let mounted = b
            .push_blob(
                &big,
                &layout,
                &["team/a".to_owned()],
                &slipway_registry::NoReporter,
            )
            .await?;
        Ok::<_, Error>((chunked, again, mounted))
    })
    .unwrap()
    .expect("blob pushes");
    assert_eq!(
        outcome,
        (BlobPush::Chunked, BlobPush::Exists, BlobPush::Mounted)
    );

    // The whole image, chunked, copies out with skopeo and unpacks to the tree.
    push_blocking(
        &client_options,
        &src,
        Some("v1"),
        &second,
        &PushOptions::default(),
    )
    .expect("chunked push");
    let out = dir.join("out");
    run(Command::new(&skopeo)
        .arg("copy")
        .args(skopeo_tls(creds.as_deref(), "src-"))
        .arg(format!("docker://{second}"))
        .arg(format!("oci:{}:v1", out.display())));
    let Some(files) = unpack(&out, "v1", &dir.join("bundle")) else {
        return;
    };
    assert_eq!(files, tree);
}
