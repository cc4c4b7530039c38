//! Clamping install times in rpm header blobs, as stored in an rpmdb.
//!
//! An rpmdb header blob is the rpm header format without its 8-byte magic:
//! `il` and `dl` (big-endian u32), `il` index entries of 16 bytes (tag,
//! type, offset, count — big-endian), then `dl` bytes of data. rpm adds
//! `INSTALLTIME` and `INSTALLTID` at install time, outside the signed
//! immutable region, so rewriting them keeps `rpm -V` and signatures valid.
//! The rpm crate parses package files, not rpmdb blobs, and cannot rewrite
//! a value in place; these 40 lines do.

use crate::error::{Error, Result};

/// `RPMTAG_INSTALLTIME`.
pub const INSTALLTIME: u32 = 1008;
/// `RPMTAG_INSTALLTID`.
pub const INSTALLTID: u32 = 1128;
const TYPE_INT32: u32 = 4;

/// Clamp every `INSTALLTIME` and `INSTALLTID` value in `blob` to at most
/// `epoch`. Returns how many values changed. `what` names the blob in errors.
pub fn clamp_install_times(blob: &mut [u8], epoch: u32, what: &str) -> Result<usize> {
    let bad = |reason: String| Error::Header {
        what: what.to_owned(),
        reason,
    };
    let word = |data: &[u8], at: usize| -> Option<u32> {
        data.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let il = word(blob, 0).ok_or_else(|| bad("shorter than 8 bytes".into()))? as usize;
    let dl = word(blob, 4).ok_or_else(|| bad("shorter than 8 bytes".into()))? as usize;
    let data_start = 8 + il * 16;
    if blob.len() < data_start + dl {
        return Err(bad(format!(
            "{il} entries and {dl} data bytes need {} bytes, the blob has {}",
            data_start + dl,
            blob.len()
        )));
    }
    let mut changed = 0;
    for i in 0..il {
        let at = 8 + i * 16;
        let (Some(tag), Some(kind), Some(offset), Some(count)) = (
            word(blob, at),
            word(blob, at + 4),
            word(blob, at + 8),
            word(blob, at + 12),
        ) else {
            return Err(bad(format!("index entry {i} is truncated")));
        };
        if tag != INSTALLTIME && tag != INSTALLTID {
            continue;
        }
        if kind != TYPE_INT32 {
            return Err(bad(format!("tag {tag} has type {kind}, expected INT32")));
        }
        for n in 0..count as usize {
            let at = data_start + offset as usize + n * 4;
            if at + 4 > data_start + dl {
                return Err(bad(format!("tag {tag} points outside the data store")));
            }
            let value = word(blob, at).unwrap_or(0);
            if value > epoch {
                blob[at..at + 4].copy_from_slice(&epoch.to_be_bytes());
                changed += 1;
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(entries: &[(u32, u32, u32, u32)], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (tag, kind, offset, count) in entries {
            for v in [tag, kind, offset, count] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn clamps_only_install_tags_and_only_downwards() {
        let mut data = Vec::new();
        data.extend_from_slice(&2_000_000_000u32.to_be_bytes()); // INSTALLTIME
        data.extend_from_slice(&500u32.to_be_bytes()); // INSTALLTID, already older
        data.extend_from_slice(&2_000_000_000u32.to_be_bytes()); // BUILDTIME (1006)
        let mut b = blob(
            &[
                (INSTALLTIME, 4, 0, 1),
                (INSTALLTID, 4, 4, 1),
                (1006, 4, 8, 1),
            ],
            &data,
        );
        assert_eq!(clamp_install_times(&mut b, 1_000, "t").unwrap(), 1);
        let d = &b[8 + 3 * 16..];
        assert_eq!(&d[0..4], &1_000u32.to_be_bytes());
        assert_eq!(&d[4..8], &500u32.to_be_bytes());
        assert_eq!(&d[8..12], &2_000_000_000u32.to_be_bytes());
    }

    #[test]
    fn refuses_truncated_blobs() {
        let mut b = blob(&[(INSTALLTIME, 4, 0, 1)], &[0, 0]);
        assert!(clamp_install_times(&mut b, 1, "t").is_err());
        assert!(clamp_install_times(&mut [0u8; 3], 1, "t").is_err());
    }
}
