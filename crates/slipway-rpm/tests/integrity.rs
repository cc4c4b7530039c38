//! Digests, signatures and damaged files: the EPEL 6 signature against the
//! EPEL 6 key, a v4 signature made by `rpmsign` with a key made by `gpg`,
//! and corrupted / truncated packages that must fail with a clear error
//! naming the file, never a panic.

mod common;

use common::{all_rpms, q, scratch, sh};
use slipway_rpm::{Error, Keyring, Package, extract_to, verify_digests, verify_signature};
use std::path::{Path, PathBuf};

fn epel_release() -> PathBuf {
    slipway_test_support::real_world_rpms().join("epel-release-6-8.noarch.rpm")
}

/// The EPEL 6 key, taken out of `epel-release-6-8.noarch.rpm` itself.
fn epel_key(work: &Path) -> PathBuf {
    extract_to(epel_release(), work).unwrap();
    work.join("etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-6")
}

/// An unrelated RSA key, ASCII-armoured: Debian's bookworm archive key.
fn wrong_key() -> Option<Vec<u8>> {
    slipway_test_support::require_tool("gpg")?;
    let keyring = "/usr/share/keyrings/debian-archive-bookworm-stable.gpg";
    let out = sh(&format!(
        "gpg --homedir \"$(mktemp -d)\" --no-default-keyring --keyring {keyring} --export --armor 2>/dev/null"
    ));
    assert!(out.contains("BEGIN PGP PUBLIC KEY BLOCK"));
    Some(out.into_bytes())
}

#[test]
fn epel6_signature_verifies_with_epel6_key_only() {
    let work = scratch("epel");
    let key = epel_key(work.path());
    let mut keys = Keyring::new();
    keys.add_file(&key).unwrap();
    let report = verify_signature(epel_release(), &keys).unwrap();
    // CentOS 6 era: a v3 RSA/SHA256 header signature and a header+payload one.
    let scopes: Vec<_> = report.verified.iter().map(|(s, _)| s.as_str()).collect();
    assert!(scopes.contains(&"header"), "{report:?}");
    assert!(scopes.contains(&"header+payload"), "{report:?}");
    assert!(
        report
            .verified
            .iter()
            .all(|(_, id)| id.ends_with("0608b895")),
        "{report:?}"
    );

    let Some(wrong) = wrong_key() else { return };
    let mut keys = Keyring::new();
    keys.add_armored(&wrong, "debian-archive").unwrap();
    let err = verify_signature(epel_release(), &keys).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("epel-release-6-8.noarch.rpm"), "{msg}");
    assert!(msg.contains("0608b895"), "{msg}");
    // No keys at all is a failure too.
    assert!(verify_signature(epel_release(), &Keyring::new()).is_err());
}

#[test]
fn unsigned_fixture_is_reported_unsigned() {
    let Some(rpm) = common::fixture("slip-epoch-") else {
        return;
    };
    let err = verify_signature(&rpm, &Keyring::new()).unwrap_err();
    assert!(matches!(err, Error::Unsigned { .. }), "{err:?}");
    assert!(err.to_string().contains("slip-epoch"), "{err}");
}

#[test]
fn rpmsign_v4_signatures_verify_sha256_and_sha1() {
    let Some(rpm) = common::fixture("slip-modern-") else {
        return;
    };
    if slipway_test_support::require_tool("gpg").is_none()
        || slipway_test_support::require_tool("rpmsign").is_none()
    {
        return;
    }
    let work = scratch("sign");
    let home = work.path().join("gnupg");
    fs_err::create_dir_all(&home).unwrap();
    sh(&format!(
        "chmod 700 {h} && gpg --homedir {h} --batch --passphrase '' \
         --quick-gen-key 'slipway test <test@slipway.invalid>' rsa2048 sign never 2>/dev/null",
        h = q(&home)
    ));
    let key = sh(&format!("gpg --homedir {} --export --armor", q(&home)));
    let mut keys = Keyring::new();
    keys.add_armored(key.as_bytes(), "test key").unwrap();
    // SHA-256 as current distributions sign; SHA-1 as CentOS 6 did.
    for algo in ["sha256", "sha1"] {
        let signed = work.path().join(format!("signed-{algo}.rpm"));
        fs_err::copy(&rpm, &signed).unwrap();
        sh(&format!(
            "rpmsign --addsign --define '__gpg /usr/bin/gpg' --define '_gpg_path {}' \
             --define '_gpg_name slipway test' --define '_gpg_digest_algo {algo}' {} >/dev/null 2>&1",
            home.display(),
            q(&signed)
        ));
        let what = sh(&format!(
            "rpm -qp --qf '%{{RSAHEADER:pgpsig}}' {}",
            q(&signed)
        ));
        assert!(
            what.starts_with(&format!("RSA/{}", algo.to_uppercase())),
            "{what}"
        );
        let report = verify_signature(&signed, &keys).unwrap_or_else(|e| panic!("{algo}: {e}"));
        assert!(!report.verified.is_empty());
        verify_digests(&signed).unwrap();

        // Flip a byte inside the signed header: the signature must fail.
        let mut bytes = fs_err::read(&signed).unwrap();
        let pkg = Package::open(&signed).unwrap();
        let offsets = pkg.metadata.get_package_segment_offsets();
        let at = usize::try_from(offsets.payload).unwrap() - 8;
        bytes[at] ^= 0x20;
        let tampered = work.path().join("tampered.rpm");
        fs_err::write(&tampered, &bytes).unwrap();
        let err = verify_signature(&tampered, &keys).unwrap_err();
        assert!(err.to_string().contains("tampered.rpm"), "{err}");
        assert!(verify_digests(&tampered).is_err());
    }
}

#[test]
fn digests_agree_with_rpm_checksig() {
    let Some(rpms) = all_rpms() else { return };
    for rpm in &rpms {
        let report = verify_digests(rpm).unwrap_or_else(|e| panic!("{e}"));
        assert!(!report.verified.is_empty(), "{}", rpm.display());
        // rpm itself agrees the package is intact.
        sh(&format!("rpm -K --nosignature {} >/dev/null", q(rpm)));
    }
    // rpm 4.18 packages carry an uncompressed-payload digest; it is checked.
    let Some(files) = common::fixture("slip-files-") else {
        return;
    };
    let report = verify_digests(&files).unwrap();
    assert!(
        report.verified.iter().any(|v| v == "uncompressed payload"),
        "{report:?}"
    );
}

/// Every way of damaging `rpm` we try, with the damaged bytes.
fn damaged(rpm: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = fs_err::read(rpm).unwrap();
    let pkg = Package::open(rpm).unwrap();
    let o = pkg.metadata.get_package_segment_offsets();
    let (header, payload) = (o.header as usize, o.payload as usize);
    let mut out = Vec::new();
    for cut in [
        0,
        10,
        95,
        100,
        header - 1,
        header + 20,
        payload - 1,
        payload + 10,
        bytes.len() - 1,
    ] {
        out.push((format!("truncated at {cut}"), bytes[..cut].to_vec()));
    }
    for at in [
        0,
        97,
        header + 3,
        header + 40,
        payload - 3,
        payload + 2,
        payload + 40,
        bytes.len() - 5,
    ] {
        let mut b = bytes.clone();
        b[at] ^= 0xff;
        out.push((format!("byte {at} flipped"), b));
    }
    out
}

#[test]
fn damaged_rpms_give_clear_errors_not_panics() {
    let Some(mut rpms) = all_rpms() else { return };
    rpms.retain(|p| !p.to_string_lossy().ends_with(".src.rpm"));
    let work = scratch("damage");
    for rpm in &rpms {
        for (how, bytes) in damaged(rpm) {
            let path = work.path().join("damaged.rpm");
            fs_err::write(&path, &bytes).unwrap();
            // Digest verification must notice every change.
            let err = verify_digests(&path).expect_err(&format!("{how} of {}", rpm.display()));
            assert!(
                err.to_string().contains("damaged.rpm"),
                "{how}: error does not name the file: {err}"
            );
            // Reading and unpacking may succeed (a flipped byte in a file's
            // content is only caught by digests) but must never panic, and
            // errors must name the file.
            let out = work.path().join("out");
            let _ = fs_err::remove_dir_all(&out);
            if let Err(e) = extract_to(&path, &out) {
                assert!(e.to_string().contains("damaged.rpm"), "{how}: {e}");
            }
            // Make the tree writable again for the next round.
            if out.exists() {
                sh(&format!("chmod -R u+rwx {}", q(&out)));
            }
        }
    }
}

#[test]
fn extraction_checks_file_digests() {
    let Some(rpm) = common::fixture("slip-epoch-") else {
        return;
    };
    let h = slipway_rpm::read_header(&rpm).unwrap();
    let f = h.files.iter().find(|f| f.is_regular()).unwrap();
    let digest = f.digest.clone().unwrap();
    // Change the recorded digest of one file inside the header.
    let mut bytes = fs_err::read(&rpm).unwrap();
    let at = bytes
        .windows(digest.len())
        .position(|w| w == digest.as_bytes())
        .unwrap();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    let work = scratch("filedigest");
    let bad = work.path().join("bad-digest.rpm");
    fs_err::write(&bad, &bytes).unwrap();
    let err = extract_to(&bad, work.path().join("out")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert!(
        msg.contains("bad-digest.rpm") && msg.contains(&f.path),
        "{msg}"
    );
    // rpm agrees the package is broken (its header digest no longer matches).
    assert!(verify_digests(&bad).is_err());
}
