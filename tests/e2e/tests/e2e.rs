//! The end-to-end tests that need the running test world (the local
//! registry with the builder base, the fixture yum repositories over HTTP,
//! the sources mirror), in one test binary that starts the world once and
//! runs them in turn:
//!
//! 1. `mini_manylinux.rs`: the recipe built, run and rebuilt; its cold build
//!    (with CPython) is kept as build A of
//! 2. `reproducible.rs`: build B (the second and last CPython compile of the
//!    suite), `verify`, the stamp;
//! 3. `lock.rs`: package steps pinned by `slipway lock`.
//!
//! A failing scenario does not stop the next ones (except that the
//! reproducibility proof needs the cold build); the test fails at the end
//! naming every scenario that failed.

#[path = "lock.rs"]
mod lock;
#[path = "mini_manylinux.rs"]
mod mini_manylinux;
#[path = "reproducible.rs"]
mod reproducible;

use std::panic::{AssertUnwindSafe, catch_unwind};

use slipway_e2e::world::World;

/// Run `scenario`, recording its name in `failed` when it panics.
fn scenario<T>(
    failed: &mut Vec<&'static str>,
    name: &'static str,
    f: impl FnOnce() -> T,
) -> Option<T> {
    eprintln!("=== e2e scenario: {name}");
    let result = catch_unwind(AssertUnwindSafe(f));
    if result.is_err() {
        failed.push(name);
    }
    result.ok()
}

#[test]
fn the_test_world_builds_mini_manylinux_reproducibly_and_locks_it() {
    let Some(world) = World::start(&[
        "umoci",
        "runc",
        "apt-get",
        "tar",
        "taskset",
        "nproc",
        "createrepo_c",
        "rpmbuild",
    ]) else {
        return;
    };
    let mut failed = Vec::new();
    let cold = scenario(&mut failed, "mini_manylinux", || {
        mini_manylinux::mini_manylinux_builds_runs_and_rebuilds_from_cache(&world)
    });
    if let Some(cold) = &cold {
        scenario(&mut failed, "reproducible", || {
            reproducible::mini_manylinux_with_cpython_rebuilds_to_one_digest_and_verify_names_a_stamp(
                &world, cold,
            )
        });
    }
    scenario(&mut failed, "lock", || {
        lock::lock_pins_package_steps_and_locked_builds_install_exactly_them(&world)
    });
    assert!(failed.is_empty(), "e2e scenarios failed: {failed:?}");
}
