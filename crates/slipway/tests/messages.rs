//! What `slipway` says to a person when something outside it is wrong: a
//! registry that is not there, a name that does not resolve, credentials
//! refused, a command without the privileges it needs. Each message is a
//! snapshot (exit code, stdout, stderr, with ports and paths replaced), so a
//! change of wording is a reviewed change. Also the shape of `--version`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use slipway_test_support::registry::{RegistryAuth, TestRegistry};
use slipway_test_support::{free_port, require_root, require_tool};

const BIN: &str = env!("CARGO_BIN_EXE_slipway");

fn slipway(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("SLIPWAY_LOG")
        .env_remove("SLIPWAY_CREDS")
        .env_remove("REGISTRY_AUTH_FILE")
        // No auth file of the machine's user can answer for a test registry.
        .env("HOME", "/nonexistent")
        .env_remove("XDG_RUNTIME_DIR");
    cmd
}

/// Exit code, stdout and stderr of `out` as one text, with each `(from, to)`
/// replaced (ports, temporary paths).
fn transcript(out: &Output, replace: &[(&str, &str)]) -> String {
    let mut text = format!(
        "exit code: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    text
}

/// Run `cmd`, and check it failed within `limit` (no retries with backoff).
fn fails_fast(cmd: &mut Command, limit: Duration) -> Output {
    let start = Instant::now();
    let out = cmd.output().expect("run slipway");
    let took = start.elapsed();
    assert!(!out.status.success(), "{out:?}");
    assert!(
        took < limit,
        "took {took:?}, retried what no retry can mend:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn unreachable_loopback_registry_fails_at_once_with_a_hint() {
    let port = free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}/img", dir.path().display());
    let reference = format!("127.0.0.1:{port}/team/app:1");
    let out = fails_fast(
        &mut slipway(&["pull", &reference, &dest]),
        Duration::from_secs(3),
    );
    let dir_text = dir.path().display().to_string();
    insta::assert_snapshot!(transcript(&out, &[(&port, "PORT"), (&dir_text, "TMP")]));
}

/// A server on a free loopback port answering 503 to every request.
fn always_503() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

#[test]
fn a_failing_registry_is_retried_with_one_line_said_once() {
    let port = always_503().to_string();
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}/img", dir.path().display());
    let reference = format!("127.0.0.1:{port}/team/app:1");
    let out = slipway(&["pull", &reference, &dest]).output().unwrap();
    let dir_text = dir.path().display().to_string();
    insta::assert_snapshot!(transcript(&out, &[(&port, "PORT"), (&dir_text, "TMP")]));
}

#[test]
fn a_tls_failure_fails_at_once_with_a_hint() {
    // TLS required, and the server speaks plain HTTP: no retry can mend that.
    let port = always_503().to_string();
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}/img", dir.path().display());
    let reference = format!("127.0.0.1:{port}/team/app:1");
    let out = fails_fast(
        &mut slipway(&["pull", "--tls-verify=true", &reference, &dest]),
        Duration::from_secs(3),
    );
    let dir_text = dir.path().display().to_string();
    insta::assert_snapshot!(transcript(&out, &[(&port, "PORT"), (&dir_text, "TMP")]));
}

#[test]
fn host_name_that_does_not_resolve_fails_at_once_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}/img", dir.path().display());
    // `.invalid` never resolves (RFC 6761).
    let out = fails_fast(
        &mut slipway(&["pull", "registry.slipway-test.invalid/team/app:1", &dest]),
        Duration::from_secs(10),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("retrying") {
        // A resolver that cannot be reached answers "try again" (EAI_AGAIN),
        // which is rightly retried: this machine cannot show the message.
        assert!(
            !slipway_test_support::must_run_peers(),
            "no DNS resolver answers here:\n{stderr}"
        );
        eprintln!("*** SKIPPED: no DNS resolver answers on this machine");
        return;
    }
    let dir_text = dir.path().display().to_string();
    insta::assert_snapshot!(transcript(&out, &[(&dir_text, "TMP")]));
}

#[test]
fn refused_credentials_say_how_to_give_them() {
    let Some(registry) = TestRegistry::start(RegistryAuth::Htpasswd) else {
        return;
    };
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}/img", dir.path().display());
    let reference = format!("{host}/team/app:1");
    let dir_text = dir.path().display().to_string();
    let replace = [(host.as_str(), "REGISTRY"), (dir_text.as_str(), "TMP")];

    let out = fails_fast(
        &mut slipway(&["pull", &reference, &dest]),
        Duration::from_secs(5),
    );
    insta::assert_snapshot!("no_credentials", transcript(&out, &replace));

    let out = fails_fast(
        &mut slipway(&["pull", "--creds", "someone:wrong", &reference, &dest]),
        Duration::from_secs(5),
    );
    insta::assert_snapshot!("wrong_credentials", transcript(&out, &replace));
}

/// A one-layer image holding a character device (`/dev/null`, 1:3).
fn image_with_device(layout_dir: &Path) {
    use slipway_oci::tar::{EntryKind, TarEntry};
    use slipway_oci::{ImageConfig, LayerOptions, LayerWriter, OciLayout, Platform};
    let layout = OciLayout::create(layout_dir).unwrap();
    let options = LayerOptions::default();
    let mut writer = LayerWriter::new(&layout, &options).unwrap();
    writer
        .append(
            &TarEntry::new("dev", EntryKind::Directory),
            &mut std::io::empty(),
        )
        .unwrap();
    writer
        .append(
            &TarEntry::new("dev/null", EntryKind::CharDevice { major: 1, minor: 3 }),
            &mut std::io::empty(),
        )
        .unwrap();
    let layer = writer.finish().unwrap();
    let platform = Platform::parse("linux/amd64").unwrap();
    let mut config = ImageConfig::new(&platform, 0);
    config.append_layer(&layer.diff_id, "a device", 0);
    slipway_oci::write_image(&layout, &config, &[layer.descriptor], Some("latest")).unwrap();
}

#[test]
fn a_device_node_without_root_is_named_with_what_to_do() {
    if !require_root() {
        return;
    }
    let Some(setpriv) = require_tool("setpriv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("img");
    image_with_device(&layout);
    let tree = dir.path().join("tree");
    // uid 65534 (nobody) may read the layout and write the target's parent.
    Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(dir.path())
        .status()
        .unwrap();
    let image = format!("oci:{}:latest", layout.display());
    let mut cmd = Command::new(setpriv);
    cmd.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        BIN,
    ])
    .args(["unpack", &image])
    .arg(&tree)
    .env("NO_COLOR", "1")
    .env_remove("SLIPWAY_LOG");
    let out = cmd.output().unwrap();
    let dir_text = dir.path().display().to_string();
    insta::assert_snapshot!(transcript(&out, &[(&dir_text, "TMP")]));
}

#[test]
fn version_names_the_commit_and_features() {
    let out = slipway(&["--version"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let keys: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_once(':').map_or(*l, |(k, _)| k))
        .collect();
    assert_eq!(
        keys,
        ["commit-hash", "commit-date", "features", "host", "profile"],
        "{text}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        lines[0].starts_with(&format!("slipway {version} (")),
        "{text}"
    );
    // Built from this git checkout: the commit is known, and it is HEAD's
    // or an ancestor's (the binary may predate the latest commit).
    let hash = lines[1].trim_start_matches("commit-hash: ");
    let in_git = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|o| o.status.success());
    if in_git {
        assert_eq!(hash.len(), 40, "{text}");
        assert!(lines[0].contains(&hash[..9]), "{text}");
    } else {
        assert_eq!(hash, "unknown", "{text}");
    }
    let short = slipway(&["-V"]).output().unwrap();
    assert_eq!(
        String::from_utf8(short.stdout).unwrap(),
        format!("{}\n", lines[0])
    );
}

/// `slipway pull --preserve-digests` of a Docker schema 2 image into `oci:`
/// refuses, naming the Docker media type; without it the pull converts to
/// OCI media types and skopeo reads the layout.
#[test]
fn preserve_digests_refuses_a_docker_manifest_for_an_oci_layout() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let Some(registry) = TestRegistry::start(RegistryAuth::Htpasswd) else {
        return;
    };
    let host = registry.host();
    let creds = registry.creds().expect("htpasswd registry has credentials");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    image_with_device(&src);
    let reference = format!("{host}/team/docker:1");
    let pushed = Command::new(&skopeo)
        .args(["copy", "--format", "v2s2", "--dest-tls-verify=false"])
        .arg(format!("--dest-creds={creds}"))
        .arg(format!("oci:{}:latest", src.display()))
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{pushed:?}");
    let dest = format!("oci:{}/img:1", dir.path().display());
    let dir_text = dir.path().display().to_string();
    let replace = [(host.as_str(), "REGISTRY"), (dir_text.as_str(), "TMP")];

    let creds_flag = format!("--creds={creds}");
    let out = fails_fast(
        &mut slipway(&["pull", "--preserve-digests", &creds_flag, &reference, &dest]),
        Duration::from_secs(5),
    );
    insta::assert_snapshot!(transcript(&out, &replace));
    assert!(!dir.path().join("img").exists());

    let out = slipway(&["pull", &creds_flag, &reference, &dest])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let digest = String::from_utf8(out.stdout).unwrap();
    assert!(digest.trim().starts_with("sha256:"), "{digest}");
    let inspected = Command::new(&skopeo)
        .args(["inspect", "--format", "{{.Digest}}"])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(inspected.status.success(), "{inspected:?}");
    assert_eq!(
        String::from_utf8(inspected.stdout).unwrap().trim(),
        digest.trim()
    );
}
