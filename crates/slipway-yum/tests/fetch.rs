//! Lock, verified downloads, signature checks and broken metadata, all
//! against fixture repos served over HTTP on 127.0.0.1.

mod common;

use std::path::Path;
use std::process::Command;

use common::World;
use slipway_test_support::http::HttpServer;
use slipway_test_support::{generated_dir, real_world_rpms, require_tool};
use slipway_yum::download::{DownloadOptions, NoReporter, download};
use slipway_yum::gpg::RepoKeys;
use slipway_yum::repofile::{RepoConfig, Vars, parse_repo_file};
use slipway_yum::resolve::{Job, Request, resolve};
use slipway_yum::source::{Format, LoadOptions, load_repo};
use slipway_yum::store::{Store, Transport, hash_file};
use slipway_yum::{Error, Lock};

fn options() -> LoadOptions {
    LoadOptions {
        vars: Vars::new("x86_64", "6"),
        format: Format::Xml,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn lock_then_parallel_download_verifies_and_reuses() {
    let Some(world) = World::start() else { return };
    let store_dir = tempfile::tempdir().unwrap();
    let repos = world.load("x86_64", Format::Xml, store_dir.path());
    let request = Request {
        job: Job::Install,
        specs: vec!["tools-suite".into(), "lib32only".into()],
    };
    let tx = resolve(&repos, &[], &request, "x86_64").unwrap();
    let lock = Lock::from_transaction(&tx, &repos);
    assert_eq!(lock.packages.len(), tx.to_install().count());
    assert!(lock.is_stale(&repos).is_empty());
    // The lock text is stable and round-trips.
    let text = lock.to_toml();
    let back = Lock::from_toml(&text, Path::new("slipway.lock")).unwrap();
    assert_eq!(back, lock);
    assert_eq!(back.to_toml(), text);

    let store = Store::new(store_dir.path());
    let transport = Transport::new().unwrap();
    let opts = DownloadOptions {
        jobs: 4,
        signature: None,
    };
    let paths = download(&lock.packages, &store, &transport, &opts, &NoReporter).unwrap();
    for (pkg, path) in lock.packages.iter().zip(&paths) {
        // Same bytes as the RPM createrepo_c indexed, and rpm agrees on what it is.
        let original = world.rpm(&pkg.file_name());
        assert_eq!(
            fs_err::read(path).unwrap(),
            fs_err::read(&original).unwrap(),
            "{}",
            pkg.nevra()
        );
        assert_eq!(hash_file(path, &pkg.checksum_type).unwrap(), pkg.checksum);
        if let Some(rpm) = slipway_test_support::require_tool("rpm") {
            let out = Command::new(rpm)
                .args(["-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}"])
                .arg(path)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                pkg.file_name().trim_end_matches(".rpm")
            );
        }
    }
    // With the server gone, everything comes from the store.
    drop(world);
    let again = download(&lock.packages, &store, &transport, &opts, &NoReporter).unwrap();
    assert_eq!(again, paths);
}

#[test]
fn package_with_wrong_checksum_is_fatal_and_not_stored() {
    let Some(world) = World::start() else { return };
    let store_dir = tempfile::tempdir().unwrap();
    let repos = world.load("x86_64", Format::Xml, store_dir.path());
    let request = Request {
        job: Job::Install,
        specs: vec!["bar".into()],
    };
    let tx = resolve(&repos, &[], &request, "x86_64").unwrap();
    let mut lock = Lock::from_transaction(&tx, &repos);
    let victim = lock.packages.iter_mut().find(|p| p.name == "bar").unwrap();
    victim.checksum = "0".repeat(64);
    let store = Store::new(store_dir.path());
    let opts = DownloadOptions {
        jobs: 2,
        signature: None,
    };
    let err = download(
        &lock.packages,
        &store,
        &Transport::new().unwrap(),
        &opts,
        &NoReporter,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Checksum { .. }), "{text}");
    assert!(
        text.contains("bar-2.1-1.noarch") && text.contains("/updates/noarch/bar-2.1-1.noarch.rpm"),
        "{text}"
    );
    assert!(
        !store
            .path_of(
                &lock
                    .packages
                    .iter()
                    .find(|p| p.name == "bar")
                    .unwrap()
                    .checksum()
            )
            .exists()
    );
}

/// A repo dir copied from the fixture `base` repo, served on its own.
fn served_copy(name: &str) -> Option<(tempfile::TempDir, HttpServer)> {
    let world_repos = common::fixture_repos()?;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&world_repos.join("base"), &dir.path().join(name));
    let server = HttpServer::serve(dir.path())?;
    Some((dir, server))
}

/// Load repository `r` of `server` into a fresh store.
fn load_served_repo(server: &HttpServer) -> Result<slipway_yum::Repo, Error> {
    let store = tempfile::tempdir().unwrap();
    let config = RepoConfig::with_baseurl("r", &format!("{}/r", server.url()));
    load_repo(
        &config,
        &Store::new(store.path()),
        &Transport::new().unwrap(),
        &options(),
    )
}

fn primary_path(repo: &Path) -> std::path::PathBuf {
    fs_err::read_dir(repo.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("primary.xml.gz"))
        .unwrap()
}

#[test]
fn metadata_with_wrong_checksum_is_refused() {
    let Some((dir, server)) = served_copy("r") else {
        return;
    };
    let primary = primary_path(&dir.path().join("r"));
    let mut bytes = fs_err::read(&primary).unwrap();
    bytes.extend_from_slice(b"tampered");
    fs_err::write(&primary, bytes).unwrap();
    let err = load_served_repo(&server).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Checksum { .. }), "{text}");
    assert!(text.contains("primary.xml.gz"), "{text}");
}

#[test]
fn truncated_repomd_is_refused() {
    let Some((dir, server)) = served_copy("r") else {
        return;
    };
    let repomd = dir.path().join("r/repodata/repomd.xml");
    let text = fs_err::read_to_string(&repomd).unwrap();
    fs_err::write(&repomd, &text[..text.len() / 2]).unwrap();
    let err = load_served_repo(&server).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}/r/repodata/repomd.xml: ", server.url())),
        "{text}"
    );
}

#[test]
fn primary_with_unknown_tag_is_refused() {
    let Some((dir, server)) = served_copy("r") else {
        return;
    };
    let repo = dir.path().join("r");
    // Rewrite primary with an unknown element and patch repomd's checksum
    // (the file keeps its name), so only the unknown tag is wrong.
    let primary = primary_path(&repo);
    let xml = {
        let f = fs_err::File::open(&primary).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(f), &mut s).unwrap();
        s
    };
    let bad = xml.replacen("<rpm:vendor", "<rpm:mystery/><rpm:vendor", 1);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, bad.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let old_sum = hash_file(&primary, "sha256").unwrap();
    fs_err::write(&primary, &gz).unwrap();
    let new_sum = hash_file(&primary, "sha256").unwrap();
    let repomd = repo.join("repodata/repomd.xml");
    let text = fs_err::read_to_string(&repomd).unwrap().replace(
        &format!(">{old_sum}</checksum>"),
        &format!(">{new_sum}</checksum>"),
    );
    fs_err::write(&repomd, text).unwrap();
    let err = load_served_repo(&server).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("primary.xml.gz: at byte "), "{text}");
    assert!(text.contains("unknown element <rpm:mystery>"), "{text}");
}

#[test]
fn lock_goes_stale_when_repodata_changes() {
    let Some(createrepo) = require_tool("createrepo_c") else {
        return;
    };
    let Some((dir, server)) = served_copy("r") else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let config = RepoConfig::with_baseurl("r", &format!("{}/r", server.url()));
    let load = || {
        load_repo(
            &config,
            &Store::new(store.path()),
            &Transport::new().unwrap(),
            &options(),
        )
        .unwrap()
    };
    let repos = vec![load()];
    let tx = resolve(
        &repos,
        &[],
        &Request {
            job: Job::Install,
            specs: vec!["bar".into()],
        },
        "x86_64",
    )
    .unwrap();
    let lock = Lock::from_transaction(&tx, &repos);
    assert!(lock.is_stale(&repos).is_empty());
    fs_err::remove_file(dir.path().join("r/noarch/gamma-1.0-1.noarch.rpm")).unwrap();
    let status = Command::new(createrepo)
        .args(["-q", "--no-database"])
        .arg(dir.path().join("r"))
        .status()
        .unwrap();
    assert!(status.success());
    let reasons = lock.is_stale(&[load()]);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("repository `r` changed"),
        "{reasons:?}"
    );
}

/// gpgcheck=1 with the EPEL 6 package and key (a real CentOS 6 era v3 RSA
/// signature), and with a fixture RPM that is not signed at all.
#[test]
fn gpgcheck_verifies_signatures_with_the_repo_key() {
    let Some(createrepo) = require_tool("createrepo_c") else {
        return;
    };
    let Some(rpm2cpio) = require_tool("rpm2cpio") else {
        return;
    };
    let Some(_) = require_tool("cpio") else {
        return;
    };
    let Some(repos_root) = common::fixture_repos() else {
        return;
    };
    let root = generated_dir("yum-gpg-repo");
    let _ = fs_err::remove_dir_all(&root);
    fs_err::create_dir_all(root.join("signed")).unwrap();
    fs_err::create_dir_all(root.join("keys")).unwrap();
    let epel = real_world_rpms().join("epel-release-6-8.noarch.rpm");
    fs_err::copy(&epel, root.join("signed/epel-release-6-8.noarch.rpm")).unwrap();
    fs_err::copy(
        repos_root.join("base/noarch/beta-1.0-1.noarch.rpm"),
        root.join("signed/beta-1.0-1.noarch.rpm"),
    )
    .unwrap();
    let status = Command::new(&createrepo)
        .args(["-q", "--no-database"])
        .arg(root.join("signed"))
        .status()
        .unwrap();
    assert!(status.success());
    // The EPEL 6 key ships inside the package.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && {} {} | cpio -idm --quiet ./etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-6",
            root.join("keys").display(),
            rpm2cpio.display(),
            epel.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let Some(server) = HttpServer::serve(&root) else {
        return;
    };
    let text = format!(
        "[signed]\nbaseurl={url}/signed\ngpgcheck=1\ngpgkey={url}/keys/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-6\n",
        url = server.url()
    );
    let configs =
        parse_repo_file(&text, Path::new("signed.repo"), &Vars::new("x86_64", "6")).unwrap();
    let transport = Transport::new().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::new(store_dir.path());
    let repos = vec![load_repo(&configs[0], &store, &transport, &options()).unwrap()];
    let keys = RepoKeys::load(&configs, &transport).unwrap();
    let check = |p: &slipway_yum::LockedPackage, path: &Path| keys.check(p, path);
    let opts = DownloadOptions {
        jobs: 2,
        signature: Some(&check),
    };

    // Lock packages straight from the repo: epel-release requires
    // `redhat-release`, which this repo does not have.
    let lock_of = |name: &str| {
        let pkg = repos[0].packages.iter().find(|p| p.name == name).unwrap();
        let tx = slipway_yum::resolve::Transaction {
            items: vec![slipway_yum::resolve::Item {
                action: slipway_yum::resolve::Action::Install,
                package: pkg.clone(),
                repo: "signed".into(),
                replaces: vec![],
            }],
            skipped: vec![],
        };
        Lock::from_transaction(&tx, &repos)
    };
    let good = lock_of("epel-release");
    let paths = download(&good.packages, &store, &transport, &opts, &NoReporter).unwrap();
    assert!(paths[0].exists());

    let unsigned = lock_of("beta");
    let err = download(&unsigned.packages, &store, &transport, &opts, &NoReporter).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Signature { .. }), "{text}");
    assert!(
        text.contains("beta-1.0-1.noarch") && text.contains("/signed/beta-1.0-1.noarch.rpm"),
        "{text}"
    );
    assert!(
        !store.path_of(&unsigned.packages[0].checksum()).exists(),
        "a package failing its check stays out of the store"
    );
}

#[test]
fn corrupt_store_entry_is_caught_while_parsing_and_refetched() {
    let Some((_dir, server)) = served_copy("r") else {
        return;
    };
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::new(store_dir.path());
    let config = RepoConfig::with_baseurl("r", &format!("{}/r", server.url()));
    let transport = Transport::new().unwrap();
    let first = load_repo(&config, &store, &transport, &options()).unwrap();
    let entry = store.path_of(&first.repomd.data["primary"].checksum);
    let mut bytes = fs_err::read(&entry).unwrap();
    bytes.extend_from_slice(b"\0junk");
    fs_err::write(&entry, bytes).unwrap();
    let err = load_repo(&config, &store, &transport, &options()).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("store entry"), "{err}");
    assert!(!entry.exists(), "the bad entry is removed");
    let again = load_repo(&config, &store, &transport, &options()).unwrap();
    assert_eq!(again.packages, first.packages);
}

/// `mirrorlist=` (a file of base URLs; the first dead one is skipped) with
/// `$basearch` substituted, and `exclude=` hiding packages.
#[test]
fn mirrorlist_and_exclude() {
    let Some((dir, server)) = served_copy("r") else {
        return;
    };
    fs_err::write(
        dir.path().join("mirrors.txt"),
        format!(
            "# mirrors\nhttp://127.0.0.1:9/nothing-here/$basearch/\n{}/r/\n",
            server.url()
        ),
    )
    .unwrap();
    let text = format!(
        "[m]\nmirrorlist={}/mirrors.txt\nexclude=gamma* needs-*\n",
        server.url()
    );
    let configs = parse_repo_file(&text, Path::new("m.repo"), &Vars::new("x86_64", "6")).unwrap();
    let store = tempfile::tempdir().unwrap();
    let repo = load_repo(
        &configs[0],
        &Store::new(store.path()),
        &Transport::new().unwrap(),
        &options(),
    )
    .unwrap();
    assert_eq!(repo.baseurl, format!("{}/r/", server.url()));
    assert!(repo.packages.iter().any(|p| p.name == "alpha"));
    assert!(
        !repo
            .packages
            .iter()
            .any(|p| p.name == "gamma" || p.name.starts_with("needs-"))
    );
}

#[test]
fn offline_loads_the_remembered_metadata_and_downloads_only_from_the_store() {
    let Some((_dir, server)) = served_copy("r") else {
        return;
    };
    let url = format!("{}/r", server.url());
    let config = RepoConfig::with_baseurl("r", &url);
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::new(store_dir.path());
    let online = Transport::new().unwrap();
    let offline = Transport::offline().unwrap();

    // Offline before anything was fetched: the error names what is missing.
    let err = load_repo(&config, &store, &offline, &options()).unwrap_err();
    assert!(matches!(err, Error::Offline { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("offline: {url}/repodata/repomd.xml")),
        "{err}"
    );

    // Online once: the same repository then loads offline, server gone.
    let loaded = load_repo(&config, &store, &online, &options()).unwrap();
    let one = loaded
        .packages
        .iter()
        .find(|p| p.arch != "src")
        .expect("a package")
        .clone();
    let request = Request {
        job: Job::Install,
        specs: vec![one.name.clone()],
    };
    let tx = resolve(std::slice::from_ref(&loaded), &[], &request, &one.arch).unwrap();
    let lock = Lock::from_transaction(&tx, std::slice::from_ref(&loaded));
    let opts = DownloadOptions {
        jobs: 2,
        signature: None,
    };
    let paths = download(&lock.packages, &store, &online, &opts, &NoReporter).unwrap();
    drop(server);
    let again = load_repo(&config, &store, &offline, &options()).unwrap();
    assert_eq!(again.repomd_sha256, loaded.repomd_sha256);
    assert_eq!(again.baseurl, loaded.baseurl);
    assert_eq!(again.packages.len(), loaded.packages.len());
    assert_eq!(
        download(&lock.packages, &store, &offline, &opts, &NoReporter).unwrap(),
        paths
    );

    // A package the store does not have is an offline error, not a request.
    fs_err::remove_file(&paths[0]).unwrap();
    let err = download(&lock.packages, &store, &offline, &opts, &NoReporter).unwrap_err();
    assert!(err.to_string().contains("offline: "), "{err}");
}
