//! Arbitrary bytes as an uncompressed cpio payload (newc, crc and rpm's
//! stripped 07070X entries). Must never panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let mut reader =
        slipway_rpm::CpioReader::new(data, "fuzz.cpio").with_file_sizes(vec![0, 1, 7, 4096]);
    let mut sink = Vec::new();
    while let Ok(Some(_)) = reader.next_entry() {
        sink.clear();
        if reader.read_to_end(&mut sink).is_err() {
            break;
        }
    }
});
