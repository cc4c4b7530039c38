//! Transport (http, https, file) and the content store where verified
//! metadata and packages are kept by checksum.
//!
//! Store layout: `<root>/yum/<kind>/<hex>` for every file named by a
//! repodata checksum (metadata files and RPMs alike). Files are written to
//! a temporary file in the same directory, hashed while streaming, and
//! renamed into place only when the checksum matches, so the store never
//! holds a bad entry.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha1::Digest as _;

use crate::repodata::Checksum;
use crate::repofile::RepoConfig;
use crate::{Error, Result};

/// A streaming hasher for the checksum types repodata uses.
#[derive(Debug, Clone)]
pub enum Hasher {
    /// `sha1` / `sha`
    Sha1(sha1::Sha1),
    /// `sha256`
    Sha256(sha2::Sha256),
    /// `sha512`
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A hasher for `kind` (`sha`, `sha1`, `sha256`, `sha512`).
    pub fn new(kind: &str) -> Result<Self> {
        Ok(match kind {
            "sha" | "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "sha256" => Hasher::Sha256(sha2::Sha256::new()),
            "sha512" => Hasher::Sha512(sha2::Sha512::new()),
            other => return Err(Error::ChecksumType(other.to_owned())),
        })
    }

    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The lower-case hex digest.
    pub fn finish(self) -> String {
        match self {
            Hasher::Sha1(h) => hex::encode(h.finalize()),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Hash a whole file.
pub fn hash_file(path: &Path, kind: &str) -> Result<String> {
    let mut hasher = Hasher::new(kind)?;
    let mut file = fs_err::File::open(path)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// Fetches URLs: `http://`, `https://`, `file://` and plain paths.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::blocking::Client,
    offline: bool,
}

impl Transport {
    /// A transport that refuses `http(s)://` URLs ([`Error::Offline`]):
    /// files and the store only, as `dnf --cacheonly` would. Repositories
    /// load from the `repomd.xml` the store remembers
    /// ([`Store::remembered_repomd`]).
    pub fn offline() -> Result<Self> {
        Ok(Self {
            offline: true,
            ..Self::new()?
        })
    }

    /// Whether this transport is [`Transport::offline`].
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// A transport with sane timeouts.
    pub fn new() -> Result<Self> {
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(3600))
            .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Http {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(Self {
            client,
            offline: false,
        })
    }

    /// Open `url` for reading; the second value is the length if known.
    pub fn open(&self, url: &str) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        if url.starts_with("http://") || url.starts_with("https://") {
            if self.offline {
                return Err(Error::Offline {
                    url: url.to_owned(),
                });
            }
            let resp = self.client.get(url).send().map_err(|e| Error::Http {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
            if !resp.status().is_success() {
                return Err(Error::Http {
                    url: url.to_owned(),
                    message: format!("HTTP status {}", resp.status()),
                });
            }
            let len = resp.content_length();
            return Ok((Box::new(resp), len));
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        let file = fs_err::File::open(path)?;
        let len = file.metadata().ok().map(|m| m.len());
        Ok((Box::new(file), len))
    }

    /// Read all of `url` into memory (small files: repomd.xml, keys, mirror lists).
    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>> {
        let (mut r, _) = self.open(url)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(|e| Error::Http {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
        Ok(out)
    }
}

/// Join a base URL and a relative location.
pub fn join_url(base: &str, location: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        location.trim_start_matches('/')
    )
}

/// The content store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the last `repomd.xml` of a repository is remembered: keyed by
    /// its id and URLs (after variable expansion), not by a checksum, since
    /// `repomd.xml` is the root that names every checksum.
    fn repomd_memo(&self, config: &RepoConfig) -> PathBuf {
        let mut h = sha2::Sha256::new();
        for part in [config.id.as_str()]
            .into_iter()
            .chain(config.baseurls.iter().map(String::as_str))
            .chain(config.mirrorlist.as_deref())
        {
            h.update(part.as_bytes());
            h.update(b"\n");
        }
        self.root
            .join("yum")
            .join("repomd")
            .join(hex::encode(h.finalize()))
    }

    /// Remember the `repomd.xml` bytes a repository answered with at
    /// `baseurl`, for offline loads. Written to a temp name and renamed.
    pub fn remember_repomd(&self, config: &RepoConfig, baseurl: &str, bytes: &[u8]) -> Result<()> {
        let path = self.repomd_memo(config);
        let dir = path.parent().unwrap_or(&self.root);
        fs_err::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(baseurl.as_bytes())?;
        tmp.write_all(b"\n")?;
        tmp.write_all(bytes)?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// The `(baseurl, repomd.xml bytes)` last remembered for `config`.
    pub fn remembered_repomd(&self, config: &RepoConfig) -> Option<(String, Vec<u8>)> {
        let data = fs_err::read(self.repomd_memo(config)).ok()?;
        let newline = data.iter().position(|&b| b == b'\n')?;
        let baseurl = String::from_utf8(data[..newline].to_vec()).ok()?;
        Some((baseurl, data[newline + 1..].to_vec()))
    }

    /// Where a file with `checksum` lives (whether or not it is there yet).
    pub fn path_of(&self, checksum: &Checksum) -> PathBuf {
        let kind = if checksum.kind == "sha" {
            "sha1"
        } else {
            checksum.kind.as_str()
        };
        self.root.join("yum").join(kind).join(&checksum.value)
    }

    /// The stored file for `checksum`, if present and still matching.
    /// A present but corrupt file is removed.
    pub fn get(&self, checksum: &Checksum) -> Result<Option<PathBuf>> {
        let path = self.path_of(checksum);
        if !path.exists() {
            return Ok(None);
        }
        if hash_file(&path, &checksum.kind)? == checksum.value {
            Ok(Some(path))
        } else {
            tracing::warn!("removing corrupt store entry {}", path.display());
            fs_err::remove_file(&path)?;
            Ok(None)
        }
    }

    /// Fetch `url` into the store unless a verified copy is there already.
    /// `what` names the file in errors; `progress` gets byte counts.
    pub fn fetch(
        &self,
        transport: &Transport,
        url: &str,
        checksum: &Checksum,
        what: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<PathBuf> {
        if let Some(path) = self.get(checksum)? {
            return Ok(path);
        }
        let dest = self.path_of(checksum);
        let dir = dest.parent().unwrap_or(&self.root);
        fs_err::create_dir_all(dir)?;
        let mut hasher = Hasher::new(&checksum.kind)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        let (mut reader, _) = transport.open(url)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(|e| Error::Http {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
            progress(n as u64);
        }
        let actual = hasher.finish();
        if actual != checksum.value {
            // `tmp` is deleted on drop: nothing is left in the store.
            return Err(Error::Checksum {
                what: what.to_owned(),
                url: url.to_owned(),
                kind: checksum.kind.clone(),
                expected: checksum.value.clone(),
                actual,
            });
        }
        tmp.as_file().sync_all()?;
        tmp.persist(&dest).map_err(|e| e.error)?;
        Ok(dest)
    }
}
