//! `cargo xtask bench build`: the mini-manylinux recipe without its CPython
//! step, built cold by `slipway build` and by `buildah bud --isolation
//! chroot` of an equivalent Dockerfile (generated here: the same scripts, the
//! same source, and the package step as `rpm -i`/`-U`/`-e` of the RPMs the
//! lock pins), with the overlay storage driver (as root, where the kernel
//! allows it) and with vfs, alternating round by round; every cold round
//! starts from an empty store / empty buildah storage, so both pull the base
//! from the local registry each time. Then warm rebuilds: no change, and one
//! step's script changed. Both tools run with syncs as they normally do:
//! slipway discards fsync inside its steps, buildah's dpkg and rpm sync.
//! Prints markdown tables (and writes JSON for `bench all`, see
//! `slipway_test_support::bench`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use slipway_test_support::bench::{self, Contender, MIN_ROUNDS, Sample, Table};
use slipway_test_support::builder::{BuilderArch, builder_rootfs};
use slipway_test_support::generated_dir;
use slipway_test_support::registry::{RegistryAuth, TestRegistry};

fn main() -> ExitCode {
    match bench_build() {
        Ok(tables) => match bench::emit(&tables) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench build: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("bench build failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_quiet(what: &str, cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// A Dockerfile doing what the recipe (without CPython) does, step for step.
fn dockerfile(image: &str) -> String {
    format!(
        "FROM {image}\n\
         COPY steps /.slipway/recipe/steps\n\
         COPY rpms /tmp/rpms\n\
         RUN rpm -i /tmp/rpms/base/*.rpm && rpm -U /tmp/rpms/updates/*.rpm && rpm -e mini-extra && rm -rf /tmp/rpms\n\
         RUN bash /.slipway/recipe/steps/system-packages.sh && rm -rf /var/cache/apt /var/lib/apt/lists /var/log /tmp/*\n\
         COPY libmini-1.0.tar.gz /inputs/libmini/libmini-1.0.tar.gz\n\
         RUN bash /.slipway/recipe/steps/build-libmini.sh && rm -rf /tmp/* /inputs\n\
         RUN bash /.slipway/recipe/steps/cleanup.sh\n\
         ENV LD_LIBRARY_PATH=/usr/local/lib LC_ALL=C.UTF-8\n\
         LABEL maintainer=\"slipway tests\"\n\
         ENTRYPOINT [\"/usr/local/bin/mini-entrypoint\"]\n\
         CMD [\"/bin/bash\"]\n"
    )
}

/// The buildah context: the step scripts, the libmini source, and the RPMs
/// of the package step (`mini-tool-1.0` and `mini-extra` from base, the
/// `mini-tool` update).
fn buildah_context(
    dir: &Path,
    recipes: &Path,
    mirror: &Path,
    yum: &Path,
    image: &str,
) -> Result<PathBuf, String> {
    let io = |e: std::io::Error| e.to_string();
    let ctx = dir.join("buildah-context");
    let _ = fs_err::remove_dir_all(&ctx);
    fs_err::create_dir_all(ctx.join("steps")).map_err(io)?;
    for entry in fs_err::read_dir(recipes.join("steps")).map_err(io)? {
        let entry = entry.map_err(io)?;
        fs_err::copy(entry.path(), ctx.join("steps").join(entry.file_name())).map_err(io)?;
    }
    for (repo, names) in [
        ("base", &["mini-tool-1.0", "mini-extra-1.0"][..]),
        ("updates", &["mini-tool-1.1"][..]),
    ] {
        fs_err::create_dir_all(ctx.join("rpms").join(repo)).map_err(io)?;
        for entry in fs_err::read_dir(yum.join(repo)).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rpm") && names.iter().any(|n| name.starts_with(n)) {
                fs_err::copy(entry.path(), ctx.join("rpms").join(repo).join(&name)).map_err(io)?;
            }
        }
    }
    fs_err::copy(
        mirror.join("libmini-1.0.tar.gz"),
        ctx.join("libmini-1.0.tar.gz"),
    )
    .map_err(io)?;
    fs_err::write(ctx.join("Dockerfile"), dockerfile(image)).map_err(io)?;
    Ok(ctx)
}

/// `buildah bud` with its storage under `storage` (emptied first when
/// `cold`) and the given driver.
fn buildah(storage: &Path, driver: &str, ctx: &Path, cold: bool) -> Result<Sample, String> {
    if cold {
        wipe_buildah(storage, driver);
    }
    bench::timed(|| {
        run_quiet(
            &format!("buildah bud ({driver})"),
            Command::new("buildah")
                .arg("--root")
                .arg(storage.join("root"))
                .arg("--runroot")
                .arg(storage.join("run"))
                .args([
                    "--storage-driver",
                    driver,
                    "bud",
                    "--isolation",
                    "chroot",
                    "--tls-verify=false",
                    "--layers",
                    "--quiet",
                    "-t",
                    "mini-manylinux",
                ])
                .arg(ctx),
        )
        .map(|()| None)
    })
}

/// Remove buildah's storage (through buildah first: overlay mounts).
fn wipe_buildah(storage: &Path, driver: &str) {
    if storage.exists() {
        let _ = Command::new("buildah")
            .arg("--root")
            .arg(storage.join("root"))
            .arg("--runroot")
            .arg(storage.join("run"))
            .args(["--storage-driver", driver, "rmi", "--all", "--force"])
            .output();
        let _ = fs_err::remove_dir_all(storage);
    }
}

/// Whether buildah's overlay driver works here (root, a kernel with
/// overlayfs, storage not on an overlay itself).
fn overlay_works(dir: &Path) -> bool {
    let storage = dir.join("buildah-probe");
    let ok = Command::new("buildah")
        .arg("--root")
        .arg(storage.join("root"))
        .arg("--runroot")
        .arg(storage.join("run"))
        .args(["--storage-driver", "overlay", "from", "scratch"])
        .output()
        .is_ok_and(|o| o.status.success());
    wipe_buildah(&storage, "overlay");
    ok
}

struct Env {
    bin: PathBuf,
    dir: PathBuf,
    recipes: PathBuf,
    mirror: PathBuf,
    ctx: PathBuf,
    _registry: TestRegistry,
    _http: slipway_test_support::http::HttpServer,
}

impl Env {
    fn slipway(&self, what: &str, store: &Path, extra: &[&str]) -> Result<Sample, String> {
        bench::timed(|| {
            run_quiet(
                what,
                Command::new(&self.bin)
                    .arg("build")
                    .arg("--recipes")
                    .arg(&self.recipes)
                    .arg("--store")
                    .arg(store)
                    .arg("--output")
                    .arg(self.dir.join("out"))
                    .arg("--mirror")
                    .arg(&self.mirror)
                    .arg("--locked")
                    .args(extra),
            )
            .map(|()| None)
        })
    }
}

fn setup() -> Result<Env, String> {
    if slipway_test_support::tools::require_tool("buildah").is_none() {
        return Err("buildah is not installed (apt-get install buildah)".into());
    }
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
    let bin = slipway_e2e::slipway_bin()?;
    let image = format!("{}/{}", registry.host(), slipway_e2e::BUILDER_REPO);
    let ctx = buildah_context(&dir, &recipes, &mirror, &yum, &image)?;
    let lock_store = dir.join("lock-store");
    let _ = fs_err::remove_dir_all(&lock_store);
    // lock resolves and runs the package steps in a store of its own, so
    // the builds below are cold; untimed (buildah has no lock step).
    run_quiet(
        "slipway lock",
        Command::new(&bin)
            .arg("lock")
            .arg("--recipes")
            .arg(&recipes)
            .arg("--mirror")
            .arg(&mirror)
            .arg("--store")
            .arg(&lock_store),
    )?;
    Ok(Env {
        bin,
        dir,
        recipes,
        mirror,
        ctx,
        _registry: registry,
        _http: http,
    })
}

fn bench_build() -> Result<Vec<Table>, String> {
    let env = &setup()?;
    let rounds = std::env::var("SLIPWAY_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(MIN_ROUNDS)
        .max(MIN_ROUNDS);
    let dir = &env.dir;
    let store = dir.join("store");
    let overlay = overlay_works(dir);
    let mut drivers = if overlay { vec!["overlay"] } else { Vec::new() };
    drivers.push("vfs");
    let mut contenders = vec![Contender::new("slipway build (cold)", |_| {
        let _ = fs_err::remove_dir_all(&store);
        env.slipway("slipway build (cold)", &store, &[])
    })];
    for driver in &drivers {
        let storage = dir.join(format!("buildah-{driver}"));
        contenders.push(Contender::new(
            format!("buildah bud --storage-driver {driver} (cold)"),
            move |_| buildah(&storage, driver, &env.ctx, true),
        ));
    }
    let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
    let load = bench::load_average();
    let samples = bench::alternate(rounds, &mut contenders)?;
    drop(contenders);
    let mut cold = Table::new(
        "build",
        "cold build of mini-manylinux without CPython: base pulled from a local registry, apt step, package step, libmini from source",
        &names,
        &samples,
        load,
    );
    for name in &names[1..] {
        cold.notes.push(format!(
            "{name} / slipway = {:.2} (target ≥ 3 for overlay)",
            cold.ratio(name, &names[0]).unwrap_or(f64::NAN)
        ));
    }
    if !overlay {
        cold.notes.push(
            "buildah's overlay driver does not work here (not root, or no overlayfs): vfs only"
                .into(),
        );
    }
    Ok(vec![cold, warm_table(env, &store, &drivers)?])
}

/// Warm rebuilds over the store of the last cold round: no change, and one
/// step's script changed (restored after each round); buildah's no-change
/// rebuild from its layer cache beside them.
fn warm_table(env: &Env, store: &Path, drivers: &[&str]) -> Result<Table, String> {
    let script = env.recipes.join("steps/build-libmini.sh");
    let original = fs_err::read_to_string(&script).map_err(|e| e.to_string())?;
    let driver = drivers[0];
    let storage = env.dir.join(format!("buildah-{driver}"));
    let mut contenders = vec![
        Contender::new("slipway build (warm, no change)", |_| {
            env.slipway("slipway build (warm)", store, &[])
        }),
        Contender::new(
            format!("buildah bud --storage-driver {driver} (warm, no change)"),
            |_| buildah(&storage, driver, &env.ctx, false),
        ),
        Contender::new("slipway build (warm, one step changed)", |round| {
            fs_err::write(
                &script,
                format!("{original}# touched by the benchmark {round}\n"),
            )
            .map_err(|e| e.to_string())?;
            let sample = env.slipway("slipway build (one step changed)", store, &[]);
            fs_err::write(&script, &original).map_err(|e| e.to_string())?;
            sample
        }),
    ];
    let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
    let load = bench::load_average();
    let samples = bench::alternate(MIN_ROUNDS, &mut contenders)?;
    drop(contenders);
    let mut warm = Table::new(
        "build",
        "warm rebuilds of the same recipe",
        &names,
        &samples,
        load,
    );
    warm.notes.push(format!(
        "slipway warm no-change rebuild: {:.2} s (target ≤ 1 s)",
        warm.rows[0].median_s
    ));
    for driver in drivers {
        wipe_buildah(&env.dir.join(format!("buildah-{driver}")), driver);
    }
    Ok(warm)
}
