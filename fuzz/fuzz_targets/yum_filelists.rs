//! Arbitrary bytes as `filelists.xml` (plain or compressed). Invariant:
//! only wanted paths are reported.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_yum::repodata::parse_filelists;

fuzz_target!(|data: &[u8]| {
    let wanted = |path: &str| path.starts_with("/usr/bin/") || path.contains("lib");
    let mut found = Vec::new();
    let _ = parse_filelists(data, "filelists.xml", &wanted, |pkgid, path| {
        found.push((pkgid.to_owned(), path.to_owned()));
    });
    for (_, path) in &found {
        assert!(wanted(path), "{path} was not asked for");
    }
});
