//! Authentication: `WWW-Authenticate` challenges, credentials from files and
//! flags, and the token request of the Docker token protocol.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::error::{Error, Result};

/// A user name and password (or token used as a password).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Parse `USER:PASS` as given to `--creds`.
    pub fn parse_flag(text: &str) -> Result<Self> {
        match text.split_once(':') {
            Some((user, pass)) if !user.is_empty() => Ok(Self {
                username: user.to_owned(),
                password: pass.to_owned(),
            }),
            _ => Err(Error::Credentials {
                origin: "--creds".to_owned(),
                reason: "expected USER:PASSWORD".to_owned(),
            }),
        }
    }

    /// The value of an `Authorization: Basic …` header.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// One authentication challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm=…,service=…,scope=…`: fetch a token from `realm`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` parameter to send to it.
        service: Option<String>,
        /// The scope the registry asked for, if any.
        scope: Option<String>,
    },
    /// `Basic realm=…`: send the credentials with each request.
    Basic,
}

impl Challenge {
    /// Parse a `WWW-Authenticate` header value (one challenge, as registries send).
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_auth_params(rest);
        if scheme.eq_ignore_ascii_case("bearer") {
            Some(Self::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            })
        } else if scheme.eq_ignore_ascii_case("basic") {
            Some(Self::Basic)
        } else {
            None
        }
    }
}

/// `key="quoted, value",key2=token` → map (keys lower-cased).
fn parse_auth_params(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    out
}

/// The token endpoint URL for a bearer challenge and the scopes wanted.
pub fn token_url(realm: &str, service: Option<&str>, scopes: &[String]) -> Result<url::Url> {
    let mut url = url::Url::parse(realm).map_err(|e| Error::BadChallenge {
        url: realm.to_owned(),
        challenge: format!("realm is not a URL: {e}"),
    })?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(service) = service {
            query.append_pair("service", service);
        }
        for scope in scopes {
            query.append_pair("scope", scope);
        }
    }
    Ok(url)
}

/// The scope string of the token protocol: `repository:NAME:pull[,push]`.
pub fn repository_scope(repository: &str, push: bool) -> String {
    let actions = if push { "pull,push" } else { "pull" };
    format!("repository:{repository}:{actions}")
}

/// The body of a token endpoint's answer.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub(crate) token: Option<String>,
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
}

/// The longest a token is kept, in seconds (a day).
const MAX_TOKEN_LIFETIME: u64 = 24 * 60 * 60;

/// A token endpoint's answer (`body`, from `url`): the token and how long it
/// lives (at least 60 s, the default of the protocol; at most a day).
///
/// Public for the fuzz targets only (`fuzz/`); the client calls it.
#[doc(hidden)]
pub fn parse_token_response(body: &[u8], url: &str) -> Result<(String, std::time::Duration)> {
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|source| Error::Json {
        what: "token response",
        origin: url.to_owned(),
        source,
    })?;
    let token = parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::BadChallenge {
            url: url.to_owned(),
            challenge: "token response without `token` or `access_token`".to_owned(),
        })?;
    // Capped: the client adds it to the clock, and a token server that says
    // "never" would overflow an `Instant` (found by the `registry_auth` fuzz target).
    let lifetime = parsed
        .expires_in
        .unwrap_or(60)
        .clamp(60, MAX_TOKEN_LIFETIME);
    Ok((token, std::time::Duration::from_secs(lifetime)))
}

/// Where credentials come from, in skopeo's order: the flag, then the auth
/// file given, then `$REGISTRY_AUTH_FILE`, `${XDG_RUNTIME_DIR}/containers/auth.json`,
/// `~/.config/containers/auth.json`, and last `~/.docker/config.json`
/// (or `$DOCKER_CONFIG/config.json`).
#[derive(Debug, Clone, Default)]
pub struct CredentialSource {
    /// Credentials from `--creds`; used for every registry.
    pub flag: Option<Credentials>,
    /// An explicit auth file (`--authfile`); when set, only it is read.
    pub authfile: Option<PathBuf>,
}

impl CredentialSource {
    /// Credentials for `registry` (as in the reference: `docker.io`, `host:port`)
    /// and `repository`, or `None` for anonymous access.
    pub fn lookup(&self, registry: &str, repository: &str) -> Result<Option<Credentials>> {
        if let Some(creds) = &self.flag {
            return Ok(Some(creds.clone()));
        }
        for file in self.files() {
            if !file.is_file() {
                continue;
            }
            if let Some(creds) = lookup_in_file(&file, registry, repository)? {
                return Ok(Some(creds));
            }
        }
        Ok(None)
    }

    fn files(&self) -> Vec<PathBuf> {
        if let Some(file) = &self.authfile {
            return vec![file.clone()];
        }
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let mut files = Vec::new();
        if let Some(f) = env("REGISTRY_AUTH_FILE") {
            files.push(PathBuf::from(f));
        }
        if let Some(dir) = env("XDG_RUNTIME_DIR") {
            files.push(Path::new(&dir).join("containers/auth.json"));
        }
        let home = env("HOME").map(PathBuf::from);
        let config_home = env("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".config")));
        if let Some(dir) = config_home {
            files.push(dir.join("containers/auth.json"));
        }
        if let Some(dir) = env("DOCKER_CONFIG") {
            files.push(Path::new(&dir).join("config.json"));
        } else if let Some(home) = home {
            files.push(home.join(".docker/config.json"));
        }
        files
    }
}

#[derive(Debug, serde::Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Debug, serde::Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Find credentials for `registry`/`repository` in one Docker or containers auth file.
///
/// Keys may be `host`, `https://host/...` (Docker's `https://index.docker.io/v1/`)
/// or, as containers-auth.json allows, `host/namespace` — the longest match wins.
pub fn lookup_in_file(
    path: &Path,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>> {
    let text = fs_err::read_to_string(path)?;
    let file: AuthFile = serde_json::from_str(&text).map_err(|source| Error::Json {
        what: "auth file",
        origin: path.display().to_string(),
        source,
    })?;
    let full = format!("{registry}/{repository}");
    let mut best: Option<(usize, &AuthEntry)> = None;
    for (key, entry) in &file.auths {
        let mut key = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        if let Some(stripped) = key.strip_suffix("/v1").or_else(|| key.strip_suffix("/v2")) {
            key = stripped;
        }
        if key == "index.docker.io" || key == "registry-1.docker.io" {
            key = "docker.io";
        }
        let matches = key == registry
            || (full.starts_with(key) && full.as_bytes().get(key.len()) == Some(&b'/'))
            || full == key;
        if matches && best.is_none_or(|(len, _)| key.len() > len) {
            best = Some((key.len(), entry));
        }
    }
    let Some((_, entry)) = best else {
        return Ok(None);
    };
    let bad = |reason: &str| Error::Credentials {
        origin: path.display().to_string(),
        reason: format!("{reason} (entry for {registry})"),
    };
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = BASE64
            .decode(auth.trim())
            .map_err(|_| bad("`auth` is not base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad("`auth` is not UTF-8"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| bad("`auth` is not base64 of USER:PASSWORD"))?;
        return Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(username), Some(password)) => Ok(Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        })),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Headers recorded from Docker Hub's anonymous flow for `centos:6.9`
    /// (`curl -si https://registry-1.docker.io/v2/library/centos/manifests/6.9`).
    const HUB_PING_CHALLENGE: &str =
        r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#;
    const HUB_MANIFEST_CHALLENGE: &str = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/centos:pull""#;
    const HUB_TOKEN_BODY: &str = r#"{"token":"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig","access_token":"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig","expires_in":300,"issued_at":"2026-11-24T10:00:00.000000000Z"}"#;

    #[test]
    fn docker_hub_anonymous_flow_from_recorded_headers() {
        let reference = crate::Reference::parse("centos:6.9").unwrap();
        assert_eq!(reference.api_host(), "registry-1.docker.io");

        let ping = Challenge::parse(HUB_PING_CHALLENGE).unwrap();
        assert_eq!(
            ping,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: None,
            }
        );
        let Challenge::Bearer {
            realm,
            service,
            scope,
        } = Challenge::parse(HUB_MANIFEST_CHALLENGE).unwrap()
        else {
            panic!("not bearer")
        };
        assert_eq!(scope.as_deref(), Some("repository:library/centos:pull"));
        // Our own scope for the pull is the one Hub asks for.
        let ours = repository_scope(reference.repository(), false);
        assert_eq!(ours, "repository:library/centos:pull");
        let url = token_url(&realm, service.as_deref(), &[ours]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fcentos%3Apull"
        );
        let token: TokenResponse = serde_json::from_str(HUB_TOKEN_BODY).unwrap();
        assert!(token.token.unwrap().starts_with("eyJ"));
        assert_eq!(token.expires_in, Some(300));
    }

    /// Found by the `registry_auth` fuzz target: a token server that says
    /// its token never expires (`expires_in` near `u64::MAX`) made the
    /// client panic when it added the lifetime to the clock.
    #[test]
    fn token_lifetime_fits_the_clock() {
        for expires_in in ["18446744073709551615", "9223372036854775807", "0"] {
            let body = format!(r#"{{"token":"t","expires_in":{expires_in}}}"#);
            let (token, lifetime) =
                parse_token_response(body.as_bytes(), "https://x/token").unwrap();
            assert_eq!(token, "t");
            assert!(lifetime >= std::time::Duration::from_secs(60));
            // What the client does with it.
            let _ = std::time::Instant::now() + lifetime;
        }
    }

    #[test]
    fn basic_and_odd_challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse(r#"bearer realm=https://x/token, service="a\"b""#),
            Some(Challenge::Bearer {
                realm: "https://x/token".into(),
                service: Some("a\"b".into()),
                scope: None
            })
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
    }

    #[test]
    fn auth_file_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = |u: &str| BASE64.encode(format!("{u}:pw-{u}"));
        fs_err::write(
            &path,
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},
                    "localhost:5000":{{"auth":"{}"}},
                    "localhost:5000/team":{{"auth":"{}"}},
                    "quay.io":{{"username":"q","password":"pq"}}}}}}"#,
                auth("hub"),
                auth("local"),
                auth("team")
            ),
        )
        .unwrap();
        let user = |reg: &str, repo: &str| {
            lookup_in_file(&path, reg, repo)
                .unwrap()
                .map(|c| (c.username, c.password))
        };
        assert_eq!(
            user("docker.io", "library/centos"),
            Some(("hub".into(), "pw-hub".into()))
        );
        assert_eq!(
            user("localhost:5000", "other/x"),
            Some(("local".into(), "pw-local".into()))
        );
        assert_eq!(
            user("localhost:5000", "team/x"),
            Some(("team".into(), "pw-team".into()))
        );
        assert_eq!(user("quay.io", "a/b"), Some(("q".into(), "pq".into())));
        assert_eq!(user("ghcr.io", "a/b"), None);
        let source = CredentialSource {
            flag: None,
            authfile: Some(path.clone()),
        };
        assert!(source.lookup("quay.io", "x").unwrap().is_some());
        assert!(Credentials::parse_flag("nocolon").is_err());
    }
}
