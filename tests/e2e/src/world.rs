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
    /// The `slipway` binary (debug profile).
    pub bin: PathBuf,
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
        let bin = crate::slipway_bin().expect("build slipway");
        let builder = crate::builder_image(&rootfs).expect("builder image");
        let pushed = crate::push_builder(&builder, &registry.host()).expect("push builder");
        let mirror = crate::mirror().expect("mirror");
        let yum_dir = crate::yum_repos().expect("yum repos");
        let yum = HttpServer::serve(&yum_dir)?;
        Some(World {
            bin,
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
        let mut cmd = Command::new(&self.bin);
        cmd.args(args);
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run slipway");
        eprintln!(
            "$ slipway {}\n{}{}",
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
