//! Seeds of the metadata, recipe and ELF targets.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{Seeds, have, joined, run, workspace_root};

pub(crate) fn write(seeds: &Seeds, scratch: &Path) -> Result<()> {
    auth_seeds(seeds)?;
    repo_file_seeds(seeds).context(".repo files")?;
    if have("createrepo_c") {
        repodata_seeds(seeds, scratch).context("createrepo_c's repodata")?;
    }
    recipe_seeds(seeds).context("recipes")?;
    lock_seeds(seeds)?;
    if have("gcc") && have("ar") {
        elf_seeds(seeds, scratch).context("ELF files")?;
    }
    Ok(())
}

/// `WWW-Authenticate` headers as Docker Hub, distribution and quay send
/// them, and token endpoint answers.
fn auth_seeds(seeds: &Seeds) -> Result<()> {
    let cases: [(&str, &str); 6] = [
        (
            "hub",
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/centos:pull""#,
        ),
        ("basic", r#"Basic realm="Registry Realm""#),
        (
            "escaped",
            r#"bearer realm="http://127.0.0.1:5000/token?a=b",service="x \"y\", z",error="insufficient_scope""#,
        ),
        (
            "hub-token",
            r#"{"token":"eyJhbGciOi","access_token":"eyJhbGciOi","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}"#,
        ),
        (
            "access-token",
            r#"{"access_token":"abc","expires_in":3600}"#,
        ),
        ("no-token", r#"{"details":"no token"}"#),
    ];
    for (name, text) in cases {
        seeds.add("registry_auth", name, text.as_bytes())?;
    }
    Ok(())
}

/// The `.repo` files of the repository and of the real-world epel-release RPM.
fn repo_file_seeds(seeds: &Seeds) -> Result<()> {
    let root = workspace_root();
    seeds.add_file(
        &["yum_repofile"],
        "centos-vault.repo",
        &root.join("layers/repos/centos-6.9-vault.repo"),
    )?;
    seeds.add_file(
        &["yum_repofile"],
        "mini.repo",
        &root.join("fixtures/mini-manylinux/repos.repo.in"),
    )?;
    seeds.add("yum_repofile", "globs.repo", b"[a]\nbaseurl=http://x/$basearch/$releasever\n exclude=kernel* python-*.i?86 [!a-c]*\nincludepkgs=glibc*\n")?;
    let rpm = root.join("../shared/real-world/rpms/epel-release-6-8.noarch.rpm");
    if !rpm.exists() {
        eprintln!(
            "fuzz-seeds: {} is missing: its .repo files are left out",
            rpm.display()
        );
        return Ok(());
    }
    let package = slipway_rpm::Package::from_reader(
        std::io::BufReader::new(fs_err::File::open(&rpm)?),
        &rpm,
    )?;
    let mut payload = package.payload()?;
    while let Some(entry) = payload.next_entry()? {
        let mut data = Vec::new();
        payload.read_to_end(&mut data)?;
        if let Some(name) = entry.name.strip_prefix("./etc/yum.repos.d/") {
            seeds.add("yum_repofile", name, &data)?;
        }
    }
    Ok(())
}

/// repomd, primary and filelists of the real-world RPMs as createrepo_c
/// writes them, compressed and not.
fn repodata_seeds(seeds: &Seeds, scratch: &Path) -> Result<()> {
    let repo = scratch.join("repo");
    fs_err::create_dir_all(&repo)?;
    let rpms = workspace_root().join("../shared/real-world/rpms");
    for entry in fs_err::read_dir(&rpms)? {
        let entry = entry?;
        fs_err::copy(entry.path(), repo.join(entry.file_name()))?;
    }
    run(Command::new("createrepo_c")
        .args(["--quiet", "--no-database"])
        .arg(&repo))?;
    let repodata = repo.join("repodata");
    seeds.add_file(&["yum_repomd"], "repomd.xml", &repodata.join("repomd.xml"))?;
    for entry in fs_err::read_dir(&repodata)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let target = if name.contains("primary") {
            "yum_primary"
        } else if name.contains("filelists") {
            "yum_filelists"
        } else {
            continue;
        };
        seeds.add_file(&[target], &name, &path)?;
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(fs_err::File::open(&path)?).read_to_end(&mut plain)?;
        seeds.add(target, name.trim_end_matches(".gz"), &plain)?;
    }
    Ok(())
}

/// Point a recipe's includes, scripts and repository files at the files the
/// `recipe_load` target writes (`inc/a.toml`, `inc/b.toml`, `base.toml`).
fn retarget(text: &str) -> String {
    text.lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            match key {
                "include" if line.contains("sources") => r#"include = ["inc/b.toml"]"#.to_owned(),
                "include" => r#"include = ["inc/a.toml"]"#.to_owned(),
                "image" => r#"image = "base""#.to_owned(),
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The repository's recipes: each image with its includes and base.
fn recipe_seeds(seeds: &Seeds) -> Result<()> {
    let root = workspace_root();
    let read = |rel: &str| fs_err::read_to_string(root.join(rel));
    let toolchain = retarget(&read("layers/common/toolchain.toml")?);
    let sources = read("layers/common/sources.toml")?;
    let base = read("layers/centos-6.9-no-vsyscall.toml")?;
    for image in ["manylinux2010_x86_64", "manylinux2010_i686"] {
        let text = retarget(&read(&format!("layers/{image}.toml"))?);
        let parts: [&[u8]; 4] = [
            text.as_bytes(),
            toolchain.as_bytes(),
            sources.as_bytes(),
            base.as_bytes(),
        ];
        seeds.add("recipe_load", image, &joined(&parts))?;
    }
    for rel in [
        "layers/glibc-builder.toml",
        "fixtures/mini-manylinux/mini-manylinux.toml",
    ] {
        let mut text = read(rel)?;
        if rel.contains("mini") {
            text.push_str(&read("fixtures/repro/stamp-step.toml")?);
        }
        let name = Path::new(rel)
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy();
        seeds.add("recipe_load", &name, text.as_bytes())?;
    }
    Ok(())
}

/// A lock as `slipway lock` writes it.
fn lock_seeds(seeds: &Seeds) -> Result<()> {
    use slipway_recipe::lock::{LockedErase, LockedImage, LockedPackage, LockedSource, LockedStep};
    let package = LockedPackage {
        op: 1,
        name: "glibc".into(),
        epoch: 0,
        version: "2.12".into(),
        release: "1.209.1.el6".into(),
        arch: "x86_64".into(),
        sha256: "ab".repeat(32),
        url: "http://vault.centos.org/6.9/os/x86_64/Packages/glibc-2.12-1.209.el6.x86_64.rpm"
            .into(),
    };
    let lock = slipway_recipe::Lock {
        version: slipway_recipe::lock::LOCK_VERSION,
        images: vec![LockedImage {
            name: "centos".into(),
            base_ref: Some("docker.io/library/centos:6.9".into()),
            base_digest: Some(format!("sha256:{}", "cd".repeat(32))),
            steps: vec![LockedStep {
                name: "packages".into(),
                request: "ef".repeat(32),
                packages: vec![
                    package.clone(),
                    LockedPackage {
                        op: 2,
                        epoch: 1,
                        ..package
                    },
                ],
                erased: vec![LockedErase {
                    op: 3,
                    nevra: "yum-3.2.29-81.el6.centos.noarch".into(),
                }],
                skipped: vec![slipway_recipe::lock::LockedSkip {
                    op: 3,
                    name: "wireless-tools".into(),
                }],
            }],
        }],
        sources: vec![LockedSource {
            url: "https://example.invalid/a.tar.gz".into(),
            sha256: "01".repeat(32),
        }],
    };
    seeds.add("recipe_lock", "slipway.lock", lock.to_toml().as_bytes())
}

/// An object file, a static archive and a shared object that use the
/// vsyscall page (the fixture's vstime.c), and one that does not.
fn elf_seeds(seeds: &Seeds, scratch: &Path) -> Result<()> {
    let src = workspace_root().join("fixtures/vsyscall/vstime-1.0");
    let obj = scratch.join("vstime.o");
    run(Command::new("gcc")
        .args(["-O1", "-c", "-fPIC", "-I"])
        .arg(&src)
        .arg(src.join("vstime.c"))
        .arg("-o")
        .arg(&obj))?;
    let archive = scratch.join("libvstime.a");
    run(Command::new("ar").arg("rcs").arg(&archive).arg(&obj))?;
    let shared = scratch.join("libvstime.so");
    run(Command::new("gcc")
        .args(["-shared", "-nostdlib", "-o"])
        .arg(&shared)
        .arg(&obj))?;
    for (name, path) in [
        ("vstime.o", &obj),
        ("libvstime.a", &archive),
        ("libvstime.so", &shared),
    ] {
        seeds.add_file(&["elf_audit"], name, path)?;
    }
    let plain = scratch.join("plain.o");
    fs_err::write(scratch.join("plain.c"), "int f(int x) { return x * 3; }\n")?;
    run(Command::new("gcc")
        .args(["-O1", "-c"])
        .arg(scratch.join("plain.c"))
        .arg("-o")
        .arg(&plain))?;
    seeds.add_file(&["elf_audit"], "plain.o", &plain)
}
