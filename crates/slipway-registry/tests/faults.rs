//! Pulls through a fault-injecting proxy (test code) in front of the real
//! `docker-registry`: resets, 503s and truncated bodies are survived (with
//! `Range` resumption); corrupted content is refused and leaves nothing in
//! the store.

mod common;

use std::path::Path;

use common::{make_image, noise, options, scratch};
use slipway_registry::{
    Error, Layout, PullOptions, PushOptions, Reference, pull_blocking, push_blocking,
};
use slipway_test_support::registry::{Fault, FaultProxy, RegistryAuth, TestRegistry};

/// Start a registry with a 3 MB-layer image in it; returns it, the proxy and
/// (manifest digest, big layer digest, config digest).
fn setup(name: &str) -> Option<(TestRegistry, FaultProxy, (String, String, String))> {
    let registry = TestRegistry::start(RegistryAuth::Anonymous)?;
    let dir = scratch(name);
    let src = dir.join("src");
    make_image(
        &src,
        "v1",
        "amd64",
        &[
            vec![("big.bin", noise(3_000_000, 5))],
            vec![("small.txt", b"hello\n".to_vec())],
        ],
    )?;
    let direct = Reference::parse(&format!("{}/faults/img:v1", registry.host())).unwrap();
    let digest = push_blocking(
        &options(None),
        &src,
        Some("v1"),
        &direct,
        &PushOptions::default(),
    )
    .expect("push");
    let layout = Layout::open(&src).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&layout.read_blob(&digest).unwrap()).unwrap();
    let big = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let config = manifest["config"]["digest"].as_str().unwrap().to_owned();
    let proxy = FaultProxy::start(registry.port());
    Some((registry, proxy, (digest, big, config)))
}

/// Names under `blobs/sha256/`, plus any temporary files under `blobs/`.
fn leftovers(layout: &Path) -> Vec<String> {
    let list = |dir: &Path| -> Vec<String> {
        fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let mut names = list(&layout.join("blobs/sha256"));
    names.extend(
        list(&layout.join("blobs"))
            .into_iter()
            .filter(|n| n.starts_with(".tmp")),
    );
    names.sort();
    names
}

#[test]
fn pull_survives_resets_503s_and_truncated_blobs() {
    let Some((_registry, proxy, (digest, big, config))) = setup("faults-survive") else {
        return;
    };
    proxy.inject("/manifests/", Fault::Unavailable, 2);
    proxy.inject(&format!("/blobs/{config}"), Fault::Reset, 2);
    proxy.inject(&format!("/blobs/{big}"), Fault::Truncate, 2);
    proxy.inject("/blobs/", Fault::Unavailable, 1);
    let dest = scratch("faults-survive-out").join("layout");
    let reference = Reference::parse(&format!("{}/faults/img:v1", proxy.host())).unwrap();
    let pulled = pull_blocking(&options(None), &reference, &dest, &PullOptions::default())
        .unwrap_or_else(|e| panic!("pull through faults: {e}\n{:#?}", proxy.log()));
    assert_eq!(pulled.manifest.digest, digest);
    assert_eq!(pulled.config_digest, config);
    assert_eq!(
        proxy.pending(),
        0,
        "every fault was injected: {:#?}",
        proxy.log()
    );
    // The truncated transfer resumed where it broke instead of starting over.
    let log = proxy.log();
    assert!(
        log.iter()
            .any(|l| l.contains(&big) && l.contains("[Range: bytes=") && l.ends_with("forward")),
        "{log:#?}"
    );
    // Everything in the store verifies.
    let layout = Layout::open(&dest).unwrap();
    for name in leftovers(&dest) {
        assert!(!name.starts_with(".tmp"), "temporary file left: {name}");
        let d = format!("sha256:{name}");
        assert_eq!(
            slipway_registry::sha256_digest(&layout.read_blob(&d).unwrap()),
            d
        );
    }
}

#[test]
fn corrupted_blob_is_rejected_and_nothing_stays() {
    let Some((_registry, proxy, (_digest, big, _config))) = setup("faults-corrupt") else {
        return;
    };
    proxy.inject(&format!("/blobs/{big}"), Fault::Corrupt, 100);
    let dest = scratch("faults-corrupt-out").join("layout");
    let reference = Reference::parse(&format!("{}/faults/img:v1", proxy.host())).unwrap();
    let err = pull_blocking(&options(None), &reference, &dest, &PullOptions::default())
        .expect_err("corrupted content must be refused");
    match &err {
        Error::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &big);
            assert_ne!(actual, &big);
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.starts_with("digest mismatch for http://"), "{text}");
    let names = leftovers(&dest);
    let hex = big.trim_start_matches("sha256:");
    assert!(!names.iter().any(|n| n == hex), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with(".tmp")), "{names:?}");
    let layout = Layout::open(&dest).unwrap();
    assert!(layout.manifests().unwrap().is_empty(), "nothing tagged");
}

#[test]
fn persistent_faults_end_in_one_clear_error() {
    let Some((_registry, proxy, (_digest, big, _config))) = setup("faults-persistent") else {
        return;
    };
    proxy.inject(&format!("/blobs/{big}"), Fault::Unavailable, 1000);
    let dest = scratch("faults-persistent-out").join("layout");
    let reference = Reference::parse(&format!("{}/faults/img:v1", proxy.host())).unwrap();
    let err = pull_blocking(&options(None), &reference, &dest, &PullOptions::default())
        .expect_err("a registry that keeps failing");
    let text = err.to_string();
    assert!(
        text.starts_with("unexpected status 503 from GET http://") && text.contains(&big),
        "{text}"
    );
    // Retried: the first attempt and five more.
    let tries = proxy.log().iter().filter(|l| l.contains(&big)).count();
    assert_eq!(tries, 6, "{:#?}", proxy.log());
    assert!(
        !leftovers(&dest)
            .iter()
            .any(|n| n.starts_with(".tmp") || big.ends_with(n.as_str()))
    );
}

#[test]
fn a_manifest_whose_bytes_do_not_match_its_digest_is_refused() {
    let Some((_registry, proxy, (digest, _big, _config))) = setup("faults-manifest") else {
        return;
    };
    // By digest: the digest asked for is the one expected. By tag: the
    // registry's `Docker-Content-Digest` header.
    for (name, reference) in [
        ("by-digest", format!("img@{digest}")),
        ("by-tag", "img:v1".into()),
    ] {
        proxy.inject("/manifests/", Fault::Tamper, 1);
        let dest = scratch(&format!("faults-manifest-{name}")).join("layout");
        let reference = Reference::parse(&format!("{}/faults/{reference}", proxy.host())).unwrap();
        let err = pull_blocking(&options(None), &reference, &dest, &PullOptions::default())
            .expect_err("a tampered manifest must be refused");
        match &err {
            Error::DigestMismatch {
                url,
                expected,
                actual,
            } => {
                assert!(url.contains("/manifests/"), "{url}");
                assert_eq!(expected, &digest, "{name}");
                assert_ne!(actual, &digest, "{name}");
            }
            other => panic!("{name}: expected a digest mismatch, got {other:?}"),
        }
        assert!(
            leftovers(&dest).is_empty(),
            "{name}: {:?}",
            leftovers(&dest)
        );
    }
    assert_eq!(proxy.pending(), 0);
}
