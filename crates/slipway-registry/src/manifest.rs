//! The parts of manifests and indexes the client reads. Manifest bytes are
//! always kept as served, so digests stay the registry's.

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
