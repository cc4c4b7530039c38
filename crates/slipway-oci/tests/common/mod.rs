//! Helpers of the slipway-oci integration tests: a rich source tree and a
//! comparable snapshot of a tree.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// What the tests need to know about one path of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// File content digest, symlink target, or device numbers.
    pub content: String,
    /// Other paths that are the same inode (hard links), sorted.
    pub links: Vec<String>,
    /// `security.capability` and `user.*` xattrs.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Every path under `root` (not `root` itself) with its [`Node`].
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    for paths in inodes.values() {
        if paths.len() > 1 {
            for p in paths {
                let others: Vec<String> = paths.iter().filter(|o| *o != p).cloned().collect();
                out.get_mut(p).unwrap().links = others;
            }
        }
    }
    out
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Node>,
    inodes: &mut BTreeMap<(u64, u64), Vec<String>>,
) {
    for entry in fs_err::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = fs_err::symlink_metadata(&path).unwrap();
        let ft = meta.file_type();
        use std::os::unix::fs::FileTypeExt;
        let (kind, content) = if ft.is_dir() {
            ("dir", String::new())
        } else if ft.is_file() {
            let data = fs_err::read(&path).unwrap();
            ("file", slipway_oci::Digest::sha256_of(&data).to_string())
        } else if ft.is_symlink() {
            (
                "symlink",
                fs_err::read_link(&path)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        } else if ft.is_char_device() {
            ("char", format!("{}", meta.rdev()))
        } else if ft.is_block_device() {
            ("block", format!("{}", meta.rdev()))
        } else if ft.is_fifo() {
            ("fifo", String::new())
        } else {
            ("other", String::new())
        };
        if !ft.is_dir() {
            inodes
                .entry((meta.dev(), meta.ino()))
                .or_default()
                .push(rel.clone());
        }
        let mut xattrs = Vec::new();
        if !ft.is_symlink() {
            for name in ["security.capability", "user.slipway"] {
                if let Some(v) = get_xattr(&path, name) {
                    xattrs.push((name.to_owned(), v));
                }
            }
        }
        out.insert(
            rel,
            Node {
                kind: kind.into(),
                mode: if ft.is_symlink() {
                    0
                } else {
                    meta.mode() & 0o7777
                },
                uid: meta.uid(),
                gid: meta.gid(),
                content,
                links: Vec::new(),
                xattrs,
            },
        );
        if ft.is_dir() {
            walk(root, &path, out, inodes);
        }
    }
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::lgetxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Set an extended attribute (not following a symlink).
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("setting {name} on {}: {e}", path.display()));
}

/// Assert two snapshots are equal, printing the paths that differ.
pub fn assert_same_tree(expected: &BTreeMap<String, Node>, actual: &BTreeMap<String, Node>) {
    let mut problems = Vec::new();
    for (path, node) in expected {
        match actual.get(path) {
            None => problems.push(format!("missing: {path}")),
            Some(other) if other != node => problems.push(format!(
                "differs: {path}\n  expected {node:?}\n  actual   {other:?}"
            )),
            Some(_) => {}
        }
    }
    for path in actual.keys() {
        if !expected.contains_key(path) {
            problems.push(format!("unexpected: {path}"));
        }
    }
    assert!(
        problems.is_empty(),
        "trees differ:\n{}",
        problems.join("\n")
    );
}

pub use slipway_test_support::process::run_stdout as run;

fn write(path: &Path, data: &[u8], mode: u32) {
    fs_err::write(path, data).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

/// Pseudo-random bytes (deterministic).
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if i % 3 == 0 {
                (state >> 11) as u8
            } else {
                b'a' + (state % 13) as u8
            }
        })
        .collect()
}

/// One step of building a tree.
type Step = Box<dyn Fn(&Path)>;

/// A tree with what layers must keep. `privileged` adds what needs root:
/// owners, device nodes and `security.capability`.
///
/// `reverse` creates the same content in the opposite order (and with the
/// hard links' "first" name swapped), to show that creation order does not
/// reach the output.
pub fn rich_tree(root: &Path, privileged: bool, reverse: bool) {
    fs_err::create_dir_all(root).unwrap();
    let long_dir = format!("{}/{}", "d".repeat(90), "e".repeat(90));
    let mut steps: Vec<Step> = vec![
        Box::new(|r| fs_err::create_dir_all(r.join("etc/conf.d")).unwrap()),
        Box::new(|r| {
            write(&r.join("etc/hostname"), b"slipway\n", 0o644);
            set_xattr(&r.join("etc/hostname"), "user.slipway", b"hello");
        }),
        Box::new(|r| write(&r.join("etc/conf.d/empty"), b"", 0o600)),
        Box::new(|r| {
            fs_err::create_dir_all(r.join("usr/bin")).unwrap();
            write(
                &r.join("usr/bin/tool"),
                &noise(3 * 1024 * 1024 + 17, 7),
                0o4755,
            );
        }),
        Box::new(|r| write(&r.join("usr/bin/sgid"), b"#!/bin/sh\n", 0o2755)),
        Box::new(|r| {
            fs_err::create_dir_all(r.join("tmp")).unwrap();
            fs_err::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777))
                .unwrap();
        }),
        Box::new(|r| {
            fs_err::create_dir_all(r.join("private")).unwrap();
            fs_err::set_permissions(r.join("private"), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }),
        Box::new(|r| {
            std::os::unix::fs::symlink("../etc/hostname", r.join("usr/hostname-rel")).unwrap()
        }),
        Box::new(|r| {
            std::os::unix::fs::symlink("/etc/hostname", r.join("usr/hostname-abs")).unwrap()
        }),
        Box::new(|r| std::os::unix::fs::symlink("does/not/exist", r.join("usr/dangling")).unwrap()),
        Box::new(|r| {
            std::os::unix::fs::symlink("t".repeat(150), r.join("usr/long-target")).unwrap()
        }),
        Box::new(move |r| {
            let d = r.join(&long_dir);
            fs_err::create_dir_all(&d).unwrap();
            write(
                &d.join(format!("{}.txt", "f".repeat(120))),
                b"long path\n",
                0o644,
            );
        }),
        Box::new(|r| {
            write(
                &r.join("usr/caf\u{e9}-\u{65e5}\u{672c}"),
                b"utf-8 name\n",
                0o644,
            )
        }),
        Box::new(|r| {
            write(
                &r.join(std::ffi::OsStr::from_bytes(b"usr/latin1-\xe9")),
                b"not utf-8\n",
                0o644,
            )
        }),
        Box::new(|r| {
            run(Command::new("mkfifo").arg(r.join("usr/fifo")));
        }),
    ];
    if reverse {
        // Directories must exist before their children: make them all first.
        for d in ["etc/conf.d", "usr/bin", "tmp", "private"] {
            fs_err::create_dir_all(root.join(d)).unwrap();
        }
        steps.reverse();
    }
    // Hard links: three names for one file, across directories.
    let (first, second, third) = if reverse {
        ("usr/bin/z-link", "usr/bin/a-link", "etc/linked")
    } else {
        ("etc/linked", "usr/bin/a-link", "usr/bin/z-link")
    };
    steps.push(Box::new(move |r| {
        write(&r.join(first), b"three names\n", 0o755);
        fs_err::hard_link(r.join(first), r.join(second)).unwrap();
        fs_err::hard_link(r.join(first), r.join(third)).unwrap();
    }));
    if privileged {
        steps.push(Box::new(|r| {
            chown(&r.join("etc/hostname"), 1000, 100);
            chown(&r.join("usr/bin/sgid"), 0, 50);
            chown(&r.join("private"), 65534, 65534);
            chown(&r.join("usr/hostname-rel"), 4242, 4343);
            chown(&r.join("tmp"), 3_000_000, 3_000_001); // beyond USTAR's 7 octal digits
        }));
        steps.push(Box::new(|r| {
            fs_err::create_dir_all(r.join("dev")).unwrap();
            run(Command::new("mknod")
                .args(["-m", "0666"])
                .arg(r.join("dev/null"))
                .args(["c", "1", "3"]));
            run(Command::new("mknod")
                .args(["-m", "0660"])
                .arg(r.join("dev/loop9"))
                .args(["b", "7", "9"]));
        }));
        steps.push(Box::new(|r| {
            write(&r.join("usr/bin/ping"), b"\x7fELF-not-really\n", 0o755);
            run(Command::new("setcap")
                .arg("cap_net_raw+ep")
                .arg(r.join("usr/bin/ping")));
        }));
    }
    for step in &steps {
        step(root);
    }
    if privileged {
        // chown clears setuid: set modes last.
        fs_err::set_permissions(
            root.join("usr/bin/sgid"),
            std::fs::Permissions::from_mode(0o2755),
        )
        .unwrap();
    }
}

/// Set every mtime under `root` to `secs` (not following symlinks).
pub fn set_mtimes(root: &Path, secs: i64) {
    run(Command::new("find")
        .arg(root)
        .args(["-exec", "touch", "-h", "-d"])
        .arg(format!("@{secs}"))
        .args(["{}", "+"]));
}
