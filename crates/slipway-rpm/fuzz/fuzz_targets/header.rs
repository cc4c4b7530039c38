//! Arbitrary bytes as an RPM file: lead, signature header, header, then
//! the payload. Must never panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::{Cursor, Read};

fuzz_target!(|data: &[u8]| {
    let Ok(pkg) = slipway_rpm::Package::from_reader(Cursor::new(data.to_vec()), "fuzz.rpm") else {
        return;
    };
    let _ = pkg.header.nevra();
    for f in &pkg.header.files {
        let _ = f.capability_xattr();
    }
    let Ok(mut payload) = pkg.payload() else {
        return;
    };
    let mut sink = Vec::new();
    while let Ok(Some(_)) = payload.next_entry() {
        sink.clear();
        if payload.read_to_end(&mut sink).is_err() {
            break;
        }
    }
});
