//! `cargo xtask bench install`: install 200 fixture RPMs into the builder
//! image with `slipway install` (rpm in the sandbox + layer capture + new
//! image) and compare with `rpm --root -i` and `dnf --installroot` of the
//! same files in the same run, round by round (the machine's load moves
//! them together). Ignored by default; prints the medians, every round's
//! figures and the per-round ratio.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{builder_image, scratch, slipway_bin};
use slipway_test_support::builder::{BuilderArch, builder_rootfs};
use slipway_test_support::fixtures::{build_rpms, rpm_files};
use slipway_test_support::{fixtures_dir, require_tool};

fn timed(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn fresh_copy(src: &Path, dst: &Path) {
    let _ = slipway_sandbox::remove_tree(dst);
    slipway_sandbox::snapshot::copy_tree(src, dst).unwrap();
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
    let (Some(_), Some(dnf)) = (require_tool("rpmbuild"), require_tool("dnf")) else {
        return;
    };
    let rpms = rpm_files(&build_rpms(
        &fixtures_dir().join("sandbox/bench"),
        "bench-install-rpms",
    ));
    assert_eq!(rpms.len(), 200, "bench RPMs");
    let dir = scratch("bench-install");
    let store = dir.join("store");
    let slipway = slipway_bin();
    let image_ref = format!("oci:{}:latest", image.display());
    // Warm the store: the base is unpacked once per digest, as in a build.
    timed(
        Command::new(&slipway)
            .args(["run", &image_ref, "--", "true"])
            .env("SLIPWAY_STORE", &store),
    );

    let rounds: usize = std::env::var("SLIPWAY_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let mut ours = Vec::new();
    let mut ours_disk = Vec::new();
    let mut rpm_root = Vec::new();
    let mut dnf_root = Vec::new();
    for round in 0..rounds {
        let install = |dest: &Path, extra: &[&str]| {
            let _ = slipway_sandbox::remove_tree(dest);
            timed(
                Command::new(&slipway)
                    .args(["install", &image_ref])
                    .arg(format!("oci:{}:latest", dest.display()))
                    .arg("--repo-file")
                    .arg("/dev/null")
                    .arg("--nodeps")
                    .args(extra)
                    .args(
                        rpms.iter()
                            .flat_map(|r| [std::ffi::OsStr::new("--rpm"), r.as_os_str()]),
                    )
                    .env("SLIPWAY_STORE", &store),
            )
        };
        ours.push(install(&dir.join(format!("dest-{round}")), &[]));
        // The same with the scratch upper dir on disk, for comparison.
        ours_disk.push(install(
            &dir.join(format!("dest-disk-{round}")),
            &["--disk-scratch"],
        ));

        let root = dir.join("rpm-root");
        fresh_copy(&rootfs, &root);
        rpm_root.push(timed(
            Command::new("rpm")
                .arg("--root")
                .arg(&root)
                .args(["--define", "_dbpath /var/lib/rpm", "-i", "--nodeps"])
                .args(&rpms),
        ));

        let root = dir.join("dnf-root");
        fresh_copy(&rootfs, &root);
        dnf_root.push(timed(
            Command::new(&dnf)
                .arg("--installroot")
                .arg(&root)
                .args([
                    "install",
                    "-y",
                    "-q",
                    "--disablerepo=*",
                    "--releasever=12",
                    "--nogpgcheck",
                    "--setopt=install_weak_deps=0",
                ])
                .args(&rpms),
        ));
    }
    let median = |v: &[Duration]| {
        let mut v: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let all = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (o, r, d) = (median(&ours), median(&rpm_root), median(&dnf_root));
    println!(
        "bench install: 200 RPMs (1600 files) into the debootstrap builder, median of {rounds} rounds"
    );
    println!(
        "  slipway install (rpm -U in sandbox + layer + image): {o:.2} s  [{}]",
        all(&ours)
    );
    let od = median(&ours_disk);
    println!(
        "  slipway install --disk-scratch (upper dir on disk):  {od:.2} s  [{}]  ratio to dnf {:.2}x",
        all(&ours_disk),
        od / d
    );
    println!(
        "  rpm --root -i (no layer):                            {r:.2} s  [{}]  ratio {:.2}x",
        all(&rpm_root),
        o / r
    );
    println!(
        "  dnf --installroot install (no layer):                {d:.2} s  [{}]  ratio {:.2}x",
        all(&dnf_root),
        o / d
    );
    // Per round too: the machine's load moves all three together.
    let per_round: Vec<f64> = ours
        .iter()
        .zip(&dnf_root)
        .map(|(o, d)| o.as_secs_f64() / d.as_secs_f64())
        .collect();
    let mut sorted = per_round.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "  slipway/dnf per round: {} (median {:.2}x)",
        per_round
            .iter()
            .map(|r| format!("{r:.2}x"))
            .collect::<Vec<_>>()
            .join(" "),
        sorted[sorted.len() / 2]
    );
}
