//! The content-addressed store: layer blobs (an OCI layout), the unpacked
//! trees steps run over, the step cache (key → layer), fetched sources and
//! pulled bases.
//!
//! **Every entry is written to a temp name and renamed into place once
//! complete**, so a crash never leaves a half entry that a later build trusts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use slipway_oci::OciLayout;
use slipway_oci::oci_spec::image::Descriptor;

use crate::error::{Error, Result, build_err};

/// The store directory and its parts.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
    /// Every layer blob built or pulled.
    pub(crate) blobs: OciLayoutHandle,
    /// `--offline`: package steps read repositories and packages from the
    /// store only (see [`slipway_yum::store::Transport::offline`]).
    pub(crate) offline: bool,
}

/// An [`OciLayout`] that can be shared between threads (it is opened again
/// where needed; the layout type itself holds only a path).
#[derive(Debug, Clone)]
pub(crate) struct OciLayoutHandle(PathBuf);

impl OciLayoutHandle {
    pub(crate) fn open(&self) -> Result<OciLayout> {
        Ok(OciLayout::open(&self.0)?)
    }
}

/// What a cached step produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CachedLayer {
    /// The compressed blob's descriptor.
    pub(crate) descriptor: Descriptor,
    /// The uncompressed tar's digest.
    pub(crate) diff_id: String,
}

impl Store {
    /// Open (creating) the store at `root`.
    pub(crate) fn open(root: &Path) -> Result<Store> {
        for sub in ["cache", "trees", "sources", "bases", "scratch", "tmp"] {
            let dir = root.join(sub);
            fs_err::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let blobs = root.join("blobs-layout");
        if !blobs.join("oci-layout").exists() {
            OciLayout::create(&blobs)?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            blobs: OciLayoutHandle(blobs),
            offline: false,
        })
    }

    /// This store, offline or not (`--offline`).
    pub(crate) fn with_offline(self, offline: bool) -> Store {
        Store { offline, ..self }
    }

    pub(crate) fn scratch(&self) -> PathBuf {
        self.root.join("scratch")
    }

    /// slipway-yum's store (repodata and RPMs by checksum).
    pub(crate) fn yum(&self) -> PathBuf {
        self.root.join("yum")
    }

    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The unpacked tree (overlay form) of the layer a step key produced.
    pub(crate) fn tree(&self, key: &str) -> PathBuf {
        self.root.join("trees").join(key_hex(key))
    }

    /// The merged rootfs of a pulled base manifest.
    pub(crate) fn base_tree(&self, manifest_digest: &str) -> PathBuf {
        self.root
            .join("trees")
            .join(format!("base-{}", key_hex(manifest_digest)))
    }

    /// The layout a base is pulled into.
    pub(crate) fn base_layout(&self, manifest_or_ref: &str) -> PathBuf {
        let name: String = manifest_or_ref
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.root.join("bases").join(name)
    }

    /// Where a source with this sha256 is kept.
    pub(crate) fn source_dir(&self, sha256: &str) -> PathBuf {
        self.root.join("sources").join(sha256)
    }

    fn cache_path(&self, key: &str) -> PathBuf {
        self.root
            .join("cache")
            .join(format!("{}.json", key_hex(key)))
    }

    /// The cached layer of `key`, if its entry, blob and tree are all there.
    pub(crate) fn cached(&self, key: &str) -> Result<Option<CachedLayer>> {
        let path = self.cache_path(key);
        let Ok(text) = fs_err::read(&path) else {
            return Ok(None);
        };
        let Ok(entry) = serde_json::from_slice::<CachedLayer>(&text) else {
            return Ok(None);
        };
        let layout = self.blobs.open()?;
        let digest = slipway_oci::Digest::try_from(entry.descriptor.digest())?;
        if !layout.has_blob(&digest) || !self.tree(key).is_dir() {
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// Record `layer` as the result of `key` (atomically).
    pub(crate) fn record(&self, key: &str, layer: &CachedLayer) -> Result<()> {
        let path = self.cache_path(key);
        let tmp = self.tmp().join(format!("{}.json.tmp", key_hex(key)));
        let bytes = serde_json::to_vec_pretty(layer)
            .map_err(|e| build_err(format!("cache entry {key}"), e.to_string()))?;
        fs_err::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
        fs_err::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }
}

/// `sha256:abc` → `abc`.
pub(crate) fn key_hex(key: &str) -> &str {
    key.strip_prefix("sha256:").unwrap_or(key)
}

/// The default store, the one rule every command uses: `$SLIPWAY_STORE`,
/// else `$XDG_CACHE_HOME/slipway`, else `~/.cache/slipway` (empty variables
/// count as unset).
pub fn default_store() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("SLIPWAY_STORE") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("slipway");
    }
    let home = var("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache/slipway")
}
