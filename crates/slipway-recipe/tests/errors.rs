//! Each kind of bad recipe gives one clear error naming file, line and key.

mod common;

use common::{error_of, replace};

#[test]
fn the_valid_recipe_loads() {
    let dir = common::recipe_with(|_, t| t.to_owned());
    let recipe = slipway_recipe::Recipe::load(dir.path()).expect("valid recipe");
    let names: Vec<&str> = recipe.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["base", "app"], "bases come first");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "script = \"steps/other.sh\"", "scirpt = \"steps/other.sh\"")),
        @"app.toml:14: unknown key `scirpt` (did you mean `script`?)"
    );
}

#[test]
fn unknown_key_in_a_fragment_names_the_fragment() {
    insta::assert_snapshot!(
        error_of(replace("common/shared.toml", "sha256 =", "sha265 =")),
        @"common/shared.toml:8: unknown key `sha265` (did you mean `sha256`?)"
    );
}

#[test]
fn unknown_top_level_key() {
    insta::assert_snapshot!(
        error_of(replace("base.toml", "[base]", "plattform = \"linux/amd64\"\n[base]")),
        @"base.toml:2: unknown key `plattform` (did you mean `platform`?)"
    );
}

#[test]
fn missing_script() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "steps/build.sh", "steps/biuld.sh")),
        @"app.toml:8: `steps.script` names `steps/biuld.sh`, which does not exist in the recipe directory"
    );
}

#[test]
fn cycle_between_images() {
    insta::assert_snapshot!(
        error_of(replace(
            "base.toml",
            "ref = \"registry.example/builder:1\"\nplatform = \"linux/amd64\"",
            "image = \"app\""
        )),
        @"base.toml:3: cycle between images: app -> base -> app"
    );
}

#[test]
fn bad_sha256() {
    insta::assert_snapshot!(
        error_of(replace("common/shared.toml", "sha256 = \"2411c74b", "sha256 = \"2411c74g")),
        @"common/shared.toml:8: `sources.sha256` is not a sha256: expected 64 lowercase hex digits, found `2411c74gda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849`"
    );
}

#[test]
fn short_sha256() {
    insta::assert_snapshot!(
        error_of(replace(
            "common/shared.toml",
            "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849",
            "2411c74b"
        )),
        @"common/shared.toml:8: `sources.sha256` is not a sha256: expected 64 lowercase hex digits, found `2411c74b`"
    );
}

#[test]
fn bad_digest_in_base_reference() {
    insta::assert_snapshot!(
        error_of(replace("base.toml", "builder:1", "builder@sha256:abc")),
        @"base.toml:3: `base.ref` is not a sha256: expected 64 lowercase hex digits, found `abc`"
    );
}

#[test]
fn duplicate_step() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "name = \"last\"", "name = \"build\"")),
        @"app.toml:17: duplicate step `build` (first defined at app.toml:6)"
    );
}

#[test]
fn duplicate_image_name() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "include =", "name = \"base\"\ninclude =")),
        @"base.toml:1: duplicate image `base` (first defined at app.toml:1)"
    );
}

#[test]
fn unknown_input_suggests_a_source() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "inputs = [\"lib\"]", "inputs = [\"lbi\"]")),
        @"app.toml:9: `steps.inputs` names source `lbi`, which is not defined (did you mean `lib`?)"
    );
}

#[test]
fn depends_on_a_later_step() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "depends-on = [\"packages\"]\n\n[[steps]]\nname = \"other\"", "depends-on = [\"other\"]\n\n[[steps]]\nname = \"other\"")),
        @"app.toml:10: `steps.depends-on`: step `build` may only depend on steps written before it, not `other`"
    );
}

#[test]
fn unknown_base_image() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "image = \"base\"", "image = \"bsae\"")),
        @"app.toml:4: `base.image` names image `bsae`, which is not defined (did you mean `base`?)"
    );
}

#[test]
fn wrong_type_is_a_syntax_error_with_a_line() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "inputs = [\"lib\"]", "inputs = \"lib\"")),
        @"app.toml:9: invalid type: string \"lib\", expected a sequence"
    );
}

#[test]
fn a_step_needs_one_action() {
    insta::assert_snapshot!(
        error_of(replace("app.toml", "script = \"steps/other.sh\"", "")),
        @"app.toml:12: `steps`: step `other` needs exactly one of `script`, `packages` or `srpm-patch`"
    );
}
