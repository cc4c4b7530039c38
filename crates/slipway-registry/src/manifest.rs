//! The parts of manifests and indexes the client reads. Manifest bytes are
//! kept as served, so digests stay the registry's, except where a user's OCI
//! layout asks for a Docker manifest with OCI media types ([`docker_to_oci`]).

use std::collections::BTreeMap;

use crate::platform::Platform;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker schema 1 (unsupported).
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Signed Docker schema 1 (unsupported).
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The `Accept` header for manifest requests: every type we understand, plus
/// schema 1 so that we can name it in the error rather than get a 404.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, application/vnd.docker.distribution.manifest.v1+json;q=0.5";

/// What kind of document a manifest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// OCI index or Docker manifest list.
    Index,
    /// OCI or Docker schema 2 image manifest.
    Image,
    /// Docker schema 1.
    Schema1,
}

/// Classify a media type.
pub fn kind_of(media_type: &str) -> Option<ManifestKind> {
    match media_type {
        OCI_INDEX | DOCKER_LIST => Some(ManifestKind::Index),
        OCI_MANIFEST | DOCKER_MANIFEST => Some(ManifestKind::Image),
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Some(ManifestKind::Schema1),
        _ => None,
    }
}

/// A content descriptor (the fields the client uses).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Platform, for index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<DescriptorPlatform>,
    /// Annotations (sorted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The `platform` object of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct DescriptorPlatform {
    /// OS.
    pub os: String,
    /// Architecture.
    pub architecture: String,
    /// Variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl DescriptorPlatform {
    /// As a [`Platform`].
    pub fn to_platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// The fields of any manifest-ish JSON document we read.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDoc {
    /// 1 or 2.
    #[serde(default)]
    pub schema_version: Option<u32>,
    /// The media type, if the document carries one.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Config descriptor (image manifests).
    #[serde(default)]
    pub config: Option<Descriptor>,
    /// Layer descriptors (image manifests).
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Child manifests (indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl ManifestDoc {
    /// The media type: the document's own, else the one the server sent,
    /// else guessed from its shape (OCI documents may omit it).
    pub fn effective_media_type(&self, served: Option<&str>) -> String {
        if let Some(mt) = self.media_type.as_deref().filter(|m| !m.is_empty()) {
            return mt.to_owned();
        }
        if let Some(mt) = served.filter(|m| kind_of(m).is_some()) {
            return mt.to_owned();
        }
        if self.schema_version == Some(1) {
            DOCKER_SCHEMA1_SIGNED.to_owned()
        } else if self.config.is_some() {
            OCI_MANIFEST.to_owned()
        } else {
            OCI_INDEX.to_owned()
        }
    }
}

/// Docker layer media types and their OCI equivalents (as containers/image maps them).
const LAYER_TYPES: [(&str, &str); 3] = [
    (
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.oci.image.layer.v1.tar+gzip",
    ),
    (
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    ),
    (
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.oci.image.layer.v1.tar",
    ),
];

/// Rewrite a Docker schema 2 image manifest with OCI media types, as skopeo
/// does for an OCI destination: the config and layers stay the same blobs,
/// only the manifest's, config's and layers' media types change (other
/// fields are kept). Layer types that are already OCI are kept; any other
/// layer type is refused, naming it.
pub fn docker_to_oci(bytes: &[u8], origin: &str) -> Result<Vec<u8>, crate::Error> {
    let json_err = |source| crate::Error::Json {
        what: "manifest",
        origin: origin.to_owned(),
        source,
    };
    let mut doc: serde_json::Value = serde_json::from_slice(bytes).map_err(json_err)?;
    let unsupported = |media_type: &str| crate::Error::UnsupportedMediaType {
        url: origin.to_owned(),
        media_type: format!("{media_type} (no OCI equivalent)"),
    };
    let Some(map) = doc.as_object_mut() else {
        return Err(unsupported("a manifest that is not a JSON object"));
    };
    map.insert("mediaType".to_owned(), OCI_MANIFEST.into());
    if let Some(config) = map.get_mut("config").and_then(|c| c.as_object_mut()) {
        config.insert("mediaType".to_owned(), OCI_CONFIG.into());
    }
    if let Some(layers) = map.get_mut("layers").and_then(|l| l.as_array_mut()) {
        for layer in layers.iter_mut().filter_map(|l| l.as_object_mut()) {
            let current = layer
                .get("mediaType")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned();
            let oci = match LAYER_TYPES.iter().find(|(docker, _)| *docker == current) {
                Some((_, oci)) => (*oci).to_owned(),
                None if current.starts_with("application/vnd.oci.image.layer.") => current,
                None => return Err(unsupported(&current)),
            };
            layer.insert("mediaType".to_owned(), oci.into());
        }
    }
    serde_json::to_vec(&doc).map_err(json_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_docker_manifest_to_oci() {
        let docker = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:aa"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":9,"digest":"sha256:bb"}]}"#;
        let oci = docker_to_oci(docker, "test").unwrap();
        let doc: ManifestDoc = serde_json::from_slice(&oci).unwrap();
        assert_eq!(doc.media_type.as_deref(), Some(OCI_MANIFEST));
        assert_eq!(doc.schema_version, Some(2));
        let config = doc.config.unwrap();
        assert_eq!(
            (
                config.media_type.as_str(),
                config.digest.as_str(),
                config.size
            ),
            (OCI_CONFIG, "sha256:aa", 7)
        );
        assert_eq!(doc.layers.len(), 1);
        assert_eq!(
            doc.layers[0].media_type,
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(
            (doc.layers[0].digest.as_str(), doc.layers[0].size),
            ("sha256:bb", 9)
        );
    }

    #[test]
    fn refuses_unknown_layer_types() {
        let docker = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:aa"},"layers":[{"mediaType":"application/x-weird","size":9,"digest":"sha256:bb"}]}"#;
        let err = docker_to_oci(docker, "test").unwrap_err().to_string();
        assert!(err.contains("application/x-weird"), "{err}");
    }
}
