//! The HTTP side: one `reqwest` client per process, the `/v2/` ping, auth
//! (bearer tokens cached per scope, or basic), retries with backoff.
//!
//! Built on reqwest rather than oci-client 0.18: oci-client's `pull()`
//! buffers whole layers in memory, it reads no `~/.docker/config.json`, its
//! platform resolver ignores variants, and its `push()` writes manifests
//! without `mediaType`; what remains (the distribution endpoints) is a few
//! hundred lines that we need to control anyway for resumable, verified
//! streaming into the layout.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use url::Url;

use crate::auth::{Challenge, CredentialSource, Credentials, parse_token_response, token_url};
use crate::error::{Error, Result};
use crate::reference::Reference;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Where credentials come from.
    pub credentials: CredentialSource,
    /// `Some(false)`: skip TLS verification and allow plain HTTP for every
    /// registry (skopeo's `--tls-verify=false`); `Some(true)`: require
    /// verified TLS even for loopback; `None`: verified TLS, except that
    /// loopback hosts may fall back to plain HTTP.
    pub tls_verify: Option<bool>,
    /// Hosts (`host:port`) treated as with `tls_verify = Some(false)`.
    pub insecure_registries: Vec<String>,
    /// A directory of extra CA certificates (`*.crt`, `*.pem`), as `--cert-dir`.
    pub cert_dir: Option<PathBuf>,
    /// Attempts after the first on connection errors, 429 and 5xx.
    pub retries: u32,
    /// First backoff delay; doubled on each retry.
    pub retry_delay: Duration,
    /// Blobs transferred at once.
    pub concurrency: usize,
    /// Blobs up to this size are uploaded with one `PUT`; larger ones in
    /// `PATCH` chunks of this size.
    pub chunk_size: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            credentials: CredentialSource::default(),
            tls_verify: None,
            insecure_registries: Vec::new(),
            cert_dir: None,
            retries: 5,
            retry_delay: Duration::from_millis(200),
            concurrency: 4,
            chunk_size: 32 * 1024 * 1024,
        }
    }
}

/// A distribution API client; cheap to clone (shared state behind an `Arc`).
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    verified: reqwest::Client,
    unverified: reqwest::Client,
    options: ClientOptions,
    hosts: Mutex<HashMap<String, HostState>>,
}

#[derive(Debug, Clone)]
struct HostState {
    base: Url,
    insecure: bool,
    challenge: Option<Challenge>,
    tokens: HashMap<String, (String, Instant)>,
}

/// Access to one repository: host, name, the scopes to ask for, credentials.
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) client: Client,
    pub(crate) host: String,
    pub(crate) repository: String,
    scopes: Vec<String>,
    credentials: Option<Credentials>,
}

impl Client {
    /// A client with `options`; reads the CA certificates of `cert_dir`.
    pub fn new(options: ClientOptions) -> Result<Self> {
        let mut certs = Vec::new();
        if let Some(dir) = &options.cert_dir {
            let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "crt" || x == "pem"))
                .collect();
            entries.sort();
            for path in entries {
                let pem = fs_err::read(&path)?;
                let cert = reqwest::Certificate::from_pem(&pem)
                    .map_err(|source| Error::Certificate { path, source })?;
                certs.push(cert);
            }
        }
        let build = |verify: bool| {
            let mut builder = reqwest::Client::builder()
                .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .read_timeout(Duration::from_secs(120))
                .pool_max_idle_per_host(16)
                .tls_certs_merge(certs.clone());
            if !verify {
                builder = builder.tls_danger_accept_invalid_certs(true);
            }
            builder.build().map_err(|source| Error::Http {
                url: "(client setup)".to_owned(),
                source,
            })
        };
        Ok(Self {
            inner: Arc::new(Inner {
                verified: build(true)?,
                unverified: build(false)?,
                options,
                hosts: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The options this client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Open a session on `reference`'s repository, for pulling or (`push`) pushing too.
    /// `also_pull` lists other repositories of the same registry to read (mount sources).
    pub fn session(
        &self,
        reference: &Reference,
        push: bool,
        also_pull: &[String],
    ) -> Result<Session> {
        let credentials = self
            .inner
            .options
            .credentials
            .lookup(reference.registry(), reference.repository())?;
        let mut scopes = vec![crate::auth::repository_scope(reference.repository(), push)];
        scopes.extend(
            also_pull
                .iter()
                .filter(|r| r.as_str() != reference.repository())
                .map(|r| crate::auth::repository_scope(r, false)),
        );
        Ok(Session {
            client: self.clone(),
            host: reference.api_host().to_owned(),
            repository: reference.repository().to_owned(),
            scopes,
            credentials,
        })
    }

    fn host_insecure(&self, host: &str) -> bool {
        self.inner.options.tls_verify == Some(false)
            || self
                .inner
                .options
                .insecure_registries
                .iter()
                .any(|h| h == host)
    }

    fn may_use_http(&self, host: &str) -> bool {
        if self.host_insecure(host) {
            return true;
        }
        if self.inner.options.tls_verify == Some(true) {
            return false;
        }
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        is_loopback(name)
    }

    fn http(&self, insecure: bool) -> &reqwest::Client {
        if insecure {
            &self.inner.unverified
        } else {
            &self.inner.verified
        }
    }

    fn state(&self, host: &str) -> Option<HostState> {
        self.inner.hosts.lock().ok()?.get(host).cloned()
    }

    fn update_state(&self, host: &str, f: impl FnOnce(&mut HostState)) {
        if let Ok(mut hosts) = self.inner.hosts.lock()
            && let Some(state) = hosts.get_mut(host)
        {
            f(state);
        }
    }

    /// `GET /v2/` once per host: picks https or (where allowed) http, and
    /// records the authentication challenge.
    async fn ensure_pinged(&self, host: &str) -> Result<HostState> {
        if let Some(state) = self.state(host) {
            return Ok(state);
        }
        let insecure = self.host_insecure(host);
        let mut schemes = vec!["https"];
        if self.may_use_http(host) {
            schemes.push("http");
        }
        let mut last_err = None;
        for (i, scheme) in schemes.iter().enumerate() {
            let base = Url::parse(&format!("{scheme}://{host}/")).map_err(|e| {
                Error::InvalidReference {
                    reference: host.to_owned(),
                    reason: format!("bad registry host: {e}"),
                }
            })?;
            let url = join(&base, "v2/")?;
            let is_last = i + 1 == schemes.len();
            let attempt = if is_last {
                self.with_retries(|| self.http(insecure).get(url.clone()), &url, Method::GET)
                    .await
            } else {
                // A TLS attempt at a plain-HTTP loopback registry fails at once; no retries.
                self.http(insecure)
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|source| Error::Http {
                        url: url.to_string(),
                        source,
                    })
            };
            match attempt {
                Ok(resp) => {
                    let challenge = challenge_of(resp.headers());
                    let status = resp.status();
                    if !(status.is_success() || status == StatusCode::UNAUTHORIZED) {
                        return Err(status_error(resp, Method::GET, &url).await);
                    }
                    let state = HostState {
                        base,
                        insecure,
                        challenge,
                        tokens: HashMap::new(),
                    };
                    if let Ok(mut hosts) = self.inner.hosts.lock() {
                        hosts.insert(host.to_owned(), state.clone());
                    }
                    tracing::debug!(host, scheme, "registry pinged");
                    return Ok(state);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Runtime("no scheme to try".to_owned())))
    }

    /// Send with retries on transient failures (connection errors, 429 and
    /// 5xx), with exponential backoff. The first retry of a request is a
    /// warning (`retrying HOST (attempt 2/6): REASON`), later ones are info.
    /// Failures no retry can mend — a name that does not resolve, a closed
    /// loopback port, a TLS certificate error — fail at once as
    /// [`Error::Unreachable`].
    async fn with_retries(
        &self,
        make: impl Fn() -> RequestBuilder,
        url: &Url,
        method: Method,
    ) -> Result<Response> {
        let opts = &self.inner.options;
        let host = host_of(url);
        let mut attempt = 0;
        loop {
            let result = make().send().await;
            let reason = match &result {
                Ok(resp) => {
                    is_retryable_status(resp.status()).then(|| status_reason(resp.status()))
                }
                Err(e) => match classify(e, &host) {
                    Failure::Transient(reason) => Some(reason),
                    Failure::Permanent { reason, hint } => {
                        tracing::debug!(%url, %method, error = ?e, "not retried");
                        return Err(Error::Unreachable {
                            host,
                            url: url.to_string(),
                            reason,
                            hint,
                        });
                    }
                },
            };
            let Some(reason) = reason.filter(|_| attempt < opts.retries) else {
                return result.map_err(|source| Error::Http {
                    url: url.to_string(),
                    source,
                });
            };
            attempt += 1;
            let total = opts.retries + 1;
            let next = attempt + 1;
            if attempt == 1 {
                tracing::warn!("retrying {host} (attempt {next}/{total}): {reason}");
            } else {
                tracing::info!("retrying {host} (attempt {next}/{total}): {reason}");
            }
            tracing::debug!(%url, %method, "retry {attempt}");
            tokio::time::sleep(opts.retry_delay * 2u32.saturating_pow(attempt - 1)).await;
        }
    }
}

impl Session {
    /// The repository name.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The base URL of the API (`https://host/`), after the ping.
    pub(crate) async fn base(&self) -> Result<Url> {
        Ok(self.client.ensure_pinged(&self.host).await?.base)
    }

    /// A URL under `/v2/<repository>/`.
    pub(crate) async fn repo_url(&self, rest: &str) -> Result<Url> {
        let base = self.base().await?;
        join(&base, &format!("v2/{}/{rest}", self.repository))
    }

    /// Send a request made by `make` to `url` with authentication, retries and
    /// one re-authentication on 401. Statuses are the caller's to judge.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        make: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let state = self.client.ensure_pinged(&self.host).await?;
        let http = self.client.http(state.insecure);
        let mut reauthed = false;
        loop {
            let auth = self.authorization().await?;
            let resp = self
                .client
                .with_retries(
                    || {
                        let mut rb = http.request(method.clone(), url.clone());
                        if let Some(auth) = &auth {
                            rb = rb.header(AUTHORIZATION, auth);
                        }
                        make(rb)
                    },
                    url,
                    method.clone(),
                )
                .await?;
            if resp.status() == StatusCode::UNAUTHORIZED && !reauthed {
                reauthed = true;
                let challenge = challenge_of(resp.headers());
                let key = self.scopes.join(" ");
                self.client.update_state(&self.host, |s| {
                    if challenge.is_some() {
                        s.challenge = challenge;
                    }
                    s.tokens.remove(&key);
                });
                continue;
            }
            if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
                let status = resp.status().as_u16();
                let detail = registry_message(resp).await;
                return Err(Error::Unauthorized {
                    url: url.to_string(),
                    status,
                    detail: format!("{detail} ({})", self.who()),
                });
            }
            return Ok(resp);
        }
    }

    fn who(&self) -> String {
        match &self.credentials {
            Some(c) => format!("tried the credentials of user `{}`", c.username),
            None => "no credentials were given".to_owned(),
        }
    }

    /// The `Authorization` header to send, fetching a token when needed.
    async fn authorization(&self) -> Result<Option<String>> {
        let Some(state) = self.client.state(&self.host) else {
            return Ok(None);
        };
        match &state.challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credentials.as_ref().map(Credentials::basic_header)),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let key = self.scopes.join(" ");
                if let Some((token, expires)) = state.tokens.get(&key)
                    && *expires > Instant::now()
                {
                    return Ok(Some(format!("Bearer {token}")));
                }
                let (token, lifetime) = self.fetch_token(realm, service.as_deref()).await?;
                let expires = Instant::now() + lifetime.saturating_sub(Duration::from_secs(10));
                self.client.update_state(&self.host, |s| {
                    s.tokens.insert(key, (token.clone(), expires));
                });
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    async fn fetch_token(&self, realm: &str, service: Option<&str>) -> Result<(String, Duration)> {
        let url = token_url(realm, service, &self.scopes)?;
        let insecure = self.client.host_insecure(&self.host);
        let resp = self
            .client
            .with_retries(
                || {
                    let rb = self.client.http(insecure).get(url.clone());
                    match &self.credentials {
                        Some(c) => rb.basic_auth(&c.username, Some(&c.password)),
                        None => rb,
                    }
                },
                &url,
                Method::GET,
            )
            .await?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let detail = registry_message(resp).await;
            return Err(Error::Unauthorized {
                url: url.to_string(),
                status: status.as_u16(),
                detail: format!("token server refused: {detail} ({})", self.who()),
            });
        }
        if !status.is_success() {
            return Err(status_error(resp, Method::GET, &url).await);
        }
        let body = resp.bytes().await.map_err(|source| Error::Http {
            url: url.to_string(),
            source,
        })?;
        parse_token_response(&body, url.as_str())
    }
}

/// Whether a failed request is worth retrying, and in words why it failed.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// The network or the server may recover: retry.
    Transient(String),
    /// No retry can mend it: fail at once, saying what to do.
    Permanent { reason: String, hint: String },
}

/// Sort a transport error into [`Failure`]s: a name that does not resolve
/// (`EAI_NONAME`, not the temporary `EAI_AGAIN`), a connection refused by a
/// loopback host (nothing listens there; a remote host may be restarting),
/// and TLS failures are permanent; everything else is transient.
fn classify(err: &reqwest::Error, host: &str) -> Failure {
    if err.is_builder() || err.is_redirect() {
        return Failure::Permanent {
            reason: innermost(err),
            hint: "check the image reference".to_owned(),
        };
    }
    let chain = chain_text(err);
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if [
        "name or service not known",
        "no address associated",
        "nodename nor servname",
    ]
    .iter()
    .any(|n| chain.contains(n))
    {
        return Failure::Permanent {
            reason: "the host name does not resolve (DNS: not found)".to_owned(),
            hint: format!(
                "check the registry host in the image reference; `getent hosts {name}` shows what this machine resolves"
            ),
        };
    }
    if is_tls_failure(err) {
        return Failure::Permanent {
            reason: format!("TLS failed: {}", innermost(err)),
            hint: "give the registry's CA certificate with `--cert-dir DIR`, or use `--tls-verify=false` for a registry you trust".to_owned(),
        };
    }
    let refused = io_kind_in(err, std::io::ErrorKind::ConnectionRefused)
        || chain.contains("connection refused");
    if refused && is_loopback(name) {
        return Failure::Permanent {
            reason: "connection refused: nothing listens on that port".to_owned(),
            hint: format!("start the registry on `{host}`, or fix the port in the image reference"),
        };
    }
    if refused {
        return Failure::Transient("connection refused".to_owned());
    }
    if err.is_timeout() {
        return Failure::Transient("timed out".to_owned());
    }
    Failure::Transient(innermost(err))
}

/// The messages of `err` and its causes, lower-case, joined.
fn chain_text(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        text.push_str(&e.to_string().to_ascii_lowercase());
        text.push('\n');
        source = e.source();
    }
    text
}

/// The message of the deepest cause: the one that says what happened.
fn innermost(err: &reqwest::Error) -> String {
    let mut last: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

fn io_kind_in(err: &reqwest::Error, kind: std::io::ErrorKind) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == kind)
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn is_loopback(name: &str) -> bool {
    matches!(name, "localhost" | "[::1]" | "::1") || name.starts_with("127.")
}

/// `host[:port]` of a URL, for messages.
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn status_reason(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("").to_lowercase()
    )
}

/// TLS failures (bad certificate, a plain-HTTP server) are not transient.
/// tokio-rustls reports them as `io::ErrorKind::InvalidData`, but the
/// connector layers may hide that type, so rustls' messages count too.
fn is_tls_failure(err: &reqwest::Error) -> bool {
    if io_kind_in(err, std::io::ErrorKind::InvalidData) {
        return true;
    }
    let text = chain_text(err);
    [
        "certificate",
        "corrupt message",
        "handshake",
        "invalidcontenttype",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

fn challenge_of(headers: &HeaderMap) -> Option<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Challenge::parse)
}

pub(crate) fn join(base: &Url, rest: &str) -> Result<Url> {
    base.join(rest).map_err(|e| Error::InvalidReference {
        reference: format!("{base}{rest}"),
        reason: e.to_string(),
    })
}

/// The registry's error text: the `errors[].message` of its JSON body, or the body.
pub(crate) async fn registry_message(resp: Response) -> String {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Errors>(&body) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|i| format!("{}: {}", i.code.to_lowercase(), i.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ if body.trim().is_empty() => status.canonical_reason().unwrap_or("").to_lowercase(),
        _ => body.trim().chars().take(300).collect(),
    }
}

/// Turn an unexpected response into an error naming URL and status.
pub(crate) async fn status_error(resp: Response, method: Method, url: &Url) -> Error {
    let status = resp.status().as_u16();
    let detail = registry_message(resp).await;
    match status {
        401 | 403 => Error::Unauthorized {
            url: url.to_string(),
            status,
            detail,
        },
        404 => Error::NotFound {
            url: url.to_string(),
            detail,
        },
        _ => Error::Status {
            method: method.to_string(),
            url: url.to_string(),
            status,
            detail,
        },
    }
}
