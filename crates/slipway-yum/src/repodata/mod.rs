//! Repository metadata: `repomd.xml`, `primary` and `filelists` (XML, any
//! of gzip/bzip2/xz, streamed) and the `primary_db`/`filelists_db` sqlite
//! files that CentOS 6 repositories ship.
//!
//! Parsers take readers and return in-memory [`Package`]s; fetching,
//! caching and checksum checks live in [`crate::source`].

mod filelists;
mod primary;
mod repomd;
mod sqlite;

pub use filelists::parse_filelists;
pub use primary::parse_primary;
pub use repomd::{RepoMd, RepoMdEntry, parse_repomd};
pub use sqlite::{read_filelists_db, read_primary_db};

use std::io::{BufRead, BufReader, Read};

use crate::evr::{Dep, Evr};
use crate::{Error, Result};

/// A checksum as repodata writes it: a type (`sha256`, `sha1`, `sha`) and hex.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Checksum {
    /// `sha256`, `sha1`, `sha` (= sha1), `sha512`.
    pub kind: String,
    /// Lower-case hex digest.
    pub value: String,
}

/// One package of a repository's `primary` metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Package name.
    pub name: String,
    /// Architecture (`x86_64`, `i686`, `noarch`, `src`).
    pub arch: String,
    /// Epoch, version, release.
    pub evr: Evr,
    /// The package file's checksum (its pkgid).
    pub checksum: Checksum,
    /// Path of the RPM relative to the repository's base URL.
    pub location: String,
    /// `xml:base` of the location, if the repodata sets one.
    pub location_base: Option<String>,
    /// Size of the RPM file in bytes.
    pub size: u64,
    /// Source RPM name.
    pub sourcerpm: String,
    /// `Provides:`
    pub provides: Vec<Dep>,
    /// `Requires:` (including `PreReq`), without `rpmlib(...)` entries.
    pub requires: Vec<Dep>,
    /// `Conflicts:`
    pub conflicts: Vec<Dep>,
    /// `Obsoletes:`
    pub obsoletes: Vec<Dep>,
    /// Files this package is known to own: primary's short list, plus those
    /// filelists entries somebody requires.
    pub files: Vec<String>,
}

impl Package {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr, self.arch)
    }

    /// `name-version-release.arch` (what `rpm -qa` prints, no epoch).
    pub fn nvra(&self) -> String {
        format!(
            "{}-{}-{}.{}",
            self.name, self.evr.version, self.evr.release, self.arch
        )
    }
}

/// A reader of a metadata file with its compression (gzip, bzip2, xz, or
/// none) detected from the first bytes.
pub fn decompress_reader<'a>(reader: impl BufRead + 'a) -> Result<Box<dyn BufRead + 'a>> {
    decompress(reader)
}

pub(crate) fn decompress<'a>(mut reader: impl BufRead + 'a) -> Result<Box<dyn BufRead + 'a>> {
    let head = reader.fill_buf()?;
    let boxed: Box<dyn Read + 'a> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(reader))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader))
    } else {
        return Ok(Box::new(reader));
    };
    Ok(Box::new(BufReader::with_capacity(256 * 1024, boxed)))
}

/// Text of an attribute value with the XML entities resolved.
pub(crate) fn attr_text<'a>(attr: &quick_xml::events::attributes::Attribute<'a>) -> String {
    let raw: &str = &attr.value;
    if raw.contains('&') {
        quick_xml::escape::unescape(raw)
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| raw.to_owned())
    } else {
        raw.to_owned()
    }
}

/// The text of a predefined or character entity reference.
pub(crate) fn entity_text(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)?
        }
    })
}

pub(crate) fn xml_error(file: &str, pos: u64, err: impl std::fmt::Display) -> Error {
    Error::Metadata {
        file: file.to_owned(),
        message: format!("at byte {pos}: {err}"),
    }
}
