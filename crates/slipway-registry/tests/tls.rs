//! A registry serving HTTPS with a certificate of its own CA (Debian's
//! `docker-registry` with `http.tls`): verified TLS fails without the CA and
//! works with `cert_dir` (`--cert-dir`); skopeo reads what we pushed with the
//! same CA directory.

mod common;

use common::{make_image, options, scratch, small_layers};
use slipway_registry::{
    ClientOptions, PullOptions, PushOptions, Reference, pull_blocking, push_blocking,
};
use slipway_test_support::registry::TestRegistry;
use slipway_test_support::require_tool;

#[test]
fn a_registry_with_a_custom_ca_needs_cert_dir_and_works_with_it() {
    let Some(registry) = TestRegistry::start_tls() else {
        return;
    };
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let ca_dir = registry.ca_dir().expect("TLS registry").to_path_buf();
    let dir = scratch("tls-custom-ca");
    let src = dir.join("src");
    make_image(&src, "v1", "amd64", &small_layers(3)).expect("umoci");
    let reference = Reference::parse(&format!("{}/tls/img:v1", registry.host())).unwrap();

    // Verified TLS without the CA: refused, naming the certificate problem.
    let strict = ClientOptions {
        tls_verify: Some(true),
        ..options(None)
    };
    let err = push_blocking(
        &strict,
        &src,
        Some("v1"),
        &reference,
        &PushOptions::default(),
    )
    .expect_err("an unknown CA must be refused");
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    let text = text.to_lowercase();
    assert!(
        text.contains("certificate") || text.contains("tls"),
        "{text}"
    );

    // With the CA directory: push, pull back, same digest.
    let trusted = ClientOptions {
        cert_dir: Some(ca_dir.clone()),
        ..strict
    };
    let pushed = push_blocking(
        &trusted,
        &src,
        Some("v1"),
        &reference,
        &PushOptions::default(),
    )
    .expect("push with --cert-dir");
    let dest = dir.join("pulled");
    let pulled = pull_blocking(&trusted, &reference, &dest, &PullOptions::default())
        .expect("pull with --cert-dir");
    assert_eq!(pulled.manifest.digest, pushed);

    // skopeo with the same CA directory sees the same manifest.
    let out = std::process::Command::new(skopeo)
        .args(["inspect", "--raw", "--cert-dir"])
        .arg(&ca_dir)
        .arg(format!("docker://{}/tls/img:v1", registry.host()))
        .output()
        .expect("run skopeo");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(slipway_registry::sha256_digest(&out.stdout), pushed);
}
