//! `cargo xtask bench resolve`: slipway's resolver against
//! `dnf --installroot … install --assumeno` on a synthetic repository of
//! 10 000 packages (metadata generated directly: realistic dependency
//! fan-out, sonames, versioned requires, file provides in primary and in
//! filelists), with a 50-package request; plus metadata parse throughput.
//!
//! Both tools run cold-process, warm-cache (each gets one untimed warm-up so
//! that dnf has its solv cache and slipway its store), 5 timed rounds each,
//! alternating; the median is reported. The warm-up's two transactions are
//! compared package by package: the bench fails when they differ.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use slipway_test_support::bench::{self, Contender, Sample, Table};

use crate::util;

const PACKAGES: usize = 10_000;
const REQUEST: usize = 50;
const ROUNDS: usize = 5;

/// A small deterministic generator (no `rand` dependency in xtask).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Pkg {
    name: String,
    version: String,
    requires: Vec<String>,
}

fn generate(repo: &Path) -> Result<(u64, Vec<String>)> {
    let data = repo.join("repodata");
    std::fs::create_dir_all(&data)?;
    let mut rng = Lcg(0x5eed);
    // 9 500 names; 500 of them in two versions: 10 000 packages.
    let names = PACKAGES - 500;
    let mut pkgs = Vec::with_capacity(PACKAGES);
    for i in 0..names {
        let mut requires = Vec::new();
        if i > 0 {
            let fanout = 1 + rng.below(8); // 1..8, mean 4.5
            for _ in 0..fanout {
                let j = rng.below(i);
                let dep = match rng.below(10) {
                    0..=3 => format!("libp{j:05}.so.1()(64bit)"),
                    4..=6 => format!("p{j:05} >= 1.0"),
                    7 => format!("/usr/bin/p{j:05}"),
                    8 => format!("/usr/share/p{j:05}/data"),
                    _ => format!("cap-p{j:05}"),
                };
                if !requires.contains(&dep) {
                    requires.push(dep);
                }
            }
        }
        pkgs.push(Pkg {
            name: format!("p{i:05}"),
            version: "1.0".into(),
            requires,
        });
    }
    for k in 0..500 {
        let i = k * (names / 500);
        let requires = pkgs[i].requires.clone();
        pkgs.push(Pkg {
            name: format!("p{i:05}"),
            version: "1.1".into(),
            requires,
        });
    }

    let mut primary = String::with_capacity(PACKAGES * 2000);
    let mut filelists = String::with_capacity(PACKAGES * 300);
    let _ = write!(
        primary,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
        pkgs.len()
    );
    let _ = write!(
        filelists,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{}\">\n",
        pkgs.len()
    );
    for (n, p) in pkgs.iter().enumerate() {
        let id = format!("{:064x}", n as u128 * 0x9e37_79b9_7f4a_7c15 + 1);
        let (name, ver) = (&p.name, &p.version);
        let idx = &name[1..];
        let _ = write!(
            primary,
            r#"<package type="rpm">
  <name>{name}</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="{ver}" rel="1.el6"/>
  <checksum type="sha256" pkgid="YES">{id}</checksum>
  <summary>Synthetic package {name}</summary>
  <description>A synthetic package for the resolver benchmark. It exists so that the metadata has the size and shape of a real distribution's: summaries, descriptions, a file list and dependencies.</description>
  <packager>slipway bench</packager>
  <url>https://example.invalid/{name}</url>
  <time file="1500000000" build="1500000000"/>
  <size package="123456" installed="456789" archive="460000"/>
  <location href="Packages/{name}-{ver}-1.el6.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor>slipway</rpm:vendor>
    <rpm:group>System Environment/Libraries</rpm:group>
    <rpm:buildhost>bench.example.invalid</rpm:buildhost>
    <rpm:sourcerpm>{name}-{ver}-1.el6.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="10000"/>
    <rpm:provides>
      <rpm:entry name="{name}" flags="EQ" epoch="0" ver="{ver}" rel="1.el6"/>
      <rpm:entry name="{name}(x86-64)" flags="EQ" epoch="0" ver="{ver}" rel="1.el6"/>
      <rpm:entry name="libp{idx}.so.1()(64bit)"/>
      <rpm:entry name="cap-{name}"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="rpmlib(CompressedFileNames)" flags="LE" epoch="0" ver="3.0.4" rel="1"/>
"#
        );
        for r in &p.requires {
            match r.split_once(" >= ") {
                Some((dn, dv)) => {
                    let _ = writeln!(
                        primary,
                        r#"      <rpm:entry name="{dn}" flags="GE" epoch="0" ver="{dv}"/>"#
                    );
                }
                None => {
                    let _ = writeln!(primary, r#"      <rpm:entry name="{r}"/>"#);
                }
            }
        }
        let _ = write!(
            primary,
            "    </rpm:requires>\n    <file>/usr/bin/{name}</file>\n  </format>\n</package>\n"
        );
        let _ = write!(
            filelists,
            "<package pkgid=\"{id}\" name=\"{name}\" arch=\"x86_64\">\n  <version epoch=\"0\" ver=\"{ver}\" rel=\"1.el6\"/>\n  <file>/usr/bin/{name}</file>\n  <file type=\"dir\">/usr/share/{name}</file>\n  <file>/usr/share/{name}/data</file>\n  <file>/usr/lib64/lib{name}.so.1</file>\n</package>\n"
        );
    }
    primary.push_str("</metadata>\n");
    filelists.push_str("</filelists>\n");
    std::fs::write(data.join("primary.xml"), &primary)?;
    std::fs::write(data.join("filelists.xml"), &filelists)?;
    let entry = |kind: &str, file: &str| -> Result<String> {
        let path = data.join(file);
        let out = Command::new("sha256sum").arg(&path).output()?;
        let sum = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_owned();
        let size = std::fs::metadata(&path)?.len();
        Ok(format!(
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{sum}</checksum>\n    <open-checksum type=\"sha256\">{sum}</open-checksum>\n    <location href=\"repodata/{file}\"/>\n    <timestamp>1500000000</timestamp>\n    <size>{size}</size>\n    <open-size>{size}</open-size>\n  </data>\n"
        ))
    };
    let repomd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>1500000000</revision>\n{}{}</repomd>\n",
        entry("primary", "primary.xml")?,
        entry("filelists", "filelists.xml")?
    );
    std::fs::write(data.join("repomd.xml"), repomd)?;
    // The request: 50 names from the upper part (deep dependency closures).
    let mut request = Vec::new();
    while request.len() < REQUEST {
        let i = names / 2 + rng.below(names / 2);
        let name = format!("p{i:05}");
        if !request.contains(&name) {
            request.push(name);
        }
    }
    Ok((primary.len() as u64, request))
}

fn time(cmd: &mut Command) -> Result<(f64, String)> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {cmd:?}"))?;
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("Operation aborted")
    {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((secs, stdout))
}

pub(crate) fn run(_rest: &[String]) -> Result<Vec<Table>> {
    let root = util::workspace_root();
    let work = root.join("target/bench/resolve");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let slipway = super::Tools::build(&[])?.slipway;

    let repo = work.join("repo");
    let (xml_bytes, request) = generate(&repo)?;
    eprintln!(
        "synthetic repo: {PACKAGES} packages, primary.xml {:.1} MB",
        xml_bytes as f64 / 1e6
    );
    let reposd = work.join("repos.d");
    std::fs::create_dir_all(&reposd)?;
    let repo_file = reposd.join("bench.repo");
    std::fs::write(
        &repo_file,
        format!(
            "[bench]\nname=bench\nbaseurl=file://{}\ngpgcheck=0\n",
            repo.display()
        ),
    )?;
    let store = work.join("store");

    let slipway_cmd = |words: &[String]| {
        let mut c = Command::new(&slipway);
        c.arg("resolve")
            .arg("--repo-file")
            .arg(&repo_file)
            .arg("--store")
            .arg(&store)
            .arg("--json");
        c.args(words);
        c
    };
    let dnf_cmd = |round: usize, quiet: bool| {
        let installroot = work.join(format!("dnf-root-{round}"));
        let mut c = Command::new("dnf");
        c.arg("--installroot")
            .arg(&installroot)
            .arg(format!("--setopt=reposdir={}", reposd.display()))
            .arg(format!(
                "--setopt=cachedir={}",
                work.join("dnf-cache").display()
            ))
            .args(if quiet { &["-q"][..] } else { &[][..] })
            .args([
                "--setopt=*.gpgcheck=0",
                "--releasever",
                "6",
                "--forcearch",
                "x86_64",
                "--assumeno",
                "install",
            ])
            .args(&request);
        c
    };
    let mut install_words = vec!["install".to_owned()];
    install_words.extend(request.iter().cloned());

    // Warm-up (fills slipway's store and dnf's metadata cache); the two
    // transactions, package by package, must be the same.
    let (_, ours) = time(&mut slipway_cmd(&install_words))?;
    let (_, dnf_out) = time(&mut dnf_cmd(0, false))?;
    let ours = slipway_transaction(&ours)?;
    let theirs = dnf_transaction(&dnf_out);
    if ours != theirs {
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        let only_dnf: Vec<_> = theirs.difference(&ours).collect();
        bail!(
            "the transactions differ: only slipway installs {only_ours:?}; only dnf installs {only_dnf:?}"
        );
    }

    let mut contenders = vec![
        Contender::new("slipway resolve (install)", |_| {
            time(&mut slipway_cmd(&install_words)).map(|(wall, _)| Sample { wall, bytes: None })
        }),
        Contender::new("dnf install --assumeno", |round| {
            time(&mut dnf_cmd(round + 1, true)).map(|(wall, _)| Sample { wall, bytes: None })
        }),
        // Nothing to update and nothing installed: the run is loading and
        // parsing primary.xml (uncompressed) from the store, end to end.
        Contender::new("slipway resolve (update: metadata load only)", |_| {
            time(&mut slipway_cmd(&["update".to_owned()]))
                .map(|(wall, _)| Sample { wall, bytes: None })
        }),
    ];
    let names: Vec<String> = contenders.iter().map(|c| c.name.clone()).collect();
    let load = bench::load_average();
    let samples = bench::alternate(ROUNDS, &mut contenders)?;
    drop(contenders);
    let mut table = Table::new(
        "resolve",
        format!(
            "{REQUEST}-package request against {PACKAGES} synthetic packages ({:.1} MB primary.xml), warm caches",
            xml_bytes as f64 / 1e6
        ),
        &names,
        &samples,
        load,
    );
    table.notes.push(format!(
        "both transactions install the same {} packages (compared by name-version-release.arch)",
        ours.len()
    ));
    table.notes.push(format!(
        "slipway / dnf = {:.2} (target ≤ 0.5)",
        table.ratio(&names[0], &names[1]).unwrap_or(f64::NAN)
    ));
    let parse = table.rows[2].median_s;
    table.notes.push(format!(
        "metadata end to end: {:.0} MB/s",
        xml_bytes as f64 / 1e6 / parse
    ));
    // The parser alone, in process.
    let mut example = Command::new(env!("CARGO"));
    example
        .current_dir(&root)
        .args([
            "run",
            "-q",
            "--release",
            "-p",
            "slipway-yum",
            "--example",
            "parse_primary",
            "--",
        ])
        .arg(repo.join("repodata/primary.xml"));
    let (_, parser_line) = time(&mut example)?;
    table.notes.push(format!(
        "parser alone: {} (target ≥ 100 MB/s)",
        parser_line.trim()
    ));
    Ok(vec![table])
}

/// `name-version-release.arch` of every package slipway's `--json`
/// transaction installs.
fn slipway_transaction(json: &str) -> Result<BTreeSet<String>> {
    let items: serde_json::Value = serde_json::from_str(json).context("slipway resolve --json")?;
    let items = items.as_array().context("a JSON array")?;
    Ok(items
        .iter()
        .filter(|i| {
            i["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("install"))
        })
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
            format!(
                "{}-{}-{}.{}",
                s("name"),
                s("version"),
                s("release"),
                s("arch")
            )
        })
        .collect())
}

/// The same from dnf's transaction table (the `Installing…:` sections:
/// `name arch version-release repo size` per line).
fn dnf_transaction(out: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let mut installing = false;
    for line in out.lines() {
        if line.starts_with("Installing") && line.ends_with(':') {
            installing = true;
            continue;
        }
        if !line.starts_with(' ') {
            installing = false;
            continue;
        }
        if let [name, arch, evr, ..] = line.split_whitespace().collect::<Vec<_>>()[..]
            && installing
        {
            set.insert(format!("{name}-{evr}.{arch}"));
        }
    }
    set
}
