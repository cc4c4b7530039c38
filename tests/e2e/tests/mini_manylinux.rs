//! The mini-manylinux fixture recipe built end to end with the `slipway` CLI:
//! base pulled by digest from a real local registry, sources from a mirror
//! directory, steps in the sandbox, the image run by `runc` after
//! `umoci unpack`, then a warm rebuild and a one-step change, archives and
//! a `from-image` consumer. It compiles CPython once, and hands its cold
//! build to the reproducibility proof in `reproducible.rs` as that proof's
//! build A (which compiles it once more: twice in the whole suite).

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use slipway_e2e::world::{
    ColdBuild, World, digest_of, ok, ran_and_cached, skopeo_inspect, umoci_unpack,
};

const IMAGE: &str = "mini-manylinux";

/// Run by `e2e.rs` in the shared world; returns the cold build.
pub fn mini_manylinux_builds_runs_and_rebuilds_from_cache(world: &World) -> ColdBuild {
    let slipway = |args: &[&str]| world.slipway(args, None, &[]);
    let pushed = &world.pushed;
    let mirror_arg = world.mirror_arg();

    let work = tempfile::tempdir().expect("temp dir");
    let recipes = work.path().join("recipes");
    world.recipe(&recipes, true);
    let recipes_arg = recipes.to_str().expect("utf-8 path");
    let store = work.path().join("store");
    let out_dir = work.path().join("out");

    // --help reads well; --locked without a lock says what to do.
    let (help, _) = ok(&slipway(&["build", "--help"]));
    for flag in [
        "--recipes <DIR>",
        "--output <DIR|oci-archive:FILE|docker://REF>",
        "--index <NAME=IMAGE,IMAGE…>",
        "--jobs <N>",
        "--offline",
        "--mirror <DIR|URL>",
        "--locked",
        "--dry-run",
    ] {
        assert!(help.contains(flag), "`build --help` lacks {flag}");
    }
    let locked = slipway(&["build", "--recipes", recipes_arg, "--locked", "--dry-run"]);
    assert!(!locked.status.success());
    assert!(String::from_utf8_lossy(&locked.stderr).contains("run `slipway lock` first"));

    // lock pins the base (to what we pushed), the unpinned source and the
    // package steps (run in a store of its own, so the build below is cold).
    let lock_store = work.path().join("lock-store");
    ok(&slipway(&[
        "lock",
        "--recipes",
        recipes_arg,
        "--mirror",
        mirror_arg,
        "--store",
        lock_store.to_str().expect("utf-8"),
    ]));
    let lock = fs_err::read_to_string(recipes.join("slipway.lock")).expect("lock written");
    assert!(
        lock.contains(&format!("base-digest = \"{pushed}\"")),
        "{lock}"
    );
    assert!(
        lock.contains("https://example.invalid/libmini-1.0.tar.gz"),
        "{lock}"
    );

    let build_args = [
        "build",
        "--recipes",
        recipes_arg,
        "--store",
        store.to_str().expect("utf-8"),
        "--output",
        out_dir.to_str().expect("utf-8"),
        "--mirror",
        mirror_arg,
        "--locked",
        "--jobs",
        "2",
    ];
    let dry = ok(&slipway(&[&build_args[..], &["--dry-run"]].concat())).0;
    assert!(
        dry.contains(&format!("({pushed})")),
        "the plan pulls the base by digest:\n{dry}"
    );

    // Cold build (kept for reproducible.rs: its output, lock and start).
    let started = SystemTime::now();
    let metadata_file = work.path().join("metadata.json");
    let metadata_arg = metadata_file.to_str().expect("utf-8");
    let (stdout, stderr) = ok(&slipway(
        &[&build_args[..], &["--metadata-file", metadata_arg]].concat(),
    ));
    let first = digest_of(&stdout, IMAGE);
    let cold = ColdBuild::keep(
        &first,
        &out_dir.join(IMAGE),
        &recipes.join("slipway.lock"),
        started,
    );
    let (ran, cached) = ran_and_cached(&stderr, IMAGE);
    assert_eq!(
        ran,
        [
            "cleanup",
            "cpython-3.11.2",
            "libmini",
            "packages",
            "system-packages"
        ]
    );
    assert!(cached.is_empty());
    // --metadata-file: what CI reads (BuildKit's shape of answer).
    let metadata: serde_json::Value =
        serde_json::from_slice(&fs_err::read(&metadata_file).expect("metadata file"))
            .expect("metadata json");
    let entry = metadata["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["name"] == IMAGE)
        .expect("the image in the metadata");
    assert_eq!(entry["digest"], first.as_str(), "{metadata}");
    assert_eq!(entry["platform"], "linux/amd64", "{metadata}");
    assert_eq!(
        entry["output"],
        out_dir.join(IMAGE).display().to_string(),
        "{metadata}"
    );
    let mut missed: Vec<&str> = entry["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["cache"] == "miss")
        .map(|s| s["name"].as_str().expect("step name"))
        .collect();
    missed.sort_unstable();
    assert_eq!(missed, ran, "{metadata}");

    // skopeo and umoci read it; runc runs it.
    let layout = out_dir.join("mini-manylinux");
    if let Some(inspect) = skopeo_inspect(&[], &format!("oci:{}:latest", layout.display())) {
        assert!(inspect.contains(&first), "{inspect}");
    }
    let bundle = work.path().join("bundle");
    umoci_unpack(&layout, &bundle);
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&fs_err::read(&config_path).expect("config.json")).expect("json");
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!([
        "/usr/local/bin/mini-entrypoint",
        "python",
        "-c",
        "import ssl, sqlite3, zlib, ctypes, os; print('ok', ssl.OPENSSL_VERSION, sqlite3.sqlite_version, zlib.ZLIB_VERSION, os.confstr('CS_GNU_LIBC_VERSION'))"
    ]);
    fs_err::write(&config_path, serde_json::to_vec(&config).expect("json")).expect("write config");
    let id = format!("slipway-e2e-{}", std::process::id());
    let run = Command::new("runc")
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .output()
        .expect("runc");
    let said = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "runc: {}{}",
        said,
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(said.starts_with("ok OpenSSL"), "{said}");
    assert!(
        said.trim_end().ends_with("glibc 2.36"),
        "glibc of bookworm: {said}"
    );
    let libmini = Command::new("chroot")
        .arg(bundle.join("rootfs"))
        .args(["/usr/local/bin/mini"])
        .env("LD_LIBRARY_PATH", "/usr/local/lib")
        .output()
        .expect("chroot");
    assert_eq!(
        String::from_utf8_lossy(&libmini.stdout),
        "libmini says 42\n"
    );

    // The package step: installed, updated, erased, scriptlets run, rpmdb right.
    let root = bundle.join("rootfs");
    real_step_scripts_over(&root);
    assert_eq!(
        fs_err::read_to_string(root.join("usr/share/mini-tool/version")).expect("mini-tool"),
        "1.1\n"
    );
    assert!(
        !root.join("usr/share/mini-extra/version").exists(),
        "mini-extra was erased"
    );
    assert_eq!(
        fs_err::read_to_string(root.join("var/lib/mini-tool.post")).expect("%post ran"),
        "mini-tool 1.1 installed\n"
    );
    let qa = Command::new("chroot")
        .arg(&root)
        .args(["rpm", "-qa"])
        .output()
        .expect("rpm -qa");
    let qa = String::from_utf8_lossy(&qa.stdout).into_owned();
    assert!(qa.contains("mini-tool-1.1-1.noarch"), "{qa}");
    assert!(!qa.contains("mini-extra"), "{qa}");

    // Warm: all cached, same digest.
    let (stdout, stderr) = ok(&slipway(&build_args));
    assert_eq!(digest_of(&stdout, IMAGE), first);
    let (ran, cached) = ran_and_cached(&stderr, IMAGE);
    assert!(ran.is_empty(), "a warm build ran {ran:?}");
    assert_eq!(cached.len(), 5);
    publish_to_the_registry(world, &build_args, &first);

    // One script changed: that step and what runs over it, nothing else.
    let script = recipes.join("steps/build-libmini.sh");
    let mut text = fs_err::read_to_string(&script).expect("script");
    text.push_str("echo rebuilt > /usr/local/share/libmini.note\n");
    fs_err::write(&script, text).expect("script");
    let (stdout, stderr) = ok(&slipway(&build_args));
    assert_ne!(
        digest_of(&stdout, IMAGE),
        first,
        "the changed step adds a file"
    );
    let (ran, cached) = ran_and_cached(&stderr, IMAGE);
    assert_eq!(ran, ["cleanup", "libmini"]);
    assert_eq!(cached, ["cpython-3.11.2", "packages", "system-packages"]);
    let current = digest_of(&stdout, IMAGE);

    // Archives: all cached, the same image; skopeo reads both (the OCI
    // manifest unchanged; docker-archive gets the same config).
    for (transport, read_as) in [("oci-archive", ":latest"), ("docker-archive", "")] {
        let file = work.path().join(format!("mini.{transport}.tar"));
        let output = format!("{transport}:{}", file.display());
        let mut args = build_args.to_vec();
        let at = args
            .iter()
            .position(|a| *a == "--output")
            .expect("--output")
            + 1;
        args[at] = &output;
        let (stdout, stderr) = ok(&slipway(&args));
        assert!(
            ran_and_cached(&stderr, IMAGE).0.is_empty(),
            "all cached: {stderr}"
        );
        assert!(stdout.contains(&current), "{stdout}");
        let reference = format!("{output}{read_as}");
        if transport == "oci-archive"
            && let Some(inspect) = skopeo_inspect(&[], &reference)
        {
            assert!(inspect.contains(&current), "{inspect}");
        }
        if let Some(config) = skopeo_inspect(&["--config"], &reference) {
            assert!(config.contains("slipway: cleanup"), "{config}");
        }
    }

    // from-image: a second image takes a directory of the first (at
    // /inputs/from-image); the first comes from the cache.
    fs_err::write(
        recipes.join("steps/take.sh"),
        "#!/bin/sh\nset -eu\nmkdir -p /opt/taken\ncp /inputs/from-image/version /opt/taken/mini-tool-version\n",
    )
    .expect("script");
    fs_err::write(
        recipes.join("mini-consumer.toml"),
        "description = \"takes /usr/share/mini-tool of mini-manylinux\"\n\
         platform = \"linux/amd64\"\n[base]\nimage = \"mini-manylinux\"\n\
         [[steps]]\nname = \"take\"\nscript = \"steps/take.sh\"\n\
         from-image = { image = \"mini-manylinux\", path = \"/usr/share/mini-tool\" }\n",
    )
    .expect("recipe");
    let consumer_args: Vec<&str> = std::iter::once("build")
        .chain(std::iter::once("mini-consumer"))
        .chain(build_args[1..].iter().copied().filter(|a| *a != "--locked"))
        .collect();
    let (stdout, stderr) = ok(&slipway(&consumer_args));
    assert!(ran_and_cached(&stderr, IMAGE).0.is_empty(), "{stderr}");
    assert!(stderr.contains("mini-consumer/take: running"), "{stderr}");
    assert!(stdout.contains("mini-consumer "), "{stdout}");
    let bundle = work.path().join("bundle-consumer");
    umoci_unpack(&out_dir.join("mini-consumer"), &bundle);
    assert_eq!(
        fs_err::read_to_string(bundle.join("rootfs/opt/taken/mini-tool-version"))
            .expect("taken from mini-manylinux"),
        "1.1\n"
    );
    assert!(
        !bundle.join("rootfs/inputs/from-image").exists(),
        "the input mount is not part of the layer"
    );

    // Every image of the recipes, one archive each (`{image}` in the file
    // name), from the cache; without it, two images and one archive is an
    // error that says so.
    let archives = work.path().join("archives");
    let each = format!("oci-archive:{}/{{image}}.tar", archives.display());
    let all_args: Vec<&str> = build_args
        .iter()
        .copied()
        .filter(|a| *a != "--locked")
        .map(|a| {
            if a == out_dir.to_str().expect("utf-8") {
                each.as_str()
            } else {
                a
            }
        })
        .collect();
    let (stdout, stderr) = ok(&slipway(&all_args));
    assert!(ran_and_cached(&stderr, IMAGE).0.is_empty(), "{stderr}");
    for name in [IMAGE, "mini-consumer"] {
        let file = archives.join(format!("{name}.tar"));
        assert!(
            stdout.contains(&format!("oci-archive:{}", file.display())),
            "{stdout}"
        );
        skopeo_inspect(&[], &format!("oci-archive:{}:latest", file.display()));
    }
    let one = format!("oci-archive:{}/all.tar", archives.display());
    let one_args: Vec<&str> = all_args
        .iter()
        .map(|a| if *a == each { one.as_str() } else { a })
        .collect();
    let out = slipway(&one_args);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("holds one image but 2 published images were built")
            && stderr.contains("{image}"),
        "{stderr}"
    );
    cold
}

/// Run `layers/steps/NAME` (the real recipe's script, not a fixture copy) in
/// a chroot of `root` with `env`; its stdout, after asserting success.
fn run_real_script(root: &Path, name: &str, env: &[(&str, &str)]) -> String {
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../layers/steps")
        .join(name);
    fs_err::create_dir_all(root.join("tmp")).expect("/tmp");
    fs_err::copy(&real, root.join("tmp").join(name)).expect("copy the script");
    let out = chroot(root, &format!("bash /tmp/{name}"))
        .env("LD_LIBRARY_PATH", "/usr/local/lib")
        .envs(env.iter().copied())
        .output()
        .expect("chroot");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "layers/steps/{name}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `sh -c SCRIPT` in a chroot of `root`, with a clean environment.
fn chroot(root: &Path, script: &str) -> Command {
    let mut cmd = Command::new("/usr/sbin/chroot");
    cmd.arg(root)
        .args(["/bin/sh", "-c", script])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    cmd
}

/// The real recipes' scripts that can run over the mini image: the smoke
/// tests' checks (without the TLS part, which needs the internet) with its
/// CPython, the yum wrapper (over a stand-in `/usr/bin/yum` that shows what
/// it was given), and the libc header rewrite (C99 code still compiles).
fn real_step_scripts_over(root: &Path) {
    let said = run_real_script(root, "smoke-tests.sh", &[("SMOKE_TESTS_OFFLINE", "1")]);
    assert!(
        said.contains("/opt/python/cp311-cp311/bin/python is manylinux2010 compatible"),
        "{said}"
    );

    let yum = root.join("usr/bin/yum");
    assert!(!yum.exists(), "the mini image has no yum of its own");
    fs_err::write(&yum, "#!/bin/sh\necho \"LD_PRELOAD=$LD_PRELOAD args=$*\"\n").expect("yum");
    fs_err::set_permissions(&yum, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    run_real_script(root, "yum-wrapper.sh", &[]);
    let wrapped = chroot(root, "yum install wget")
        .output()
        .expect("chroot yum");
    assert_eq!(
        String::from_utf8_lossy(&wrapped.stdout),
        "LD_PRELOAD=/usr/lib64/libcurl.so.4 args=install wget\n",
        "{}",
        String::from_utf8_lossy(&wrapped.stderr)
    );

    run_real_script(root, "fix-libc-headers.sh", &[]);
    fs_err::write(
        root.join("tmp/c99.c"),
        "#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n\
         int main(void) { puts(strchr(\"c99 ok\", 'c')); return EXIT_SUCCESS; }\n",
    )
    .expect("c99.c");
    let built = chroot(root, "gcc -std=c99 -O2 -o /tmp/c99 /tmp/c99.c && /tmp/c99")
        .output()
        .expect("chroot gcc");
    assert_eq!(
        String::from_utf8_lossy(&built.stdout),
        "c99 ok\n",
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// `--output docker://…/{image}:TAG` pushes the (cached) build with the
/// layout's digest, and `--index` pushes an OCI index naming it with its
/// platform; skopeo reads both from the registry.
fn publish_to_the_registry(world: &World, build_args: &[&str], digest: &str) {
    let host = world.registry.host();
    let target = format!("docker://{host}/e2e/{{image}}:pub");
    let mut args: Vec<&str> = build_args.to_vec();
    let at = args
        .iter()
        .position(|a| *a == "--output")
        .expect("--output")
        + 1;
    args[at] = &target;
    args.extend(["--index", "mini-multi=mini-manylinux"]);
    let (stdout, stderr) = ok(&world.slipway(&args, None, &[]));
    let (ran, _) = ran_and_cached(&stderr, IMAGE);
    assert!(ran.is_empty(), "publishing a cached build ran {ran:?}");
    assert!(
        stdout.contains(&format!("{IMAGE} {digest} docker://{host}/e2e/{IMAGE}:pub")),
        "{stdout}"
    );
    let tls = ["--tls-verify=false"];
    let pushed = skopeo_inspect(&tls, &format!("docker://{host}/e2e/{IMAGE}:pub")).expect("skopeo");
    assert!(pushed.contains(digest), "{pushed}");
    let raw = skopeo_inspect(
        &["--raw", "--tls-verify=false"],
        &format!("docker://{host}/e2e/mini-multi:pub"),
    )
    .expect("skopeo");
    let index: serde_json::Value = serde_json::from_str(&raw).expect("index JSON");
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{raw}"
    );
    assert_eq!(index["manifests"][0]["digest"], digest, "{raw}");
    assert_eq!(
        index["manifests"][0]["platform"]["architecture"], "amd64",
        "{raw}"
    );
    assert_eq!(index["manifests"][0]["platform"]["os"], "linux", "{raw}");
}
