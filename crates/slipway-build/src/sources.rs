//! Fetching sources into the store, verified by sha256, from their upstream
//! URL or a mirror (a directory or base URL holding the files by name).
//!
//! A source with `asc` is also checked against its detached OpenPGP
//! signature (fetched the same way, by its file name on a mirror) with the
//! keys of its `keyring` source, before it enters the store. Verification is
//! the rpm crate's OpenPGP verifier, as slipway-rpm uses for RPM signatures.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use slipway_recipe::plan::ImagePlan;
use slipway_recipe::{Action, Image, Source};

use crate::driver::Driver;
use crate::error::{Error, Result, build_err};
use crate::report::Event;
use crate::store::Store;

/// Where sources come from.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// A directory or URL holding the files by their file names.
    pub mirror: Option<String>,
    /// Never use the network (a mirror directory still works).
    pub offline: bool,
}

/// The bytes of `url` (file `file_name` on a mirror) and where they came from.
pub(crate) fn get(
    url: &str,
    file_name: &str,
    options: &SourceOptions,
) -> Result<(String, Vec<u8>)> {
    Ok(match &options.mirror {
        Some(m) if !m.starts_with("http://") && !m.starts_with("https://") => {
            let file = Path::new(m).join(file_name);
            let bytes = fs_err::read(&file).map_err(|e| Error::io(&file, e))?;
            (file.display().to_string(), bytes)
        }
        Some(m) => {
            let url = format!("{}/{}", m.trim_end_matches('/'), file_name);
            (url.clone(), download(&url, options)?)
        }
        None => (url.to_owned(), download(url, options)?),
    })
}

/// Check `data` against the detached signature `signature` (ASCII-armoured
/// or binary) with the ASCII-armoured keys `keyring`.
pub(crate) fn verify_detached(
    data: &[u8],
    signature: &[u8],
    keyring: &[u8],
) -> std::result::Result<(), String> {
    use slipway_rpm::rpm::signature::Verifying as _;
    let mut verifier = slipway_rpm::rpm::signature::pgp::Verifier::new();
    verifier
        .load_from_asc_bytes(keyring)
        .map_err(|e| format!("reading the keyring: {e}"))?;
    let binary = if signature.starts_with(b"-----BEGIN PGP") {
        let mut out = Vec::new();
        pgp::armor::Dearmor::new(std::io::BufReader::new(signature))
            .read_to_end(&mut out)
            .map_err(|e| format!("reading the armoured signature: {e}"))?;
        out
    } else {
        signature.to_vec()
    };
    verifier.verify(data, &binary).map_err(|e| e.to_string())
}

/// Make sure `source` (expected `sha256`) is in the store; return its path.
/// `keyring` is the fetched keyring source when `source` has an `asc`.
pub(crate) fn fetch_source(
    store: &Store,
    source: &Source,
    sha256: &str,
    options: &SourceOptions,
    keyring: Option<&Path>,
) -> Result<PathBuf> {
    let dir = store.source_dir(sha256);
    let path = dir.join(&source.file_name);
    if path.is_file() {
        return Ok(path);
    }
    let (location, bytes) = get(&source.url, &source.file_name, options)?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != sha256 {
        return Err(Error::DigestMismatch {
            what: format!("source `{}` from {location}", source.name),
            expected: sha256.to_owned(),
            actual,
        });
    }
    if let Some(asc) = &source.asc {
        let keyring_name = source.keyring.clone().unwrap_or_default();
        let fail = |message: String| Error::Signature {
            what: format!("source `{}` from {location}", source.name),
            asc: asc.clone(),
            keyring: keyring_name.clone(),
            message,
        };
        let keyring = keyring.ok_or_else(|| fail("the source names no fetched keyring".into()))?;
        let keys = fs_err::read(keyring).map_err(|e| Error::io(keyring, e))?;
        let asc_name = asc.rsplit('/').next().unwrap_or(asc);
        let (_, signature) = get(asc, asc_name, options)?;
        verify_detached(&bytes, &signature, &keys).map_err(fail)?;
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

impl Driver<'_> {
    /// Fetch the sources `image` uses into the store (keyrings first, so
    /// signed sources are verified as they come in): name → directory.
    pub(crate) fn fetch_sources(
        &self,
        image: &Image,
        plan: &ImagePlan,
    ) -> Result<BTreeMap<String, PathBuf>> {
        // Step inputs, repositories from sources, and the sources of srpm-patch
        // and builddep operations.
        let mut used: BTreeSet<&str> = image
            .steps
            .iter()
            .flat_map(|s| s.inputs.iter().map(String::as_str))
            .collect();
        for repo in &image.repos {
            if let slipway_recipe::RepoKind::Source(s) | slipway_recipe::RepoKind::Rpm(s) =
                &repo.kind
            {
                used.insert(s);
            }
        }
        for step in &image.steps {
            match &step.action {
                Action::SrpmPatch(p) => {
                    used.insert(&p.srpm);
                    used.insert(&p.patch);
                }
                Action::Packages(ops) => {
                    for op in ops {
                        if let slipway_recipe::PackageOp::BuildDep(s) = op {
                            used.insert(s);
                        }
                    }
                }
                Action::Script(_) => {}
            }
        }
        // The keyrings of signed sources are fetched first.
        let keyrings: BTreeSet<&str> = image
            .sources
            .iter()
            .filter(|s| used.contains(s.name.as_str()) && s.asc.is_some())
            .filter_map(|s| s.keyring.as_deref())
            .collect();
        used.extend(&keyrings);
        let mut fetches: Vec<_> = plan
            .fetches
            .iter()
            .filter(|f| used.contains(f.name.as_str()))
            .collect();
        fetches.sort_by_key(|f| !keyrings.contains(f.name.as_str()));
        let mut out: BTreeMap<String, PathBuf> = BTreeMap::new();
        for fetch in fetches {
            let source = image.source(&fetch.name).ok_or_else(|| {
                build_err(format!("source `{}`", fetch.name), "not in the recipe")
            })?;
            let sha256 = fetch.sha256.as_deref().ok_or_else(|| Error::Unpinned {
                what: format!("source `{}` ({})", fetch.name, fetch.url),
            })?;
            let keyring = source.keyring.as_deref().and_then(|k| {
                let file = &image.source(k)?.file_name;
                out.get(k).map(|dir| dir.join(file))
            });
            let path = fetch_source(
                &self.store,
                source,
                sha256,
                &self.options.sources,
                keyring.as_deref(),
            )?;
            self.reporter.event(&Event::Source(&fetch.name));
            let dir = path.parent().map(Path::to_path_buf).unwrap_or(path);
            out.insert(fetch.name.clone(), dir);
        }
        Ok(out)
    }
}

/// The sha256 of a file fetched from `url` (for `slipway lock`).
pub(crate) fn download(url: &str, options: &SourceOptions) -> Result<Vec<u8>> {
    if options.offline {
        return Err(Error::Offline {
            what: format!("`{url}`"),
            instead: "give `--mirror`, or fetch it into the store first".into(),
        });
    }
    let fail = |message: String| Error::Fetch {
        url: url.to_owned(),
        message,
    };
    let http = |source| Error::Http {
        url: url.to_owned(),
        source,
    };
    let response = reqwest::blocking::get(url).map_err(http)?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let mut bytes = Vec::new();
    response
        .take(u64::MAX)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(url, e))?;
    Ok(bytes)
}

/// Detached signatures made by the real `gpg` with a key made for the test.
#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use sha2::{Digest, Sha256};
    use slipway_test_support::{generated_dir, require_tool};

    use super::{SourceOptions, fetch_source};
    use slipway_recipe::Loc;
    use slipway_recipe::Source;

    use crate::error::Error;
    use crate::store::Store;

    fn gpg(home: &Path, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(home)
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .expect("run gpg");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn new_key(home: &Path, uid: &str) -> Vec<u8> {
        fs_err::create_dir_all(home).expect("gnupg home");
        let mut perms = fs_err::metadata(home).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        fs_err::set_permissions(home, perms).expect("chmod");
        gpg(
            home,
            &["--quick-generate-key", uid, "rsa2048", "sign", "never"],
        );
        gpg(home, &["--armor", "--export", uid])
    }

    /// Stops the gpg-agents of the homes under a directory.
    struct Agents(std::path::PathBuf);

    impl Drop for Agents {
        fn drop(&mut self) {
            for home in ["s", "o"] {
                let _ = Command::new("gpgconf")
                    .arg("--homedir")
                    .arg(self.0.join(home))
                    .args(["--kill", "gpg-agent"])
                    .output();
            }
        }
    }

    fn source(asc: bool) -> Source {
        Source {
            name: "tarball".into(),
            url: "https://example.invalid/pkg-1.0.tar.gz".into(),
            sha256: None,
            file_name: "pkg-1.0.tar.gz".into(),
            asc: asc.then(|| "https://example.invalid/pkg-1.0.tar.gz.asc".into()),
            keyring: asc.then(|| "keys".into()),
            loc: Loc {
                file: "img.toml".into(),
                line: 1,
            },
        }
    }

    #[test]
    fn asc_signatures_are_verified_against_the_keyring() {
        if require_tool("gpg").is_none() {
            return;
        }
        let work = generated_dir("recipe-asc");
        let _ = fs_err::remove_dir_all(&work);
        // Fresh, short GnuPG homes (agent sockets live there), agents
        // stopped at the end.
        let homes = tempfile::Builder::new()
            .prefix("slipway-gpg")
            .tempdir_in("/tmp")
            .expect("gnupg homes");
        let _agents = Agents(homes.path().to_path_buf());
        let signer_home = homes.path().join("s");
        let signer = new_key(&signer_home, "Signer <signer@example.invalid>");
        let other = new_key(&homes.path().join("o"), "Other <other@example.invalid>");
        let mirror = work.join("mirror");
        fs_err::create_dir_all(&mirror).expect("mirror");
        let data = b"the release tarball\n".repeat(1000);
        let tarball = mirror.join("pkg-1.0.tar.gz");
        fs_err::write(&tarball, &data).expect("tarball");
        gpg(
            &signer_home,
            &[
                "--armor",
                "--detach-sign",
                "--output",
                mirror.join("pkg-1.0.tar.gz.asc").to_str().expect("utf-8"),
                tarball.to_str().expect("utf-8"),
            ],
        );
        let keys = work.join("keys.asc");
        fs_err::write(&keys, &signer).expect("keyring");
        let wrong_keys = work.join("other.asc");
        fs_err::write(&wrong_keys, &other).expect("keyring");
        let options = SourceOptions {
            mirror: Some(mirror.display().to_string()),
            offline: true,
        };
        let sha = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));

        // The signer's key: fetched into the store.
        let store = Store::open(&work.join("store")).expect("store");
        let path = fetch_source(&store, &source(true), &sha(&data), &options, Some(&keys))
            .expect("a good signature verifies");
        assert_eq!(fs_err::read(&path).expect("stored"), data);

        // Another key: refused, and nothing enters the store.
        let store = Store::open(&work.join("store-2")).expect("store");
        let err = fetch_source(
            &store,
            &source(true),
            &sha(&data),
            &options,
            Some(&wrong_keys),
        )
        .expect_err("another key's keyring");
        assert!(matches!(err, Error::Signature { .. }), "{err}");
        assert!(!store.source_dir(&sha(&data)).exists());

        // The file changed after signing (and pinned as changed): refused.
        let tampered = b"the release tarball, changed\n".to_vec();
        fs_err::write(&tarball, &tampered).expect("tamper");
        let err = fetch_source(
            &store,
            &source(true),
            &sha(&tampered),
            &options,
            Some(&keys),
        )
        .expect_err("a changed file");
        assert!(matches!(err, Error::Signature { .. }), "{err}");
        assert!(err.to_string().contains("pkg-1.0.tar.gz.asc"), "{err}");

        // No keyring fetched for a signed source: refused; unsigned: fetched.
        let err = fetch_source(&store, &source(true), &sha(&tampered), &options, None)
            .expect_err("no keyring");
        assert!(matches!(err, Error::Signature { .. }), "{err}");
        fetch_source(&store, &source(false), &sha(&tampered), &options, None)
            .expect("unsigned sources need no keyring");
    }
}
