//! The running test world of an end-to-end test: the local registry holding
//! the builder base, the fixture yum repositories served over HTTP, the
//! sources mirror and the `slipway` binary. Shared by the e2e tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use slipway_test_support::builder::{BuilderArch, builder_rootfs};
use slipway_test_support::http::HttpServer;
use slipway_test_support::registry::{RegistryAuth, TestRegistry};
use slipway_test_support::{require_root, require_tool};

/// The test world; the servers stop when it is dropped.
pub struct World {
    /// The `slipway` binary: a copy of [`crate::slipway_bin`], private to
    /// this world, so that a `cargo build` elsewhere (a shared target
    /// directory) cannot swap it between two builds of one test.
    pub bin: PathBuf,
    _bin_dir: tempfile::TempDir,
    /// The local registry holding [`crate::BUILDER_REPO`].
    pub registry: TestRegistry,
    /// The manifest digest of the pushed builder base.
    pub pushed: String,
    /// The sources mirror directory.
    pub mirror: PathBuf,
    /// The HTTP server of the fixture yum repositories.
    pub yum: HttpServer,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("bin", &self.bin)
            .field("registry", &self.registry.host())
            .field("pushed", &self.pushed)
            .field("mirror", &self.mirror)
            .field("yum_port", &self.yum.port())
            .finish()
    }
}

impl World {
    /// Start the world, or `None` (after `require_*` said why) when this
    /// machine cannot host it. Panics on setup failures.
    pub fn start(tools: &[&str]) -> Option<World> {
        if !require_root() {
            return None;
        }
        for tool in tools {
            require_tool(tool)?;
        }
        let rootfs = builder_rootfs(BuilderArch::Amd64)?;
        let registry = TestRegistry::start(RegistryAuth::Anonymous)?;
        let built = crate::slipway_bin().expect("the slipway CLI");
        let bin_dir = tempfile::Builder::new()
            .prefix("slipway-e2e-bin-")
            .tempdir()
            .expect("temp dir");
        let bin = bin_dir.path().join("slipway");
        fs_err::copy(&built, &bin).expect("copy slipway");
        let builder = crate::builder_image(&rootfs).expect("builder image");
        let pushed = crate::push_builder(&builder, &registry.host()).expect("push builder");
        let mirror = crate::mirror().expect("mirror");
        let yum_dir = crate::yum_repos().expect("yum repos");
        let yum = HttpServer::serve(&yum_dir)?;
        Some(World {
            bin,
            _bin_dir: bin_dir,
            registry,
            pushed,
            mirror,
            yum,
        })
    }

    /// Write the mini-manylinux recipe to `dest` (see [`crate::prepare_recipe`]).
    pub fn recipe(&self, dest: &Path, with_cpython: bool) {
        crate::prepare_recipe(dest, &self.registry.host(), self.yum.port(), with_cpython)
            .expect("recipe");
    }

    /// The mirror directory as an argument.
    pub fn mirror_arg(&self) -> &str {
        self.mirror.to_str().expect("utf-8 path")
    }

    /// Run `slipway args…` (in `cwd` with extra `env` when given), echoing
    /// its output to stderr.
    pub fn slipway(&self, args: &[&str], cwd: Option<&Path>, env: &[(&str, &Path)]) -> Output {
        self.slipway_under(&[], args, cwd, env)
    }

    /// [`World::slipway`] run by a `wrapper` command (`["taskset", "-c",
    /// "0"]`); no wrapper when it is empty.
    pub fn slipway_under(
        &self,
        wrapper: &[&str],
        args: &[&str],
        cwd: Option<&Path>,
        env: &[(&str, &Path)],
    ) -> Output {
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(&self.bin);
                cmd
            }
            None => Command::new(&self.bin),
        };
        cmd.args(args);
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run slipway");
        eprintln!(
            "$ {}slipway {}\n{}{}",
            wrapper.iter().map(|w| format!("{w} ")).collect::<String>(),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// `(stdout, stderr)` of a run that must have succeeded.
pub fn ok(out: &Output) -> (String, String) {
    assert!(
        out.status.success(),
        "slipway failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `umoci unpack` of the image tagged `latest` in the OCI layout `layout`
/// into the bundle directory `bundle` (which must not exist).
pub fn umoci_unpack(layout: &Path, bundle: &Path) {
    slipway_test_support::process::run_ok(
        Command::new("umoci")
            .args(["unpack", "--image", &format!("{}:latest", layout.display())])
            .arg(bundle),
    );
}

/// `skopeo inspect EXTRA… REFERENCE`'s output; `None` (a loud skip, or a
/// failure under CI) without skopeo.
pub fn skopeo_inspect(extra: &[&str], reference: &str) -> Option<String> {
    let skopeo = require_tool("skopeo")?;
    Some(slipway_test_support::process::run_stdout(
        Command::new(skopeo)
            .arg("inspect")
            .args(extra)
            .arg(reference),
    ))
}

/// The manifest digest `slipway build` printed for `image`.
pub fn digest_of(stdout: &str, image: &str) -> String {
    let prefix = format!("{image} ");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the build prints the image digest")
        .to_owned()
}

/// `(steps that ran, steps from the cache)` of `image`, each sorted, from
/// the progress lines (`    IMAGE/STEP: running` / `: cached`) of a build's
/// stderr.
pub fn ran_and_cached(stderr: &str, image: &str) -> (Vec<String>, Vec<String>) {
    let prefix = format!("{image}/");
    let mut ran = Vec::new();
    let mut cached = Vec::new();
    for line in stderr.lines() {
        let Some(rest) = line.trim().strip_prefix(prefix.as_str()) else {
            continue;
        };
        if let Some(step) = rest.strip_suffix(": cached") {
            cached.push(step.to_owned());
        } else if let Some(step) = rest.strip_suffix(": running") {
            ran.push(step.to_owned());
        }
    }
    ran.sort();
    cached.sort();
    (ran, cached)
}

/// The cold build of mini-manylinux *with* CPython that `mini_manylinux.rs`
/// makes, kept for `reproducible.rs` as its build A (so that the suite
/// compiles CPython twice, not four times): the digest, a copy of the OCI
/// layout (under [`ColdBuild::out`], as `out/mini-manylinux`), the lock it
/// was built with and when it started.
#[derive(Debug)]
pub struct ColdBuild {
    /// The manifest digest.
    pub digest: String,
    /// The output directory holding the layout copy.
    pub out: PathBuf,
    /// The text of the `slipway.lock` it was built `--locked` with.
    pub lock: String,
    /// When the build started.
    pub started: std::time::SystemTime,
    _dir: tempfile::TempDir,
}

impl ColdBuild {
    /// Keep the build of `digest` whose layout is `layout`, built with the
    /// lock file `lock`, started at `started`.
    pub fn keep(
        digest: &str,
        layout: &Path,
        lock: &Path,
        started: std::time::SystemTime,
    ) -> ColdBuild {
        let dir = tempfile::Builder::new()
            .prefix("slipway-e2e-cold-")
            .tempdir()
            .expect("temp dir");
        let out = dir.path().join("out");
        fs_err::create_dir_all(&out).expect("out dir");
        let name = layout.file_name().expect("a layout directory name");
        slipway_test_support::process::run_ok(
            Command::new("cp").arg("-a").arg(layout).arg(out.join(name)),
        );
        ColdBuild {
            digest: digest.to_owned(),
            out,
            lock: fs_err::read_to_string(lock).expect("the lock of the cold build"),
            started,
            _dir: dir,
        }
    }
}
