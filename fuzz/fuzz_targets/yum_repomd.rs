//! Arbitrary bytes as `repodata/repomd.xml`. Invariant: every entry is
//! filed under its own type and has a location.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_yum::repodata::parse_repomd;

fuzz_target!(|data: &[u8]| {
    let Ok(repomd) = parse_repomd(data, "repomd.xml") else {
        return;
    };
    for (kind, entry) in &repomd.data {
        assert_eq!(kind, &entry.kind);
    }
});
