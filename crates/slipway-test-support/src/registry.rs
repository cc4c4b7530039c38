//! Debian's `docker-registry` (distribution) started on a free port: anonymous, htpasswd, token auth.
//!
//! Also the two pieces of test code the registry tests need where no real peer
//! exists: a token issuer for distribution's token auth (no token server
//! package exists; this is the one test double of the registry tests) and a
//! fault-injecting HTTP proxy.
//!
//! ```no_run
//! use slipway_test_support::registry::{RegistryAuth, TestRegistry};
//!
//! let Some(registry) = TestRegistry::start(RegistryAuth::Htpasswd) else { return };
//! let image = format!("{}/test/busybox:1", registry.host());
//! # let _ = image;
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::{ChildGuard, free_port, generated_dir, require_tool, wait_for_port};

/// The user the htpasswd and token registries accept.
pub const USER: &str = "slipway";
/// That user's password.
pub const PASSWORD: &str = "s3cret-pass";
/// The `service` of the token registry.
pub const TOKEN_SERVICE: &str = "slipway-test-registry";
/// The `issuer` of the test token issuer.
pub const TOKEN_ISSUER: &str = "slipway-test-issuer";

/// How the registry authenticates clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryAuth {
    /// No authentication.
    Anonymous,
    /// `auth: htpasswd` with bcrypt (`htpasswd -B`): Basic auth, [`USER`]/[`PASSWORD`].
    Htpasswd,
    /// `auth: token` with the test issuer: [`USER`]/[`PASSWORD`] get pull and
    /// push; anonymous clients get pull only.
    Token,
}

/// A running `docker-registry serve` on 127.0.0.1 (killed and its storage
/// removed on drop).
#[derive(Debug)]
pub struct TestRegistry {
    port: u16,
    auth: RegistryAuth,
    dir: PathBuf,
    issuer: Option<TokenIssuer>,
    ca_dir: Option<PathBuf>,
    _child: ChildGuard,
}

impl TestRegistry {
    /// Start a registry with `auth`. `None` (after a loud skip, or a panic in
    /// CI) when `docker-registry`, `htpasswd` or `openssl` is missing.
    #[track_caller]
    pub fn start(auth: RegistryAuth) -> Option<Self> {
        Self::start_with(auth, false)
    }

    /// An anonymous registry serving HTTPS with a certificate for
    /// `127.0.0.1` signed by a CA of its own, which no system trust store
    /// holds: clients need [`TestRegistry::ca_dir`] (`--cert-dir`).
    #[track_caller]
    pub fn start_tls() -> Option<Self> {
        Self::start_with(RegistryAuth::Anonymous, true)
    }

    /// The directory holding the CA certificate (`ca.crt`) of a
    /// [`TestRegistry::start_tls`] registry.
    pub fn ca_dir(&self) -> Option<&Path> {
        self.ca_dir.as_deref()
    }

    #[track_caller]
    fn start_with(auth: RegistryAuth, tls: bool) -> Option<Self> {
        let registry_bin = require_tool("docker-registry")?;
        let port = free_port();
        let dir = generated_dir("registry").join(format!("{}-{port}", std::process::id()));
        let _ = fs_err::remove_dir_all(&dir);
        fs_err::create_dir_all(dir.join("data")).expect("create registry dir");
        let mut issuer = None;
        let auth_section = match auth {
            RegistryAuth::Anonymous => String::new(),
            RegistryAuth::Htpasswd => {
                let htpasswd = require_tool("htpasswd")?;
                let out = Command::new(htpasswd)
                    .args(["-Bbn", USER, PASSWORD])
                    .output()
                    .expect("run htpasswd");
                assert!(out.status.success(), "htpasswd failed: {out:?}");
                let path = dir.join("htpasswd");
                fs_err::write(&path, &out.stdout).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n",
                    path.display()
                )
            }
            RegistryAuth::Token => {
                let started = TokenIssuer::start(&dir)?;
                let section = format!(
                    "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    started.port,
                    started.cert.display()
                );
                issuer = Some(started);
                section
            }
        };
        let (tls_section, ca_dir) = if tls {
            let (section, ca_dir) = make_tls_certs(&dir)?;
            (section, Some(ca_dir))
        } else {
            (String::new(), None)
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: slipway-test-secret\n{tls_section}{auth_section}",
            dir.join("data").display()
        );
        let config_path = dir.join("config.yml");
        fs_err::write(&config_path, config).expect("write registry config");
        let log = fs_err::File::create(dir.join("registry.log")).expect("registry log");
        let child = Command::new(registry_bin)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log.into_parts().0)
            .spawn()
            .expect("start docker-registry");
        let mut child = ChildGuard::new("docker-registry", child);
        if let Err(e) = wait_for_port(port, Duration::from_secs(20)) {
            let log = fs_err::read_to_string(dir.join("registry.log")).unwrap_or_default();
            panic!("docker-registry did not start: {e}\n{log}");
        }
        child.assert_running();
        Some(Self {
            port,
            auth,
            dir,
            issuer,
            ca_dir,
            _child: child,
        })
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The auth mode.
    pub fn auth(&self) -> RegistryAuth {
        self.auth
    }

    /// `USER:PASSWORD` for modes with credentials.
    pub fn creds(&self) -> Option<String> {
        (self.auth != RegistryAuth::Anonymous).then(|| format!("{USER}:{PASSWORD}"))
    }

    /// Tokens issued so far (token mode).
    pub fn tokens_issued(&self) -> u64 {
        self.issuer
            .as_ref()
            .map_or(0, |i| i.issued.load(Ordering::SeqCst))
    }

    /// The registry's log file.
    pub fn log(&self) -> String {
        fs_err::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.dir);
    }
}

/// The test token issuer: RS256 JWTs whose header `kid` is the libtrust key
/// id of the signing key (whose certificate is the registry's `rootcertbundle`).
/// Signing uses the `openssl` command (test code; no JWT crate needed).
#[derive(Debug)]
struct TokenIssuer {
    port: u16,
    cert: PathBuf,
    issued: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl TokenIssuer {
    #[track_caller]
    fn start(dir: &Path) -> Option<Self> {
        let openssl = require_tool("openssl")?;
        let key = dir.join("issuer-key.pem");
        let cert = dir.join("issuer-cert.pem");
        let run = |args: &[&str]| {
            let out = Command::new(&openssl)
                .args(args)
                .output()
                .expect("run openssl");
            assert!(out.status.success(), "openssl {args:?} failed: {out:?}");
            out.stdout
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=slipway-test-issuer",
            "-keyout",
            &key.to_string_lossy(),
            "-out",
            &cert.to_string_lossy(),
        ]);
        let der = run(&[
            "pkey",
            "-in",
            &key.to_string_lossy(),
            "-pubout",
            "-outform",
            "DER",
        ]);
        let der_path = dir.join("issuer-pub.der");
        fs_err::write(&der_path, &der).expect("write public key");
        let hash = run(&["dgst", "-sha256", "-binary", &der_path.to_string_lossy()]);
        let kid = libtrust_key_id(&hash);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token issuer");
        let port = listener.local_addr().expect("issuer addr").port();
        let issued = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (issued2, stop2) = (issued.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (openssl, key, kid, issued) =
                    (openssl.clone(), key.clone(), kid.clone(), issued2.clone());
                std::thread::spawn(move || {
                    let _ = serve_token(stream, &openssl, &key, &kid, &issued);
                });
            }
        });
        Some(Self {
            port,
            cert,
            issued,
            stop,
        })
    }
}

/// libtrust's key id: base32 of the first 240 bits of the sha256 of the DER
/// public key, in 12 groups of 4 joined by `:`.
fn libtrust_key_id(sha256: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes = &sha256[..30];
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    let groups: Vec<String> = out
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    groups.join(":")
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    head: Vec<u8>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read one HTTP/1.1 request (head and `Content-Length` body); `None` on EOF
/// or on anything that is not HTTP (such as a TLS hello).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let first = reader.fill_buf().ok()?.first().copied()?;
    if !first.is_ascii_uppercase() {
        return None;
    }
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines();
    let mut request_line = lines.next()?.split_whitespace();
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut request = Request {
        method,
        target,
        headers,
        head,
        body: Vec::new(),
    };
    let len: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    request.body.resize(len, 0);
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

fn respond(stream: &mut TcpStream, status: &str, extra: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

fn query_params(target: &str) -> Vec<(String, String)> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve_token(
    stream: TcpStream,
    openssl: &Path,
    key: &Path,
    kid: &str,
    issued: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let Some(request) = read_request(&mut reader) else {
        return Ok(());
    };
    let params = query_params(&request.target);
    let service = params
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let user = match request.header("authorization") {
        None => None,
        Some(value) => {
            let decoded = value
                .strip_prefix("Basic ")
                .and_then(|b| STANDARD.decode(b.trim()).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            if decoded.as_deref() != Some(&format!("{USER}:{PASSWORD}")) {
                return respond(
                    &mut stream,
                    "401 Unauthorized",
                    "Content-Type: application/json\r\n",
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}"#,
                );
            }
            Some(USER)
        }
    };
    let access: Vec<serde_json::Value> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .filter_map(|(_, scope)| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| user.is_some() || *a == "pull")
                .collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = issued.fetch_add(1, Ordering::SeqCst);
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER,
        "sub": user.unwrap_or(""),
        "aud": service,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("slipway-{now}-{n}"),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut child = Command::new(openssl)
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(signing_input.as_bytes())?;
    let out = child.wait_with_output()?;
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(out.stdout));
    let body = serde_json::json!({"token": token, "access_token": token, "expires_in": 300});
    respond(
        &mut stream,
        "200 OK",
        "Content-Type: application/json\r\n",
        body.to_string().as_bytes(),
    )
}

/// A CA (`<dir>/ca/ca.crt`) and a server certificate for `127.0.0.1` signed
/// by it, made with `openssl`; returns the registry's `tls:` config lines and
/// the CA directory.
fn make_tls_certs(dir: &Path) -> Option<(String, PathBuf)> {
    let openssl = require_tool("openssl")?;
    let ca_dir = dir.join("ca");
    fs_err::create_dir_all(&ca_dir).expect("create CA dir");
    let (ca_key, ca_crt) = (dir.join("ca.key"), ca_dir.join("ca.crt"));
    let (key, csr, crt) = (
        dir.join("server.key"),
        dir.join("server.csr"),
        dir.join("server.crt"),
    );
    let p = |p: &Path| p.to_string_lossy().into_owned();
    let runs: [Vec<String>; 3] = [
        vec![
            "req".into(),
            "-x509".into(),
            "-newkey".into(),
            "rsa:2048".into(),
            "-nodes".into(),
            "-keyout".into(),
            p(&ca_key),
            "-out".into(),
            p(&ca_crt),
            "-days".into(),
            "3650".into(),
            "-subj".into(),
            "/CN=slipway test CA".into(),
        ],
        vec![
            "req".into(),
            "-newkey".into(),
            "rsa:2048".into(),
            "-nodes".into(),
            "-keyout".into(),
            p(&key),
            "-out".into(),
            p(&csr),
            "-subj".into(),
            "/CN=127.0.0.1".into(),
            "-addext".into(),
            "subjectAltName=IP:127.0.0.1".into(),
        ],
        vec![
            "x509".into(),
            "-req".into(),
            "-in".into(),
            p(&csr),
            "-CA".into(),
            p(&ca_crt),
            "-CAkey".into(),
            p(&ca_key),
            "-CAcreateserial".into(),
            "-out".into(),
            p(&crt),
            "-days".into(),
            "3650".into(),
            "-copy_extensions".into(),
            "copy".into(),
        ],
    ];
    for args in runs {
        let out = Command::new(&openssl)
            .args(&args)
            .output()
            .expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    }
    let section = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        crt.display(),
        key.display()
    );
    Some((section, ca_dir))
}

/// A fault the proxy can inject into a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without answering.
    Reset,
    /// Answer `503 Service Unavailable`.
    Unavailable,
    /// Forward, but cut the body in half (the `Content-Length` stays).
    Truncate,
    /// Forward, but flip one byte in the middle of the body.
    Corrupt,
    /// Forward, but change the first hex digit after the body's first
    /// `sha256:`: still valid JSON of the same length, a manifest that names
    /// another blob (what a tampering mirror would serve).
    Tamper,
}

#[derive(Debug)]
struct Rule {
    path_contains: String,
    fault: Fault,
    remaining: usize,
}

/// A fault-injecting HTTP proxy in front of a registry (test code): every
/// request is forwarded on a fresh upstream connection, except those matched
/// by a rule, which get the rule's fault.
#[derive(Debug)]
pub struct FaultProxy {
    port: u16,
    rules: Arc<Mutex<Vec<Rule>>>,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Start a proxy on a free port forwarding to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (rules2, log2, stop2) = (rules.clone(), log.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (rules, log) = (rules2.clone(), log2.clone());
                std::thread::spawn(move || {
                    let _ = proxy_connection(stream, upstream, &rules, &log);
                });
            }
        });
        Self {
            port,
            rules,
            log,
            stop,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Inject `fault` into the next `times` requests whose path contains `path_contains`.
    pub fn inject(&self, path_contains: &str, fault: Fault, times: usize) {
        self.rules.lock().expect("rules").push(Rule {
            path_contains: path_contains.to_owned(),
            fault,
            remaining: times,
        });
    }

    /// `METHOD PATH -> outcome` for every request seen.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// How many faults are still to be injected.
    pub fn pending(&self) -> usize {
        self.rules
            .lock()
            .expect("rules")
            .iter()
            .map(|r| r.remaining)
            .sum()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn proxy_connection(
    stream: TcpStream,
    upstream: u16,
    rules: &Mutex<Vec<Rule>>,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut client = stream;
    // One request per connection: every answer says `Connection: close`.
    if let Some(request) = read_request(&mut reader) {
        let path = request.target.split('?').next().unwrap_or("").to_owned();
        let fault = {
            let mut rules = rules.lock().expect("rules");
            rules
                .iter_mut()
                .find(|r| r.remaining > 0 && path.contains(&r.path_contains))
                .map(|r| {
                    r.remaining -= 1;
                    r.fault
                })
        };
        log.lock().expect("log").push(format!(
            "{} {path}{} -> {}",
            request.method,
            request
                .header("range")
                .map_or(String::new(), |r| format!(" [Range: {r}]")),
            fault.map_or("forward".to_owned(), |f| format!("{f:?}"))
        ));
        match fault {
            Some(Fault::Reset) => {
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::Unavailable) => {
                respond(&mut client, "503 Service Unavailable", "", b"injected 503")?;
                return Ok(());
            }
            _ => {}
        }
        // Forward on a fresh connection, asking upstream to close afterwards.
        let head = String::from_utf8_lossy(&request.head).into_owned();
        let mut forwarded = String::new();
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            if line.to_ascii_lowercase().starts_with("connection:") {
                continue;
            }
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
        forwarded.push_str("Connection: close\r\n\r\n");
        let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
        up.write_all(forwarded.as_bytes())?;
        up.write_all(&request.body)?;
        let mut response = Vec::new();
        up.read_to_end(&mut response)?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |p| p + 4);
        let (resp_head, body) = response.split_at(split);
        let mut body = body.to_vec();
        match fault {
            Some(Fault::Truncate) if request.method != "HEAD" && body.len() > 1 => {
                client.write_all(resp_head)?;
                client.write_all(&body[..body.len() / 2])?;
                client.flush()?;
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::Corrupt) if !body.is_empty() => {
                let mid = body.len() / 2;
                body[mid] ^= 0xff;
            }
            Some(Fault::Tamper) => {
                if let Some(at) = body.windows(7).position(|w| w == b"sha256:") {
                    let digit = &mut body[at + 7];
                    *digit = if *digit == b'0' { b'1' } else { b'0' };
                }
            }
            _ => {}
        }
        client.write_all(resp_head)?;
        client.write_all(&body)?;
        client.flush()?;
        // Upstream closed; close too (the head says `Connection: close`).
        let _ = client.shutdown(Shutdown::Both);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtrust_key_id_shape() {
        let id = libtrust_key_id(&[0u8; 32]);
        assert_eq!(id.len(), 12 * 4 + 11);
        assert!(id.starts_with("AAAA:AAAA"));
    }

    #[test]
    fn decodes_queries() {
        assert_eq!(
            query_params("/token?service=a&scope=repository%3Ax%2Fy%3Apull%2Cpush"),
            vec![
                ("service".to_owned(), "a".to_owned()),
                ("scope".to_owned(), "repository:x/y:pull,push".to_owned())
            ]
        );
    }
}
