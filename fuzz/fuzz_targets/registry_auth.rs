//! Arbitrary bytes as a `WWW-Authenticate` header and as a token endpoint's
//! answer. Invariants: a bearer challenge's realm round-trips through the
//! token URL when it is a URL, and a token's lifetime can be added to the
//! clock as the client does.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use slipway_registry::{Challenge, parse_token_response, repository_scope, token_url};

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    if let Some(Challenge::Bearer {
        realm,
        service,
        scope,
    }) = Challenge::parse(&header)
    {
        let mut scopes = vec![repository_scope("library/x", true)];
        scopes.extend(scope);
        if let Ok(url) = token_url(&realm, service.as_deref(), &scopes) {
            let scopes_sent = url.query_pairs().filter(|(k, _)| k == "scope").count();
            assert!(scopes_sent >= scopes.len(), "{url}: scopes lost");
        }
    }
    if let Ok((token, lifetime)) = parse_token_response(data, "https://fuzz.invalid/token") {
        assert!(!token.is_empty());
        assert!(lifetime >= Duration::from_secs(60));
        // What the client does with it (slipway-registry client.rs).
        let _expires = Instant::now() + lifetime.saturating_sub(Duration::from_secs(10));
    }
});
