//! A TLS echo upstream with its own test CA, a proxy in front of it, and
//! the clients that drive it (reqwest and the real curl binary).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use warrant_proxy::{ProxiedSecret, Proxy, ProxyConfig, ProxyEvent, UseRequest, ValueSource, ca};
use warrant_secret::SecretValue;

pub const GH_TOKEN: &str = "ghs_RealValue_5mF2kQ9xW7pL3zR8";
pub const API_KEY: &str = "sk-real-key-0987654321-XYZabc";
pub const IP_TOKEN: &str = "ip-token-value-77f1c2d9e0";
pub const PLAIN_TOKEN: &str = "plain-http-token-4c2a9b1e";

/// Names the test upstream answers to (all resolved to it by the proxy).
pub const HOSTS: &[&str] = &[
    "api.example.test",
    "other.example.test",
    "evil.test",
    "api.example.test.evil.test",
    "free.test",
];

/// A test CA, made fresh for each upstream.
pub struct TestCa {
    pub cert: CertificateDer<'static>,
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "warrant-proxy test upstream CA");
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    fn server_config(&self) -> rustls::ServerConfig {
        let mut names: Vec<String> = HOSTS.iter().map(|h| (*h).to_owned()).collect();
        names.push("127.0.0.1".to_owned());
        let params = CertificateParams::new(names).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

/// What an upstream saw.
#[derive(Default)]
pub struct Seen {
    pub connections: AtomicUsize,
    pub requests: AtomicUsize,
    pub log: Mutex<Vec<Value>>,
}

impl Seen {
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn last(&self) -> Value {
        self.log
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the upstream saw a request")
    }
}

/// An echo server: answers every request with JSON of what it received
/// (`method`, `path` with query, `headers`, `body`, `version`; twice, 300
/// KiB apart, under `/big`), echoes
/// `Authorization` in `x-echo-authorization`, answers `/redirect?to=URL`
/// with a 302 to `URL`, and `/last` with the JSON of the last request
/// that was not `/last`.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl Upstream {
    /// Over TLS (HTTP/2 and HTTP/1.1) with a certificate from `ca`.
    pub async fn tls(ca: &TestCa) -> Self {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config()));
        Self::start(Some(acceptor)).await
    }

    /// Plain HTTP/1.1.
    pub async fn plain() -> Self {
        Self::start(None).await
    }

    async fn start(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let state = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                state.connections.fetch_add(1, Ordering::SeqCst);
                let _ = tcp.set_nodelay(true);
                let (state, tls) = (state.clone(), tls.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| echo(req, state.clone()));
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(tcp).await {
                                let _ = builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
        Self { addr, seen }
    }
}

async fn echo(
    req: Request<Incoming>,
    seen: Arc<Seen>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|c| c.to_bytes()) else {
        // A body cut off on its way: nothing was received.
        let mut response = Response::new(Full::new(Bytes::from_static(b"incomplete body")));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(old)) => *old = format!("{old}, {value}"),
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let record = json!({
        "method": parts.method.as_str(),
        "path": path,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "version": format!("{:?}", parts.version),
        // :authority in HTTP/2, Host in HTTP/1.1.
        "authority": parts.uri.authority().map(|a| a.as_str().to_owned())
            .or_else(|| parts.headers.get("host").map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())),
    });
    let previous = {
        let mut log = seen.log.lock().unwrap();
        let previous = log.iter().rev().find(|r| r["path"] != "/last").cloned();
        log.push(record.clone());
        previous
    };
    // `/last` answers with the request before it: a server handing back
    // something stored earlier.
    let answer = if path == "/last" {
        previous.unwrap_or(Value::Null)
    } else {
        record
    };
    let mut text = answer.to_string();
    if path.starts_with("/big") {
        // Past the size the proxy redacts whole: its streaming redactor.
        text.push_str(&" ".repeat(300 * 1024));
        text.push_str(&answer.to_string());
    }
    let mut response = Response::new(Full::new(Bytes::from(text)));
    if let Some(to) = path.strip_prefix("/redirect?to=") {
        *response.status_mut() = StatusCode::FOUND;
        response
            .headers_mut()
            .insert("location", to.parse().unwrap());
    }
    if let Some(auth) = parts.headers.get("authorization") {
        response
            .headers_mut()
            .insert("x-echo-authorization", auth.clone());
    }
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(response)
}

/// A value source over fixed values that records what it was asked and
/// refuses the secrets in `refuse`.
#[derive(Default)]
pub struct Values {
    pub values: HashMap<String, String>,
    pub refuse: HashMap<String, String>,
    pub asked: Mutex<Vec<UseRequest>>,
}

impl ValueSource for Values {
    fn values(&self, request: &UseRequest) -> Result<Vec<SecretValue>, String> {
        self.asked.lock().unwrap().push(request.clone());
        request
            .secrets
            .iter()
            .map(|name| match self.refuse.get(name) {
                Some(reason) => Err(reason.clone()),
                None => Ok(SecretValue::from(self.values[name].clone())),
            })
            .collect()
    }
}

/// The standard secrets: a header-only token for `api.example.test`, a key
/// allowed in bodies for `*.example.test`, a token for `127.0.0.1` and one
/// for the plain-HTTP host.
pub fn secrets() -> Vec<(ProxiedSecret, &'static str)> {
    // URLs allowed for all (the mechanics are tested here; the defaults in
    // `delivery.rs`); plain HTTP only for the plain host's token.
    let secret = |name: &str, hosts: &[&str], body: bool| ProxiedSecret {
        allow_http: name == "plain/token",
        query: true,
        body,
        ..ProxiedSecret::new(
            name,
            &warrant_proxy::placeholder::generate(name),
            hosts.iter().map(|h| (*h).to_owned()).collect(),
        )
    };
    vec![
        (
            secret("github/token", &["api.example.test"], false),
            GH_TOKEN,
        ),
        (secret("api/key", &["*.example.test"], true), API_KEY),
        (secret("ip/token", &["127.0.0.1"], false), IP_TOKEN),
        (
            secret("plain/token", &["plain.example.test"], true),
            PLAIN_TOKEN,
        ),
    ]
}

/// A proxy in front of a TLS upstream (and a plain one), with everything a
/// test looks at.
pub struct Harness {
    pub proxy: Proxy,
    pub upstream: Upstream,
    pub plain: Upstream,
    pub test_ca: TestCa,
    pub authority: ca::Authority,
    pub values: Arc<Values>,
    pub events: Arc<Mutex<Vec<ProxyEvent>>>,
    pub placeholders: HashMap<String, String>,
    pub dir: tempfile::TempDir,
}

#[derive(Default)]
pub struct Options {
    pub passthrough: bool,
    pub refuse: Vec<(&'static str, &'static str)>,
    /// Instead of [`secrets`].
    pub secrets: Option<Vec<(ProxiedSecret, &'static str)>>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        let test_ca = TestCa::new();
        let upstream = Upstream::tls(&test_ca).await;
        let plain = Upstream::plain().await;
        let dir = tempfile::tempdir().unwrap();
        let authority = ca::Authority::load_or_create(&dir.path().join("home")).unwrap();
        let mut values = Values::default();
        let mut placeholders = HashMap::new();
        let mut proxied = Vec::new();
        for (secret, value) in options.secrets.unwrap_or_else(secrets) {
            values.values.insert(secret.name.clone(), value.to_owned());
            placeholders.insert(secret.name.clone(), secret.placeholder.clone());
            proxied.push(secret);
        }
        for (name, reason) in options.refuse {
            values.refuse.insert(name.to_owned(), reason.to_owned());
        }
        let values = Arc::new(values);
        let mut resolve: Vec<(String, SocketAddr)> = HOSTS
            .iter()
            .map(|h| ((*h).to_owned(), upstream.addr))
            .collect();
        resolve.push(("127.0.0.1".to_owned(), upstream.addr));
        resolve.push(("plain.example.test".to_owned(), plain.addr));
        resolve.push(("plain-free.test".to_owned(), plain.addr));
        let config = ProxyConfig {
            secrets: proxied,
            passthrough: options.passthrough,
            upstream_ca: vec![test_ca.cert.clone()],
            resolve,
            ..ProxyConfig::default()
        };
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let proxy = Proxy::start(
            config,
            authority.clone(),
            values.clone(),
            Arc::new(move |event| sink.lock().unwrap().push(event)),
        )
        .await
        .unwrap();
        Self {
            proxy,
            upstream,
            plain,
            test_ca,
            authority,
            values,
            events,
            placeholders,
            dir,
        }
    }

    pub fn placeholder(&self, name: &str) -> &str {
        &self.placeholders[name]
    }

    pub fn events(&self) -> Vec<ProxyEvent> {
        self.events.lock().unwrap().clone()
    }

    pub fn asked(&self) -> Vec<UseRequest> {
        self.values.asked.lock().unwrap().clone()
    }

    /// A reqwest client through the proxy, trusting the proxy's CA (and the
    /// test CA, for passthrough), following no redirect.
    pub fn client(&self) -> reqwest::Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.authority.cert_der().clone()).unwrap();
        roots.add(self.test_ca.cert.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(format!("http://{}", self.proxy.addr())).unwrap())
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// The bundle a child would get (system roots + proxy CA), plus the test
    /// CA so passthrough tunnels to the test upstream verify.
    pub fn bundle(&self) -> PathBuf {
        let path = self.dir.path().join("bundle.pem");
        let pem = format!("{}{}", self.authority.cert_pem(), self.test_ca.pem);
        warrant_proxy::bundle::write(&pem, &path).unwrap();
        path
    }

    /// Runs the real curl through the proxy; returns (status, headers, body).
    pub async fn curl(&self, args: &[&str]) -> Curl {
        let proxy = format!("http://{}", self.proxy.addr());
        let bundle = self.bundle();
        let headers = self.dir.path().join(format!(
            "headers-{}",
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let mut command = Command::new("curl");
        command
            .args(["-sS", "--max-time", "20", "--proxy", &proxy, "--cacert"])
            .arg(&bundle)
            .arg("-D")
            .arg(&headers)
            .args(["-w", "\n%{http_code} %{http_version}"])
            .args(args);
        for var in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(var);
        }
        let output = tokio::task::spawn_blocking(move || command.output().expect("curl runs"))
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
        let (code, version) = status.split_once(' ').unwrap_or((status, ""));
        Curl {
            status: code.parse().unwrap_or(0),
            version: version.to_owned(),
            headers: std::fs::read_to_string(&headers).unwrap_or_default(),
            body: body.to_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What curl printed.
#[derive(Debug)]
pub struct Curl {
    pub status: u16,
    /// `1.1` or `2`.
    pub version: String,
    pub headers: String,
    pub body: String,
    pub stderr: String,
}
