//! `slipway lock`'s pinning pass: `make_lock` keeps current package entries
//! and drops stale and orphaned ones, as `slipway build` does before
//! recording new entries.

#[path = "../../slipway-recipe/tests/common.rs"]
mod common;

use common::{entry, lock_with, recipe};
use slipway_recipe::Recipe;
use slipway_recipe::lock::{LockedImage, LockedStep};

#[test]
fn make_lock_keeps_current_entries_and_drops_stale_and_orphaned_ones() {
    let dir = recipe(|_, t| t.to_owned());
    let mut previous = lock_with(entry(dir.path()));
    previous.set_step(
        "app",
        LockedStep {
            name: "gone".into(),
            request: "sha256:0".into(),
            ..LockedStep::default()
        },
    );
    previous.images.push(LockedImage {
        name: "removed-image".into(),
        ..LockedImage::default()
    });
    let recipe_now = Recipe::load(dir.path()).expect("recipe");
    let made = slipway_build::make_lock(
        &recipe_now,
        Some(&previous),
        &slipway_registry::ClientOptions::default(),
        &slipway_build::SourceOptions::default(),
    )
    .expect("lock");
    let app = made.image("app").expect("app");
    assert_eq!(app.steps, [entry(dir.path())]);
    assert!(made.image("removed-image").is_none());

    // The recipe changed the step: its entry goes.
    let changed = recipe(common::replace(
        "common/shared.toml",
        "{ erase = [\"vim\"] }",
        "{ erase = [\"vim\", \"nano\"] }",
    ));
    let recipe_changed = Recipe::load(changed.path()).expect("recipe");
    let made = slipway_build::make_lock(
        &recipe_changed,
        Some(&previous),
        &slipway_registry::ClientOptions::default(),
        &slipway_build::SourceOptions::default(),
    )
    .expect("lock");
    assert!(made.image("app").expect("app").steps.is_empty());

    // What `slipway build` does before recording new entries: the same
    // pruning, without pinning anything.
    let mut pruned = previous.clone();
    slipway_build::drop_stale_entries(&recipe_now, &mut pruned).expect("prune");
    assert_eq!(pruned.image("app").expect("app").steps, [entry(dir.path())]);
    assert!(pruned.image("removed-image").is_none());
}
