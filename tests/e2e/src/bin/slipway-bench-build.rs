//! `cargo xtask bench build`: the mini-manylinux recipe without its CPython
//! step, built cold by `slipway build` and by `buildah bud --isolation chroot
//! --storage-driver vfs` of an equivalent Dockerfile (generated here), in the
//! same run; then a warm `slipway build` after changing one step's script.
//! Prints both ratios (targets: cold ≥ 3× faster than buildah; warm ≤ 10% of
//! our cold time).

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use slipway_test_support::builder::{BuilderArch, builder_rootfs};
use slipway_test_support::generated_dir;
use slipway_test_support::registry::{RegistryAuth, TestRegistry};

fn main() -> ExitCode {
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench build failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn timed(what: &str, cmd: &mut Command) -> Result<f64, String> {
    eprintln!("$ {cmd:?}");
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|e| format!("{what}: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("{what} failed: {status}"));
    }
    eprintln!("{what}: {secs:.1}s");
    Ok(secs)
}

/// A Dockerfile doing what the recipe does, step for step.
fn dockerfile(recipes: &Path, image: &str) -> Result<String, String> {
    let _ = recipes;
    Ok(format!(
        "FROM {image}\n\
         COPY steps /.slipway/recipe/steps\n\
         COPY libmini-1.0.tar.gz /inputs/libmini/libmini-1.0.tar.gz\n\
         RUN bash /.slipway/recipe/steps/system-packages.sh && rm -rf /var/cache/apt /var/lib/apt/lists /var/log /tmp/*\n\
         RUN bash /.slipway/recipe/steps/build-libmini.sh && rm -rf /tmp/*\n\
         RUN bash /.slipway/recipe/steps/cleanup.sh\n\
         ENV LD_LIBRARY_PATH=/usr/local/lib LC_ALL=C.UTF-8\n\
         LABEL maintainer=\"slipway tests\"\n\
         ENTRYPOINT [\"/usr/local/bin/mini-entrypoint\"]\n\
         CMD [\"/bin/bash\"]\n"
    ))
}

fn bench() -> Result<(), String> {
    let buildah = which("buildah").ok_or("buildah is not installed (apt-get install buildah)")?;
    let rootfs = builder_rootfs(BuilderArch::Amd64).ok_or("needs root and debootstrap")?;
    let builder = slipway_e2e::builder_image(&rootfs)?;
    let registry = TestRegistry::start(RegistryAuth::Anonymous).ok_or("needs docker-registry")?;
    slipway_e2e::push_builder(&builder, &registry.host())?;
    let mirror = slipway_e2e::mirror()?;
    let yum = slipway_e2e::yum_repos()?;
    let http =
        slipway_test_support::http::HttpServer::serve(&yum).ok_or("cannot serve the yum repos")?;
    let dir = generated_dir("bench-build");
    let recipes = dir.join("recipes");
    let _ = fs_err::remove_dir_all(&recipes);
    slipway_e2e::prepare_recipe(&recipes, &registry.host(), http.port(), false)?;
    let bin = slipway_e2e::slipway_bin_profile(true)?;
    let store = dir.join("store");
    let _ = fs_err::remove_dir_all(&store);
    let _ = fs_err::remove_dir_all(dir.join("lock-store"));
    let out = dir.join("out");
    let slipway = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(args);
        cmd
    };
    let r = recipes.display().to_string();
    let m = mirror.display().to_string();
    let s = store.display().to_string();
    let o = out.display().to_string();
    let lock = timed(
        "slipway lock",
        // lock runs the package steps: in a store of its own, so the
        // build below is cold.
        &mut slipway(&[
            "lock",
            "--recipes",
            &r,
            "--mirror",
            &m,
            "--store",
            &dir.join("lock-store").display().to_string(),
        ]),
    )?;
    let build = [
        "build",
        "--recipes",
        &r,
        "--store",
        &s,
        "--output",
        &o,
        "--mirror",
        &m,
        "--locked",
    ];
    let cold = timed("slipway build (cold)", &mut slipway(&build))?;

    // buildah, same run, same inputs.
    let ctx = dir.join("buildah-context");
    let _ = fs_err::remove_dir_all(&ctx);
    fs_err::create_dir_all(ctx.join("steps")).map_err(|e| e.to_string())?;
    for entry in fs_err::read_dir(recipes.join("steps")).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        fs_err::copy(entry.path(), ctx.join("steps").join(entry.file_name()))
            .map_err(|e| e.to_string())?;
    }
    fs_err::copy(
        mirror.join("libmini-1.0.tar.gz"),
        ctx.join("libmini-1.0.tar.gz"),
    )
    .map_err(|e| e.to_string())?;
    let image = format!("{}/{}", registry.host(), slipway_e2e::BUILDER_REPO);
    fs_err::write(ctx.join("Dockerfile"), dockerfile(&recipes, &image)?)
        .map_err(|e| e.to_string())?;
    let storage = dir.join("buildah-storage");
    let _ = fs_err::remove_dir_all(&storage);
    let buildah_secs = timed(
        "buildah bud (cold)",
        Command::new(&buildah)
            .arg("--root")
            .arg(&storage)
            .arg("--runroot")
            .arg(dir.join("buildah-run"))
            .args([
                "--storage-driver",
                "vfs",
                "bud",
                "--isolation",
                "chroot",
                "--tls-verify=false",
                "--layers",
                "-t",
                "mini-manylinux",
            ])
            .arg(&ctx),
    )?;

    // Warm: one step's script changed.
    let script = recipes.join("steps/build-libmini.sh");
    let mut text = fs_err::read_to_string(&script).map_err(|e| e.to_string())?;
    text.push_str("# touched by the benchmark\n");
    fs_err::write(&script, text).map_err(|e| e.to_string())?;
    let warm = timed(
        "slipway build (warm, one step changed)",
        &mut slipway(&build),
    )?;

    println!(
        "slipway cold: {cold:.1}s   buildah cold: {buildah_secs:.1}s   slipway warm: {warm:.1}s"
    );
    println!(
        "cold: slipway is {:.2}x faster than buildah (target >= 3x)",
        buildah_secs / cold
    );
    // buildah has no lock step: it resolves in its RUN lines. Counting
    // `slipway lock` (resolution and the package step it runs) as well:
    println!(
        "cold with lock: slipway is {:.2}x faster than buildah ({:.1}s + {:.1}s)",
        buildah_secs / (cold + lock),
        lock,
        cold
    );
    println!(
        "warm: {:.1}% of slipway's cold time (target <= 10%)",
        100.0 * warm / cold
    );
    let _ = fs_err::remove_dir_all(&storage);
    Ok(())
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}
