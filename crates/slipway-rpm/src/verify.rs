//! Integrity (digests) and authenticity (OpenPGP signatures) of RPM files.
//!
//! Digests are computed here, streaming, over the raw bytes of the file
//! (the `rpm` crate's `check_digests` compares `PAYLOADSHA256ALT` against
//! the compressed payload and misreports on rpm 4.18 packages). Signatures
//! are checked with the `rpm` crate's `pgp` verifier, which handles the v3
//! RSA signatures of CentOS 6 / EPEL 6 as well as v4 ones.

use crate::error::{Error, IoContext};
use crate::package::decompress;
use digest::Digest;
use rpm::signature::Verifying;
use rpm::{IndexSignatureTag, IndexTag, PackageMetadata};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Which digests [`verify_digests`] checked (all that were present).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestReport {
    /// Names of the digests that were present and matched, e.g.
    /// `header sha256`, `header+payload md5`, `payload sha256`.
    pub verified: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn check(
    path: &Path,
    what: &str,
    expected: &str,
    actual: &str,
    report: &mut DigestReport,
) -> Result<(), Error> {
    if !expected.eq_ignore_ascii_case(actual) {
        return Err(Error::DigestMismatch {
            path: path.to_owned(),
            what: what.to_owned(),
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        });
    }
    report.verified.push(what.to_owned());
    Ok(())
}

/// Hashes everything a reader yields with several digests at once.
struct Hashers {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    sha512: sha2::Sha512,
    len: u64,
}

impl Hashers {
    fn new() -> Self {
        Self {
            md5: md5::Md5::new(),
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
            sha512: sha2::Sha512::new(),
            len: 0,
        }
    }
    fn update(&mut self, b: &[u8]) {
        self.md5.update(b);
        self.sha1.update(b);
        self.sha256.update(b);
        self.sha512.update(b);
        self.len += b.len() as u64;
    }
    fn consume(&mut self, mut r: impl Read) -> std::io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            self.update(&buf[..n]);
        }
    }
    fn by_algo(&self, algo: u32) -> Option<String> {
        Some(match algo {
            1 => hex(&self.md5.clone().finalize()),
            2 => hex(&self.sha1.clone().finalize()),
            8 => hex(&self.sha256.clone().finalize()),
            10 => hex(&self.sha512.clone().finalize()),
            _ => return None,
        })
    }
}

/// Parsed metadata, the raw main header bytes, and the file positioned at
/// the start of the payload.
fn parse(path: &Path) -> Result<(PackageMetadata, Vec<u8>, fs_err::File), Error> {
    let mut file = fs_err::File::open(path).at(path)?;
    let raw = crate::rawheader::read_headers(&mut BufReader::new(&mut file), path)?;
    let (meta, _) = crate::package::parse_checked(&raw.bytes, path)?;
    file.seek(SeekFrom::Start(raw.bytes.len() as u64))
        .at(path)?;
    Ok((meta, raw.header().to_vec(), file))
}

/// Checks every digest the package carries: header SHA-1/SHA-256 (signature
/// header), header+payload MD5 and size, payload digest (compressed) and
/// payload digest "alt" (uncompressed).
///
/// Fails when a digest does not match, and when there is no header digest at
/// all. File content digests are not part of this.
pub fn verify_digests(path: impl AsRef<Path>) -> Result<DigestReport, Error> {
    let path = path.as_ref();
    let (meta, header_bytes, mut file) = parse(path)?;
    let mut report = DigestReport::default();
    let mut h = Hashers::new();
    h.update(&header_bytes);
    let sig = &meta.signature;
    let mut header_digest = false;
    if let Ok(expected) = sig.get_entry_data_as_string(IndexSignatureTag::RPMSIGTAG_SHA256) {
        check(
            path,
            "header sha256",
            expected,
            &h.by_algo(8).unwrap_or_default(),
            &mut report,
        )?;
        header_digest = true;
    }
    if let Ok(expected) = sig.get_entry_data_as_string(IndexSignatureTag::RPMSIGTAG_SHA1) {
        check(
            path,
            "header sha1",
            expected,
            &h.by_algo(2).unwrap_or_default(),
            &mut report,
        )?;
        header_digest = true;
    }
    if !header_digest {
        return Err(Error::NoDigest {
            path: path.to_owned(),
            what: "header".into(),
        });
    }
    // Stream the payload once: hash the compressed bytes (and header+payload),
    // and tee them into the decompressor for the uncompressed digest.
    let mut payload = Hashers::new();
    let compressor = meta
        .header
        .get_entry_data_as_string(IndexTag::RPMTAG_PAYLOADCOMPRESSOR)
        .unwrap_or("gzip")
        .to_owned();
    let alt_wanted = meta
        .header
        .entry_is_present(IndexTag::RPMTAG_PAYLOADSHA256ALT)
        || meta
            .header
            .entry_is_present(IndexTag::RPMTAG_PAYLOAD_SHA512_ALT);
    let mut uncompressed = Hashers::new();
    {
        let tee = TeeReader {
            inner: BufReader::new(&mut file),
            a: &mut h,
            b: &mut payload,
        };
        if alt_wanted {
            let mut d = decompress(&compressor, BufReader::new(tee), path)?;
            uncompressed.consume(&mut d).map_err(|e| Error::Cpio {
                path: path.to_owned(),
                offset: uncompressed.len,
                reason: format!("cannot decompress payload: {e}"),
            })?;
            // Hash any trailing bytes the decompressor did not need.
            let mut rest = BufReader::new(d);
            std::io::copy(&mut rest, &mut std::io::sink()).at(path)?;
        } else {
            let mut tee = tee;
            std::io::copy(&mut tee, &mut std::io::sink()).at(path)?;
        }
    }
    if let Ok(expected) = sig.get_entry_data_as_binary(IndexSignatureTag::RPMSIGTAG_MD5) {
        check(
            path,
            "header+payload md5",
            &hex(expected),
            &h.by_algo(1).unwrap_or_default(),
            &mut report,
        )?;
    }
    let size = sig
        .get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGSIZE)
        .ok()
        .or_else(|| {
            sig.get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_SIZE)
                .ok()
                .map(u64::from)
        });
    if let Some(expected) = size {
        check(
            path,
            "header+payload size",
            &expected.to_string(),
            &h.len.to_string(),
            &mut report,
        )?;
    }
    // PAYLOADDIGEST (5092) and PAYLOADDIGESTALT (5097) use the algorithm of
    // PAYLOADDIGESTALGO (5093), SHA-256 in practice; rpm 6 adds SHA-512 tags.
    let algo = meta
        .header
        .get_entry_data_as_u32(IndexTag::RPMTAG_PAYLOADSHA256ALGO)
        .unwrap_or(8);
    let h = &meta.header;
    let first = |tag: IndexTag| -> Option<String> {
        h.get_entry_data_as_string_array(tag)
            .ok()
            .and_then(|v| v.first().map(|s| (*s).to_owned()))
            .or_else(|| h.get_entry_data_as_string(tag).ok().map(str::to_owned))
    };
    let digests = [
        (IndexTag::RPMTAG_PAYLOADSHA256, "payload", &payload, algo),
        (
            IndexTag::RPMTAG_PAYLOADSHA256ALT,
            "uncompressed payload",
            &uncompressed,
            algo,
        ),
        (
            IndexTag::RPMTAG_PAYLOAD_SHA512,
            "payload sha512",
            &payload,
            10,
        ),
        (
            IndexTag::RPMTAG_PAYLOAD_SHA512_ALT,
            "uncompressed payload sha512",
            &uncompressed,
            10,
        ),
    ];
    for (tag, what, hashers, algo) in digests {
        if let (Some(e), Some(actual)) = (first(tag), hashers.by_algo(algo)) {
            check(path, what, &e, &actual, &mut report)?;
        }
    }
    Ok(report)
}

/// A reader that feeds everything it reads to two hashers.
struct TeeReader<'a, R> {
    inner: R,
    a: &'a mut Hashers,
    b: &'a mut Hashers,
}

impl<R: Read> Read for TeeReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.a.update(&buf[..n]);
        self.b.update(&buf[..n]);
        Ok(n)
    }
}

/// A set of trusted public keys.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    verifier: rpm::signature::pgp::Verifier,
    count: usize,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the keys of an ASCII-armoured key block; `name` is used in errors.
    pub fn add_armored(&mut self, armored: &[u8], name: &str) -> Result<(), Error> {
        self.verifier
            .load_from_asc_bytes(armored)
            .map_err(|e| Error::Key {
                name: name.to_owned(),
                reason: e.to_string(),
            })?;
        self.count += 1;
        Ok(())
    }

    /// Adds the keys of an ASCII-armoured key file.
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let bytes = fs_err::read(path).at(path)?;
        self.add_armored(&bytes, &path.display().to_string())
    }
}

/// What [`verify_signature`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    /// Signatures verified: `header` (v4 header-only) and/or
    /// `header+payload` (legacy v3), with the issuer key id.
    pub verified: Vec<(String, String)>,
}

/// The issuer key id of a v3 signature packet (read from its fixed layout),
/// else the first one the `rpm` crate reports for the header signatures.
fn key_id(sig: &[u8], meta: &PackageMetadata) -> String {
    let body = match sig.first() {
        // Old-format packet: length type in the low two bits.
        Some(b) if b & 0x40 == 0 => match b & 3 {
            0 => sig.get(2..),
            1 => sig.get(3..),
            2 => sig.get(5..),
            _ => sig.get(1..),
        },
        // New-format packet.
        Some(_) => match sig.get(1) {
            Some(l) if *l < 192 => sig.get(2..),
            Some(l) if *l < 224 => sig.get(3..),
            _ => sig.get(6..),
        },
        None => None,
    };
    if let Some(body) = body
        && body.first() == Some(&3)
        && let Some(id) = body.get(7..15)
    {
        return hex(id);
    }
    meta.signatures()
        .ok()
        .and_then(|v| {
            v.first()
                .and_then(|i| i.key_id().or(i.fingerprint()).map(str::to_owned))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Verifies every signature of the RPM at `path` against `keys`: the
/// header-only signature (`RSAHEADER`/`DSAHEADER`/`OPENPGP`) over the header,
/// and the legacy header+payload signature (`PGP`/`GPG`) over header and
/// payload. Fails if the package is unsigned or any signature does not verify.
/// Digests are not part of this: call [`verify_digests`] too.
pub fn verify_signature(path: impl AsRef<Path>, keys: &Keyring) -> Result<SignatureReport, Error> {
    let path = path.as_ref();
    let (meta, mut signed, mut file) = parse(path)?;
    let header_len = signed.len();
    file.read_to_end(&mut signed).at(path)?;
    let sig = &meta.signature;
    let mut todo: Vec<(&str, Vec<u8>, &[u8])> = Vec::new();
    if let Ok(openpgp) = sig.get_entry_data_as_string_array(IndexSignatureTag::RPMSIGTAG_OPENPGP) {
        for s in openpgp {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| Error::Malformed {
                    path: path.to_owned(),
                    reason: format!("OPENPGP signature is not base64: {e}"),
                })?;
            todo.push(("header", bytes, &signed[..header_len]));
        }
    }
    for tag in [
        IndexSignatureTag::RPMSIGTAG_RSA,
        IndexSignatureTag::RPMSIGTAG_DSA,
    ] {
        if let Ok(b) = sig.get_entry_data_as_binary(tag) {
            todo.push(("header", b.to_vec(), &signed[..header_len]));
        }
    }
    for tag in [
        IndexSignatureTag::RPMSIGTAG_PGP,
        IndexSignatureTag::RPMSIGTAG_GPG,
    ] {
        if let Ok(b) = sig.get_entry_data_as_binary(tag) {
            todo.push(("header+payload", b.to_vec(), &signed[..]));
        }
    }
    if todo.is_empty() {
        return Err(Error::Unsigned {
            path: path.to_owned(),
        });
    }
    let mut report = SignatureReport {
        verified: Vec::new(),
    };
    for (scope, sig_bytes, data) in todo {
        let id = key_id(&sig_bytes, &meta);
        if keys.count == 0 {
            return Err(Error::BadSignature {
                path: path.to_owned(),
                key_id: id,
                reason: "no keys configured".into(),
            });
        }
        keys.verifier
            .verify(data, &sig_bytes)
            .map_err(|e| Error::BadSignature {
                path: path.to_owned(),
                key_id: id.clone(),
                reason: format!("{scope} signature: {e}"),
            })?;
        report.verified.push((scope.to_owned(), id));
    }
    Ok(report)
}
