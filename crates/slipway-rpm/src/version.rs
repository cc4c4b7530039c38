//! Version comparison exactly as rpm does it.
//!
//! [`rpmvercmp`] is a byte-for-byte port of `rpmvercmp()` from rpm 4.18's
//! `rpmio/rpmvercmp.c` (with `~` sorting before everything and `^` sorting
//! after the base version but before any further segment). [`Evr`] is an
//! `epoch:version-release` triple ordered as `rpm.labelCompare` orders it.
//!
//! Hand-written rather than taken from a crate because the function is short,
//! must match rpm exactly, and is checked against `python3-rpm` on a table of
//! several hundred pairs in `tests/version.rs`.
//!
//! ```
//! use slipway_rpm::version::{rpmvercmp, Evr};
//! use std::cmp::Ordering;
//!
//! assert_eq!(rpmvercmp("1.0~rc1", "1.0"), Ordering::Less);
//! assert_eq!(rpmvercmp("1.0^git1", "1.0"), Ordering::Greater);
//! let old: Evr = "2.6.32-754.el6".parse().unwrap();
//! let new: Evr = "1:2.0-1".parse().unwrap();
//! assert!(old < new);
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Compares two version (or release) strings as rpm's `rpmvercmp()` does.
///
/// Segments are maximal runs of ASCII digits or ASCII letters; any other byte
/// separates segments. Numeric segments compare as numbers (leading zeros
/// ignored) and are newer than alphabetic ones; `~` sorts before anything,
/// even the end of the string; `^` sorts after the end of the string but
/// before any other segment.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    rpmvercmp_bytes(a.as_bytes(), b.as_bytes())
}

/// [`rpmvercmp`] on raw bytes (header strings are not always UTF-8).
pub fn rpmvercmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let is_sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    // Index helpers: a NUL-terminated C string reads 0 past its end.
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        while i < a.len() && is_sep(a[i]) {
            i += 1;
        }
        while j < b.len() && is_sep(b[j]) {
            j += 1;
        }
        let (c1, c2) = (at(a, i), at(b, j));
        // Tilde sorts before everything else.
        if c1 == b'~' || c2 == b'~' {
            if c1 != b'~' {
                return Ordering::Greater;
            }
            if c2 != b'~' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // Caret: like tilde, except that the end of a string sorts lower.
        if c1 == b'^' || c2 == b'^' {
            if c1 == 0 {
                return Ordering::Less;
            }
            if c2 == 0 {
                return Ordering::Greater;
            }
            if c1 != b'^' {
                return Ordering::Greater;
            }
            if c2 != b'^' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if c1 == 0 || c2 == 0 {
            break;
        }
        let isnum = c1.is_ascii_digit();
        let class = |c: u8| {
            if isnum {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (mut e1, mut e2) = (i, j);
        while e1 < a.len() && class(a[e1]) {
            e1 += 1;
        }
        while e2 < b.len() && class(b[e2]) {
            e2 += 1;
        }
        // `a` has a non-empty segment here; an empty one in `b` means the
        // segment types differ: numeric is newer than alphabetic.
        if e2 == j {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut s1, mut s2) = (&a[i..e1], &b[j..e2]);
        if isnum {
            while s1.first() == Some(&b'0') {
                s1 = &s1[1..];
            }
            while s2.first() == Some(&b'0') {
                s2 = &s2[1..];
            }
            match s1.len().cmp(&s2.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match s1.cmp(s2) {
            Ordering::Equal => {}
            other => return other,
        }
        i = e1;
        j = e2;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// An `epoch:version-release` triple.
///
/// Ordered as `rpm.labelCompare` orders `(epoch, version, release)`: epochs
/// numerically (a missing epoch is 0), then versions with [`rpmvercmp`], then
/// releases with [`rpmvercmp`] (a missing release is the empty string, which
/// sorts before any release). For dependency matching, where a missing
/// release on either side matches any release, use [`Evr::cmp_for_dependency`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Evr {
    /// The epoch; `None` when absent (compares as 0).
    pub epoch: Option<u32>,
    /// The version.
    pub version: String,
    /// The release; `None` when absent.
    pub release: Option<String>,
}

impl Evr {
    /// Builds an `Evr` from its parts.
    pub fn new(epoch: Option<u32>, version: impl Into<String>, release: Option<String>) -> Self {
        Self {
            epoch,
            version: version.into(),
            release,
        }
    }

    /// The epoch, 0 when absent.
    pub fn epoch_or_zero(&self) -> u32 {
        self.epoch.unwrap_or(0)
    }

    /// Compares as rpm's `rpmverCmp` does when matching a dependency: the
    /// releases are only compared when both sides have one.
    pub fn cmp_for_dependency(&self, other: &Self) -> Ordering {
        self.epoch_or_zero()
            .cmp(&other.epoch_or_zero())
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                _ => Ordering::Equal,
            })
    }
}

impl Ord for Evr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch_or_zero()
            .cmp(&other.epoch_or_zero())
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| {
                rpmvercmp(
                    self.release.as_deref().unwrap_or(""),
                    other.release.as_deref().unwrap_or(""),
                )
            })
            // rpmvercmp calls "1.0" and "1.00" or "1_0" equal; break the tie
            // on the raw text so that `Ord` agrees with the derived `Eq`.
            .then_with(|| self.version.cmp(&other.version))
            .then_with(|| self.release.cmp(&other.release))
            .then_with(|| self.epoch.cmp(&other.epoch))
    }
}

impl PartialOrd for Evr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The error from parsing an [`Evr`] whose epoch is not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid epoch `{epoch}` in version `{input}`: expected a decimal number")]
pub struct EvrParseError {
    /// The whole input.
    pub input: String,
    /// The epoch part that failed to parse.
    pub epoch: String,
}

impl FromStr for Evr {
    type Err = EvrParseError;

    /// Parses `[E:]V[-R]` as rpm does: the epoch ends at the first `:`, the
    /// release starts after the last `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                let epoch = if e.is_empty() {
                    0
                } else {
                    e.parse::<u32>().map_err(|_| EvrParseError {
                        input: s.to_owned(),
                        epoch: e.to_owned(),
                    })?
                };
                (Some(epoch), rest)
            }
            None => (None, s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v.to_owned(), Some(r.to_owned())),
            None => (rest.to_owned(), None),
        };
        Ok(Self {
            epoch,
            version,
            release,
        })
    }
}

impl fmt::Display for Evr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.epoch {
            write!(f, "{e}:")?;
        }
        f.write_str(&self.version)?;
        if let Some(r) = &self.release {
            write!(f, "-{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, expect: Ordering) {
        assert_eq!(rpmvercmp(a, b), expect, "rpmvercmp({a:?}, {b:?})");
        assert_eq!(rpmvercmp(b, a), expect.reverse(), "rpmvercmp({b:?}, {a:?})");
    }

    #[test]
    fn rpm_testsuite_cases() {
        // A selection of rpm's own tests/rpmvercmp.at.
        use Ordering::*;
        check("1.0", "1.0", Equal);
        check("1.0", "2.0", Less);
        check("2.0.1", "2.0.1a", Less);
        check("5.5p1", "5.5p2", Less);
        check("5.5p10", "5.5p1", Greater);
        check("10xyz", "10.1xyz", Less);
        check("xyz10", "xyz10.1", Less);
        check("xyz.4", "8", Less);
        check("1.0aa", "1.0a", Greater);
        check("2_0", "2_0", Equal);
        check("2.0", "2_0", Equal);
        check("a+", "a_", Equal);
        check("+", "_", Equal);
        check("1.0~rc1", "1.0", Less);
        check("1.0~rc1", "1.0~rc2", Less);
        check("1.0~rc1~git123", "1.0~rc1", Less);
        check("1.0^", "1.0", Greater);
        check("1.0^git1", "1.0^git2", Less);
        check("1.0^git1", "1.01", Less);
        check("1.0^20160101", "1.0.1", Less);
        check("1.0~rc1", "1.0~rc1^git1", Less);
        check("1.0^git1~pre", "1.0^git1", Less);
        check("010", "10", Equal);
        check("", "0", Less);
    }

    #[test]
    fn evr_parse_and_order() {
        let a: Evr = "1:2.0-3.el6".parse().unwrap();
        assert_eq!(a, Evr::new(Some(1), "2.0", Some("3.el6".into())));
        assert_eq!(a.to_string(), "1:2.0-3.el6");
        let b: Evr = "9.9-9".parse().unwrap();
        assert!(b < a);
        assert!("x:1".parse::<Evr>().is_err());
        let norel: Evr = "2.0".parse().unwrap();
        assert_eq!(
            norel.cmp_for_dependency(&"2.0-5".parse().unwrap()),
            Ordering::Equal
        );
        assert!(norel < "2.0-5".parse().unwrap());
    }
}
