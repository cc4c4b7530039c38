//! Arbitrary bytes as a layer blob indexed by the tar reader of `slipway
//! diff` (slipway-repro). Invariants: the blob digest is the sha256 of the
//! input, and a layer compared with itself has no differences.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use slipway_repro::diff::compare_entries;
use slipway_repro::index::index_layer;

fuzz_target!(|data: &[u8]| {
    let keep: BTreeSet<String> = [".", "etc/passwd", "usr/bin/x"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let Ok((index, _kept)) = index_layer(Box::new(std::io::Cursor::new(data.to_vec())), &keep, 64)
    else {
        return;
    };
    let digest = format!("sha256:{:x}", Sha256::digest(data));
    assert_eq!(index.digest, digest);
    for semantic in [false, true] {
        let diffs = compare_entries(&index, &index, semantic);
        assert!(diffs.is_empty(), "a layer differs from itself: {diffs:?}");
    }
});
