//! Pull and push against Debian's real `docker-registry` in its three auth
//! modes: anonymous, htpasswd (Basic), and token (Bearer, test issuer).

mod common;

use std::path::PathBuf;

use common::{make_image, options, scratch, small_layers, unpack};
use slipway_registry::{
    Error, ImageLocation, Layout, PullOptions, PushOptions, Reference, copy_blocking,
    pull_blocking, push_blocking,
};
use slipway_test_support::registry::{RegistryAuth, TestRegistry};

/// Push a umoci-made image with slipway, pull it back with slipway into a
/// fresh layout: same manifest digest, and it unpacks to the same files.
fn roundtrip(auth: RegistryAuth, name: &str) {
    let Some(registry) = TestRegistry::start(auth) else {
        return;
    };
    let dir = scratch(name);
    let src = dir.join("src");
    let Some(tree) = make_image(&src, "v1", "amd64", &small_layers(7)) else {
        return;
    };
    let creds = registry.creds();
    let opts = options(creds.as_deref());
    let target = Reference::parse(&format!("{}/test/{name}:v1", registry.host())).unwrap();
    let pushed =
        push_blocking(&opts, &src, Some("v1"), &target, &PushOptions::default()).expect("push");
    let source_digest = Layout::open(&src)
        .unwrap()
        .resolve(Some("v1"))
        .unwrap()
        .digest;
    assert_eq!(pushed, source_digest);

    let dest: PathBuf = dir.join("pulled");
    let pulled = pull_blocking(&opts, &target, &dest, &PullOptions::default()).expect("pull");
    assert_eq!(pulled.manifest.digest, source_digest);
    assert_eq!(pulled.layers.len(), 2);
    let Some(files) = unpack(&dest, "v1", &dir.join("bundle")) else {
        return;
    };
    assert_eq!(files, tree);

    // A second pull finds every blob in place and changes nothing.
    let again = pull_blocking(&opts, &target, &dest, &PullOptions::default()).expect("pull again");
    assert_eq!(again.manifest.digest, source_digest);

    // docker:// → docker:// inside the registry mounts rather than copies.
    let copy_target =
        Reference::parse(&format!("{}/other/{name}:copied", registry.host())).unwrap();
    let digest = copy_blocking(
        &opts,
        &ImageLocation::Docker(target.clone()),
        &ImageLocation::Docker(copy_target.clone()),
        &Default::default(),
    )
    .expect("copy between repositories");
    assert_eq!(digest, source_digest);

    if auth == RegistryAuth::Token {
        assert!(registry.tokens_issued() > 0, "the token issuer was used");
    }
    if auth != RegistryAuth::Anonymous {
        // Wrong password: a clear "unauthorized".
        let bad = options(Some("slipway:wrong-password"));
        let err = pull_blocking(&bad, &target, &dir.join("bad"), &PullOptions::default())
            .expect_err("wrong credentials must fail");
        assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("unauthorized"), "{text}");
        assert!(text.contains("slipway"), "names the user tried: {text}");
        // No credentials at all: pushing is refused with "unauthorized" too.
        let none = options(None);
        let err = push_blocking(
            &none,
            &src,
            Some("v1"),
            &target.with_tag("anon"),
            &PushOptions::default(),
        )
        .expect_err("anonymous push must fail");
        assert!(err.to_string().starts_with("unauthorized"), "{err}");
        assert!(err.to_string().contains("no credentials"), "{err}");
    }
}

#[test]
fn anonymous_push_pull_roundtrip() {
    roundtrip(RegistryAuth::Anonymous, "anon");
}

#[test]
fn htpasswd_push_pull_roundtrip_and_wrong_credentials() {
    roundtrip(RegistryAuth::Htpasswd, "basic");
}

#[test]
fn token_push_pull_roundtrip_and_wrong_credentials() {
    roundtrip(RegistryAuth::Token, "token");
}

#[test]
fn token_registry_allows_anonymous_pull() {
    let Some(registry) = TestRegistry::start(RegistryAuth::Token) else {
        return;
    };
    let dir = scratch("token-anon-pull");
    let src = dir.join("src");
    if make_image(&src, "v1", "amd64", &small_layers(3)).is_none() {
        return;
    }
    let target = Reference::parse(&format!("{}/pub/img:v1", registry.host())).unwrap();
    push_blocking(
        &options(registry.creds().as_deref()),
        &src,
        Some("v1"),
        &target,
        &PushOptions::default(),
    )
    .expect("push with credentials");
    let pulled = pull_blocking(
        &options(None),
        &target,
        &dir.join("out"),
        &PullOptions::default(),
    )
    .expect("anonymous pull with a pull-only token");
    assert_eq!(pulled.layers.len(), 2);
}
