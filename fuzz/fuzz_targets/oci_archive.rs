//! Arbitrary bytes as an `oci-archive:` and as a `docker-archive:` file.
//! Invariants: nothing is left in the temporary directory after the image
//! is dropped, and an image that opens is written to an oci-archive that
//! opens to the same manifest, config and layers, or (when the archive lacks
//! a blob it names) writing fails and leaves no destination behind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_fuzz::names;
use slipway_oci::{ImageRef, LocalImage, write_image_to};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let archive = dir.path().join("input.tar");
    std::fs::write(&archive, data).expect("writing the input");
    let before = names(&std::env::temp_dir());
    for transport in ["oci-archive", "docker-archive"] {
        let src = ImageRef::parse(&format!("{transport}:{}", archive.display())).expect("a ref");
        let Ok(image) = LocalImage::open(&src) else {
            continue;
        };
        let copy = dir.path().join(format!("{transport}-copy.tar"));
        let dst = ImageRef::parse(&format!("oci-archive:{}", copy.display())).expect("a ref");
        // An archive may name blobs it does not hold (opening reads only the
        // manifest and config): writing then fails with an error naming the
        // blob, and leaves no partial destination behind.
        if write_image_to(&image, &dst).is_err() {
            assert!(!copy.exists(), "a failed write left {}", copy.display());
            continue;
        }
        let again = LocalImage::open(&dst).expect("an archive slipway wrote opens");
        assert_eq!(again.image.manifest, image.image.manifest);
        assert_eq!(again.image.config, image.image.config);
        assert_eq!(again.image.layers(), image.image.layers());
    }
    // Other processes use the temporary directory too: only look for ours.
    let leftovers: Vec<String> = names(&std::env::temp_dir())
        .difference(&before)
        .filter(|n| n.starts_with("slipway-archive-"))
        .cloned()
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
});
