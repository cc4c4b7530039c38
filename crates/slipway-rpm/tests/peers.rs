//! Every real-world and fixture RPM, read by us and by the real peers
//! (`rpm -qp`, `rpm2cpio | cpio -idm`), must agree.

mod common;

use common::{all_rpms, q, scratch, sh};
use slipway_rpm::{Package, extract_to, header::file_flags};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Our file list in `rpm -qp --dump` format:
/// `path size mtime digest mode user group isconfig isdoc rdev link`.
fn our_dump(pkg: &Package) -> String {
    let zeros = pkg
        .header
        .files
        .iter()
        .find_map(|f| f.digest.as_ref().map(|d| "0".repeat(d.len())))
        .unwrap_or_else(|| "0".repeat(32));
    let mut out = String::new();
    let mut files: Vec<_> = pkg.header.files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for f in files {
        out.push_str(&format!(
            "{} {} {} {} 0{:o} {} {} {} {} {} {}\n",
            f.path,
            f.size,
            f.mtime,
            f.digest.clone().unwrap_or_else(|| zeros.clone()),
            f.mode,
            f.user,
            f.group,
            u8::from(f.flags & file_flags::CONFIG != 0),
            u8::from(f.flags & file_flags::DOC != 0),
            f.rdev,
            f.link_target.as_deref().unwrap_or("X"),
        ));
    }
    out
}

fn sorted_lines(s: &str) -> String {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort();
    v.join("\n") + "\n"
}

#[test]
fn file_lists_equal_rpm_dump() {
    let Some(rpms) = all_rpms() else { return };
    assert!(rpms.len() >= 10, "only {} rpms", rpms.len());
    for rpm in &rpms {
        let pkg = Package::open(rpm).unwrap_or_else(|e| panic!("{e}"));
        let theirs = sh(&format!("rpm -qp --dump {} 2>/dev/null", q(rpm)));
        assert_eq!(
            our_dump(&pkg),
            sorted_lines(&theirs),
            "file list of {}",
            rpm.display()
        );
    }
}

#[test]
fn headers_equal_rpm_queries() {
    let Some(rpms) = all_rpms() else { return };
    for rpm in &rpms {
        let h = slipway_rpm::read_header(rpm).unwrap_or_else(|e| panic!("{e}"));
        let theirs = sh(&format!(
            "rpm -qp --qf '%{{NAME}}|%{{EPOCH}}|%{{VERSION}}|%{{RELEASE}}|%{{ARCH}}|%{{SUMMARY}}|%{{LICENSE}}|%{{SOURCERPM}}|%{{PAYLOADCOMPRESSOR}}\\n' {} 2>/dev/null",
            q(rpm)
        ));
        let ours = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
            h.name,
            h.epoch.map_or("(none)".into(), |e| e.to_string()),
            h.version,
            h.release,
            h.arch,
            h.summary,
            h.license,
            h.sourcerpm.as_deref().unwrap_or("(none)"),
            h.payload_compressor,
        );
        assert_eq!(ours, theirs, "header of {}", rpm.display());
        let is_src = rpm.to_string_lossy().ends_with(".src.rpm");
        assert_eq!(h.is_source, is_src, "{}", rpm.display());
        // Dependencies, in rpm's own order and formatting.
        for (what, deps) in [
            ("requires", &h.requires),
            ("provides", &h.provides),
            ("conflicts", &h.conflicts),
            ("obsoletes", &h.obsoletes),
        ] {
            let theirs = sh(&format!("rpm -qp --{what} {} 2>/dev/null", q(rpm)));
            let ours: String = deps
                .iter()
                .map(|d| match (d.operator(), &d.evr) {
                    (Some(op), Some(evr)) => format!("{} {op} {evr}\n", d.name),
                    _ => format!("{}\n", d.name),
                })
                .collect();
            assert_eq!(ours, theirs, "{what} of {}", rpm.display());
        }
    }
}

/// One entry of an unpacked tree, for comparison.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir {
        mode: u32,
        mtime: i64,
    },
    File {
        mode: u32,
        mtime: i64,
        content: Vec<u8>,
        links: u64,
    },
    Symlink {
        target: String,
    },
    Other {
        mode: u32,
        rdev: u64,
    },
}

fn tree(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs_err::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs_err::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let mode = m.permissions().mode() & 0o7777;
            let node = if m.file_type().is_symlink() {
                Node::Symlink {
                    target: fs_err::read_link(&p).unwrap().display().to_string(),
                }
            } else if m.is_dir() {
                stack.push(p.clone());
                // cpio -idm sets a directory's mtime before writing into it,
                // so its directories end up with the current time; ours carry
                // the header's mtime (checked in `directories_keep_mtimes`).
                Node::Dir { mode, mtime: 0 }
            } else if m.is_file() {
                Node::File {
                    mode,
                    mtime: m.mtime(),
                    content: fs_err::read(&p).unwrap(),
                    links: m.nlink(),
                }
            } else {
                Node::Other {
                    mode: m.mode(),
                    rdev: m.rdev(),
                }
            };
            out.insert(rel, node);
        }
    }
    out
}

#[test]
fn payloads_unpack_like_rpm2cpio_cpio() {
    let Some(rpms) = all_rpms() else { return };
    for rpm in &rpms {
        let (_work, theirs, ours) = common::unpack_both(rpm, "unpack");
        let (t, o) = (tree(&theirs), tree(&ours));
        assert_eq!(
            o.keys().collect::<Vec<_>>(),
            t.keys().collect::<Vec<_>>(),
            "paths of {}",
            rpm.display()
        );
        for (path, node) in &t {
            // cpio creates parent directories that are not in the archive
            // with its own mode and the current time; compare only the ones
            // the archive has.
            let listed = Package::open(rpm)
                .unwrap()
                .header
                .files
                .iter()
                .any(|f| f.path.trim_start_matches('/') == path.as_str() || f.path == *path);
            if matches!(node, Node::Dir { .. }) && !listed {
                continue;
            }
            assert_eq!(o.get(path), Some(node), "{path} in {}", rpm.display());
        }
    }
}

#[test]
fn payload_stream_matches_file_list() {
    let Some(rpms) = all_rpms() else { return };
    for rpm in &rpms {
        let pkg = Package::open(rpm).unwrap();
        let h = pkg.header.clone();
        let files = &h.files;
        let mut payload = pkg.payload().unwrap();
        let mut seen = 0;
        while let Some(e) = payload.next_entry().unwrap() {
            let name = e.name.trim_start_matches('.');
            let f = h
                .file(&e.name)
                .unwrap_or_else(|| panic!("{} not in the file list of {}", e.name, rpm.display()));
            assert_eq!(f.mode, e.mode, "{name}");
            assert!(!f.is_ghost(), "{name} is a ghost but in the payload");
            seen += 1;
        }
        let ghosts = files.iter().filter(|f| f.is_ghost()).count();
        assert_eq!(seen + ghosts, files.len(), "{}", rpm.display());
    }
}

#[test]
fn directories_keep_mtimes() {
    let Some(rpm) = common::fixture("slip-files-") else {
        return;
    };
    let work = scratch("dirs");
    extract_to(&rpm, work.path()).unwrap();
    let pkg = Package::open(&rpm).unwrap();
    for f in pkg.header.files.iter().filter(|f| f.is_dir()) {
        let m = fs_err::metadata(work.path().join(f.path.trim_start_matches('/'))).unwrap();
        assert_eq!(m.mtime(), i64::from(f.mtime), "{}", f.path);
        assert_eq!(
            m.permissions().mode() & 0o7777,
            f.mode & 0o7777,
            "{}",
            f.path
        );
    }
}

#[test]
fn scriptlets_and_triggers_equal_rpm_queries() {
    let Some(rpms) = all_rpms() else { return };
    use slipway_rpm::ScriptletKind::*;
    let tags = [
        (PreTrans, "PRETRANS"),
        (Pre, "PREIN"),
        (Post, "POSTIN"),
        (PreUn, "PREUN"),
        (PostUn, "POSTUN"),
        (PostTrans, "POSTTRANS"),
        (Verify, "VERIFYSCRIPT"),
    ];
    let mut seen = 0;
    for rpm in &rpms {
        let h = slipway_rpm::read_header(rpm).unwrap();
        for (kind, tag) in tags {
            let body = sh(&format!("rpm -qp --qf '%{{{tag}}}' {} 2>/dev/null", q(rpm)));
            let prog = sh(&format!(
                "rpm -qp --qf '[%{{{tag}PROG}} ]' {} 2>/dev/null",
                q(rpm)
            ));
            let ours = h.scriptlets.iter().find(|s| s.kind == kind);
            match ours {
                None => assert_eq!(body, "(none)", "{tag} of {}", rpm.display()),
                Some(s) => {
                    seen += 1;
                    let want_body = if body == "(none)" { "" } else { body.as_str() };
                    assert_eq!(s.body, want_body, "{tag} of {}", rpm.display());
                    assert_eq!(
                        s.interpreter.join(" "),
                        prog.trim_end(),
                        "{tag}PROG of {}",
                        rpm.display()
                    );
                }
            }
        }
        let theirs = sh(&format!(
            "rpm -qp --qf '[%{{TRIGGERNAME}} %{{TRIGGERTYPE}} %{{TRIGGERSCRIPTPROG}}\\n]' {} 2>/dev/null",
            q(rpm)
        ));
        let ours: String = h
            .triggers
            .iter()
            .flat_map(|t| {
                t.conditions.iter().map(move |c| {
                    let kind = if c.flags & slipway_rpm::header::sense::TRIGGERIN != 0 {
                        "in"
                    } else if c.flags & slipway_rpm::header::sense::TRIGGERUN != 0 {
                        "un"
                    } else if c.flags & slipway_rpm::header::sense::TRIGGERPOSTUN != 0 {
                        "postun"
                    } else {
                        "prein"
                    };
                    format!("{} {kind} {}\n", c.name, t.interpreter.join(" "))
                })
            })
            .collect();
        assert_eq!(ours, theirs, "triggers of {}", rpm.display());
    }
    assert!(
        seen >= 6,
        "fixtures should exercise the scriptlets ({seen})"
    );
}

#[test]
fn capabilities_equal_rpm_and_setcap() {
    let Some(rpm) = common::fixture("slip-files-") else {
        return;
    };
    let Some(setcap) = slipway_test_support::require_tool("setcap") else {
        return;
    };
    let h = slipway_rpm::read_header(&rpm).unwrap();
    let theirs = sh(&format!("rpm -qp --qf '[%{{FILECAPS}}\\n]' {}", q(&rpm)));
    let ours: String = h
        .files
        .iter()
        .map(|f| format!("{}\n", f.caps.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(ours, theirs);
    let ping = h
        .files
        .iter()
        .find(|f| f.path == "/usr/bin/slip-ping")
        .unwrap();
    assert_eq!(ping.caps.as_deref(), Some("cap_net_raw=ep"));
    // The xattr bytes equal what setcap writes, for this and a few others.
    let work = scratch("caps");
    for text in [
        "cap_net_raw=ep",
        "cap_net_bind_service,cap_setuid+p",
        "cap_sys_admin=eip cap_chown-e",
        "cap_bpf,cap_perfmon=p",
    ] {
        let f = work.path().join("f");
        fs_err::write(&f, b"").unwrap();
        let st = std::process::Command::new(&setcap)
            .arg(text)
            .arg(&f)
            .status()
            .unwrap();
        assert!(st.success(), "setcap {text}");
        let hex = sh(&format!(
            "/usr/bin/python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], \"security.capability\").hex())' {}",
            q(&f)
        ));
        let ours = slipway_rpm::caps::to_xattr(text).unwrap();
        assert_eq!(hex::encode(ours), hex.trim(), "{text}");
        fs_err::remove_file(&f).unwrap();
    }
}
