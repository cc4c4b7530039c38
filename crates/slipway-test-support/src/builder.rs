//! The debootstrap builder rootfs (stands in for CentOS 6.9, which cannot be
//! downloaded here) and its OCI image.
//!
//! `debootstrap --variant=minbase bookworm` from the machine's own Debian
//! mirror, plus Debian's `rpm`, `gcc` and `make` installed with `apt-get` in a
//! chroot, a macros file putting the rpmdb at `/var/lib/rpm` (Debian's rpm
//! defaults to `~/.rpmdb`) and an initialised, empty rpmdb. Built once per
//! architecture under `target/test-data/builder-bookworm-<arch>/rootfs`;
//! concurrent test processes serialise on a lock file and reuse the result.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{generated_dir, require_root, require_tool};

/// Architecture of a builder rootfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderArch {
    /// x86-64 (`amd64`).
    Amd64,
    /// 32-bit x86 (`i386`), for the i686 path.
    I386,
}

impl BuilderArch {
    /// Debian's name of the architecture.
    pub fn debian(self) -> &'static str {
        match self {
            BuilderArch::Amd64 => "amd64",
            BuilderArch::I386 => "i386",
        }
    }
}

/// The macros file written into the builder so that Debian's rpm keeps its
/// database where CentOS has it.
pub const RPM_MACROS_PATH: &str = "etc/rpm/macros.dbpath";

/// Packages installed into the builder after debootstrap.
pub const BUILDER_PACKAGES: &[&str] = &["rpm", "gcc", "make"];

/// The builder rootfs for `arch`, built on first use. `None` (after a loud
/// skip, or a panic in CI) when not root or `debootstrap` is missing.
#[track_caller]
pub fn builder_rootfs(arch: BuilderArch) -> Option<PathBuf> {
    if !require_root() {
        return None;
    }
    require_tool("debootstrap")?;
    require_tool("chroot")?;
    let dir = generated_dir(&format!("builder-bookworm-{}", arch.debian()));
    let rootfs = dir.join("rootfs");
    let done = dir.join("done");
    let lock = fs_err::File::create(dir.join("lock")).expect("create builder lock file");
    lock.file().lock().expect("lock the builder directory");
    if !done.exists() {
        if let Err(e) = build(arch, &rootfs) {
            panic!(
                "building the builder rootfs in {} failed: {e}",
                rootfs.display()
            );
        }
        fs_err::write(&done, b"ok\n").expect("mark the builder rootfs as done");
    }
    Some(rootfs)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed with {}:\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn build(arch: BuilderArch, rootfs: &Path) -> Result<(), String> {
    if rootfs.exists() {
        fs_err::remove_dir_all(rootfs).map_err(|e| e.to_string())?;
    }
    let mirror = debian_mirror();
    run(Command::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--arch={}", arch.debian()))
        .arg("bookworm")
        .arg(rootfs)
        .arg(&mirror))?;
    // apt inside the chroot needs the host's resolver.
    fs_err::copy("/etc/resolv.conf", rootfs.join("etc/resolv.conf")).map_err(|e| e.to_string())?;
    run(Command::new("chroot")
        .arg(rootfs)
        .args(["apt-get", "install", "-y", "-q", "--no-install-recommends"])
        .args(BUILDER_PACKAGES)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))?;
    run(Command::new("chroot")
        .arg(rootfs)
        .args(["apt-get", "clean"])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))?;
    let lists = rootfs.join("var/lib/apt/lists");
    for entry in fs_err::read_dir(&lists)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        if entry.path().is_file() {
            let _ = fs_err::remove_file(entry.path());
        }
    }
    fs_err::create_dir_all(rootfs.join("etc/rpm")).map_err(|e| e.to_string())?;
    let mut macros =
        fs_err::File::create(rootfs.join(RPM_MACROS_PATH)).map_err(|e| e.to_string())?;
    writeln!(macros, "%_dbpath /var/lib/rpm").map_err(|e| e.to_string())?;
    drop(macros);
    run(Command::new("chroot")
        .arg(rootfs)
        .args(["rpm", "--initdb"])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))?;
    fs_err::write(rootfs.join("etc/resolv.conf"), b"").map_err(|e| e.to_string())?;
    Ok(())
}

/// The Debian mirror of the machine's own apt sources (one-line or deb822
/// format), or `http://deb.debian.org/debian`.
pub fn debian_mirror() -> String {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs_err::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = fs_err::read_to_string(&file) else {
            continue;
        };
        if let Some(uri) = mirror_in(&text) {
            return uri;
        }
    }
    "http://deb.debian.org/debian".to_owned()
}

/// The first URI serving the `bookworm` suite in a sources file's text.
fn mirror_in(text: &str) -> Option<String> {
    // One-line format: `deb [opts] URI SUITE COMPONENTS…`.
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"deb") {
            let rest: Vec<&str> = words[1..]
                .iter()
                .copied()
                .skip_while(|w| w.starts_with('['))
                .filter(|w| !w.ends_with(']'))
                .collect();
            if rest.len() >= 2 && rest[1] == "bookworm" {
                return Some(rest[0].to_owned());
            }
        }
    }
    // deb822 format: stanzas with `URIs:` and `Suites:`.
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let is_deb = field("Types").is_none_or(|t| t.split_whitespace().any(|t| t == "deb"));
        if let (true, Some(uris), Some(suites)) = (is_deb, field("URIs"), field("Suites"))
            && suites.split_whitespace().any(|s| s == "bookworm")
        {
            return uris.split_whitespace().next().map(str::to_owned);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::mirror_in;

    #[test]
    fn finds_the_bookworm_mirror_in_both_formats() {
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n\n\
                      Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://deb.debian.org/debian")
        );
        let one_line = "deb [arch=amd64] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            mirror_in(one_line).as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(
            mirror_in("deb http://x/debian-security bookworm-security main"),
            None
        );
    }
}
