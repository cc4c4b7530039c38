//! Platforms (`linux/386`, `linux/arm64/v8`) and choosing one from an index.
//!
//! Hand-written rather than oci-client's resolver, which ignores variants and
//! only knows the host architecture: the build needs `linux/386` on amd64.

use std::fmt;

use crate::error::{Error, Result};
use crate::manifest::Descriptor;

/// An OS/architecture/variant triple in OCI spelling (`386`, `amd64`, `arm64`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `386`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, … if any.
    pub variant: Option<String>,
}

impl Platform {
    /// Parse `OS/ARCH[/VARIANT]`; common aliases (`i386`, `x86_64`, `aarch64`) are normalised.
    pub fn parse(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad = || Error::InvalidPlatform {
            platform: text.to_owned(),
        };
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        Ok(Self {
            os: parts[0].to_ascii_lowercase(),
            architecture: normalise_arch(parts[1]),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }

    /// The platform of this process (`linux/amd64` on x86_64).
    pub fn host() -> Self {
        Self {
            os: std::env::consts::OS.to_owned(),
            architecture: normalise_arch(std::env::consts::ARCH),
            variant: None,
        }
    }

    /// Whether an index entry's platform satisfies this wanted one.
    /// A wanted variant must match (`arm64` without variant counts as `v8`);
    /// no wanted variant accepts any.
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        match &self.variant {
            None => true,
            Some(want) => {
                let have = candidate
                    .variant
                    .as_deref()
                    .or(match candidate.architecture.as_str() {
                        "arm64" => Some("v8"),
                        _ => None,
                    });
                have == Some(want.as_str())
            }
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn normalise_arch(arch: &str) -> String {
    match arch.to_ascii_lowercase().as_str() {
        "i386" | "i486" | "i586" | "i686" | "x86" => "386".to_owned(),
        "x86_64" | "x86-64" => "amd64".to_owned(),
        "aarch64" => "arm64".to_owned(),
        other => other.to_owned(),
    }
}

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
