//! The payload matrix (`fixtures/payloads`, one package per `_binary_payload`
//! as go-rpmutils tests them: `w.ufdio`, `w6.lzdio`, `w9.bzdio`, `w6.xzdio`,
//! `w3.zstdio`, `w9.gzdio`), built with the real rpmbuild and unpacked by us
//! and by `rpm2cpio | cpio`: the trees must be equal.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{q, sh};

/// `relative path → (kind, mode, content or target)` of everything under `dir`.
fn tree(root: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = fs_err::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let node = if meta.file_type().is_symlink() {
                let target = fs_err::read_link(&path).unwrap();
                ('l', 0, target.into_os_string().into_encoded_bytes())
            } else if meta.is_dir() {
                todo.push(path.clone());
                ('d', mode, Vec::new())
            } else {
                ('f', mode, fs_err::read(&path).unwrap())
            };
            out.insert(rel, node);
        }
    }
    out
}

#[test]
fn every_payload_compressor_unpacks_like_rpm2cpio_cpio() {
    if slipway_test_support::require_tool("rpmbuild").is_none()
        || slipway_test_support::require_tool("rpm2cpio").is_none()
        || slipway_test_support::require_tool("cpio").is_none()
    {
        return;
    }
    let specs = slipway_test_support::fixtures_dir().join("payloads");
    let rpms = slipway_test_support::fixtures::build_rpms(&specs, "payloads");
    let rpms = slipway_test_support::fixtures::rpm_files(&rpms);
    let mut compressors = Vec::new();
    for rpm in &rpms {
        let (_work, theirs, ours) = common::unpack_both(rpm, "payload");
        let (t, o) = (tree(&theirs), tree(&ours));
        assert!(t.len() >= 4, "{}: {t:?}", rpm.display());
        // cpio makes the parents the archive does not list with its own
        // modes; compare what the package holds.
        for (path, node) in t.iter().filter(|(p, _)| p.contains("slip-payload-")) {
            assert_eq!(o.get(path), Some(node), "{path} in {}", rpm.display());
        }
        let compressor = sh(&format!("rpm -qp --qf '%{{PAYLOADCOMPRESSOR}}' {}", q(rpm)));
        compressors.push(compressor.trim().to_owned());
    }
    compressors.sort();
    // `w.ufdio` leaves the tag out (rpm prints `(none)`).
    assert_eq!(
        compressors,
        ["(none)", "bzip2", "gzip", "lzma", "xz", "zstd"],
        "{rpms:?}"
    );
}
