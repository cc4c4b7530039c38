//! Opening an image from a transport string for reading: `oci:DIR[:REF]`,
//! `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`, or a bare layout
//! directory.
//!
//! Archives are extracted (their blob files only, never the layers) into a
//! temporary directory that lives as long as the [`SourceImage`].
//! slipway-oci's own archive readers were not published when this was
//! written; switch to them once they are.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use slipway_oci::{Digest, Image, OciLayout};

use crate::error::{Error, Result};

/// One layer of a [`SourceImage`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LayerInfo {
    /// The blob's digest (for docker archives: the digest of the file as stored).
    pub digest: String,
    /// The uncompressed tar's digest, from the config.
    pub diff_id: Option<String>,
    /// The blob's size in bytes.
    pub size: u64,
    /// The media type (empty for docker archives, which do not record one).
    pub media_type: String,
}

/// An image opened for reading.
#[derive(Debug)]
pub struct SourceImage {
    /// The location as given.
    pub location: String,
    /// The manifest's digest, when the source has a manifest.
    pub manifest_digest: Option<String>,
    /// The manifest as JSON (docker archives: an empty object).
    pub manifest: Value,
    /// The config's digest.
    pub config_digest: String,
    /// The config as JSON.
    pub config: Value,
    /// Layers, bottom first.
    pub layers: Vec<LayerInfo>,
    blobs: Blobs,
    _temp: Option<tempfile::TempDir>,
}

#[derive(Debug)]
enum Blobs {
    Layout(OciLayout),
    Files(Vec<PathBuf>),
}

impl SourceImage {
    /// Open `location` (see the module documentation for the syntax).
    pub fn open(location: &str) -> Result<SourceImage> {
        let bad = |reason: String| Error::Source {
            location: location.to_owned(),
            reason,
        };
        if let Some(rest) = location.strip_prefix("oci:") {
            let (dir, reference) = split_ref(rest);
            return Self::from_layout(location, Path::new(dir), reference, None);
        }
        if let Some(rest) = location.strip_prefix("oci-archive:") {
            let (file, reference) = split_ref(rest);
            let temp = extract(location, Path::new(file))?;
            let dir = temp.path().to_path_buf();
            return Self::from_layout(location, &dir, reference, Some(temp));
        }
        if let Some(rest) = location.strip_prefix("docker-archive:") {
            let (file, reference) = split_ref(rest);
            let temp = extract(location, Path::new(file))?;
            return Self::from_docker_archive(location, temp, reference);
        }
        if location.contains("://") {
            return Err(bad(
                "only local images can be compared: `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, \
                 `docker-archive:FILE[:REF]`; pull registry images first"
                    .into(),
            ));
        }
        let path = Path::new(location);
        if path.join("oci-layout").is_file() {
            return Self::from_layout(location, path, None, None);
        }
        Err(bad(
            "expected `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]` \
             or an OCI layout directory"
                .into(),
        ))
    }

    fn from_layout(
        location: &str,
        dir: &Path,
        reference: Option<&str>,
        temp: Option<tempfile::TempDir>,
    ) -> Result<SourceImage> {
        let layout = OciLayout::open(dir)?;
        let image = Image::load(&layout, reference)?;
        let diff_ids = image.diff_ids()?;
        let layers = image
            .layers()
            .iter()
            .enumerate()
            .map(|(i, d)| LayerInfo {
                digest: d.digest().to_string(),
                diff_id: diff_ids.get(i).map(ToString::to_string),
                size: d.size(),
                media_type: d.media_type().to_string(),
            })
            .collect();
        let manifest = parse_json(&image.manifest_bytes, "manifest")?;
        Ok(SourceImage {
            location: location.to_owned(),
            manifest_digest: Some(image.digest()?.to_string()),
            manifest,
            config_digest: image.manifest.config().digest().to_string(),
            config: image.config.as_value().clone(),
            layers,
            blobs: Blobs::Layout(layout),
            _temp: temp,
        })
    }

    fn from_docker_archive(
        location: &str,
        temp: tempfile::TempDir,
        reference: Option<&str>,
    ) -> Result<SourceImage> {
        let bad = |reason: String| Error::Source {
            location: location.to_owned(),
            reason,
        };
        let root = temp.path();
        let manifest_bytes = fs_err::read(root.join("manifest.json"))
            .map_err(Error::io("read docker archive manifest"))?;
        let entries = parse_json(&manifest_bytes, "docker archive manifest.json")?;
        let entries = entries
            .as_array()
            .ok_or_else(|| bad("manifest.json is not a list".into()))?;
        let entry = match reference {
            None => entries.first(),
            Some(want) => entries.iter().find(|e| {
                e.get("RepoTags")
                    .and_then(Value::as_array)
                    .is_some_and(|tags| {
                        tags.iter().filter_map(Value::as_str).any(|t| {
                            t == want || t.rsplit_once(':').is_some_and(|(_, tag)| tag == want)
                        })
                    })
            }),
        }
        .ok_or_else(|| {
            bad(format!(
                "no image {} in manifest.json",
                reference.unwrap_or("at all")
            ))
        })?;
        let config_name = entry
            .get("Config")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("manifest.json entry has no `Config`".into()))?;
        let config_bytes = fs_err::read(safe_join(root, config_name, location)?)
            .map_err(Error::io("read docker archive config"))?;
        let config = parse_json(&config_bytes, "image config")?;
        let diff_ids: Vec<String> = config
            .pointer("/rootfs/diff_ids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut layers = Vec::new();
        let mut files = Vec::new();
        let names = entry
            .get("Layers")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("manifest.json entry has no `Layers`".into()))?;
        for (i, name) in names.iter().enumerate() {
            let name = name
                .as_str()
                .ok_or_else(|| bad("a `Layers` entry is not a string".into()))?;
            let path = safe_join(root, name, location)?;
            let (digest, size) = hash_file(&path)?;
            layers.push(LayerInfo {
                digest: digest.to_string(),
                diff_id: diff_ids.get(i).cloned(),
                size,
                media_type: String::new(),
            });
            files.push(path);
        }
        Ok(SourceImage {
            location: location.to_owned(),
            manifest_digest: None,
            // A docker archive has no manifest; its manifest.json entry only
            // names files, which the config and layer sections compare.
            manifest: Value::Object(serde_json::Map::new()),
            config_digest: Digest::sha256_of(&config_bytes).to_string(),
            config,
            layers,
            blobs: Blobs::Files(files),
            _temp: Some(temp),
        })
    }

    /// Open layer `index`'s blob as stored (possibly compressed).
    pub fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send>> {
        match &self.blobs {
            Blobs::Layout(layout) => {
                let digest: Digest = self.layers[index].digest.parse()?;
                Ok(Box::new(layout.open_blob(&digest)?))
            }
            Blobs::Files(files) => Ok(Box::new(
                fs_err::File::open(&files[index]).map_err(Error::io("open layer"))?,
            )),
        }
    }
}

fn split_ref(rest: &str) -> (&str, Option<&str>) {
    // As containers/image: the path is everything before the first ':'.
    match rest.split_once(':') {
        Some((path, reference)) if !reference.is_empty() => (path, Some(reference)),
        Some((path, _)) => (path, None),
        None => (rest, None),
    }
}

fn parse_json(bytes: &[u8], what: &str) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|source| Error::Json {
        what: what.to_owned(),
        source,
    })
}

fn extract(location: &str, file: &Path) -> Result<tempfile::TempDir> {
    let temp = tempfile::tempdir().map_err(Error::io("create a temporary directory"))?;
    let reader = fs_err::File::open(file).map_err(Error::io("open archive"))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(reader));
    // `unpack` refuses entries that would land outside the directory.
    archive.unpack(temp.path()).map_err(|e| Error::Source {
        location: location.to_owned(),
        reason: format!("cannot extract the archive: {e}"),
    })?;
    Ok(temp)
}

fn safe_join(root: &Path, name: &str, location: &str) -> Result<PathBuf> {
    let relative = Path::new(name);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::Source {
            location: location.to_owned(),
            reason: format!("manifest.json names `{name}` outside the archive"),
        });
    }
    Ok(root.join(relative))
}

fn hash_file(path: &Path) -> Result<(Digest, u64)> {
    let file = fs_err::File::open(path).map_err(Error::io("open layer"))?;
    let mut reader = slipway_oci::HashingReader::new(file);
    std::io::copy(&mut reader, &mut std::io::sink())
        .map_err(Error::io(format!("read `{}`", path.display())))?;
    Ok(reader.finish())
}
