//! `slipway.lock`: package entries round-trip through their canonical text,
//! go stale when the step asks for something else, and `--locked` names the
//! steps without a current entry.

mod common;

use common::{DIGEST, entry, lock_with, recipe};
use slipway_recipe::lock::LockedStep;
use slipway_recipe::{Lock, Plan, Recipe};

#[test]
fn package_entries_round_trip_in_one_canonical_text() {
    let dir = recipe(|_, t| t.to_owned());
    let lock = lock_with(entry(dir.path()));
    let text = lock.to_toml();
    // Sorted by operation, then name; every field a build needs.
    let ops: Vec<&str> = text.lines().filter(|l| l.starts_with("op = ")).collect();
    assert_eq!(
        ops,
        ["op = 1", "op = 2", "op = 2", "op = 3", "op = 3"],
        "{text}"
    );
    for want in [
        "[[image.step]]",
        "[[image.step.package]]",
        "[[image.step.erased]]",
        "nevra = \"vim-enhanced-7.4-1.el6.x86_64\"",
        "[[image.step.skipped]]",
        "name = \"wireless-tools\"",
        "name = \"cpp\"",
        "url = \"http://127.0.0.1/repo/gcc-4.4.7.rpm\"",
        "request = \"sha256:",
    ] {
        assert!(text.contains(want), "`{want}` not in:\n{text}");
    }
    assert!(
        text.find("name = \"cpp\"") < text.find("name = \"gcc\""),
        "{text}"
    );

    // Shuffled input, same bytes; written and read back, the same lock.
    let mut shuffled = lock.clone();
    shuffled.images[0].steps[0].packages.reverse();
    shuffled.set_step(
        "app",
        LockedStep {
            name: "another".into(),
            request: "sha256:0".into(),
            ..LockedStep::default()
        },
    );
    let mut other_order = lock.clone();
    other_order.set_step(
        "app",
        LockedStep {
            name: "another".into(),
            request: "sha256:0".into(),
            ..LockedStep::default()
        },
    );
    other_order.images[0].steps.reverse();
    assert_eq!(shuffled.to_toml(), other_order.to_toml());
    let path = dir.path().join("slipway.lock");
    lock.write(&path).expect("write");
    let read = Lock::read(&path).expect("read").expect("exists");
    assert_eq!(read.to_toml(), text);
    let mut sorted = lock.clone();
    sorted.images[0].steps[0].packages.sort();
    assert_eq!(read, sorted);

    // A hand-edited entry with an unknown key is refused, naming the file.
    fs_err::write(&path, text.replace("op = 3", "op = 3\nwhy = \"x\"")).expect("write");
    let err = Lock::read(&path).expect_err("unknown key").to_string();
    assert!(err.contains("slipway.lock") && err.contains("why"), "{err}");
}

#[test]
fn a_current_entry_locks_the_step_and_a_changed_step_makes_it_stale() {
    let dir = recipe(|_, t| t.to_owned());
    let lock = lock_with(entry(dir.path()));
    let path = dir.path().join("slipway.lock");
    let recipe_now = Recipe::load(dir.path()).expect("recipe");
    let plan = Plan::new(&recipe_now, &[], Some(&lock)).expect("plan");
    assert!(plan.unlocked_package_steps().is_empty());
    let step = &plan.images[1].steps[0];
    assert_eq!(step.name, "packages");
    assert_eq!(step.locked_packages, Some(3));
    slipway_recipe::lock::check(&recipe_now, &lock, &path).expect("current");
    slipway_recipe::lock::check_packages(&plan, &path).expect("all locked");
    let unlocked = Plan::new(&recipe_now, &[], None).expect("plan");
    assert_ne!(unlocked.images[1].steps[0].key, step.key);

    // No entry: `--locked` names the step and what to run.
    let err = slipway_recipe::lock::check_packages(&unlocked, &path)
        .expect_err("unlocked")
        .to_string();
    assert!(
        err.contains("`app/packages`") && err.contains("run `slipway lock`"),
        "{err}"
    );

    // The step's operations, its repositories, its personality or the
    // image's `releasever` changed: the entry is stale.
    for edit in [
        common::replace("common/shared.toml", "\"gcc\"", "\"gcc\", \"make\""),
        common::replace(
            "repos/fixture.repo",
            "baseurl=http://127.0.0.1/repo",
            "baseurl=http://127.0.0.1/other",
        ),
        common::replace(
            "common/shared.toml",
            "name = \"packages\"",
            "name = \"packages\"\npersonality = \"linux32\"",
        ),
        common::replace(
            "app.toml",
            "[base]\nimage = \"base\"",
            "releasever = \"6\"\n[base]\nimage = \"base\"",
        ),
    ] {
        let changed = recipe(&edit);
        let recipe_changed = Recipe::load(changed.path()).expect("recipe");
        let plan = Plan::new(&recipe_changed, &[], Some(&lock)).expect("plan");
        assert_eq!(plan.unlocked_package_steps(), [("app", "packages")]);
        let err = slipway_recipe::lock::check(&recipe_changed, &lock, &path)
            .expect_err("stale")
            .to_string();
        assert!(
            err.contains("step `packages` changed since they were locked")
                && err.contains("run `slipway lock`"),
            "{err}"
        );
    }

    // A script step's change leaves the package entry current.
    let script = recipe(|_, t| t.to_owned());
    fs_err::write(script.path().join("steps/build.sh"), "make -j9\n").expect("write");
    let recipe_script = Recipe::load(script.path()).expect("recipe");
    let plan = Plan::new(&recipe_script, &[], Some(&lock)).expect("plan");
    assert!(plan.unlocked_package_steps().is_empty());
}

#[test]
fn update_selectors_forget_entries_and_name_unknown_ones() {
    let dir = recipe(|_, t| t.to_owned());
    let recipe_now = Recipe::load(dir.path()).expect("recipe");
    let full = lock_with(entry(dir.path()));
    let entries = |lock: &Lock| lock.image("app").map_or(0, |i| i.steps.len());

    let mut lock = full.clone();
    lock.forget_steps(&recipe_now, &["base".into()])
        .expect("another image");
    assert_eq!(entries(&lock), 1);
    for selectors in [
        vec![],
        vec!["app".to_owned()],
        vec!["app/packages".to_owned()],
    ] {
        let mut lock = full.clone();
        lock.forget_steps(&recipe_now, &selectors).expect("known");
        assert_eq!(entries(&lock), 0, "{selectors:?}");
    }
    let mut lock = full.clone();
    let err = lock
        .forget_steps(&recipe_now, &["ap".into()])
        .expect_err("unknown image")
        .to_string();
    assert!(
        err.contains("no image `ap`") && err.contains("did you mean `app`?"),
        "{err}"
    );
    let err = lock
        .forget_steps(&recipe_now, &["app/build".into()])
        .expect_err("a script step")
        .to_string();
    assert!(
        err.contains("app/build") && err.contains("no image or package step"),
        "{err}"
    );
    assert_eq!(lock, full, "a refused selector forgets nothing");
}

#[test]
fn a_new_base_digest_makes_the_package_pins_stale() {
    // `app` straight on the registry base, unpinned in the recipe: the lock
    // holds the digest `slipway lock` resolved the tag to.
    let dir = common::recipe_with(common::replace(
        "app.toml",
        "[base]\nimage = \"base\"",
        "[base]\nref = \"registry.example/builder:1\"\nplatform = \"linux/amd64\"",
    ));
    let recipe = Recipe::load(dir.path()).expect("recipe");
    let app = recipe.image("app").expect("app");
    let step = app.step("packages").expect("packages");
    let request_over = |digest: &str| {
        let mut lock = lock_with(LockedStep::default());
        let image = lock
            .images
            .iter_mut()
            .find(|i| i.name == "app")
            .expect("app");
        image.base_ref = Some("registry.example/builder:1".into());
        image.base_digest = Some(digest.into());
        slipway_recipe::plan::packages_request(&recipe, app, step, Some(&lock)).expect("request")
    };
    let moved = DIGEST.replace('a', "b");
    assert_eq!(request_over(DIGEST), request_over(DIGEST));
    assert_ne!(
        request_over(DIGEST),
        request_over(&moved),
        "the tag moved: what the step resolves over changed"
    );
    let unpinned =
        slipway_recipe::plan::packages_request(&recipe, app, step, None).expect("request");
    assert_ne!(unpinned, request_over(DIGEST));
}
