//! End to end with real peers: the `vstime` fixture source RPM (built by
//! `rpmbuild -bs`) is patched by this crate, rebuilt with `rpmbuild -ba`,
//! published with `createrepo_c`, and audited before and after.
//!
//! The rebuild runs on the host through `HostRunner`: slipway-sandbox is not
//! yet available to run it over the debootstrap builder image.

mod common;

use std::path::Path;
use std::process::Command;

use common::{extract_rpm, fixture_dir, fixture_srpm, fresh_dir, rpm_query, run};
use slipway_test_support::require_tool;
use slipway_vsyscall::audit::{self, Finding, FindingKind};
use slipway_vsyscall::rebuild::{HostRunner, RebuildOptions, create_repo, rebuild};
use slipway_vsyscall::srpm::{Owners, PatchFile, patch_srpm, unpack};

const TIME_ENTRY: u64 = 0xffff_ffff_ff60_0400;
const GETTIMEOFDAY_ENTRY: u64 = 0xffff_ffff_ff60_0000;

fn of_file<'a>(findings: &'a [Finding], suffix: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| f.file.ends_with(suffix))
        .collect()
}

/// Each of the three ELF files of the original package uses the page twice:
/// `vs_time`'s `mov rax, 0xffffffffff600400` and the `.data` pointer.
fn assert_original_findings(findings: &[Finding], prefix: &str) {
    for file in [
        "/usr/bin/vstime",
        "/usr/lib64/libvstime.so.1",
        "/usr/lib64/libvstime.a(vstime.o)",
    ] {
        let mine = of_file(findings, file);
        let code: Vec<_> = mine
            .iter()
            .filter(|f| f.kind == FindingKind::Code)
            .collect();
        let data: Vec<_> = mine
            .iter()
            .filter(|f| f.kind == FindingKind::Data)
            .collect();
        assert_eq!(code.len(), 1, "{prefix}{file}: code findings {findings:#?}");
        assert_eq!(code[0].target, TIME_ENTRY);
        assert_eq!(code[0].instruction, "mov rax, 0xffffffffff600400");
        assert_eq!(data.len(), 1, "{prefix}{file}: data findings {findings:#?}");
        assert_eq!(data[0].target, GETTIMEOFDAY_ENTRY);
        assert_eq!(data[0].section, ".data");
        if !file.ends_with("/vstime") {
            // The library keeps its (dynamic) symbols after brp-strip.
            assert_eq!(code[0].symbol.as_deref(), Some("vs_time"), "{:?}", code[0]);
            assert_eq!(data[0].symbol.as_deref(), Some("vs_gettimeofday_ptr"));
        }
    }
    assert_eq!(findings.len(), 6, "{findings:#?}");
}

#[test]
fn srpm_unpacks_natively_like_rpm2cpio() {
    let Some(srpm) = fixture_srpm("srpm-unpack") else {
        return;
    };
    let Some(_) = require_tool("rpm2cpio") else {
        return;
    };
    let top = fresh_dir("unpack-native");
    let unpacked = unpack(&srpm, &top, &Owners::Keep).expect("unpack");
    assert_eq!(
        (
            unpacked.name.as_str(),
            unpacked.version.as_str(),
            unpacked.release.as_str()
        ),
        ("vstime", "1.0", "1.209")
    );
    assert_eq!(unpacked.build_requires, vec!["gcc", "make"]);
    assert_eq!(unpacked.spec_path, top.join("SPECS/vstime.spec"));
    // Same files, same bytes, as the real rpm2cpio | cpio.
    let reference = fresh_dir("unpack-rpm2cpio");
    extract_rpm(&srpm, &reference);
    let mut names: Vec<String> = unpacked.files.iter().map(|f| f.name.clone()).collect();
    names.sort();
    let mut expected: Vec<String> = fs_err::read_dir(&reference)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    for file in &unpacked.files {
        let ours = fs_err::read(&file.path).expect("ours");
        let theirs = fs_err::read(reference.join(&file.name)).expect("theirs");
        assert!(ours == theirs, "{} differs from rpm2cpio's", file.name);
        // Owners as the header says (rpmbuild ran as root here), and modes.
        let header_owner = rpm_query(
            &srpm,
            "[%{FILENAMES} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMODES:octal}\n]",
        );
        let line = header_owner
            .lines()
            .find(|l| l.split(' ').next() == Some(file.name.as_str()))
            .expect("file in header");
        let mode = line.rsplit(' ').next().expect("mode");
        assert_eq!(
            format!("{}:{}", file.user, file.group),
            line.split(' ').nth(1).expect("owner")
        );
        assert_eq!(
            u32::from_str_radix(mode, 8).expect("octal") & 0o7777,
            file.mode
        );
    }
    // Owners mapped through a rootfs's passwd/group (the host's): `nobody`.
    assert!(
        unpacked
            .files
            .iter()
            .all(|f| f.user == "nobody" && f.group == "nogroup")
    );
    let mapped = unpack(
        &srpm,
        &fresh_dir("unpack-mapped"),
        &Owners::MapThrough("/".into()),
    )
    .expect("mapped");
    for file in &mapped.files {
        let meta = fs_err::metadata(&file.path).expect("stat");
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "{}", file.name);
    }
}

#[test]
fn vstime_is_patched_rebuilt_published_and_audited() {
    let Some(srpm) = fixture_srpm("srpm-rebuild") else {
        return;
    };
    for tool in ["rpmbuild", "createrepo_c", "rpm2cpio", "cpio", "rpm"] {
        if require_tool(tool).is_none() {
            return;
        }
    }

    // The original package, built by the real rpmbuild, uses the page.
    let original_top = fresh_dir("original");
    run(Command::new("rpmbuild")
        .args(["--rebuild", "--nodeps", "--define"])
        .arg(format!("_topdir {}", original_top.display()))
        .arg(&srpm));
    let original_rpm = original_top.join("RPMS/x86_64/vstime-1.0-1.209.x86_64.rpm");
    let from_rpm = audit::audit(&original_rpm).expect("audit original rpm");
    assert_original_findings(&from_rpm, "original rpm");
    let original_root = original_top.join("root");
    extract_rpm(&original_rpm, &original_root);
    let from_dir = audit::audit(&original_root).expect("audit original tree");
    assert_original_findings(&from_dir, "original tree");

    // Patch the spec and rebuild.
    let top = fresh_dir("patched");
    let patch = PatchFile::new(
        "remove-vsyscall.patch",
        fixture_dir().join("remove-vsyscall.patch"),
        "-E -p3",
    );
    let patched = patch_srpm(&srpm, &[patch], &top).expect("patch srpm");
    assert_eq!(patched.edit.patch_numbers, vec![13]);
    assert_eq!(patched.edit.old_release, "1.209%{?dist}");
    assert_eq!(patched.new_release(), "1.209.1%{?dist}");
    assert_eq!(patched.srpm.build_requires, vec!["gcc", "make"]);
    let spec = fs_err::read_to_string(patched.spec_path()).expect("spec");
    assert!(spec.contains("Patch12: vstime-notes-rh12.patch\nPatch13: remove-vsyscall.patch\n"));
    assert!(spec.contains("%patch12 -p1\n%patch13 -E -p3\n"));

    let options = RebuildOptions {
        nodeps: true, // gcc and make come from dpkg here, unknown to rpm's database
        keep_build_dir: true,
        source_date_epoch: Some(common::SOURCE_DATE_EPOCH.parse().expect("epoch")),
        ..RebuildOptions::default()
    };
    let rebuilt = rebuild(&HostRunner::default(), &patched, &options).expect("rebuild");
    let rpm = top.join("RPMS/x86_64/vstime-1.0-1.209.1.x86_64.rpm");
    assert_eq!(rebuilt.binary_rpms, vec![rpm.clone()]);
    assert_eq!(
        rebuilt.source_rpms,
        vec![top.join("SRPMS/vstime-1.0-1.209.1.src.rpm")]
    );

    // The new release, as the real rpm reads the header.
    assert_eq!(
        rpm_query(&rpm, "%{NAME}-%{VERSION}-%{RELEASE}"),
        "vstime-1.0-1.209.1"
    );
    // The patch was applied as it says: vs_time makes the time system call.
    let source =
        fs_err::read_to_string(top.join("BUILD/vstime-1.0/vstime.c")).expect("patched source");
    assert!(source.contains("vsyscall removed: time(2) is a real system call (SYS_time = 201)."));
    assert!(!source.contains("0xffffffffff600400"));
    // …and the rebuilt source RPM carries the patch and the edited spec.
    let srpm_files = rpm_query(&rebuilt.source_rpms[0], "[%{FILENAMES}\n]");
    assert!(
        srpm_files.lines().any(|l| l == "remove-vsyscall.patch"),
        "{srpm_files}"
    );

    // No vsyscall use left, in the RPM and in its unpacked tree.
    let report = audit::audit_report(&rpm).expect("audit rebuilt rpm");
    assert_eq!(report.findings, Vec::new());
    assert_eq!(report.elf_files, 3, "{report:?}");
    let root = top.join("root");
    extract_rpm(&rpm, &root);
    assert_eq!(audit::audit(&root).expect("audit rebuilt tree"), Vec::new());

    // The rebuilt program runs and prints the time.
    let out = run(&mut Command::new(root.join("usr/bin/vstime")));
    let printed: i64 = out
        .trim()
        .strip_prefix("time: ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {out:?}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!((printed - now).abs() < 60, "printed {printed}, now {now}");

    // Published as a repo that dnf reads.
    let repo = create_repo(&rebuilt.binary_rpms, &top.join("repo")).expect("createrepo");
    assert!(repo.join("repodata/repomd.xml").is_file());
    if let Some(dnf) = require_tool("dnf") {
        let listed = run(Command::new(dnf)
            .args(["-q", "--setopt=reposdir=/dev/null", "--releasever=6"])
            .arg(format!("--repofrompath=vsys,{}", repo.display()))
            .args([
                "--repo=vsys",
                "repoquery",
                "--qf",
                "%{name}-%{version}-%{release}.%{arch}",
            ])
            .env("HOME", top.as_os_str()));
        assert_eq!(listed.trim(), "vstime-1.0-1.209.1.x86_64");
    }
}

#[test]
fn patch_srpm_refuses_a_binary_rpm() {
    let Some(srpm) = fixture_srpm("srpm-refuse") else {
        return;
    };
    let top = srpm
        .parent()
        .and_then(Path::parent)
        .expect("topdir")
        .to_owned();
    // The binary RPM from a plain rebuild of the fixture.
    run(Command::new("rpmbuild")
        .args(["--rebuild", "--nodeps", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .arg(&srpm));
    let binary = top.join("RPMS/x86_64/vstime-1.0-1.209.x86_64.rpm");
    let err = patch_srpm(&binary, &[], &fresh_dir("refuse-binary")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("`{}` is not a source RPM", binary.display())
    );
}

#[test]
fn check_prep_passes_on_the_original_and_fails_on_a_patch_that_does_not_apply() {
    use slipway_vsyscall::rebuild::check_prep;
    use slipway_vsyscall::srpm::patch_unpacked;
    let Some(srpm) = fixture_srpm("srpm-prep") else {
        return;
    };
    let top = fresh_dir("prep-check");
    let unpacked = unpack(&srpm, &top, &Owners::Keep).expect("unpack");
    check_prep(&HostRunner::default(), &unpacked, true).expect("original %prep applies");
    // A patch for another tree: the new %patch line fails in %prep.
    let bad = top.join("bad.patch");
    fs_err::write(
        &bad,
        "--- a/BUILD/vstime-1.0/missing.c\n+++ b/BUILD/vstime-1.0/missing.c\n@@ -1 +1 @@\n-a\n+b\n",
    )
    .expect("write");
    let patched =
        patch_unpacked(unpacked, &[PatchFile::new("bad.patch", &bad, "-E -p3")]).expect("edit");
    let err = check_prep(&HostRunner::default(), &patched.srpm, true).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("`rpmbuild --define _topdir "), "{text}");
    assert!(
        text.contains("-bp --nodeps SPECS/vstime.spec` failed"),
        "{text}"
    );
    assert!(text.contains("missing.c"), "{text}");
}
