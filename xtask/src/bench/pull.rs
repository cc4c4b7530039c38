//! `cargo xtask bench pull`: slipway pull/push against `skopeo copy` through
//! Debian's `docker-registry` on loopback, with a ≥ 300 MB multi-layer image.
//!
//! The image is made here (random data in gzip layers, so the time is
//! transfer and hashing, not compression), pushed once with skopeo, then
//! pulled into fresh layouts by both tools, alternating (medians of
//! [`ROUNDS`]). Durability: skopeo fsyncs every blob it writes, slipway
//! none, so slipway's parity row is its pull followed by `sync FILE…` of
//! every file it wrote (one fsync each, as skopeo); the row without the sync
//! is printed as well. Pushes go to a fresh registry per run so that no tool
//! can mount blobs it pushed before; the registry's own writes are the same
//! for both.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use slipway_test_support::bench::{self, Contender, Sample, Table};

use super::dir_size;
use crate::util;

const LAYERS: usize = 4;
const LAYER_MB: usize = 80;
const ROUNDS: usize = 3;

pub(crate) fn run(_rest: &[String]) -> Result<Vec<Table>> {
    util::require_tools(&["skopeo", "docker-registry", "pigz", "sha256sum", "sync"])?;
    let work = util::workspace_root().join("target/bench/pull");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    // `SLIPWAY_BENCH_BIN` runs another binary with the same `pull REF DEST` /
    // `push SRC REF` arguments (e.g. the library's `transfer` example).
    let slipway = match std::env::var_os("SLIPWAY_BENCH_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => super::Tools::build(&[])?.slipway,
    };
    eprintln!("slipway binary: {}", slipway.display());

    let src = work.join("src");
    let total = make_image(&src)?;
    eprintln!("image: {LAYERS} layers, {:.0} MB", total as f64 / 1e6);
    let pull = pull_table(&slipway, &work, &src, total)?;
    let push = push_table(&slipway, &work, &src, total)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(vec![pull, push])
}

fn pull_table(slipway: &Path, work: &Path, src: &Path, total: u64) -> Result<Table> {
    let registry = Registry::start(&work.join("registry-pull"))?;
    let image = format!("{}/bench/big:v1", registry.host);
    quiet(
        Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", src.display()))
            .arg(format!("docker://{image}")),
    )?;
    let pull_into = |out: &Path, sync: bool| -> Result<Sample> {
        let _ = std::fs::remove_dir_all(out);
        let sample = bench::timed(|| {
            quiet(
                Command::new(slipway)
                    .args(["pull", &image])
                    .arg(format!("oci:{}:v1", out.display())),
            )?;
            if sync {
                sync_files(out)?;
            }
            anyhow::Ok(None)
        })?;
        finish(out, sample)
    };
    let mut contenders = vec![
        Contender::new("slipway pull + fsync of each file", |r| {
            pull_into(&work.join(format!("slipway-sync-{r}")), true)
        }),
        Contender::new("skopeo copy (fsyncs each blob)", |r| {
            let out = work.join(format!("skopeo-{r}"));
            let sample = bench::timed(|| {
                quiet(
                    Command::new("skopeo")
                        .args(["copy", "--quiet", "--src-tls-verify=false"])
                        .arg(format!("docker://{image}"))
                        .arg(format!("oci:{}:v1", out.display())),
                )
                .map(|()| None)
            })?;
            finish(&out, sample)
        }),
        Contender::new("slipway pull (no fsync, as shipped)", |r| {
            pull_into(&work.join(format!("slipway-{r}")), false)
        }),
    ];
    table(
        &mut contenders,
        format!(
            "pull of {LAYERS} gzip layers ({:.0} MB) from docker-registry on loopback into a fresh layout on disk",
            total as f64 / 1e6
        ),
        "slipway+fsync / skopeo = {:.2} (target ≤ 0.6)",
    )
}

fn push_table(slipway: &Path, work: &Path, src: &Path, total: u64) -> Result<Table> {
    let mut contenders = vec![
        Contender::new("slipway push", |r| {
            let reg = Registry::start(&work.join(format!("registry-slipway-push-{r}")))?;
            bench::timed(|| {
                quiet(
                    Command::new(slipway)
                        .arg("push")
                        .arg(format!("oci:{}:v1", src.display()))
                        .arg(format!("{}/bench/big:v1", reg.host)),
                )
                .map(|()| Some(total))
            })
        }),
        Contender::new("skopeo copy", |r| {
            let reg = Registry::start(&work.join(format!("registry-skopeo-push-{r}")))?;
            bench::timed(|| {
                quiet(
                    Command::new("skopeo")
                        .args(["copy", "--quiet", "--dest-tls-verify=false"])
                        .arg(format!("oci:{}:v1", src.display()))
                        .arg(format!("docker://{}/bench/big:v1", reg.host)),
                )
                .map(|()| Some(total))
            })
        }),
    ];
    table(
        &mut contenders,
        format!(
            "push of the same image to a fresh, empty docker-registry on loopback ({:.0} MB)",
            total as f64 / 1e6
        ),
        "slipway / skopeo = {:.2}",
    )
}

/// Alternate `contenders` for [`ROUNDS`] and make their table; `note` has one
/// `{:.2}` for the first row over the second.
fn table(
    contenders: &mut [Contender<'_, anyhow::Error>],
    title: String,
    note: &str,
) -> Result<Table> {
    let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
    let load = bench::load_average();
    let samples = bench::alternate(ROUNDS, contenders)?;
    let mut table = Table::new("pull", title, &names, &samples, load);
    let ratio = table.ratio(&names[0], &names[1]).unwrap_or(f64::NAN);
    table
        .notes
        .push(note.replace("{:.2}", &format!("{ratio:.2}")));
    Ok(table)
}

/// The sample with the size of what landed in `out`, which is then removed.
fn finish(out: &Path, sample: Sample) -> Result<Sample> {
    let bytes = dir_size(out)?;
    std::fs::remove_dir_all(out)?;
    Ok(Sample {
        bytes: Some(bytes),
        ..sample
    })
}

/// `sync FILE…` of every file under `dir`: one fsync per file (coreutils).
fn sync_files(dir: &Path) -> Result<()> {
    quiet(
        Command::new("sh")
            .arg("-ec")
            .arg("find \"$1\" -type f -exec sync {} +")
            .arg("sh")
            .arg(dir),
    )
}

fn quiet(cmd: &mut Command) -> Result<()> {
    util::run_quiet(cmd.stdout(Stdio::null()))
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
