//! Image configs kept as raw JSON, edited in place, and platforms.
//!
//! A config pulled from a registry may carry fields oci-spec does not know
//! (Docker's `container_config`, `docker_version`, …); deserialising it into
//! oci-spec's struct would drop them and change its digest. [`ImageConfig`]
//! keeps the whole `serde_json::Value` and only touches what it is asked to.

use std::fmt;

use serde_json::{Map, Value, json};

use crate::{Digest, Error, Result, canonical_json};

/// An image config (`application/vnd.oci.image.config.v1+json`) as raw JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfig {
    value: Value,
}

impl ImageConfig {
    /// A config with no layers for `platform`, created at `epoch`.
    pub fn new(platform: &Platform, epoch: i64) -> ImageConfig {
        let mut config = ImageConfig {
            value: json!({
                "created": rfc3339(epoch),
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            }),
        };
        config.set_platform(platform);
        config
    }

    /// Parse a config blob; anything it holds is kept.
    pub fn from_slice(data: &[u8]) -> Result<ImageConfig> {
        let value: Value = serde_json::from_slice(data).map_err(Error::json("an image config"))?;
        ImageConfig::from_value(value)
    }

    /// Wrap a JSON value (which must be an object).
    pub fn from_value(value: Value) -> Result<ImageConfig> {
        if !value.is_object() {
            return Err(Error::invalid("image config", "it is not a JSON object"));
        }
        Ok(ImageConfig { value })
    }

    /// The JSON value.
    pub fn as_value(&self) -> &Value {
        &self.value
    }

    /// The JSON value.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// The canonical JSON bytes of this config.
    pub fn to_canonical_json(&self) -> Result<Vec<u8>> {
        canonical_json(&self.value)
    }

    fn root(&mut self) -> &mut Map<String, Value> {
        self.value.as_object_mut().expect("checked to be an object")
    }

    /// The `config` object (created if absent).
    fn runtime(&mut self) -> &mut Map<String, Value> {
        let root = self.root();
        if !root.get("config").is_some_and(Value::is_object) {
            root.insert("config".into(), Value::Object(Map::new()));
        }
        root.get_mut("config")
            .and_then(Value::as_object_mut)
            .expect("just made an object")
    }

    fn runtime_get(&self, key: &str) -> Option<&Value> {
        self.value.get("config").and_then(|c| c.get(key))
    }

    /// The platform the config declares.
    pub fn platform(&self) -> Platform {
        let get = |k: &str| self.value.get(k).and_then(Value::as_str).map(str::to_owned);
        Platform {
            os: get("os").unwrap_or_default(),
            architecture: get("architecture").unwrap_or_default(),
            variant: get("variant"),
        }
    }

    /// Set `os`, `architecture` and `variant`.
    pub fn set_platform(&mut self, platform: &Platform) {
        let root = self.root();
        root.insert("os".into(), platform.os.clone().into());
        root.insert("architecture".into(), platform.architecture.clone().into());
        match &platform.variant {
            Some(v) => root.insert("variant".into(), v.clone().into()),
            None => root.remove("variant"),
        };
    }

    /// Set the `created` time to `epoch`.
    pub fn set_created(&mut self, epoch: i64) {
        self.root().insert("created".into(), rfc3339(epoch).into());
    }

    /// `config.Env` as `KEY=VALUE` strings.
    pub fn env(&self) -> Vec<String> {
        string_list(self.runtime_get("Env"))
    }

    /// Set `KEY=VALUE` in `config.Env`, replacing an earlier value of `KEY`.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let mut env = self.env();
        let prefix = format!("{key}=");
        let entry = format!("{key}={value}");
        match env.iter_mut().find(|e| e.starts_with(&prefix) || *e == key) {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
        self.runtime().insert("Env".into(), json!(env));
    }

    /// `config.Entrypoint`.
    pub fn entrypoint(&self) -> Option<Vec<String>> {
        self.runtime_get("Entrypoint")
            .filter(|v| !v.is_null())
            .map(|v| string_list(Some(v)))
    }

    /// Set (or with `None` remove) `config.Entrypoint`.
    pub fn set_entrypoint(&mut self, entrypoint: Option<Vec<String>>) {
        self.set_runtime_list("Entrypoint", entrypoint);
    }

    /// `config.Cmd`.
    pub fn cmd(&self) -> Option<Vec<String>> {
        self.runtime_get("Cmd")
            .filter(|v| !v.is_null())
            .map(|v| string_list(Some(v)))
    }

    /// Set (or with `None` remove) `config.Cmd`.
    pub fn set_cmd(&mut self, cmd: Option<Vec<String>>) {
        self.set_runtime_list("Cmd", cmd);
    }

    fn set_runtime_list(&mut self, key: &str, list: Option<Vec<String>>) {
        match list {
            Some(list) => self.runtime().insert(key.into(), json!(list)),
            None => self.runtime().remove(key),
        };
    }

    /// `config.Labels`, sorted by key.
    pub fn labels(&self) -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = self
            .runtime_get("Labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        labels.sort();
        labels
    }

    /// Set one label in `config.Labels`.
    pub fn set_label(&mut self, key: &str, value: &str) {
        let runtime = self.runtime();
        if !runtime.get("Labels").is_some_and(Value::is_object) {
            runtime.insert("Labels".into(), Value::Object(Map::new()));
        }
        runtime
            .get_mut("Labels")
            .and_then(Value::as_object_mut)
            .expect("just made an object")
            .insert(key.into(), value.into());
    }

    /// `config.WorkingDir`.
    pub fn working_dir(&self) -> Option<String> {
        self.runtime_get("WorkingDir")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Set `config.WorkingDir`.
    pub fn set_working_dir(&mut self, dir: &str) {
        self.runtime().insert("WorkingDir".into(), dir.into());
    }

    /// `config.User`.
    pub fn user(&self) -> Option<String> {
        self.runtime_get("User")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Set `config.User`.
    pub fn set_user(&mut self, user: &str) {
        self.runtime().insert("User".into(), user.into());
    }

    /// `rootfs.diff_ids`.
    pub fn diff_ids(&self) -> Result<Vec<Digest>> {
        self.value
            .get("rootfs")
            .and_then(|r| r.get("diff_ids"))
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .map(|id| {
                        id.as_str()
                            .ok_or_else(|| {
                                Error::invalid("image config", "a diff_id is not a string")
                            })?
                            .parse()
                    })
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Append a layer: its diff id to `rootfs.diff_ids` and a history entry
    /// (`created` from `epoch`, `created_by`). Also sets `created` to `epoch`.
    pub fn append_layer(&mut self, diff_id: &Digest, created_by: &str, epoch: i64) {
        let root = self.root();
        if !root.get("rootfs").is_some_and(Value::is_object) {
            root.insert("rootfs".into(), json!({"type": "layers", "diff_ids": []}));
        }
        let rootfs = root
            .get_mut("rootfs")
            .and_then(Value::as_object_mut)
            .expect("an object");
        rootfs.entry("type").or_insert_with(|| "layers".into());
        let ids = rootfs.entry("diff_ids").or_insert_with(|| json!([]));
        if !ids.is_array() {
            *ids = json!([]);
        }
        ids.as_array_mut()
            .expect("an array")
            .push(diff_id.to_string().into());
        self.append_history(created_by, epoch, false);
    }

    /// Append a history entry; `empty_layer` for steps that change only the config.
    pub fn append_history(&mut self, created_by: &str, epoch: i64, empty_layer: bool) {
        let mut entry = Map::new();
        entry.insert("created".into(), rfc3339(epoch).into());
        entry.insert("created_by".into(), created_by.into());
        if empty_layer {
            entry.insert("empty_layer".into(), true.into());
        }
        let root = self.root();
        let history = root.entry("history").or_insert_with(|| json!([]));
        if !history.is_array() {
            *history = json!([]);
        }
        history
            .as_array_mut()
            .expect("an array")
            .push(Value::Object(entry));
        self.set_created(epoch);
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `epoch` as an RFC 3339 UTC time, e.g. `1970-01-01T00:00:00Z`.
pub fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// An OS/architecture(/variant) pair as in `linux/amd64` or `linux/arm64/v8`.
///
/// The one platform type of the workspace (slipway-registry re-exports it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// Go's architecture names: `amd64`, `386`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, …
    pub variant: Option<String>,
}

impl Platform {
    /// Parse `OS/ARCH[/VARIANT]`; kernel names (`x86_64`, `i686`, `aarch64`)
    /// are turned into Go's (`amd64`, `386`, `arm64`).
    pub fn parse(text: &str) -> Result<Platform> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad = || Error::InvalidPlatform {
            platform: text.into(),
        };
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] if !variant.is_empty() => (*os, *arch, Some((*variant).to_owned())),
            _ => return Err(bad()),
        };
        if os.is_empty() || arch.is_empty() {
            return Err(bad());
        }
        Ok(Platform {
            os: os.to_ascii_lowercase(),
            architecture: normalize_arch(&arch.to_ascii_lowercase()).to_owned(),
            variant: variant.map(|v| v.to_ascii_lowercase()),
        })
    }

    /// The platform this program runs on.
    pub fn host() -> Platform {
        Platform {
            os: std::env::consts::OS.to_owned(),
            architecture: normalize_arch(std::env::consts::ARCH).to_owned(),
            variant: None,
        }
    }

    /// Whether an index entry's platform (`candidate`) satisfies this wanted
    /// one. A wanted variant must match (`arm64` without a variant counts as
    /// `v8`, as in containerd); no wanted variant accepts any.
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

fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "i386" | "i486" | "i586" | "i686" | "x86" => "386",
        "aarch64" => "arm64",
        other => other,
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

impl std::str::FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Platform> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn platforms() {
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(Platform::parse("linux/i686").unwrap().architecture, "386");
        assert_eq!(
            Platform::parse("linux/arm64/v8")
                .unwrap()
                .variant
                .as_deref(),
            Some("v8")
        );
        assert_eq!(
            Platform::parse("Linux/I386").unwrap().to_string(),
            "linux/386"
        );
        let err = Platform::parse("linux").unwrap_err().to_string();
        assert!(err.contains("invalid platform `linux`"), "{err}");
        assert!(Platform::parse("linux//").is_err());
    }

    #[test]
    fn platform_matching_follows_variants() {
        let p = |s: &str| Platform::parse(s).unwrap();
        assert!(p("linux/amd64").matches(&p("linux/amd64")));
        assert!(!p("linux/amd64").matches(&p("linux/386")));
        // No wanted variant accepts any; a wanted one must be there.
        assert!(p("linux/arm").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm/v7").matches(&p("linux/arm/v6")));
        assert!(!p("linux/arm/v7").matches(&p("linux/arm")));
        // arm64 without a variant is v8.
        assert!(p("linux/arm64/v8").matches(&p("linux/arm64")));
    }

    #[test]
    fn edits_keep_unknown_fields() {
        let raw = br#"{"architecture":"amd64","os":"linux","docker_version":"20.10","config":{"Env":["PATH=/bin"],"Hostname":"x"},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let mut config = ImageConfig::from_slice(raw).unwrap();
        config.set_env("PATH", "/usr/bin:/bin");
        config.set_env("LANG", "C");
        config.set_label("a", "b");
        config.set_entrypoint(Some(vec!["/bin/sh".into()]));
        config.append_layer(&Digest::sha256_of(b"x"), "test", 10);
        let v = config.as_value();
        assert_eq!(v["docker_version"], "20.10");
        assert_eq!(v["config"]["Hostname"], "x");
        assert_eq!(config.env(), ["PATH=/usr/bin:/bin", "LANG=C"]);
        assert_eq!(config.diff_ids().unwrap(), [Digest::sha256_of(b"x")]);
        assert_eq!(v["history"][0]["created"], "1970-01-01T00:00:10Z");
        assert_eq!(v["created"], "1970-01-01T00:00:10Z");
        assert_eq!(config.labels(), [("a".to_owned(), "b".to_owned())]);
    }
}
