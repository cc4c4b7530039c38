//! `cargo xtask demo`: set up the test world on loopback (registry with the
//! builder base, CPython 3.11.2 from Debian's source archive in a mirror
//! directory) and build the mini-manylinux image end to end with the
//! `slipway` CLI, then print its digest and how to run it.

use std::process::{Command, ExitCode};

use slipway_test_support::builder::{BuilderArch, builder_rootfs};
use slipway_test_support::generated_dir;
use slipway_test_support::registry::{RegistryAuth, TestRegistry};

fn main() -> ExitCode {
    match demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn step(what: &str) {
    eprintln!("\n### {what}");
}

fn demo() -> Result<(), String> {
    step("builder base: debootstrap bookworm + rpm gcc make (cached under target/test-data)");
    let rootfs = builder_rootfs(BuilderArch::Amd64).ok_or("needs root and debootstrap")?;
    let builder = slipway_e2e::builder_image(&rootfs)?;
    step("local registry on 127.0.0.1, builder pushed");
    let registry = TestRegistry::start(RegistryAuth::Anonymous).ok_or("needs docker-registry")?;
    let digest = slipway_e2e::push_builder(&builder, &registry.host())?;
    eprintln!(
        "{}/{} = {digest}",
        registry.host(),
        slipway_e2e::BUILDER_REPO
    );
    step("mirror: Python-3.11.2.tgz from Debian's source archive, libmini from fixtures/");
    let mirror = slipway_e2e::mirror()?;
    let yum = slipway_e2e::yum_repos()?;
    let http =
        slipway_test_support::http::HttpServer::serve(&yum).ok_or("cannot serve the yum repos")?;
    let dir = generated_dir("demo");
    let recipes = dir.join("recipes");
    let _ = fs_err::remove_dir_all(&recipes);
    slipway_e2e::prepare_recipe(&recipes, &registry.host(), http.port(), true)?;
    let bin = slipway_e2e::slipway_bin()?;
    let out = dir.join("out");
    let store = dir.join("store");
    let run = |args: &[&str]| -> Result<String, String> {
        eprintln!("$ slipway {}", args.join(" "));
        let output = Command::new(&bin)
            .args(args)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(format!("slipway {} failed", args[0]));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let recipes_arg = recipes.display().to_string();
    let mirror_arg = mirror.display().to_string();
    let store_arg = store.display().to_string();
    step("slipway lock: pin the base digest, the unpinned source and the package steps");
    run(&[
        "lock",
        "--recipes",
        &recipes_arg,
        "--mirror",
        &mirror_arg,
        "--store",
        &store_arg,
    ])?;
    step("slipway build");
    let stdout = run(&[
        "build",
        "--recipes",
        &recipes_arg,
        "--store",
        &store_arg,
        "--output",
        &out.display().to_string(),
        "--mirror",
        &mirror_arg,
        "--locked",
    ])?;
    print!("{stdout}");
    let layout = out.join("mini-manylinux");
    println!("\nRun it:");
    println!(
        "  umoci unpack --image {}:latest /tmp/mini-bundle",
        layout.display()
    );
    println!("  # set \"terminal\": false in /tmp/mini-bundle/config.json, then:");
    println!("  runc run --bundle /tmp/mini-bundle mini");
    Ok(())
}
