//! Installing RPMs: `slipway install` of the fixture RPMs into the builder
//! image (the image's own rpm in the sandbox), and the bootstrap installer
//! against `rpm2cpio | cpio -idm` for every real-world RPM.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{builder_image, scratch, slipway_bin};
use slipway_sandbox::install::bootstrap_install;
use slipway_sandbox::install::ids::Ids;
use slipway_test_support::builder::BuilderArch;
use slipway_test_support::fixtures::{createrepo, fixture_rpms, rpm_files};
use slipway_test_support::http::HttpServer;
use slipway_test_support::{real_world_rpms, require_root, require_tool};

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `slipway run IMAGE -- CMD…` → stdout.
fn slipway_run(store: &Path, image: &str, cmd: &[&str]) -> String {
    run_ok(
        Command::new(slipway_bin())
            .arg("run")
            .arg(image)
            .arg("--")
            .args(cmd)
            .env("SLIPWAY_STORE", store),
    )
}

#[test]
fn slipway_install_of_the_fixture_rpms_gives_right_owners_caps_scriptlets_and_a_clean_rpmdb() {
    let Some(builder) = builder_image(BuilderArch::Amd64) else {
        return;
    };
    let (Some(_), Some(_), Some(umoci)) = (
        require_tool("rpmbuild"),
        require_tool("createrepo_c"),
        require_tool("umoci"),
    ) else {
        return;
    };
    let dir = scratch("install-fixtures");
    let repo = dir.join("repo");
    fs_err::create_dir_all(&repo).unwrap();
    for rpm in rpm_files(&fixture_rpms()) {
        fs_err::copy(&rpm, repo.join(rpm.file_name().unwrap())).unwrap();
    }
    createrepo(&repo, false);
    let Some(server) = HttpServer::serve(&repo) else {
        return;
    };
    let repo_file = dir.join("slip.repo");
    fs_err::write(
        &repo_file,
        format!("[slip]\nname=slip\nbaseurl={}/\ngpgcheck=0\n", server.url()),
    )
    .unwrap();
    let store = dir.join("store");
    let dest = dir.join("dest");
    let requested = ["slip-user", "slip-epoch", "slip-filedep", "slip-modern"];
    run_ok(
        Command::new(slipway_bin())
            .arg("install")
            .arg(format!("oci:{}:latest", builder.display()))
            .arg(format!("oci:{}:latest", dest.display()))
            .arg("--repo-file")
            .arg(&repo_file)
            .args(requested)
            .env("SLIPWAY_STORE", &store),
    );

    // The new image has exactly one more layer.
    let index = fs_err::read_to_string(dest.join("index.json")).unwrap();
    assert!(index.contains("latest"), "{index}");

    // The layer holds what rpm changed, not the directories the sandbox
    // made its package mount point in (`/run/slipway/rpms` copied `/run` up).
    let layout = slipway_sandbox::slipway_oci::OciLayout::open(&dest).unwrap();
    let image = slipway_sandbox::slipway_oci::Image::load(&layout, Some("latest")).unwrap();
    let top = image.layers().last().expect("a layer").digest().to_string();
    let listing = run_ok(
        Command::new("tar").arg("-tzf").arg(
            dest.join("blobs/sha256")
                .join(top.trim_start_matches("sha256:")),
        ),
    );
    assert!(
        !listing
            .lines()
            .any(|l| l == "run/" || l.starts_with("run/slipway")),
        "the install layer has the sandbox's mount point parents:\n{listing}"
    );
    assert!(
        listing.lines().any(|l| l.starts_with("var/lib/slip/")),
        "{listing}"
    );

    // The same install again, rpm's clock a few seconds later (install times
    // and transaction ids in the rpmdb): the normaliser makes it one image.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let again = dir.join("dest-again");
    run_ok(
        Command::new(slipway_bin())
            .arg("install")
            .arg(format!("oci:{}:latest", builder.display()))
            .arg(format!("oci:{}:latest", again.display()))
            .arg("--repo-file")
            .arg(&repo_file)
            .args(requested)
            .env("SLIPWAY_STORE", &store),
    );
    assert_eq!(
        fs_err::read_to_string(again.join("index.json")).unwrap(),
        index,
        "two installs of the same packages give one manifest digest"
    );

    // Into the existing layout under another tag: both tags are there after.
    run_ok(
        Command::new(slipway_bin())
            .arg("install")
            .arg(format!("oci:{}:latest", builder.display()))
            .arg(format!("oci:{}:second", dest.display()))
            .arg("--repo-file")
            .arg(&repo_file)
            .arg("slip-epoch")
            .env("SLIPWAY_STORE", &store),
    );
    let layout = slipway_sandbox::slipway_oci::OciLayout::open(&dest).unwrap();
    let mut tags: Vec<String> = layout.tags().unwrap().into_iter().map(|(t, _)| t).collect();
    tags.sort();
    assert_eq!(tags, ["latest", "second"]);
    assert_eq!(
        slipway_sandbox::slipway_oci::Image::load(&layout, Some("latest"))
            .unwrap()
            .descriptor
            .digest()
            .to_string(),
        image.descriptor.digest().to_string(),
        "the first tag still names the first image"
    );

    // umoci's view of the result.
    let bundle = dir.join("bundle");
    run_ok(
        Command::new(&umoci)
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:latest", dest.display()))
            .arg(&bundle),
    );
    let rootfs = bundle.join("rootfs");
    let ids = Ids::of_rootfs(&rootfs);
    let slipuser = ids.uid("slipuser").expect("%pre created slipuser");
    let slipgroup = ids.gid("slipgroup").expect("%pre created slipgroup");
    let meta = |p: &str| fs_err::symlink_metadata(rootfs.join(p)).unwrap();
    let state_dir = meta("var/lib/slip");
    assert_eq!(
        (state_dir.uid(), state_dir.gid(), state_dir.mode() & 0o7777),
        (slipuser, slipgroup, 0o750)
    );
    let state = meta("var/lib/slip/state");
    assert_eq!(
        (state.uid(), state.gid(), state.mode() & 0o7777),
        (slipuser, slipgroup, 0o640)
    );
    assert_eq!(meta("etc/slip-user/user.conf").gid(), slipgroup);
    assert_eq!(meta("usr/bin/slip-su").mode() & 0o7777, 0o4755);
    assert_eq!(meta("usr/share/slip/private").mode() & 0o7777, 0o700);
    assert_eq!(
        meta("usr/lib/slip/data-a").ino(),
        meta("usr/lib/slip/data-c").ino()
    );
    assert!(
        !rootfs.join("var/log/slip/slip.log").exists(),
        "%ghost file created"
    );
    let caps = run_ok(Command::new("getcap").arg(rootfs.join("usr/bin/slip-ping")));
    assert!(caps.contains("cap_net_raw=ep"), "caps: {caps}");
    assert_eq!(
        fs_err::read_to_string(rootfs.join("var/lib/slip/post-ran")).unwrap(),
        "slip-user 1 installed\n"
    );
    // No package cache or temp file in the layer.
    assert!(
        !rootfs.join("var/cache/yum").exists()
            || common::entries(&rootfs.join("var/cache/yum")).is_empty()
    );

    // rpm inside the finished image: every package listed, nothing to report.
    let image = format!("oci:{}:latest", dest.display());
    let qa = slipway_run(&store, &image, &["rpm", "-qa", "--qf", "%{NAME}\\n"]);
    let mut names: Vec<&str> = qa.lines().collect();
    names.sort();
    for name in requested.iter().chain(&["slip-files", "slip-shell"]) {
        assert!(names.contains(name), "rpm -qa lacks {name}: {names:?}");
    }
    let va = slipway_run(&store, &image, &["sh", "-c", "rpm -Va; echo rc=$?"]);
    assert_eq!(va.trim(), "rc=0", "rpm -Va reports: {va}");

    // `--erase` in a further layer: the package is gone from the rpmdb and
    // its files are whited out; the rest stays installed and verified.
    let erased = dir.join("erased");
    run_ok(
        Command::new(slipway_bin())
            .arg("install")
            .arg(&image)
            .arg(format!("oci:{}:latest", erased.display()))
            .args(["--repo-file", "/dev/null", "--erase", "slip-filedep"])
            .env("SLIPWAY_STORE", &store),
    );
    let image = format!("oci:{}:latest", erased.display());
    let qa = slipway_run(&store, &image, &["rpm", "-qa", "--qf", "%{NAME}\\n"]);
    assert!(!qa.lines().any(|l| l == "slip-filedep"), "{qa}");
    for name in ["slip-user", "slip-epoch", "slip-modern"] {
        assert!(qa.lines().any(|l| l == name), "{name} gone too: {qa}");
    }
    let va = slipway_run(&store, &image, &["sh", "-c", "rpm -Va; echo rc=$?"]);
    assert_eq!(va.trim(), "rc=0", "rpm -Va reports after erase: {va}");
}

/// `find` listing of the payload paths: type, mode, size, link target,
/// mtime (files) and content hash.
fn listing(root: &Path, paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            let path = root.join(p.trim_start_matches('/'));
            let Ok(m) = fs_err::symlink_metadata(&path) else {
                return format!("{p} missing");
            };
            let kind = m.file_type();
            let extra = if kind.is_symlink() {
                fs_err::read_link(&path).unwrap().display().to_string()
            } else if kind.is_file() {
                format!("{} {}", m.mtime(), hex_sha(&fs_err::read(&path).unwrap()))
            } else {
                String::new()
            };
            format!(
                "{p} {:o} {} {extra}",
                m.mode(),
                if kind.is_dir() { 0 } else { m.len() }
            )
        })
        .collect()
}

fn hex_sha(data: &[u8]) -> String {
    // Content identity only; a cheap stable digest is enough here.
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    format!("{:016x}", h.finish())
}

#[test]
fn bootstrap_install_of_each_real_world_rpm_matches_cpio_plus_header_owners() {
    if !require_root() {
        return;
    }
    let (Some(_), Some(_), Some(_)) = (
        require_tool("rpm2cpio"),
        require_tool("cpio"),
        require_tool("rpm"),
    ) else {
        return;
    };
    let dir = scratch("bootstrap-real-world");
    let mut rpms: Vec<PathBuf> = fs_err::read_dir(real_world_rpms())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    rpms.sort();
    assert!(!rpms.is_empty());
    for (i, rpm) in rpms.iter().enumerate() {
        let ours = dir.join(format!("ours-{i}"));
        let theirs = dir.join(format!("cpio-{i}"));
        fs_err::create_dir_all(ours.join("etc")).unwrap();
        fs_err::create_dir_all(&theirs).unwrap();
        // A rootfs with its own users: `bin` gets a non-default id.
        fs_err::write(
            ours.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nbin:x:7:8::/bin:/sbin/nologin\n",
        )
        .unwrap();
        fs_err::write(ours.join("etc/group"), "root:x:0:\nbin:x:8:\n").unwrap();
        bootstrap_install(&ours, std::slice::from_ref(rpm))
            .unwrap_or_else(|e| panic!("{}: {e}", rpm.display()));
        run_ok(
            Command::new("sh")
                .arg("-c")
                .arg("rpm2cpio \"$1\" | cpio -idm --quiet")
                .arg("sh")
                .arg(rpm)
                .current_dir(&theirs),
        );
        // The header, as rpm itself reads it.
        let qf = "[%{FILENAMES}\\t%{FILEUSERNAME}\\t%{FILEGROUPNAME}\\t%{FILEFLAGS:fflags}\\n]";
        let header = run_ok(
            Command::new("rpm")
                .args(["-qp", "--nosignature", "--qf", qf])
                .arg(rpm),
        );
        let mut paths = Vec::new();
        let ids = Ids::of_rootfs(&ours);
        for line in header.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 4 || f[3].contains('g') {
                continue; // %ghost: not in the payload, not created
            }
            paths.push(f[0].to_owned());
            let m = fs_err::symlink_metadata(ours.join(f[0].trim_start_matches('/'))).unwrap();
            assert_eq!(
                (m.uid(), m.gid()),
                (ids.uid(f[1]).unwrap_or(0), ids.gid(f[2]).unwrap_or(0)),
                "{}: owner of {}",
                rpm.display(),
                f[0]
            );
        }
        assert!(!paths.is_empty());
        let a = listing(&ours, &paths);
        let b = listing(&theirs, &paths);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{}", rpm.display());
        }
    }
}

#[test]
fn bootstrap_on_the_overlay_keeps_modified_config_files_as_rpm_does() {
    let Some(builder) = common::builder() else {
        return;
    };
    let Some(_) = require_tool("rpmbuild") else {
        return;
    };
    let rpm = rpm_files(&fixture_rpms())
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("slip-files-")
        })
        .unwrap();
    let dir = scratch("bootstrap-config");
    // A lower with locally modified config files.
    let local = dir.join("local");
    fs_err::create_dir_all(local.join("etc/slip")).unwrap();
    fs_err::write(local.join("etc/slip/keep.conf"), "keep = local\n").unwrap();
    fs_err::write(local.join("etc/slip/slip.conf"), "setting = local\n").unwrap();
    let sandbox = slipway_sandbox::Sandbox::new(dir.join("scratch"));
    let files = vec![rpm.clone()];
    let outcome = sandbox
        .run_native(&[local, builder], "bootstrap", move |root| {
            bootstrap_install(root, &files)
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .unwrap();
    let upper = outcome.upper();
    let read = |p: &str| fs_err::read_to_string(upper.join(p)).unwrap();
    // %config(noreplace): the local file stays, the new one is .rpmnew.
    assert!(
        !upper.join("etc/slip/keep.conf").exists(),
        "keep.conf was replaced"
    );
    assert_eq!(read("etc/slip/keep.conf.rpmnew"), "keep = mine\n");
    // %config: the new file wins, the local one is saved as .rpmorig.
    assert_eq!(read("etc/slip/slip.conf"), "setting = 1\n");
    assert_eq!(read("etc/slip/slip.conf.rpmorig"), "setting = local\n");
    let ping = upper.join("usr/bin/slip-ping");
    let caps = run_ok(Command::new("getcap").arg(&ping));
    assert!(caps.contains("cap_net_raw=ep"), "{caps}");
    assert_eq!(
        fs_err::metadata(upper.join("usr/bin/slip-su"))
            .unwrap()
            .mode()
            & 0o7777,
        0o4755
    );
    assert!(
        !upper.join("var/log/slip/slip.log").exists(),
        "%ghost created"
    );
    // The merged-/usr builder: nothing was written beside its symlinks.
    assert!(!upper.join("lib").exists() && !upper.join("bin").exists());
}
