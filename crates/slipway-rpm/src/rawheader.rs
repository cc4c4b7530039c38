//! Structural checks of the lead and header blocks before the `rpm` crate
//! parses them.
//!
//! The `rpm` crate trusts index offsets and counts and panics (slice out of
//! range, huge allocations) on damaged headers; rpm itself rejects those in
//! `hdrblobVerifyInfo`. This module reads the raw blocks with the same limits
//! and checks every index entry's data lies inside the data store, so that
//! the crate only ever sees well-formed structures.

use crate::error::Error;
use std::io::Read;
use std::path::Path;

const LEAD_SIZE: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 3] = [0x8e, 0xad, 0xe8];
/// rpm's `hdrchkTags`: at most this many index entries.
const MAX_ENTRIES: u32 = 0x00ff_ffff;
/// rpm's `hdrchkData`: at most this many bytes of data.
const MAX_DATA: u32 = 0x0fff_ffff;

/// The raw lead, signature header (with its padding) and main header.
#[derive(Debug, Clone)]
pub(crate) struct RawHeaders {
    /// Lead + signature header + padding + main header, as in the file.
    pub bytes: Vec<u8>,
    /// Offset of the main header in `bytes` (= its offset in the file).
    pub header_start: usize,
}

impl RawHeaders {
    /// The main header's bytes (what header digests and signatures cover).
    pub fn header(&self) -> &[u8] {
        &self.bytes[self.header_start..]
    }
}

fn malformed(path: &Path, reason: impl Into<String>) -> Error {
    Error::Malformed {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn read_exact(r: &mut impl Read, buf: &mut [u8], path: &Path, what: &str) -> Result<(), Error> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            malformed(path, format!("truncated: file ends inside the {what}"))
        } else {
            Error::Io {
                path: path.to_owned(),
                source: e,
            }
        }
    })
}

/// Reads and checks the lead and both header blocks from `r`, leaving it at
/// the start of the payload.
pub(crate) fn read_headers(r: &mut impl Read, path: &Path) -> Result<RawHeaders, Error> {
    let mut bytes = vec![0u8; LEAD_SIZE];
    read_exact(r, &mut bytes, path, "lead")?;
    if bytes[..4] != LEAD_MAGIC {
        return Err(malformed(path, "not an rpm: bad lead magic"));
    }
    read_block(r, path, "signature header", &mut bytes)?;
    let pad = (8 - bytes.len() % 8) % 8;
    let start = bytes.len();
    bytes.resize(start + pad, 0);
    read_exact(r, &mut bytes[start..], path, "signature header padding")?;
    let header_start = bytes.len();
    read_block(r, path, "header", &mut bytes)?;
    Ok(RawHeaders {
        bytes,
        header_start,
    })
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads one header block (intro, index, data store) onto `out`, checking it.
fn read_block(r: &mut impl Read, path: &Path, what: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    let mut intro = [0u8; 16];
    read_exact(r, &mut intro, path, what)?;
    if intro[..3] != HEADER_MAGIC || intro[3] != 1 {
        return Err(malformed(path, format!("{what}: bad magic")));
    }
    let entries = be32(&intro[8..12]);
    let data_len = be32(&intro[12..16]);
    if entries == 0 || entries > MAX_ENTRIES || data_len > MAX_DATA {
        return Err(malformed(
            path,
            format!("{what}: {entries} entries, {data_len} data bytes: out of range"),
        ));
    }
    let index_len = entries as usize * 16;
    let start = out.len();
    out.extend_from_slice(&intro);
    out.resize(start + 16 + index_len + data_len as usize, 0);
    read_exact(r, &mut out[start + 16..], path, what)?;
    let index = &out[start + 16..start + 16 + index_len];
    let store = &out[start + 16 + index_len..];
    for (i, e) in index.chunks_exact(16).enumerate() {
        let (tag, ty, offset, count) =
            (be32(&e[0..]), be32(&e[4..]), be32(&e[8..]), be32(&e[12..]));
        let bad = |why: &str| {
            malformed(
                path,
                format!("{what}: index entry {i} (tag {tag}, type {ty}): {why}"),
            )
        };
        let offset = offset as usize;
        let Some(rest) = store.get(offset..) else {
            return Err(bad("offset outside the data store"));
        };
        let count = count as usize;
        let fixed = match ty {
            0 => Some(0),
            1 | 2 | 7 => Some(1),
            3 => Some(2),
            4 => Some(4),
            5 => Some(8),
            6 | 8 | 9 => None,
            _ => return Err(bad("unknown type")),
        };
        match fixed {
            Some(size) => {
                if count.checked_mul(size).is_none_or(|n| n > rest.len()) {
                    return Err(bad("data extends past the data store"));
                }
            }
            None => {
                if ty == 6 && count != 1 {
                    return Err(bad("string with count other than 1"));
                }
                let nuls = rest.iter().filter(|b| **b == 0).take(count).count();
                if nuls < count {
                    return Err(bad("unterminated string data"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_without_panicking() {
        let p = Path::new("x.rpm");
        for input in [&b""[..], &[0xed, 0xab, 0xee, 0xdb][..], &[0u8; 200][..]] {
            assert!(read_headers(&mut &input[..], p).is_err());
        }
        let mut lead = vec![0u8; 96];
        lead[..4].copy_from_slice(&LEAD_MAGIC);
        // A header claiming an entry pointing far outside its store.
        let mut h = lead.clone();
        h.extend_from_slice(&[0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4]);
        h.extend_from_slice(&[0, 0, 3, 0xe8, 0, 0, 0, 4, 0xff, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0, 0, 0, 0]);
        let err = read_headers(&mut &h[..], p).unwrap_err().to_string();
        assert!(err.contains("x.rpm") && err.contains("outside"), "{err}");
    }
}
