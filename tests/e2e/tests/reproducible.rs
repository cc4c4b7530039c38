//! Reproducibility end to end (issue 8).
//!
//! The mini-manylinux recipe *with* its CPython step is built twice, and the
//! two builds differ in everything that must not matter:
//!
//! | | build A | build B |
//! |---|---|---|
//! | working directory, recipe copy, `TMPDIR`, output | `mini_manylinux.rs`'s | `b/…` |
//! | `--jobs` | 2 | 1 |
//! | CPUs (`nproc`, so the CPython step's `make -j`; slipway's gzip threads) | all (2 in CI) | 1 (`taskset -c 0`) |
//! | store | cold (empty) | warm: already holds the steps before CPython |
//! | started | t | ≥ t + 60 s (asserted; the CPython compile of A takes longer) |
//!
//! Build A is the cold build of `mini_manylinux.rs` (handed over as a
//! [`ColdBuild`]), so that the suite compiles CPython twice in all. B's
//! store is warmed by building the recipe without its CPython step first,
//! so B takes `system-packages`, `packages` and `libmini` from the cache and
//! runs `cpython-3.11.2` and `cleanup` (asserted from the progress lines).
//! Both give one manifest digest.
//!
//! `--jobs` is how many *steps* run at once; it does not reach the steps. A
//! step's own parallelism comes from the CPUs it may run on (`nproc` in the
//! sandbox is the host's affinity mask), which is why B runs pinned to one
//! CPU: the CPython build's output must not depend on `make -j` either.
//!
//! `slipway verify` (a rebuild with a fresh, empty store) runs on the recipe
//! *without* CPython, so that it does not compile CPython a third time: it
//! says reproducible for the warm-up image, and — after a step writing
//! `date +%s%N` is added — names that layer and that file, exit 1.

use std::path::Path;
use std::time::{Duration, SystemTime};

use slipway_e2e::world::{ColdBuild, World, digest_of, ok, ran_and_cached};
use slipway_test_support::workspace_root;

const IMAGE: &str = "mini-manylinux";

/// The time between the starts of builds A and B the issue asks for.
const APART: Duration = Duration::from_secs(60);

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// What `nproc` says when run under `wrapper`.
fn nproc(wrapper: &[&str]) -> String {
    let argv: Vec<&str> = wrapper.iter().copied().chain(["nproc"]).collect();
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("run nproc");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A finished build.
struct Build {
    digest: String,
    ran: Vec<String>,
    cached: Vec<String>,
}

/// The options of one `slipway build`: where, with what store, how parallel.
#[derive(Clone, Copy)]
struct Run<'a> {
    /// Working directory; `TMPDIR` is `dir/tmp`.
    dir: &'a Path,
    recipes: &'a Path,
    store: &'a Path,
    out: &'a Path,
    jobs: &'a str,
    /// A command slipway runs under (`taskset -c 0`), or nothing.
    wrapper: &'a [&'a str],
}

/// `slipway build` as `run` says.
fn build(world: &World, run: &Run) -> Build {
    let Run {
        dir,
        recipes,
        store,
        out,
        jobs,
        wrapper,
    } = *run;
    let tmp = dir.join("tmp");
    fs_err::create_dir_all(&tmp).expect("tmp");
    let args = [
        "build",
        "--recipes",
        utf8(recipes),
        "--store",
        utf8(store),
        "--output",
        utf8(out),
        "--mirror",
        world.mirror_arg(),
        "--locked",
        "--jobs",
        jobs,
    ];
    let (stdout, stderr) = ok(&world.slipway_under(wrapper, &args, Some(dir), &[("TMPDIR", &tmp)]));
    let (ran, cached) = ran_and_cached(&stderr, IMAGE);
    Build {
        digest: digest_of(&stdout, IMAGE),
        ran,
        cached,
    }
}

fn layout(out: &Path) -> String {
    format!("oci:{}:latest", out.join(IMAGE).display())
}

/// `slipway verify` of `recipes` against the image in `out`: (exit 0, stdout).
fn verify(world: &World, dir: &Path, recipes: &Path, out: &Path) -> (bool, String) {
    let out = world.slipway(
        &[
            "verify",
            utf8(recipes),
            IMAGE,
            "--against",
            &layout(out),
            "--mirror",
            world.mirror_arg(),
        ],
        Some(dir),
        &[],
    );
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "verify failed: {code:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        code == Some(0),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Panic with `slipway diff` of the two outputs when the digests differ.
fn assert_same(world: &World, what: &str, first: &Build, a: &Path, second: &Build, b: &Path) {
    if first.digest != second.digest {
        let diff = world.slipway(&["diff", &layout(a), &layout(b)], None, &[]);
        panic!(
            "{what}: {} vs {}\n{}",
            first.digest,
            second.digest,
            String::from_utf8_lossy(&diff.stdout)
        );
    }
}

/// Run by `e2e.rs` in the shared world, after `mini_manylinux.rs` made `a`.
pub fn mini_manylinux_with_cpython_rebuilds_to_one_digest_and_verify_names_a_stamp(
    world: &World,
    a: &ColdBuild,
) {
    let work = tempfile::tempdir().expect("temp dir");
    let b = work.path().join("b");
    let recipes_b = b.join("recipes");
    let warm_b = b.join("recipes-without-cpython");
    world.recipe(&recipes_b, true);
    world.recipe(&warm_b, false);
    assert!(a.lock.contains(&world.pushed), "{}", a.lock);
    for recipes in [&recipes_b, &warm_b] {
        fs_err::write(recipes.join("slipway.lock"), &a.lock).expect("lock copy");
    }

    let one_cpu = ["taskset", "-c", "0"];
    assert_eq!(nproc(&one_cpu), "1");
    eprintln!("build A ran on {} CPUs, build B runs on 1", nproc(&[]));

    // Warm B's store: the recipe without CPython.
    let (store_b, out_warm) = (b.join("store"), b.join("out-warm"));
    let warm = Run {
        dir: &b,
        recipes: &warm_b,
        store: &store_b,
        out: &out_warm,
        jobs: "1",
        wrapper: &one_cpu,
    };
    let warming = build(world, &warm);
    assert_eq!(
        warming.ran,
        ["cleanup", "libmini", "packages", "system-packages"]
    );

    // B: at least a minute after A started, one step at a time on one CPU,
    // warm store.
    let waited = a.started.elapsed().expect("clock");
    std::thread::sleep(APART.saturating_sub(waited));
    let b_started = SystemTime::now();
    let apart = b_started.duration_since(a.started).expect("clock");
    assert!(apart >= APART, "A and B started {apart:?} apart");
    eprintln!("build B starts {apart:?} after build A");
    let out_b = b.join("out");
    let second = build(
        world,
        &Run {
            recipes: &recipes_b,
            out: &out_b,
            ..warm
        },
    );
    assert_eq!(
        second.cached,
        ["libmini", "packages", "system-packages"],
        "the warm store serves the steps before CPython"
    );
    assert_eq!(second.ran, ["cleanup", "cpython-3.11.2"]);
    let first = Build {
        digest: a.digest.clone(),
        ran: Vec::new(),
        cached: Vec::new(),
    };
    assert_same(
        world,
        "A (cold, --jobs 2, all CPUs) and B (warm, --jobs 1, one CPU) differ",
        &first,
        &a.out,
        &second,
        &out_b,
    );

    // verify: a rebuild with a fresh store gives the same image (the recipe
    // without CPython).
    let (reproducible, said) = verify(world, &b, &warm_b, &out_warm);
    assert!(reproducible, "{said}");
    assert!(
        said.contains(&format!("reproducible: {}", warming.digest)),
        "{said}"
    );

    // A step that writes the time (on the recipe without CPython, over B's
    // warm store): verify names its layer (the last) and its file.
    let fixtures = workspace_root().join("fixtures/repro");
    fs_err::copy(fixtures.join("stamp.sh"), warm_b.join("steps/stamp.sh")).expect("script");
    let toml = warm_b.join(format!("{IMAGE}.toml"));
    let mut text = fs_err::read_to_string(&toml).expect("recipe");
    text.push_str(&fs_err::read_to_string(fixtures.join("stamp-step.toml")).expect("step"));
    fs_err::write(&toml, text).expect("recipe");
    let stamped_out = b.join("out-stamped");
    let stamped = build(
        world,
        &Run {
            out: &stamped_out,
            ..warm
        },
    );
    assert_eq!(stamped.ran, ["stamp"]);
    assert_ne!(stamped.digest, warming.digest);
    let (reproducible, said) = verify(world, &b, &warm_b, &stamped_out);
    assert!(!reproducible, "{said}");
    let first_line = said.lines().next().unwrap_or_default().to_owned();
    let (n, total) = first_line
        .strip_prefix("not reproducible: layer ")
        .and_then(|rest| rest.strip_suffix(" differs first"))
        .and_then(|rest| rest.split_once(" of "))
        .unwrap_or_else(|| panic!("no first differing layer in:\n{said}"));
    assert_eq!(n, total, "the stamp step's layer is the last:\n{said}");
    let changed: Vec<&str> = said
        .lines()
        .filter(|l| ["  ~ /", "  + /", "  - /"].iter().any(|p| l.starts_with(p)))
        .collect();
    assert!(
        !changed.is_empty()
            && changed
                .iter()
                .all(|l| l.contains("/usr/local/share/slipway-stamp")),
        "only the stamp file differs:\n{said}"
    );
    assert!(
        changed.iter().any(|l| l.contains("content")),
        "its content differs:\n{said}"
    );
}
