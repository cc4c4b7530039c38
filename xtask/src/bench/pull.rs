//! `cargo xtask bench pull`: slipway pull/push against `skopeo copy` through
//! Debian's `docker-registry` on loopback, with a ≥ 300 MB multi-layer image.
//!
//! The image is made here (random data in gzip layers, so the time is
//! transfer and hashing, not compression), pushed once with skopeo,
//! then pulled into cold (fresh) layouts by both tools, alternating. Pushes go
//! to a fresh registry per run so that no tool can mount blobs it pushed before.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util;

const LAYERS: usize = 4;
const LAYER_MB: usize = 80;
const ROUNDS: usize = 3;

pub(crate) fn run(_rest: &[String]) -> Result<()> {
    let root = util::workspace_root();
    let work = root.join("target/bench/pull");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    // `SLIPWAY_BENCH_BIN` runs another binary with the same `pull REF DEST` /
    // `push SRC REF` arguments (e.g. the library's `transfer` example).
    let slipway = match std::env::var_os("SLIPWAY_BENCH_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => {
            util::cargo(&["build", "--release", "-p", "slipway"])?;
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root.join("target"), PathBuf::from)
                .join("release/slipway")
        }
    };
    eprintln!("slipway binary: {}", slipway.display());

    let src = work.join("src");
    let total = make_image(&src)?;
    eprintln!("image: {LAYERS} layers, {:.0} MB", total as f64 / 1e6);

    // Pull: one registry holding the image.
    let registry = Registry::start(&work.join("registry-pull"))?;
    let image = format!("{}/bench/big:v1", registry.host);
    util::run(
        Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", src.display()))
            .arg(format!("docker://{image}")),
    )?;

    let mut report = String::new();
    let (mut sk_pull, mut sw_pull) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let out = work.join(format!("skopeo-pull-{round}"));
        sk_pull.push(time(
            Command::new("skopeo")
                .args(["copy", "--quiet", "--src-tls-verify=false"])
                .arg(format!("docker://{image}"))
                .arg(format!("oci:{}:v1", out.display())),
        )?);
        let out = work.join(format!("slipway-pull-{round}"));
        sw_pull.push(time(
            Command::new(&slipway)
                .args(["pull", &image])
                .arg(format!("oci:{}:v1", out.display())),
        )?);
        let _ = std::fs::remove_dir_all(work.join(format!("skopeo-pull-{round}")));
        let _ = std::fs::remove_dir_all(work.join(format!("slipway-pull-{round}")));
    }
    drop(registry);
    line(&mut report, "pull", total, &sk_pull, &sw_pull);

    // Push: a fresh, empty registry for every run.
    let (mut sk_push, mut sw_push) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let r = Registry::start(&work.join(format!("registry-skopeo-push-{round}")))?;
        sk_push.push(time(
            Command::new("skopeo")
                .args(["copy", "--quiet", "--dest-tls-verify=false"])
                .arg(format!("oci:{}:v1", src.display()))
                .arg(format!("docker://{}/bench/big:v1", r.host)),
        )?);
        drop(r);
        let r = Registry::start(&work.join(format!("registry-slipway-push-{round}")))?;
        sw_push.push(time(
            Command::new(&slipway)
                .arg("push")
                .arg(format!("oci:{}:v1", src.display()))
                .arg(format!("{}/bench/big:v1", r.host)),
        )?);
        drop(r);
    }
    line(&mut report, "push", total, &sk_push, &sw_push);
    println!("{report}");
    Ok(())
}

fn line(report: &mut String, what: &str, bytes: u64, skopeo: &[Duration], slipway: &[Duration]) {
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    let (sk, sw) = (median(skopeo), median(slipway));
    let mbps = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    let _ = writeln!(
        report,
        "{what}: {:.0} MB, median of {ROUNDS}: skopeo {:.2}s ({:.0} MB/s), slipway {:.2}s ({:.0} MB/s), slipway/skopeo = {:.2}x  (all runs: skopeo {:?}, slipway {:?})",
        bytes as f64 / 1e6,
        sk.as_secs_f64(),
        mbps(sk),
        sw.as_secs_f64(),
        mbps(sw),
        sw.as_secs_f64() / sk.as_secs_f64(),
        skopeo
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>(),
        slipway
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>(),
    );
}

fn time(cmd: &mut Command) -> Result<Duration> {
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .output()
        .with_context(|| format!("start {cmd:?}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    eprintln!("{:.2}s  {cmd:?}", took.as_secs_f64());
    Ok(took)
}

fn sh(script: &str) -> Result<String> {
    let out = Command::new("sh").args(["-ec", script]).output()?;
    if !out.status.success() {
        bail!(
            "`{script}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// sha256 hex and size of a file (via coreutils; xtask keeps few dependencies).
fn digest_of(path: &Path) -> Result<(String, u64)> {
    let hex = sh(&format!("sha256sum '{}' | cut -d' ' -f1", path.display()))?;
    Ok((hex, std::fs::metadata(path)?.len()))
}

/// An OCI layout with `LAYERS` gzip tar layers of random data, tagged `v1`.
fn make_image(dir: &Path) -> Result<u64> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut total = 0;
    for i in 0..LAYERS {
        let tree = dir.join(format!("tree-{i}"));
        std::fs::create_dir_all(tree.join("data"))?;
        sh(&format!(
            "head -c {}M /dev/urandom > '{}/data/layer-{i}.bin'",
            LAYER_MB,
            tree.display()
        ))?;
        let tar = dir.join(format!("layer-{i}.tar"));
        sh(&format!(
            "tar --sort=name --mtime=@0 --owner=0 --group=0 -C '{}' -cf '{}' data",
            tree.display(),
            tar.display()
        ))?;
        std::fs::remove_dir_all(&tree)?;
        // Gzip (fast level) so that skopeo pushes the blobs as they are
        // instead of compressing uncompressed layers on the way.
        let (diff_hex, _) = digest_of(&tar)?;
        sh(&format!("pigz -1 -n '{}'", tar.display()))?;
        let gz = dir.join(format!("layer-{i}.tar.gz"));
        let (hex, size) = digest_of(&gz)?;
        std::fs::rename(&gz, blobs.join(&hex))?;
        total += size;
        layers.push(format!(
            r#"{{"digest":"sha256:{hex}","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":{size}}}"#
        ));
        diff_ids.push(format!(r#""sha256:{diff_hex}""#));
    }
    let config = format!(
        r#"{{"architecture":"amd64","config":{{}},"os":"linux","rootfs":{{"diff_ids":[{}],"type":"layers"}}}}"#,
        diff_ids.join(",")
    );
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, &config)?;
    let (config_hex, config_size) = digest_of(&config_path)?;
    std::fs::rename(&config_path, blobs.join(&config_hex))?;
    let manifest = format!(
        r#"{{"config":{{"digest":"sha256:{config_hex}","mediaType":"application/vnd.oci.image.config.v1+json","size":{config_size}}},"layers":[{}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}}"#,
        layers.join(",")
    );
    let manifest_path = dir.join("manifest.json");
    std::fs::write(&manifest_path, &manifest)?;
    let (m_hex, m_size) = digest_of(&manifest_path)?;
    std::fs::rename(&manifest_path, blobs.join(&m_hex))?;
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"manifests":[{{"annotations":{{"org.opencontainers.image.ref.name":"v1"}},"digest":"sha256:{m_hex}","mediaType":"application/vnd.oci.image.manifest.v1+json","size":{m_size}}}],"schemaVersion":2}}"#
        ),
    )?;
    Ok(total)
}

/// `docker-registry serve` on a free loopback port, killed on drop.
struct Registry {
    host: String,
    child: Child,
}

impl Registry {
    fn start(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir.join("data"))?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start `docker-registry` (apt-get install docker-registry)")?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("docker-registry did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            host: format!("127.0.0.1:{port}"),
            child,
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
