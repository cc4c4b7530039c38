//! Arbitrary bytes as a layer (tar, gzip or zstd) unpacked into a temporary
//! directory, twice (the second time over the first, as the next layer of an
//! image). Invariant: nothing is created or changed outside the target
//! directory, whatever symlinks, `..`, absolute names, hard links or
//! whiteouts the layer holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_fuzz::Confined;
use slipway_oci::{UnpackOptions, UnpackReport, unpack_layer};

fuzz_target!(|data: &[u8]| {
    let area = Confined::new();
    let options = UnpackOptions {
        preserve_owners: false,
    };
    let mut report = UnpackReport::default();
    for layer in 0..2 {
        let mut input = data;
        if unpack_layer(&mut input, &area.target, layer, &options, &mut report).is_err() {
            break;
        }
        area.check();
    }
    area.check();
});
