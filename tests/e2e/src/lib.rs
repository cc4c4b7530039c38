//! The test world of the end-to-end tests (also used by `cargo xtask demo`
//! and `cargo xtask bench build`): the builder base image in a local
//! registry, the mini-manylinux recipe pointed at it, and a mirror directory
//! holding its sources (CPython 3.11.2 from Debian's source archive).
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};
use slipway_test_support::{generated_dir, workspace_root};

pub mod world;

/// The sha256 of `Python-3.11.2.tgz` (python.org) = Debian's
/// `python3.11_3.11.2.orig.tar.gz`.
pub const CPYTHON_SHA256: &str = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849";

/// The repository the builder image is pushed to.
pub const BUILDER_REPO: &str = "slipway-e2e/builder:bookworm";

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let bytes = fs_err::read(path).map_err(|e| e.to_string())?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The name of this package's copy of the `slipway` CLI
/// (`src/bin/slipway-e2e-cli.rs`, which calls `slipway::main`).
pub const CLI_BIN: &str = "slipway-e2e-cli";

/// The `slipway` CLI beside the running executable: cargo builds this
/// package's binaries before its tests run (and `cargo xtask` builds them
/// before running `slipway-bench-build` or `slipway-demo`), so no test runs
/// `cargo build` itself, and the binary is always that of the tested source.
pub fn slipway_bin() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    // A test runs from `target/PROFILE/deps/`, a binary from `target/PROFILE/`.
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(CLI_BIN))
        .find(|bin| bin.is_file())
        .ok_or_else(|| {
            format!(
                "no `{CLI_BIN}` beside {}: run `cargo build -p slipway-e2e --bins` (add `--release` for a release binary)",
                exe.display()
            )
        })
}

/// The builder rootfs as a one-layer OCI image (tag `latest`), made once under
/// `target/test-data/e2e-builder-oci`.
pub fn builder_image(rootfs: &Path) -> Result<PathBuf, String> {
    let dir = generated_dir("e2e-builder-oci");
    let layout_dir = dir.join("layout");
    let done = dir.join("done");
    if done.exists() {
        return Ok(layout_dir);
    }
    let _ = fs_err::remove_dir_all(&layout_dir);
    let err = |e: slipway_oci::Error| e.to_string();
    let layout = slipway_oci::OciLayout::create(&layout_dir).map_err(err)?;
    let options = slipway_oci::LayerOptions::default();
    let layer = slipway_oci::write_layer_from_dir(&layout, rootfs, &options).map_err(err)?;
    let platform = slipway_oci::Platform::parse("linux/amd64").map_err(err)?;
    let mut config = slipway_oci::ImageConfig::new(&platform, options.source_date_epoch);
    config.set_env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    config.append_layer(
        &layer.diff_id,
        "debootstrap bookworm + rpm gcc make",
        options.source_date_epoch,
    );
    slipway_oci::write_image(&layout, &config, &[layer.descriptor], Some("latest")).map_err(err)?;
    fs_err::write(&done, "").map_err(|e| e.to_string())?;
    Ok(layout_dir)
}

/// Push the builder image to the registry at `host`; returns the manifest digest.
pub fn push_builder(layout: &Path, host: &str) -> Result<String, String> {
    let target = slipway_registry::Reference::parse(&format!("{host}/{BUILDER_REPO}"))
        .map_err(|e| e.to_string())?;
    slipway_registry::push_blocking(
        &slipway_registry::ClientOptions::default(),
        layout,
        Some("latest"),
        &target,
        &slipway_registry::PushOptions::default(),
    )
    .map_err(|e| e.to_string())
}

/// A mirror directory holding the sources of mini-manylinux:
/// `Python-3.11.2.tgz` (from Debian's source archive, checked against
/// [`CPYTHON_SHA256`]) and `libmini-1.0.tar.gz` (packed from the fixture).
pub fn mirror() -> Result<PathBuf, String> {
    let dir = generated_dir("e2e-mirror");
    let python = dir.join("Python-3.11.2.tgz");
    if !python.exists() {
        let apt = generated_dir("e2e-apt-src");
        let lists = apt.join("lists");
        fs_err::create_dir_all(lists.join("partial")).map_err(|e| e.to_string())?;
        fs_err::create_dir_all(apt.join("sources.list.d")).map_err(|e| e.to_string())?;
        let list = apt.join("sources.list");
        fs_err::write(
            &list,
            format!(
                "deb-src {} bookworm main\n",
                slipway_test_support::builder::debian_mirror()
            ),
        )
        .map_err(|e| e.to_string())?;
        let opts = [
            format!("-oDir::Etc::SourceList={}", list.display()),
            format!(
                "-oDir::Etc::SourceParts={}",
                apt.join("sources.list.d").display()
            ),
            format!("-oDir::State::Lists={}", lists.display()),
        ];
        run(Command::new("apt-get").args(&opts).arg("update"))?;
        let dl = apt.join("download");
        fs_err::create_dir_all(&dl).map_err(|e| e.to_string())?;
        run(Command::new("apt-get")
            .args(&opts)
            .args(["source", "--download-only", "python3.11"])
            .current_dir(&dl))?;
        let orig = dl.join("python3.11_3.11.2.orig.tar.gz");
        let actual = sha256_file(&orig)?;
        if actual != CPYTHON_SHA256 {
            return Err(format!(
                "{}: sha256 {actual}, expected {CPYTHON_SHA256}",
                orig.display()
            ));
        }
        fs_err::copy(&orig, &python).map_err(|e| e.to_string())?;
    }
    let libmini = dir.join("libmini-1.0.tar.gz");
    let src = workspace_root().join("fixtures/mini-manylinux/src");
    run(Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
        ])
        .arg("-czf")
        .arg(&libmini)
        .arg("-C")
        .arg(&src)
        .arg("libmini-1.0"))?;
    Ok(dir)
}

/// The fixture yum repositories of mini-manylinux (`base/`, `updates/`),
/// built by `rpmbuild` and indexed by `createrepo_c`, under
/// `target/test-data/e2e-yum`; serve the returned directory over HTTP.
pub fn yum_repos() -> Result<PathBuf, String> {
    let root = generated_dir("e2e-yum");
    let specs = workspace_root().join("fixtures/mini-manylinux/rpms");
    for repo in ["base", "updates"] {
        let built = slipway_test_support::fixtures::build_rpms(
            &specs.join(repo),
            &format!("e2e-rpms-{repo}"),
        );
        let dir = root.join(repo);
        let _ = fs_err::remove_dir_all(&dir);
        fs_err::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for rpm in slipway_test_support::fixtures::rpm_files(&built) {
            let name = rpm.file_name().ok_or("rpm file name")?;
            fs_err::copy(&rpm, dir.join(name)).map_err(|e| e.to_string())?;
        }
        slipway_test_support::fixtures::createrepo(&dir, false);
    }
    Ok(root)
}

/// Copy the mini-manylinux recipe to `dest`, its base pointed at `host` and
/// its yum repositories at `127.0.0.1:yum_port`. With `with_cpython = false`
/// the CPython step is left out (the benchmark's variant).
pub fn prepare_recipe(
    dest: &Path,
    host: &str,
    yum_port: u16,
    with_cpython: bool,
) -> Result<(), String> {
    let src = workspace_root().join("fixtures/mini-manylinux");
    fs_err::create_dir_all(dest.join("repos")).map_err(|e| e.to_string())?;
    let repo = fs_err::read_to_string(src.join("repos.repo.in"))
        .map_err(|e| e.to_string())?
        .replace("PORT", &yum_port.to_string());
    fs_err::write(dest.join("repos/mini.repo"), repo).map_err(|e| e.to_string())?;
    fs_err::create_dir_all(dest.join("steps")).map_err(|e| e.to_string())?;
    for entry in fs_err::read_dir(src.join("steps")).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        fs_err::copy(entry.path(), dest.join("steps").join(entry.file_name()))
            .map_err(|e| e.to_string())?;
    }
    let mut text = fs_err::read_to_string(src.join("mini-manylinux.toml"))
        .map_err(|e| e.to_string())?
        .replace("REGISTRY/", &format!("{host}/"));
    if !with_cpython {
        let start = text
            .find("[[steps]]\nname = \"cpython-3.11.2\"")
            .ok_or("no cpython step")?;
        let end = start
            + text[start..]
                .find("\n\n")
                .ok_or("no end of the cpython step")?
            + 2;
        text.replace_range(start..end, "");
    }
    fs_err::write(dest.join("mini-manylinux.toml"), text).map_err(|e| e.to_string())?;
    Ok(())
}
