//! Arbitrary bytes as `primary.xml` (plain, gzip, bzip2 or xz). Invariant:
//! the parser does the same twice, and every package prints its NEVRA.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_yum::repodata::{Package, parse_primary};

fn parse(data: &[u8]) -> (Result<(), String>, Vec<Package>) {
    let mut packages = Vec::new();
    let result =
        parse_primary(data, "primary.xml", |p| packages.push(p)).map_err(|e| e.to_string());
    (result, packages)
}

fuzz_target!(|data: &[u8]| {
    let first = parse(data);
    for package in &first.1 {
        let _ = (package.nevra(), package.nvra());
        for dep in package.requires.iter().chain(&package.provides) {
            let _ = dep.range_overlaps(dep);
            let _ = dep.matches_evr(&package.evr);
        }
    }
    assert_eq!(first, parse(data));
});
