//! The OCI commands of the `slipway` binary: `import-rootfs`, `inspect`,
//! `unpack` — round trips, reproducibility, hostile layers and bad input.

use std::borrow::BorrowMut;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use slipway_oci::tar::{EntryKind, TarEntry};
use slipway_oci::{Compression, ImageConfig, LayerOptions, LayerWriter, OciLayout, Platform};

const BIN: &str = env!("CARGO_BIN_EXE_slipway");

fn slipway(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1");
    cmd
}

fn ok(mut cmd: impl BorrowMut<Command>) -> String {
    let cmd = cmd.borrow_mut();
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Run a command that must fail cleanly: exit code 1, one `error:` line
/// (plus `hint:` and `warning:` lines) naming `path`, no panic. Returns the error line.
fn fails(mut cmd: impl BorrowMut<Command>, path: &Path) -> String {
    let cmd = cmd.borrow_mut();
    let out: Output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{cmd:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("hint:") && !l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    let shown = path.display().to_string();
    assert!(
        lines[0].contains(&shown),
        "the error does not name `{shown}`:\n{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    lines[0].to_owned()
}

fn tree(root: &Path) {
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::create_dir_all(root.join("usr/bin")).unwrap();
    fs_err::write(root.join("etc/os-release"), "ID=slipway\n").unwrap();
    fs_err::write(root.join("usr/bin/hello"), "#!/bin/sh\necho hello\n").unwrap();
    fs_err::set_permissions(
        root.join("usr/bin/hello"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
}

/// Nothing but `expected` in `dir` (no temporary leftovers).
fn only(dir: &Path, expected: &[&str]) {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, expected, "in {}", dir.display());
}

#[test]
fn import_inspect_and_unpack() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    tree(&root);
    let layout = tmp.path().join("image");
    let dest = format!("oci:{}:v1", layout.display());
    let digest = ok(slipway(&[
        "import-rootfs",
        root.to_str().unwrap(),
        &dest,
        "--env",
        "PATH=/usr/bin",
        "--env",
        "LANG=C.UTF-8",
        "--entrypoint",
        r#"["/bin/sh","-c"]"#,
        "--cmd",
        "hello",
        "--label",
        "org.example=1",
        "--workdir",
        "/srv",
        "--user",
        "1000:1000",
        "--platform",
        "linux/i686",
        "--compression",
        "zstd",
    ]));
    assert!(digest.trim().starts_with("sha256:"), "{digest}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(slipway(&["inspect", &dest, "--json"]))).unwrap();
    assert_eq!(json["digest"], digest.trim());
    assert_eq!(json["platform"], "linux/386");
    let config = &json["config"]["config"];
    assert_eq!(
        config["Env"],
        serde_json::json!(["PATH=/usr/bin", "LANG=C.UTF-8"])
    );
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(config["Cmd"], serde_json::json!(["hello"]));
    assert_eq!(config["Labels"]["org.example"], "1");
    assert_eq!(config["WorkingDir"], "/srv");
    assert_eq!(config["User"], "1000:1000");
    assert_eq!(
        json["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(
        json["config"]["history"][0]["created"],
        "1970-01-01T00:00:00Z"
    );

    let text = ok(slipway(&["inspect", layout.to_str().unwrap()]));
    assert!(
        text.contains(digest.trim()) && text.contains("Env:         LANG=C.UTF-8"),
        "{text}"
    );

    // Entrypoint as words, archives as destinations.
    for dest in [
        format!("oci-archive:{}", tmp.path().join("o.tar").display()),
        format!(
            "docker-archive:{}:slipway/test:1",
            tmp.path().join("d.tar").display()
        ),
    ] {
        ok(slipway(&[
            "import-rootfs",
            root.to_str().unwrap(),
            &dest,
            "--entrypoint",
            "/bin/sh",
            "--entrypoint",
            "-c",
        ]));
        let json: serde_json::Value =
            serde_json::from_str(&ok(slipway(&["inspect", &dest, "--json"]))).unwrap();
        assert_eq!(
            json["config"]["config"]["Entrypoint"],
            serde_json::json!(["/bin/sh", "-c"])
        );
    }

    let out = tmp.path().join("unpacked");
    ok(slipway(&["unpack", &dest, out.to_str().unwrap()]));
    assert_eq!(
        fs_err::read_to_string(out.join("bin/hello")).unwrap(),
        "#!/bin/sh\necho hello\n"
    );
    only(
        tmp.path(),
        &["d.tar", "image", "o.tar", "rootfs", "unpacked"],
    );
}

#[test]
fn import_from_a_tar_file_equals_import_from_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    tree(&root);
    let tarball = tmp.path().join("rootfs.tar.gz");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-czf")
        .arg(&tarball)
        .arg(".")
        .status();
    if !status.is_ok_and(|s| s.success()) {
        slipway_test_support::unavailable("GNU tar");
        return;
    }
    let a = ok(slipway(&[
        "import-rootfs",
        root.to_str().unwrap(),
        &format!("oci:{}", tmp.path().join("a").display()),
    ]));
    let b = ok(slipway(&[
        "import-rootfs",
        tarball.to_str().unwrap(),
        &format!("oci:{}", tmp.path().join("b").display()),
    ]));
    assert_eq!(a, b);
}

#[test]
fn the_same_tree_elsewhere_gives_the_same_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("elsewhere/two"));
    tree(&one);
    // The copy: created in another order, with other mtimes.
    fs_err::create_dir_all(two.join("usr/bin")).unwrap();
    std::os::unix::fs::symlink("usr/bin", two.join("bin")).unwrap();
    fs_err::write(two.join("usr/bin/hello"), "#!/bin/sh\necho hello\n").unwrap();
    fs_err::set_permissions(
        two.join("usr/bin/hello"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    fs_err::create_dir_all(two.join("etc")).unwrap();
    fs_err::write(two.join("etc/os-release"), "ID=slipway\n").unwrap();
    let status = Command::new("find")
        .arg(&two)
        .args(["-exec", "touch", "-h", "-d", "@1800000000", "{}", "+"])
        .status();
    assert!(status.unwrap().success());

    let import = |src: &Path, dest: &str, epoch: Option<&str>| {
        let mut cmd = slipway(&["import-rootfs", src.to_str().unwrap(), dest, "--env", "A=1"]);
        if let Some(epoch) = epoch {
            cmd.env("SOURCE_DATE_EPOCH", epoch);
        }
        ok(&mut cmd)
    };
    let d1 = import(
        &one,
        &format!("oci:{}:x", tmp.path().join("l1").display()),
        Some("1700000000"),
    );
    let d2 = import(
        &two,
        &format!("oci:{}:x", tmp.path().join("l2").display()),
        Some("1700000000"),
    );
    assert_eq!(d1, d2);
    // Without SOURCE_DATE_EPOCH: a fixed default, not the clock.
    let n1 = import(
        &one,
        &format!("oci:{}:x", tmp.path().join("n1").display()),
        None,
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let n2 = import(
        &two,
        &format!("oci:{}:x", tmp.path().join("n2").display()),
        None,
    );
    assert_eq!(n1, n2);
    assert_ne!(n1, d1, "the epoch is part of the image");
}

fn hostile_layout(dir: &Path, outside: &Path) {
    let layout = OciLayout::create(dir).unwrap();
    let options = LayerOptions {
        compression: Compression::Gzip,
        ..LayerOptions::default()
    };
    let mut w = LayerWriter::new(&layout, &options).unwrap();
    let file = |path: &str| {
        let mut e = TarEntry::new(path, EntryKind::File { size: 4 });
        e.mode = 0o644;
        e
    };
    let mut link = TarEntry::new(
        "escape",
        EntryKind::Symlink {
            target: outside.as_os_str().as_encoded_bytes().to_vec(),
        },
    );
    link.mode = 0o777;
    w.append(&file("../x"), &mut &b"evil"[..]).unwrap();
    w.append(
        &file(&format!("{}/abs", outside.display())),
        &mut &b"evil"[..],
    )
    .unwrap();
    w.append(&link, &mut std::io::empty()).unwrap();
    w.append(&file("escape/through-link"), &mut &b"evil"[..])
        .unwrap();
    w.append(&file(".wh..."), &mut &b""[..]).unwrap_err(); // size mismatch: the writer checks
    w.append(
        &TarEntry::new(".wh...", EntryKind::File { size: 0 }),
        &mut std::io::empty(),
    )
    .unwrap();
    w.append(&file("ok"), &mut &b"good"[..]).unwrap();
    let layer = w.finish().unwrap();
    let mut config = ImageConfig::new(&Platform::host(), 0);
    config.append_layer(&layer.diff_id, "hostile", 0);
    slipway_oci::write_image(&layout, &config, &[layer.descriptor], Some("evil")).unwrap();
}

#[test]
fn unpack_refuses_a_hostile_layer_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs_err::create_dir_all(&outside).unwrap();
    let layout = tmp.path().join("evil");
    hostile_layout(&layout, &outside);
    let target = tmp.path().join("work/target");
    fs_err::create_dir_all(tmp.path().join("work")).unwrap();
    let src = format!("oci:{}:evil", layout.display());

    let out = slipway(&["unpack", &src, target.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for path in ["../x", "escape/through-link", ".wh..."] {
        assert!(
            stderr.contains(&format!("refused `{path}`")),
            "`{path}` not reported:\n{stderr}"
        );
    }
    // An absolute name lands beneath the target, as Docker, containerd and
    // GNU tar apply it; nothing is written outside.
    let abs = format!("{}/abs", outside.display());
    assert!(!stderr.contains(&format!("refused `{abs}`")), "{stderr}");
    let beneath = target.join(abs.trim_start_matches('/'));
    assert_eq!(fs_err::read(&beneath).unwrap(), b"evil");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["refused"].as_array().unwrap().len(), 3);
    only(&outside, &[]);
    only(&tmp.path().join("work"), &["target"]);
    let top = abs
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut expected = ["escape".to_owned(), "ok".to_owned(), top];
    expected.sort();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    only(&target, &expected);
    assert!(!tmp.path().join("x").exists());

    // --strict: an error, and nothing written.
    let strict_target = tmp.path().join("work/strict");
    let line = fails(
        slipway(&["unpack", &src, strict_target.to_str().unwrap(), "--strict"])
            .stderr(std::process::Stdio::piped()),
        &strict_target,
    );
    assert!(line.contains("3 entries were refused"), "{line}");
    only(&tmp.path().join("work"), &["target"]);
}

#[test]
fn bad_input_gives_one_clear_line_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    tree(&root);
    let out = tmp.path().join("out");
    fs_err::create_dir_all(&out).unwrap();

    // A missing source.
    let missing = tmp.path().join("no-such-rootfs");
    let line = fails(
        &mut slipway(&[
            "import-rootfs",
            missing.to_str().unwrap(),
            &format!("oci:{}", out.join("img").display()),
        ]),
        &missing,
    );
    assert!(line.contains("no such file or directory"), "{line}");
    only(&out, &[]);

    // Not a layout, and malformed layouts.
    let line = fails(&mut slipway(&["inspect", root.to_str().unwrap()]), &root);
    assert!(
        line.contains("not a valid OCI image layout") && line.contains("oci-layout"),
        "{line}"
    );
    let broken = tmp.path().join("broken");
    fs_err::create_dir_all(&broken).unwrap();
    fs_err::write(
        broken.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    fs_err::write(broken.join("index.json"), "{ not json").unwrap();
    let line = fails(
        &mut slipway(&["inspect", &format!("oci:{}", broken.display())]),
        &broken,
    );
    assert!(line.contains("index.json"), "{line}");
    let line = fails(
        &mut slipway(&[
            "unpack",
            &format!("oci:{}", broken.display()),
            out.join("u").to_str().unwrap(),
        ]),
        &broken,
    );
    assert!(line.contains("index.json"), "{line}");
    only(&out, &[]);

    // A layout whose index names a blob it does not have.
    let layout_dir = tmp.path().join("layout");
    ok(slipway(&[
        "import-rootfs",
        root.to_str().unwrap(),
        &format!("oci:{}:t", layout_dir.display()),
    ]));
    let layout = OciLayout::open(&layout_dir).unwrap();
    let image = slipway_oci::Image::load(&layout, Some("t")).unwrap();
    let layer = slipway_oci::Digest::try_from(image.layers()[0].digest()).unwrap();
    fs_err::write(layout.blob_path(&layer), b"garbage").unwrap();
    let unpack_fails = || {
        fails(
            &mut slipway(&[
                "unpack",
                &format!("oci:{}:t", layout_dir.display()),
                out.join("u").to_str().unwrap(),
            ]),
            &layout_dir,
        )
    };
    let line = unpack_fails();
    assert!(
        line.contains(&layer.to_string()) || line.contains("gzip") || line.contains("invalid"),
        "{line}"
    );
    fs_err::remove_file(layout.blob_path(&layer)).unwrap();
    let line = unpack_fails();
    assert!(
        line.contains("is missing") && line.contains(&layer.to_string()),
        "{line}"
    );
    let line = fails(
        &mut slipway(&["inspect", &format!("oci:{}:nope", layout_dir.display())]),
        &layout_dir,
    );
    assert!(
        line.contains("no image `nope`") && line.contains("available: t"),
        "{line}"
    );
    only(&out, &[]);

    // A destination that is a file, and a non-empty directory that is not a layout.
    let file = tmp.path().join("a-file");
    fs_err::write(&file, "x").unwrap();
    fails(
        &mut slipway(&[
            "import-rootfs",
            root.to_str().unwrap(),
            &format!("oci:{}/sub", file.display()),
        ]),
        &file,
    );
    let line = fails(
        &mut slipway(&[
            "import-rootfs",
            root.to_str().unwrap(),
            root.to_str().unwrap(),
        ]),
        &root,
    );
    assert!(line.contains("not an OCI layout"), "{line}");
    only(&out, &[]);
}

/// Run the binary as `nobody`, so that permissions apply even when the tests run as root.
fn as_nobody(args: &[&str]) -> Option<Command> {
    if !is_root() {
        return Some(slipway(args));
    }
    let setpriv = slipway_test_support::require_tool("setpriv")?;
    let mut cmd = Command::new(setpriv);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("TMPDIR", "/tmp");
    Some(cmd)
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn world_readable_tempdir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs_err::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    tmp
}

#[test]
fn unreadable_files_and_unwritable_destinations_are_clear_errors() {
    let tmp = world_readable_tempdir();
    let root = tmp.path().join("rootfs");
    tree(&root);
    let secret = root.join("etc/shadow");
    fs_err::write(&secret, "secret").unwrap();
    fs_err::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let writable = tmp.path().join("writable");
    fs_err::create_dir_all(&writable).unwrap();
    fs_err::set_permissions(&writable, std::fs::Permissions::from_mode(0o777)).unwrap();

    let dest = format!("oci:{}:t", writable.join("img").display());
    let Some(mut cmd) = as_nobody(&["import-rootfs", root.to_str().unwrap(), &dest]) else {
        return;
    };
    let line = fails(&mut cmd, &secret);
    assert!(line.to_lowercase().contains("permission denied"), "{line}");
    only(&writable, &[]);

    let readonly = tmp.path().join("readonly");
    fs_err::create_dir_all(&readonly).unwrap();
    fs_err::set_permissions(&readonly, std::fs::Permissions::from_mode(0o555)).unwrap();
    fs_err::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    for dest in [
        format!("oci:{}:t", readonly.join("img").display()),
        format!("oci-archive:{}", readonly.join("img.tar").display()),
        format!("docker-archive:{}", readonly.join("img.tar").display()),
    ] {
        let Some(mut cmd) = as_nobody(&["import-rootfs", root.to_str().unwrap(), &dest]) else {
            return;
        };
        let line = fails(&mut cmd, &readonly);
        assert!(line.to_lowercase().contains("permission denied"), "{line}");
    }
    only(&readonly, &[]);
    let target = readonly.join("unpacked");
    ok(slipway(&[
        "import-rootfs",
        root.to_str().unwrap(),
        &format!("oci:{}:t", writable.join("img").display()),
    ]));
    let Some(mut cmd) = as_nobody(&[
        "unpack",
        &format!("oci:{}:t", writable.join("img").display()),
        target.to_str().unwrap(),
    ]) else {
        return;
    };
    fails(&mut cmd, &readonly);
    only(&readonly, &[]);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    tree(&root);
    let dest = tmp.path().join("img");
    let d = format!("oci:{}", dest.display());
    let root_arg = root.to_str().unwrap();
    /// Extra arguments, environment, exit code, what stderr says.
    type Case<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, i32, &'a str);
    let cases: [Case; 4] = [
        (
            &[&d, "--env", "NOVALUE"],
            None,
            1,
            "--env `NOVALUE`: expected KEY=VALUE",
        ),
        (&[&d, "--platform", "linux"], None, 1, "OS/ARCH"),
        (&["docker://x/y"], None, 1, "unknown transport `docker`"),
        // clap rejects a SOURCE_DATE_EPOCH that is not a number.
        (
            &[&d],
            Some(("SOURCE_DATE_EPOCH", "yesterday")),
            2,
            "yesterday",
        ),
    ];
    for (extra, env, code, says) in cases {
        let mut cmd = slipway(&[&["import-rootfs", root_arg][..], extra].concat());
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{extra:?}: {stderr}");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
    }
    assert!(!dest.exists());
    let _: PathBuf = dest;
}
