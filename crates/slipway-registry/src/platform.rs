//! Choosing a platform (`linux/386`, `linux/arm64/v8`) from an index; the
//! [`Platform`] type is slipway-oci's.
//!
//! Hand-written rather than oci-client's resolver, which ignores variants and
//! only knows the host architecture: the build needs `linux/386` on amd64.

use crate::error::{Error, Result};
use crate::manifest::Descriptor;

pub use slipway_oci::Platform;

/// Choose the manifest for `wanted` among an index's entries. Entries without
/// a platform (attestations) are ignored; when several match, an entry without
/// a variant is preferred, then the first.
pub fn select<'a>(
    reference: &str,
    manifests: &'a [Descriptor],
    wanted: &Platform,
) -> Result<&'a Descriptor> {
    let candidates: Vec<(&Descriptor, Platform)> = manifests
        .iter()
        .filter_map(|d| d.platform.as_ref().map(|p| (d, p.to_platform())))
        .filter(|(_, p)| p.os != "unknown")
        .collect();
    let mut matching: Vec<&(&Descriptor, Platform)> = candidates
        .iter()
        .filter(|(_, p)| wanted.matches(p))
        .collect();
    matching.sort_by_key(|(_, p)| p.variant.is_some());
    match matching.first() {
        Some((d, _)) => Ok(d),
        None => {
            let mut available: Vec<String> =
                candidates.iter().map(|(_, p)| p.to_string()).collect();
            available.sort();
            available.dedup();
            Err(Error::PlatformNotFound {
                reference: reference.to_owned(),
                wanted: wanted.to_string(),
                available: if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::DescriptorPlatform;

    fn entry(os: &str, arch: &str, variant: Option<&str>, n: u8) -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: format!("sha256:{}", format!("{n:02x}").repeat(32)),
            size: 1,
            platform: Some(DescriptorPlatform {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(Into::into),
            }),
            annotations: None,
        }
    }

    #[test]
    fn chooses_by_os_arch_variant() {
        let list = vec![
            entry("linux", "amd64", None, 1),
            entry("linux", "386", None, 2),
            entry("linux", "arm", Some("v7"), 3),
            entry("linux", "arm", Some("v6"), 4),
            entry("linux", "arm64", None, 5),
            entry("unknown", "unknown", None, 6),
        ];
        let pick =
            |p: &str| select("x", &list, &Platform::parse(p).unwrap()).map(|d| d.digest.clone());
        assert_eq!(pick("linux/386").unwrap(), list[1].digest);
        assert_eq!(pick("linux/i386").unwrap(), list[1].digest);
        assert_eq!(pick("linux/x86_64").unwrap(), list[0].digest);
        assert_eq!(pick("linux/arm/v6").unwrap(), list[3].digest);
        assert_eq!(pick("linux/arm64/v8").unwrap(), list[4].digest);
        let err = pick("linux/s390x").unwrap_err().to_string();
        assert!(
            err.contains("linux/s390x")
                && err.contains(
                    "available: linux/386, linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64"
                ),
            "{err}"
        );
        assert!(Platform::parse("linux").is_err());
    }
}
