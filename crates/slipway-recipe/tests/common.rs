//! Helpers shared by the recipe tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The real recipes of the workspace.
pub fn layers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../layers")
}

/// A valid two-image recipe to mutate: `base.toml` from a registry and
/// `app.toml` on top of it, with a fragment, a repo file, sources and steps.
pub const BASE: &str = r#"
[base]
ref = "registry.example/builder:1"
platform = "linux/amd64"

[[steps]]
name = "hello"
script = "steps/hello.sh"
"#;

pub const APP: &str = r#"include = ["common/shared.toml"]

[base]
image = "base"

[[steps]]
name = "build"
script = "steps/build.sh"
inputs = ["lib"]
depends-on = ["packages"]

[[steps]]
name = "other"
script = "steps/other.sh"
depends-on = ["packages"]

[[steps]]
name = "last"
script = "steps/hello.sh"
"#;

pub const SHARED: &str = r#"[[repos]]
name = "fixture"
file = "repos/fixture.repo"

[[sources]]
name = "lib"
url = "https://example.invalid/lib-1.0.tar.gz"
sha256 = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"

[[steps]]
name = "packages"
packages = [{ update = ["*"] }, { install = ["gcc"] }, { erase = ["vim"] }, { clean = true }]

[config]
env = { PATH = "/opt/bin:$PATH" }
cmd = ["/bin/sh"]
"#;

/// Write the valid recipe into a temp dir, with `edit(name, text)` applied to
/// each file's text first.
pub fn recipe_with(edit: impl Fn(&str, &str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = [
        ("base.toml", BASE),
        ("app.toml", APP),
        ("common/shared.toml", SHARED),
        (
            "repos/fixture.repo",
            "[fixture]\nbaseurl=http://127.0.0.1/repo\n",
        ),
        ("steps/hello.sh", "echo hello\n"),
        ("steps/build.sh", "make\n"),
        ("steps/other.sh", "true\n"),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs_err::write(&path, edit(name, text)).expect("write");
    }
    dir
}

/// The error message loading the recipe (with `edit` applied) gives.
pub fn error_of(edit: impl Fn(&str, &str) -> String) -> String {
    let dir = recipe_with(edit);
    match slipway_recipe::Recipe::load(dir.path()) {
        Ok(_) => panic!("the recipe loaded, an error was expected"),
        Err(e) => e.to_string(),
    }
}

/// Replace `from` by `to` in file `file` only.
pub fn replace(
    file: &'static str,
    from: &'static str,
    to: &'static str,
) -> impl Fn(&str, &str) -> String {
    move |name, text| {
        if name == file {
            assert!(text.contains(from), "`{from}` not in {file}");
            text.replacen(from, to, 1)
        } else {
            text.to_owned()
        }
    }
}
