//! Fetching sources into the store, verified by sha256, from their upstream
//! URL or a mirror (a directory or base URL holding the files by name).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::store::Store;
use crate::error::{Error, Result};
use crate::model::Source;

/// Where sources come from.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// A directory or URL holding the files by their file names.
    pub mirror: Option<String>,
    /// Never use the network (a mirror directory still works).
    pub offline: bool,
}

/// Make sure `source` (expected `sha256`) is in the store; return its path.
pub(crate) fn fetch_source(
    store: &Store,
    source: &Source,
    sha256: &str,
    options: &SourceOptions,
) -> Result<PathBuf> {
    let dir = store.source_dir(sha256);
    let path = dir.join(&source.file_name);
    if path.is_file() {
        return Ok(path);
    }
    let (location, bytes) = match &options.mirror {
        Some(m) if !m.starts_with("http://") && !m.starts_with("https://") => {
            let file = Path::new(m).join(&source.file_name);
            let bytes = fs_err::read(&file).map_err(|e| Error::io(&file, e))?;
            (file.display().to_string(), bytes)
        }
        Some(m) => {
            let url = format!("{}/{}", m.trim_end_matches('/'), source.file_name);
            (url.clone(), download(&url, options)?)
        }
        None => (source.url.clone(), download(&source.url, options)?),
    };
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != sha256 {
        return Err(Error::DigestMismatch {
            what: format!("source `{}` from {location}", source.name),
            expected: sha256.to_owned(),
            actual,
        });
    }
    let tmp = store.tmp().join(format!("{sha256}.source.tmp"));
    fs_err::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let tmp_file = tmp.join(&source.file_name);
    fs_err::write(&tmp_file, &bytes).map_err(|e| Error::io(&tmp_file, e))?;
    match fs_err::rename(&tmp, &dir) {
        Ok(()) => Ok(path),
        // Another build put it there first: theirs is verified too.
        Err(_) if path.is_file() => {
            let _ = fs_err::remove_dir_all(&tmp);
            Ok(path)
        }
        Err(e) => Err(Error::io(&dir, e)),
    }
}

/// The sha256 of a file fetched from `url` (for `slipway lock`).
pub(crate) fn download(url: &str, options: &SourceOptions) -> Result<Vec<u8>> {
    if options.offline {
        return Err(Error::Fetch {
            url: url.to_owned(),
            message: "offline: give `--mirror` or fetch it into the store first".into(),
        });
    }
    let fail = |message: String| Error::Fetch {
        url: url.to_owned(),
        message,
    };
    let response = reqwest::blocking::get(url).map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let mut bytes = Vec::new();
    response
        .take(u64::MAX)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    Ok(bytes)
}
