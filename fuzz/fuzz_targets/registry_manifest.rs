//! Arbitrary bytes as a manifest or index served by a registry, and the
//! platform chosen from it. Invariants: descriptors round-trip through
//! JSON, and a chosen entry is one of the index's and matches the platform.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_registry::manifest::{Descriptor, ManifestDoc, kind_of};
use slipway_registry::{Platform, select_platform};

const WANTED: [&str; 4] = ["linux/amd64", "linux/386", "linux/arm64/v8", "linux/arm/v7"];

fuzz_target!(|data: &[u8]| {
    if let Ok(platform) = std::str::from_utf8(data).map(Platform::parse)
        && let Ok(platform) = platform
    {
        // A parsed platform prints as text that parses to itself.
        assert_eq!(Platform::parse(&platform.to_string()).ok(), Some(platform));
    }
    let Ok(doc) = serde_json::from_slice::<ManifestDoc>(data) else {
        return;
    };
    for served in [None, Some("application/vnd.oci.image.index.v1+json")] {
        let _ = kind_of(&doc.effective_media_type(served));
    }
    for descriptor in doc.manifests.iter().chain(&doc.layers).chain(&doc.config) {
        let json = serde_json::to_vec(descriptor).expect("a descriptor serialises");
        let back: Descriptor = serde_json::from_slice(&json).expect("and parses back");
        assert_eq!(&back, descriptor);
    }
    for wanted in WANTED {
        let wanted = Platform::parse(wanted).expect("a valid platform");
        if let Ok(chosen) = select_platform("fuzz", &doc.manifests, &wanted) {
            assert!(doc.manifests.iter().any(|d| std::ptr::eq(d, chosen)));
            let platform = chosen.platform.as_ref().expect("chosen by its platform");
            assert!(wanted.matches(&platform.to_platform()));
        }
    }
});
