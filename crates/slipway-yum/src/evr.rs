//! Versions and dependency relations: EVR comparison and
//! `Requires: name >= evr` style ranges, on `slipway-rpm`'s `rpmvercmp`.

use std::cmp::Ordering;
use std::fmt;

/// rpm's `rpmvercmp`: compare two version (or release) strings
/// (`slipway-rpm`'s port, checked against python3-rpm there).
pub use slipway_rpm::rpmvercmp;

/// Epoch, version and release of a package or a dependency.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Evr {
    /// Epoch (0 when absent).
    pub epoch: u32,
    /// Version.
    pub version: String,
    /// Release; empty when a dependency names none.
    pub release: String,
}

impl Evr {
    /// Build an EVR.
    pub fn new(epoch: u32, version: impl Into<String>, release: impl Into<String>) -> Self {
        Self {
            epoch,
            version: version.into(),
            release: release.into(),
        }
    }

    /// Parse `[epoch:]version[-release]`.
    pub fn parse(text: &str) -> Self {
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) if e.chars().all(|c| c.is_ascii_digit()) => {
                (e.parse().unwrap_or(0), rest)
            }
            _ => (0, text),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, r),
            None => (rest, ""),
        };
        Self::new(epoch, version, release)
    }

    /// Compare two EVRs as rpm does. An empty release on either side
    /// matches any release (as in a `Requires: foo >= 1.0`).
    pub fn rpm_cmp(&self, other: &Evr) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| {
                if self.release.is_empty() || other.release.is_empty() {
                    Ordering::Equal
                } else {
                    rpmvercmp(&self.release, &other.release)
                }
            })
    }
}

impl fmt::Display for Evr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.version)?;
        if !self.release.is_empty() {
            write!(f, "-{}", self.release)?;
        }
        Ok(())
    }
}

/// `name-[epoch:]version-release.arch`, the epoch only when not 0 (as yum
/// and `rpm -q --qf '%{NEVRA}'` print it).
pub fn nevra(name: &str, epoch: u32, version: &str, release: &str, arch: &str) -> String {
    let epoch = if epoch == 0 {
        String::new()
    } else {
        format!("{epoch}:")
    };
    format!("{name}-{epoch}{version}-{release}.{arch}")
}

/// The comparison of a versioned dependency (`flags` in repodata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl Flag {
    /// Parse repodata's `EQ`, `LT`, `GT`, `LE`, `GE`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "EQ" => Flag::Eq,
            "LT" => Flag::Lt,
            "GT" => Flag::Gt,
            "LE" => Flag::Le,
            "GE" => Flag::Ge,
            _ => return None,
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            Flag::Eq => "=",
            Flag::Lt => "<",
            Flag::Gt => ">",
            Flag::Le => "<=",
            Flag::Ge => ">=",
        }
    }

    fn bits(self) -> (bool, bool, bool) {
        // (less, equal, greater)
        match self {
            Flag::Eq => (false, true, false),
            Flag::Lt => (true, false, false),
            Flag::Gt => (false, false, true),
            Flag::Le => (true, true, false),
            Flag::Ge => (false, true, true),
        }
    }
}

/// One dependency entry: `name [flag evr]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dep {
    /// The capability name (package name, virtual provide, file path, soname).
    pub name: String,
    /// The relation, if versioned.
    pub flag: Option<Flag>,
    /// The version bound, if versioned.
    pub evr: Option<Evr>,
}

impl Dep {
    /// An unversioned dependency.
    pub fn name(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            flag: None,
            evr: None,
        }
    }

    /// Does a provide `provide` satisfy this requirement (names already equal)?
    ///
    /// Ranges overlap as in rpm's `rpmdsCompare`: an unversioned side always
    /// matches; otherwise compare the two EVRs and check that the ranges meet.
    pub fn range_overlaps(&self, provide: &Dep) -> bool {
        let (Some(rf), Some(re), Some(pf), Some(pe)) = (
            self.flag,
            self.evr.as_ref(),
            provide.flag,
            provide.evr.as_ref(),
        ) else {
            return true;
        };
        // rpm's rpmdsCompare with A = the provide, B = the requirement.
        let (a_lt, a_eq, a_gt) = pf.bits();
        let (b_lt, b_eq, b_gt) = rf.bits();
        match pe.rpm_cmp(re) {
            Ordering::Less => a_gt || b_lt,
            Ordering::Greater => a_lt || b_gt,
            Ordering::Equal => (a_eq && b_eq) || (a_lt && b_lt) || (a_gt && b_gt),
        }
    }

    /// Does a package with exactly `evr` satisfy this requirement?
    pub fn matches_evr(&self, evr: &Evr) -> bool {
        let (Some(flag), Some(bound)) = (self.flag, self.evr.as_ref()) else {
            return true;
        };
        let ord = evr.rpm_cmp(bound);
        match flag {
            Flag::Eq => ord == Ordering::Equal,
            Flag::Lt => ord == Ordering::Less,
            Flag::Gt => ord == Ordering::Greater,
            Flag::Le => ord != Ordering::Greater,
            Flag::Ge => ord != Ordering::Less,
        }
    }
}

impl fmt::Display for Dep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let (Some(flag), Some(evr)) = (self.flag, &self.evr) {
            write!(f, " {} {evr}", flag.symbol())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vercmp_table() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("010", "10", Equal),
            ("a", "1", Less),
            ("1.el6", "1.el6_9", Less),
            ("2.12", "2.9", Greater),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn ranges() {
        let req = |f, e: &str| Dep {
            name: "x".into(),
            flag: Some(f),
            evr: Some(Evr::parse(e)),
        };
        assert!(req(Flag::Ge, "1.0").range_overlaps(&req(Flag::Eq, "1.2-1")));
        assert!(!req(Flag::Ge, "1.3").range_overlaps(&req(Flag::Eq, "1.2-1")));
        assert!(req(Flag::Lt, "2").range_overlaps(&req(Flag::Eq, "1.2-1")));
        assert!(!req(Flag::Lt, "1.2").range_overlaps(&req(Flag::Eq, "1.2-1")));
        assert!(req(Flag::Eq, "1.2").range_overlaps(&req(Flag::Eq, "1.2-1")));
        assert!(req(Flag::Ge, "1.0").range_overlaps(&req(Flag::Ge, "0.5")));
        assert!(!req(Flag::Lt, "1.0").range_overlaps(&req(Flag::Gt, "1.0")));
    }
}
