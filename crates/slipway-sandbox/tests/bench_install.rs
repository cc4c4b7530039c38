//! `cargo xtask bench install`: 200 fixture RPMs (a createrepo_c repository
//! of them) installed into the debootstrap builder by name, resolving on
//! both sides:
//!
//! - `slipway install IMAGE DEST --repo-file bench.repo bench-001 …`: resolve,
//!   verified fetch from the store, the image's rpm in the sandbox, layer
//!   capture and a new image;
//! - `dnf --installroot COPY install bench-001 …` from the same repository;
//! - `rpm --root COPY -i FILES…` (no resolution: the floor of the rpm work).
//!
//! Durability is the same for all: slipway discards syncs inside its steps,
//! so dnf and rpm run under `eatmydata`; a row of dnf as shipped (with its
//! syncs) is printed too. Every contender runs once with everything it writes
//! on disk and once on tmpfs (`/dev/shm`): two tables. Caches are warm on
//! both sides (one untimed run each fills slipway's store and dnf's
//! metadata cache). Rounds alternate (`SLIPWAY_BENCH_ROUNDS`, default 3);
//! medians. Ignored by default.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{builder_image, scratch, slipway_bin};
use slipway_test_support::bench::{self, Contender, MIN_ROUNDS, Sample, Table};
use slipway_test_support::builder::{BuilderArch, builder_rootfs};
use slipway_test_support::fixtures::{build_rpms, createrepo, rpm_files};
use slipway_test_support::{fixtures_dir, require_tool};

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn timed(cmd: &mut Command) -> Result<Sample, String> {
    bench::timed(|| {
        run_ok(cmd);
        Ok::<_, String>(None)
    })
}

fn fresh_copy(src: &Path, dst: &Path) {
    let _ = slipway_sandbox::remove_tree(dst);
    slipway_sandbox::snapshot::copy_tree(src, dst).unwrap();
}

/// What every contender shares.
struct Bench {
    image_ref: String,
    rootfs: PathBuf,
    rpms: Vec<PathBuf>,
    names: Vec<String>,
    reposd: PathBuf,
    slipway: PathBuf,
    dnf: PathBuf,
    eatmydata: PathBuf,
}

impl Bench {
    /// `slipway install` by name into `dir/dest` with its store in
    /// `dir/store` (and the scratch on disk when `disk`).
    fn slipway(&self, dir: &Path, disk: bool) -> Command {
        let dest = dir.join("dest");
        let _ = slipway_sandbox::remove_tree(&dest);
        let mut cmd = Command::new(&self.slipway);
        cmd.args(["install", &self.image_ref])
            .arg(format!("oci:{}:latest", dest.display()))
            .arg("--repo-file")
            .arg(self.reposd.join("bench.repo"))
            .args(disk.then_some("--disk-scratch"))
            .args(&self.names)
            .env("SLIPWAY_STORE", dir.join("store"));
        cmd
    }

    /// `dnf --installroot` by name into a fresh copy of the builder under
    /// `dir`, its metadata cache in `dir/dnf-cache`.
    fn dnf(&self, dir: &Path, eatmydata: bool) -> Command {
        let root = dir.join("dnf-root");
        fresh_copy(&self.rootfs, &root);
        let mut cmd = Command::new(if eatmydata {
            &self.eatmydata
        } else {
            &self.dnf
        });
        if eatmydata {
            cmd.arg(&self.dnf);
        }
        cmd.arg("--installroot")
            .arg(&root)
            .arg(format!("--setopt=reposdir={}", self.reposd.display()))
            .arg(format!(
                "--setopt=cachedir={}",
                dir.join("dnf-cache").display()
            ))
            .args([
                "install",
                "-y",
                "-q",
                "--releasever=12",
                "--nogpgcheck",
                "--setopt=install_weak_deps=0",
            ])
            .args(&self.names);
        cmd
    }

    /// `rpm --root -i` of the files into a fresh copy under `dir`.
    fn rpm(&self, dir: &Path) -> Command {
        let root = dir.join("rpm-root");
        fresh_copy(&self.rootfs, &root);
        let mut cmd = Command::new(&self.eatmydata);
        cmd.arg("rpm")
            .arg("--root")
            .arg(&root)
            .args(["--define", "_dbpath /var/lib/rpm", "-i"])
            .args(&self.rpms);
        cmd
    }

    /// The table of one filesystem: every contender's files under `dir`.
    fn table(&self, dir: &Path, tmpfs: bool, rounds: usize) -> Result<Table, String> {
        let disk = !tmpfs;
        fs_err::create_dir_all(dir).unwrap();
        // Warm-up: slipway's store (base unpacked, metadata, packages) and
        // dnf's metadata cache.
        run_ok(&mut self.slipway(dir, disk));
        run_ok(&mut self.dnf(dir, true));
        let mut contenders = vec![
            Contender::new("slipway install (resolves; layer + image)", |_| {
                timed(&mut self.slipway(dir, disk))
            }),
            Contender::new("eatmydata dnf --installroot install", |_| {
                timed(&mut self.dnf(dir, true))
            }),
            Contender::new("eatmydata rpm --root -i (no resolution)", |_| {
                timed(&mut self.rpm(dir))
            }),
            Contender::new("dnf --installroot install (with its syncs)", |_| {
                timed(&mut self.dnf(dir, false))
            }),
        ];
        let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
        let load = bench::load_average();
        let samples = bench::alternate(rounds, &mut contenders)?;
        drop(contenders);
        let title = format!(
            "200 RPMs (1600 files) by name into the debootstrap builder, everything on {}",
            if tmpfs { "tmpfs (/dev/shm)" } else { "disk" }
        );
        let mut table = Table::new("install", title, &names, &samples, load);
        table.notes.push(format!(
            "slipway / dnf (same durability) = {:.2} (target ≤ 0.7)",
            table.ratio(&names[0], &names[1]).unwrap_or(f64::NAN)
        ));
        Ok(table)
    }
}

#[test]
#[ignore = "benchmark: run with `cargo xtask bench install`"]
fn bench_install_200_rpms() {
    let Some(image) = builder_image(BuilderArch::Amd64) else {
        return;
    };
    let Some(rootfs) = builder_rootfs(BuilderArch::Amd64) else {
        return;
    };
    let (Some(_), Some(dnf), Some(eatmydata), Some(_)) = (
        require_tool("rpmbuild"),
        require_tool("dnf"),
        require_tool("eatmydata"),
        require_tool("createrepo_c"),
    ) else {
        return;
    };
    let built = build_rpms(&fixtures_dir().join("sandbox/bench"), "bench-install-rpms");
    let rpms = rpm_files(&built);
    assert_eq!(rpms.len(), 200, "bench RPMs");
    let dir = scratch("bench-install");
    let repo = dir.join("repo");
    fs_err::create_dir_all(&repo).unwrap();
    for rpm in &rpms {
        fs_err::copy(rpm, repo.join(rpm.file_name().unwrap())).unwrap();
    }
    createrepo(&repo, false);
    let reposd = dir.join("repos.d");
    fs_err::create_dir_all(&reposd).unwrap();
    fs_err::write(
        reposd.join("bench.repo"),
        format!(
            "[bench]\nname=bench\nbaseurl=file://{}\ngpgcheck=0\n",
            repo.display()
        ),
    )
    .unwrap();
    let names = (1..=200).map(|i| format!("bench-{i:03}")).collect();
    let bench = Bench {
        image_ref: format!("oci:{}:latest", image.display()),
        rootfs,
        rpms,
        names,
        reposd,
        slipway: slipway_bin(),
        dnf,
        eatmydata,
    };
    let rounds: usize = std::env::var("SLIPWAY_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(MIN_ROUNDS)
        .max(MIN_ROUNDS);
    let shm =
        PathBuf::from("/dev/shm").join(format!("slipway-bench-install-{}", std::process::id()));
    let disk = bench.table(&dir.join("disk"), false, rounds);
    let tmpfs = bench.table(&shm, true, rounds);
    let _ = slipway_sandbox::remove_tree(&shm);
    let _ = slipway_sandbox::remove_tree(&dir);
    bench::emit(&[disk.unwrap(), tmpfs.unwrap()]).unwrap();
}
