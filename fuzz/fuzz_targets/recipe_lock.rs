//! Arbitrary bytes as `slipway.lock`. Invariant: a lock that reads is
//! written as canonical TOML that reads back to the same (sorted) lock and
//! is written again byte for byte the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_recipe::Lock;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("slipway.lock");
    std::fs::write(&path, data).expect("writing the lock");
    let Ok(Some(lock)) = Lock::read(&path) else {
        return;
    };
    let text = lock.to_toml();
    std::fs::write(&path, &text).expect("writing the lock");
    let again = Lock::read(&path)
        .unwrap_or_else(|e| panic!("the lock we wrote does not read: {e}\n{text}"))
        .expect("it exists");
    assert_eq!(again.to_toml(), text);
    assert_eq!(again.images.len(), lock.images.len());
    for image in &again.images {
        for step in &image.steps {
            for package in &step.packages {
                let _ = package.nevra();
            }
        }
    }
});
