//! rpmdb normalisation against Debian's rpm (sqlite) and db5.3 (Berkeley DB).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{EPOCH, run, scratch};
use slipway_repro::rpmdb::{BdbFile, normalize_bdb, verify_bdb};
use slipway_repro::{NormalizeOptions, normalize_tree};

fn options() -> NormalizeOptions {
    NormalizeOptions {
        source_date_epoch: EPOCH as u32,
        drop_pyc: true,
    }
}

fn rpm(root: &Path) -> Command {
    let mut c = Command::new("rpm");
    c.arg("--root").arg(root).args(["--dbpath", "/var/lib/rpm"]);
    c
}

/// An rpmdb made the way Debian's rpm does, with one fixture package
/// installed (`--justdb`) now.
fn sqlite_root(dir: &Path, rpm_file: &Path) {
    run(rpm(dir).arg("--initdb"));
    run(rpm(dir).args(["-i", "--nodeps", "--justdb"]).arg(rpm_file));
}

fn fixture_rpm() -> Option<PathBuf> {
    slipway_test_support::require_tool("rpm")?;
    slipway_test_support::require_tool("rpmbuild")?;
    let rpms = slipway_test_support::fixtures::fixture_rpms();
    slipway_test_support::fixtures::rpm_files(&rpms)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("slip-files-"))
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs_err::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn sqlite_rpmdb_is_byte_identical_after_normalising() {
    let Some(package) = fixture_rpm() else { return };
    let root = scratch("sqlite");
    let (a, b) = (root.join("a"), root.join("b"));
    sqlite_root(&a, &package);
    // A later second, so INSTALLTIME and INSTALLTID differ.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    sqlite_root(&b, &package);
    let db = |r: &Path| r.join("var/lib/rpm");
    assert_ne!(
        fs_err::read(db(&a).join("rpmdb.sqlite")).unwrap(),
        fs_err::read(db(&b).join("rpmdb.sqlite")).unwrap(),
        "the two installs should differ before normalising"
    );
    let report = normalize_tree(&a, &options()).unwrap();
    normalize_tree(&b, &options()).unwrap();
    assert_eq!(report.rewritten, ["var/lib/rpm/rpmdb.sqlite"]);
    assert!(
        report.removed.contains(&"var/lib/rpm/.rpm.lock".to_owned()),
        "{report:?}"
    );
    let (fa, fb) = (files_of(&db(&a)), files_of(&db(&b)));
    let names: Vec<&str> = fa.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["rpmdb.sqlite"], "no -wal, -shm or lock files left");
    assert!(fa == fb, "normalised rpmdbs differ");
    // Normalising again keeps the two equal (VACUUM bumps the schema
    // cookie, so it is deterministic rather than idempotent).
    normalize_tree(&a, &options()).unwrap();
    normalize_tree(&b, &options()).unwrap();
    assert!(files_of(&db(&a)) == files_of(&db(&b)));
    // Still a working rpmdb, with clamped times.
    let qa = run(rpm(&a).arg("-qa"));
    assert!(qa.contains("slip-files-1.2.3-4.el6"), "{qa}");
    let times = run(rpm(&a).args(["-q", "--qf", "%{INSTALLTIME} %{INSTALLTID}\n", "slip-files"]));
    assert_eq!(times.trim(), format!("{EPOCH} {EPOCH}"));
}

/// The Packages hash file of a Berkeley DB rpmdb, loaded by db5.3_load from
/// the headers of a sqlite rpmdb (Debian's rpm cannot write BDB: its
/// backends are sqlite, bdb_ro and dummy). Key 0 carries rpm's
/// next-instance counter, as in a real CentOS 6 rpmdb.
fn load_bdb_packages(sqlite: &Path, target: &Path) {
    let conn = rusqlite::Connection::open(sqlite).unwrap();
    let mut dump =
        String::from("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n");
    let mut max = 0u32;
    let mut records = Vec::new();
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .unwrap()
    {
        let (hnum, blob) = row.unwrap();
        max = max.max(hnum);
        records.push((hnum.to_ne_bytes().to_vec(), blob));
    }
    records.insert(0, (vec![0; 4], (max + 1).to_ne_bytes().to_vec()));
    for (k, v) in records {
        dump.push_str(&format!(" {}\n {}\n", hex::encode(k), hex::encode(v)));
    }
    dump.push_str("DATA=END\n");
    let input = target.with_extension("dump");
    fs_err::write(&input, dump).unwrap();
    run(Command::new("db5.3_load").arg("-f").arg(&input).arg(target));
    fs_err::remove_file(&input).unwrap();
}

/// Fill the free space of every hash and overflow page with 0xa5.
fn add_garbage(path: &Path) -> usize {
    let mut data = fs_err::read(path).unwrap();
    let pagesize = u32::from_ne_bytes(data[20..24].try_into().unwrap()) as usize;
    let mut filled = 0;
    for page in data.chunks_mut(pagesize).skip(1) {
        let u16_at = |p: &[u8], at: usize| u16::from_ne_bytes([p[at], p[at + 1]]) as usize;
        let range = match page[25] {
            2 | 13 => 26 + 2 * u16_at(page, 20)..u16_at(page, 22),
            7 => 26 + u16_at(page, 22)..pagesize,
            _ => continue,
        };
        filled += range.len();
        page[range].fill(0xa5);
    }
    fs_err::write(path, data).unwrap();
    filled
}

#[test]
fn berkeley_db_packages_is_clamped_scrubbed_and_readable() {
    let Some(package) = fixture_rpm() else { return };
    for tool in ["db5.3_load", "db5.3_dump", "db5.3_verify"] {
        if slipway_test_support::require_tool(tool).is_none() {
            return;
        }
    }
    let root = scratch("bdb");
    let (sa, sb) = (root.join("sqlite-a"), root.join("sqlite-b"));
    sqlite_root(&sa, &package);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    sqlite_root(&sb, &package);
    let (a, b) = (root.join("a"), root.join("b"));
    for (src, dst) in [(&sa, &a), (&sb, &b)] {
        let dbdir = dst.join("var/lib/rpm");
        fs_err::create_dir_all(&dbdir).unwrap();
        load_bdb_packages(
            &src.join("var/lib/rpm/rpmdb.sqlite"),
            &dbdir.join("Packages"),
        );
        // A leftover environment file, as rpm leaves them.
        fs_err::write(dbdir.join("__db.001"), b"environment").unwrap();
    }
    let packages = |r: &Path| r.join("var/lib/rpm/Packages");
    let filled = add_garbage(&packages(&b));
    assert!(filled > 1000, "only {filled} free bytes");
    verify_bdb(&packages(&b)).expect("db5.3_verify accepts free-space garbage");
    assert_ne!(
        fs_err::read(packages(&a)).unwrap(),
        fs_err::read(packages(&b)).unwrap()
    );

    let ra = normalize_tree(&a, &options()).unwrap();
    normalize_tree(&b, &options()).unwrap();
    assert_eq!(ra.rewritten, ["var/lib/rpm/Packages"]);
    assert_eq!(ra.removed, ["var/lib/rpm/__db.001"]);
    let (pa, pb) = (
        fs_err::read(packages(&a)).unwrap(),
        fs_err::read(packages(&b)).unwrap(),
    );
    assert!(pa == pb, "normalised Packages files differ");
    assert!(
        !pa.windows(16).any(|w| w.iter().all(|&x| x == 0xa5)),
        "garbage left"
    );
    verify_bdb(&packages(&a)).unwrap();

    // rpm reads it with its read-only BDB backend, times clamped.
    let bdb = |r: &Path| {
        let mut c = rpm(r);
        c.args(["--define", "_db_backend bdb_ro"]);
        c
    };
    let qa = run(bdb(&a).arg("-qa"));
    assert!(qa.contains("slip-files-1.2.3-4.el6"), "{qa}");
    // Only Packages exists (no Name index), so query all rather than by name.
    let times = run(bdb(&a).args(["-qa", "--qf", "%{INSTALLTIME} %{INSTALLTID}\n"]));
    assert_eq!(times.trim(), format!("{EPOCH} {EPOCH}"));

    // Idempotent, and a plain db5.3_load is not already clean (it writes
    // stale buffer bytes), which is why the scrubber exists.
    normalize_bdb(&packages(&a), BdbFile::Packages, EPOCH as u32).unwrap();
    assert!(fs_err::read(packages(&a)).unwrap() == pb);
}

#[test]
fn normalises_logs_caches_backups_and_pyc() {
    let root = scratch("tree");
    let files = [
        "var/log/yum.log",
        "var/log/empty.log",
        "etc/passwd-",
        "etc/passwd",
        "etc/shadow-",
        "var/cache/yum/x86_64/6/base/repomd.xml",
        "var/lib/yum/uuid",
        "var/lib/yum/history/history-2026.sqlite",
        "var/lib/yum/yumdb/p/pkg/from_repo",
        "var/cache/ldconfig/aux-cache",
        "usr/lib/python3/__pycache__/a.cpython-311.pyc",
        "usr/lib/python2/b.pyc",
        "usr/lib/python2/b.py",
        "var/lib/rpm/__db.002",
        "var/lib/rpm/.dbenv.lock",
    ];
    for f in files {
        let p = root.join(f);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(
            &p,
            if f.ends_with("empty.log") {
                ""
            } else {
                "content"
            },
        )
        .unwrap();
    }
    let report = normalize_tree(&root, &options()).unwrap();
    assert_eq!(report.truncated, ["var/log/yum.log"]);
    assert_eq!(
        report.removed,
        [
            "etc/passwd-",
            "etc/shadow-",
            "usr/lib/python2/b.pyc",
            "usr/lib/python3/__pycache__",
            "var/cache/ldconfig/aux-cache",
            "var/cache/yum/x86_64",
            "var/lib/rpm/.dbenv.lock",
            "var/lib/rpm/__db.002",
            "var/lib/yum/history/history-2026.sqlite",
            "var/lib/yum/uuid",
        ]
    );
    assert_eq!(fs_err::read(root.join("var/log/yum.log")).unwrap(), b"");
    for kept in [
        "etc/passwd",
        "usr/lib/python2/b.py",
        "var/lib/yum/yumdb/p/pkg/from_repo",
        "var/cache/yum",
    ] {
        assert!(root.join(kept).exists(), "{kept} should stay");
    }
}

/// ldconfig writes `/etc/ld.so.cache` sorted, so it depends only on the
/// files present, not on the order they were created in.
#[test]
fn ld_so_cache_is_deterministic() {
    let Some(ldconfig) = slipway_test_support::require_tool("ldconfig") else {
        return;
    };
    let libs = ["libz.so.1", "libc.so.6", "libm.so.6", "libdl.so.2"];
    let source = Path::new("/lib/x86_64-linux-gnu");
    if !libs.iter().all(|l| source.join(l).exists()) {
        slipway_test_support::unavailable("the host's x86_64 libraries");
        return;
    }
    let root = scratch("ldconfig");
    let mut caches = Vec::new();
    for (name, order) in [
        ("a", libs.to_vec()),
        ("b", libs.iter().rev().copied().collect()),
    ] {
        let r = root.join(name);
        fs_err::create_dir_all(r.join("etc")).unwrap();
        fs_err::create_dir_all(r.join("usr/lib64")).unwrap();
        fs_err::write(r.join("etc/ld.so.conf"), "/usr/lib64\n").unwrap();
        for lib in order {
            let real = fs_err::canonicalize(source.join(lib)).unwrap();
            fs_err::copy(&real, r.join("usr/lib64").join(real.file_name().unwrap())).unwrap();
        }
        run(Command::new(&ldconfig).arg("-r").arg(&r));
        caches.push(fs_err::read(r.join("etc/ld.so.cache")).unwrap());
    }
    assert!(
        caches[0] == caches[1],
        "ld.so.cache depends on creation order"
    );
}
