//! Arbitrary bytes as a recipe directory: the parts of the input (see
//! `slipway_fuzz::PART`) are written as `image.toml`, `inc/a.toml`,
//! `inc/b.toml` and `base.toml`, then loaded (includes followed).
//! Invariants: images come bases first, names are unique, and every step
//! name of an image is unique.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use slipway_fuzz::parts;
use slipway_recipe::{Base, Recipe};

const FILES: [&str; 4] = ["image.toml", "inc/a.toml", "inc/b.toml", "base.toml"];

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("inc")).expect("inc/");
    for (name, part) in FILES.iter().zip(parts(data)) {
        std::fs::write(dir.path().join(name), part).expect("writing a recipe file");
    }
    let Ok(recipe) = Recipe::load(dir.path()) else {
        return;
    };
    let mut seen = BTreeSet::new();
    for image in &recipe.images {
        if let Base::Image(base) = &image.base {
            assert!(
                seen.contains(base),
                "{} comes before its base {base}",
                image.name
            );
        }
        assert!(
            seen.insert(image.name.clone()),
            "two images named {}",
            image.name
        );
        let mut steps = BTreeSet::new();
        for step in &image.steps {
            assert!(steps.insert(&step.name), "two steps named {}", step.name);
        }
    }
    let _ = recipe.select(&[]);
});
