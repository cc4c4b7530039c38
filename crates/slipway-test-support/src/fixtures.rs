//! Fixture RPMs built by `rpmbuild` from `fixtures/` spec files, and yum repos made by `createrepo_c`.
//!
//! Each spec may start with a directive comment naming its payload
//! compression and target arches (defaults: `w9.gzdio`, `noarch`):
//!
//! ```text
//! # slipway: payload=w6.xzdio targets=x86_64,i686
//! ```
//!
//! Builds are pinned (`SOURCE_DATE_EPOCH`, build time and mtimes clamped to
//! it, a fixed build host), cached under `target/test-data/<out_name>/<hash>`
//! keyed by a hash of the spec files, and safe when several test processes
//! build at once: each builds in its own temporary directory and renames it
//! into place; the loser of the race throws its copy away.
//!
//! ```no_run
//! let rpms = slipway_test_support::fixtures::fixture_rpms();
//! for rpm in slipway_test_support::fixtures::rpm_files(&rpms) {
//!     println!("{}", rpm.display());
//! }
//! ```

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `SOURCE_DATE_EPOCH` fixture RPMs are built with (2023-11-14).
pub const FIXTURE_EPOCH: u64 = 1_700_000_000;

/// Bump to invalidate every cached build when the build recipe changes.
const BUILDER_VERSION: u32 = 1;

/// The default fixture RPMs (`fixtures/rpms/*.spec`), built once and cached.
///
/// Returns a directory holding the binary RPMs, flat (no `RPMS/<arch>`);
/// the source RPMs are in [`source_rpms_dir`] of it. Needs `rpmbuild`:
/// callers check `require_tool("rpmbuild")` first.
pub fn fixture_rpms() -> PathBuf {
    build_rpms(&crate::fixtures_dir().join("rpms"), "rpms")
}

/// The directory beside a [`build_rpms`] output holding its source RPMs.
pub fn source_rpms_dir(rpms: &Path) -> PathBuf {
    let mut name = rpms.file_name().unwrap_or_default().to_os_string();
    name.push(".srpms");
    rpms.with_file_name(name)
}

/// The `*.rpm` files directly in `dir`, sorted.
pub fn rpm_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs_err::read_dir(dir)
        .expect("read rpm directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    out.sort();
    out
}

/// Per-spec build settings read from its `# slipway:` directive.
#[derive(Debug)]
struct SpecSettings {
    payload: String,
    targets: Vec<String>,
}

fn settings(text: &str) -> SpecSettings {
    let mut s = SpecSettings {
        payload: "w9.gzdio".into(),
        targets: vec!["noarch".into()],
    };
    for line in text.lines().filter(|l| l.starts_with("# slipway:")) {
        for word in line["# slipway:".len()..].split_whitespace() {
            if let Some(p) = word.strip_prefix("payload=") {
                s.payload = p.into();
            } else if let Some(t) = word.strip_prefix("targets=") {
                s.targets = t.split(',').map(str::to_owned).collect();
            }
        }
    }
    s
}

/// Builds every `*.spec` in `spec_dir` with `rpmbuild -ba` into
/// `target/test-data/<out_name>/<hash>` (binary RPMs, flat) and returns that
/// directory; source RPMs go to [`source_rpms_dir`]. Cached by a hash of the
/// spec files' names and contents. Panics with rpmbuild's output on failure.
pub fn build_rpms(spec_dir: &Path, out_name: &str) -> PathBuf {
    let mut specs: Vec<PathBuf> = fs_err::read_dir(spec_dir)
        .expect("read spec directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "spec"))
        .collect();
    specs.sort();
    assert!(
        !specs.is_empty(),
        "no *.spec files in {}",
        spec_dir.display()
    );
    // DefaultHasher is stable for a given toolchain, which is all a cache in
    // target/ needs.
    let mut hasher = DefaultHasher::new();
    BUILDER_VERSION.hash(&mut hasher);
    for spec in &specs {
        spec.file_name().hash(&mut hasher);
        fs_err::read(spec).expect("read spec").hash(&mut hasher);
    }
    let key = format!("{:016x}", hasher.finish());
    let base = crate::generated_dir(out_name);
    let done = base.join(&key);
    if done.join(".complete").exists() {
        return done;
    }
    let unique = format!(
        "{key}.tmp-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let tmp = base.join(&unique);
    let topdir = tmp.join("top");
    let rpms = tmp.join("rpms");
    fs_err::create_dir_all(&rpms).expect("create build dir");
    for spec in &specs {
        let text = fs_err::read_to_string(spec).expect("read spec");
        let s = settings(&text);
        for target in &s.targets {
            let out = Command::new("rpmbuild")
                .arg("-ba")
                .arg("--nodeps")
                .arg("--target")
                .arg(target)
                .arg("--define")
                .arg(format!("_topdir {}", topdir.display()))
                .arg("--define")
                .arg(format!("_binary_payload {}", s.payload))
                .arg("--define")
                .arg("use_source_date_epoch_as_buildtime 1")
                .arg("--define")
                .arg("clamp_mtime_to_source_date_epoch 1")
                .arg("--define")
                .arg("_buildhost slipway.invalid")
                .arg("--define")
                .arg("_source_payload w9.gzdio")
                .arg(spec)
                .env("SOURCE_DATE_EPOCH", FIXTURE_EPOCH.to_string())
                .env("LC_ALL", "C")
                .output()
                .expect("run rpmbuild");
            assert!(
                out.status.success(),
                "rpmbuild --target {target} {} failed:\n{}\n{}",
                spec.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // Flatten RPMS/<arch>/*.rpm into rpms/, SRPMS into rpms.srpms.
    for entry in walk(&topdir.join("RPMS")) {
        let name = entry.file_name().expect("rpm file name");
        fs_err::rename(&entry, rpms.join(name)).expect("move rpm");
    }
    fs_err::rename(topdir.join("SRPMS"), tmp.join("srpms")).expect("move srpms");
    fs_err::remove_dir_all(&topdir).expect("remove rpmbuild topdir");
    fs_err::write(rpms.join(".complete"), b"").expect("mark complete");
    // Publish: srpms first (harmless if we lose), then the rpms dir, whose
    // rename is the atomic commit point.
    let srpms_dest = source_rpms_dir(&done);
    let _ = std::fs::rename(tmp.join("srpms"), &srpms_dest);
    if std::fs::rename(&rpms, &done).is_err() {
        assert!(
            done.join(".complete").exists(),
            "could not publish {}",
            done.display()
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    done
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs_err::read_dir(dir) else {
        return out;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|e| e == "rpm") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Runs `createrepo_c` on `dir` (XML metadata, plus sqlite databases when
/// `database`; `--no-database` otherwise). Pinned: `--set-timestamp-to-revision`
/// with `--revision` [`FIXTURE_EPOCH`], so repeated runs give the same files.
/// Panics with createrepo_c's output on failure.
pub fn createrepo(dir: &Path, database: bool) {
    let mut cmd = Command::new("createrepo_c");
    cmd.arg("--quiet")
        .arg("--revision")
        .arg(FIXTURE_EPOCH.to_string())
        .arg("--set-timestamp-to-revision");
    if database {
        cmd.arg("--database");
    } else {
        cmd.arg("--no-database");
    }
    let out = cmd.arg(dir).output().expect("run createrepo_c");
    assert!(
        out.status.success(),
        "createrepo_c {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
