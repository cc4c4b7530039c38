//! The TOML shape of a recipe file, as written (spans kept for errors).
//!
//! Every table denies unknown keys; `load` turns these into the checked
//! model of `model`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// One recipe file: an image (`layers/<name>.toml`) or a fragment it includes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawFile {
    #[serde(default)]
    pub(crate) include: Vec<Spanned<String>>,
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) description: Option<String>,
    pub(crate) publish: Option<bool>,
    pub(crate) base: Option<Spanned<RawBase>>,
    pub(crate) platform: Option<Spanned<String>>,
    pub(crate) personality: Option<Spanned<String>>,
    pub(crate) source_date_epoch: Option<Spanned<i64>>,
    pub(crate) releasever: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) repos: Vec<Spanned<RawRepo>>,
    #[serde(default)]
    pub(crate) sources: Vec<Spanned<RawSource>>,
    #[serde(default)]
    pub(crate) steps: Vec<Spanned<RawStep>>,
    pub(crate) config: Option<RawConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawBase {
    pub(crate) image: Option<Spanned<String>>,
    #[serde(rename = "ref")]
    pub(crate) reference: Option<Spanned<String>>,
    pub(crate) platform: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawRepo {
    pub(crate) name: Spanned<String>,
    pub(crate) file: Option<Spanned<String>>,
    pub(crate) source: Option<Spanned<String>>,
    pub(crate) rpm: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawSource {
    pub(crate) name: Spanned<String>,
    pub(crate) url: Spanned<String>,
    pub(crate) sha256: Option<Spanned<String>>,
    pub(crate) file: Option<Spanned<String>>,
    pub(crate) asc: Option<Spanned<String>>,
    pub(crate) keyring: Option<Spanned<String>>,
    /// Free text for readers of the recipe (e.g. why a hash is missing).
    #[allow(dead_code)]
    pub(crate) note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawStep {
    pub(crate) name: Spanned<String>,
    pub(crate) description: Option<String>,
    pub(crate) script: Option<Spanned<String>>,
    pub(crate) packages: Option<Spanned<Vec<Spanned<RawPackageOp>>>>,
    pub(crate) srpm_patch: Option<Spanned<RawSrpmPatch>>,
    #[serde(default)]
    pub(crate) inputs: Vec<Spanned<String>>,
    pub(crate) from_image: Option<Spanned<RawFromImage>>,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) network: bool,
    pub(crate) personality: Option<Spanned<String>>,
    pub(crate) depends_on: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(crate) transient: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawPackageOp {
    pub(crate) install: Option<Vec<String>>,
    pub(crate) install_local: Option<Vec<String>>,
    pub(crate) update: Option<Vec<String>>,
    pub(crate) erase: Option<Vec<String>>,
    pub(crate) builddep: Option<Spanned<String>>,
    pub(crate) clean: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawSrpmPatch {
    pub(crate) srpm: Spanned<String>,
    pub(crate) patch: Spanned<String>,
    pub(crate) strip: u32,
    #[serde(default)]
    pub(crate) remove_empty_files: bool,
    pub(crate) release_suffix: Option<String>,
    pub(crate) topdir: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawFromImage {
    pub(crate) image: Spanned<String>,
    pub(crate) path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) cmd: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) workdir: Option<String>,
    pub(crate) user: Option<String>,
}
