//! File capabilities: `cap_to_text` form (as stored in `RPMTAG_FILECAPS`)
//! to the `security.capability` extended attribute value.
//!
//! Hand-written: the `rpm` crate validates the text but has no conversion,
//! and pulling libcap (C) in for one 20-byte struct is not worth it. The
//! result is checked against `setcap` + `getfattr` in the tests.

/// Capability names in kernel number order (`CAP_CHOWN` = 0 ...).
const NAMES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// `VFS_CAP_REVISION_2`
const REVISION_2: u32 = 0x0200_0000;
/// `VFS_CAP_FLAGS_EFFECTIVE`
const FLAGS_EFFECTIVE: u32 = 0x1;

/// Why a capability text could not be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapsError(pub String);

fn cap_bits(set: &str) -> Result<u64, CapsError> {
    if set.is_empty() || set.eq_ignore_ascii_case("all") {
        return Ok((1u64 << NAMES.len()) - 1);
    }
    let mut bits = 0u64;
    for name in set.split(',') {
        let lower = name.to_ascii_lowercase();
        let short = lower.strip_prefix("cap_").unwrap_or(&lower);
        let n = match NAMES.iter().position(|n| *n == short) {
            Some(n) => n,
            None => short
                .parse::<usize>()
                .ok()
                .filter(|n| *n < 64)
                .ok_or_else(|| CapsError(format!("unknown capability `{name}`")))?,
        };
        bits |= 1 << n;
    }
    Ok(bits)
}

/// Converts `cap_to_text` syntax (`cap_net_raw=ep`, `cap_a,cap_b+ep cap_c=i`)
/// to a `vfs_cap_data` revision 2 value (20 bytes, little-endian).
pub fn to_xattr(text: &str) -> Result<Vec<u8>, CapsError> {
    // [effective, permitted, inheritable]
    let mut sets = [0u64; 3];
    for clause in text.split_whitespace() {
        let op_at = clause
            .find(['=', '+', '-'])
            .ok_or_else(|| CapsError(format!("no operator in `{clause}`")))?;
        let caps = cap_bits(&clause[..op_at])?;
        let mut rest = &clause[op_at..];
        while let Some(op) = rest.chars().next() {
            let end = rest[1..]
                .find(['=', '+', '-'])
                .map_or(rest.len(), |i| i + 1);
            let flags = &rest[1..end];
            if op == '=' {
                for s in &mut sets {
                    *s &= !caps;
                }
            }
            for f in flags.chars() {
                let idx = match f {
                    'e' => 0,
                    'p' => 1,
                    'i' => 2,
                    other => {
                        return Err(CapsError(format!("unknown flag `{other}` in `{clause}`")));
                    }
                };
                match op {
                    '-' => sets[idx] &= !caps,
                    _ => sets[idx] |= caps,
                }
            }
            rest = &rest[end..];
        }
    }
    let [effective, permitted, inheritable] = sets;
    let magic = REVISION_2 | if effective != 0 { FLAGS_EFFECTIVE } else { 0 };
    let mut out = Vec::with_capacity(20);
    // Truncating casts split each 64-bit set into its low and high words.
    for word in [
        magic,
        permitted as u32,
        inheritable as u32,
        (permitted >> 32) as u32,
        (inheritable >> 32) as u32,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_raw_ep() {
        let x = to_xattr("cap_net_raw=ep").unwrap();
        assert_eq!(
            x,
            [
                1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(to_xattr("cap_net_raw+ep").unwrap(), x);
        assert!(to_xattr("cap_bogus=ep").is_err());
        let bpf = to_xattr("cap_bpf=p").unwrap();
        assert_eq!(&bpf[..4], &[0, 0, 0, 2]);
        assert_eq!(bpf[12], 0x80);
    }
}
