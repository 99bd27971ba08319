//! The proxy as an agent uses it under a grant, end to end: a real
//! `warrant serve`, a real `warrant proxy --grant ID` (its own process), and
//! a local TLS upstream that echoes `Authorization` (so every response is
//! redacted), against the same upstream reached directly, in one run.
//!
//! Two grants: one without a use limit (the proxy holds a lease: one daemon
//! check, then each request reported as it happens), and one with a use
//! limit (every request waits for the daemon to count it and write the use
//! to disk first).
//!
//! `cargo bench -p warrant-cli --bench proxy_grant`; `WARRANT_BENCH_SCALE`
//! scales the request counts.
#![expect(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

mod support;
use support::{BenchHome, ms, percentile};

const IN_FLIGHT: usize = 16;
const VALUE: &str = "fake-bench-value-0123456789";

const POLICY: &str = r#"
[actors.web]
kind = "agent"

[actors.counted]
kind = "agent"

[[rules]]
actors   = ["web"]
secrets  = ["db/dev/url"]
hosts    = ["localhost"]
max_ttl  = "1h"
approval = "auto"

[[rules]]
actors   = ["counted"]
secrets  = ["db/dev/url"]
hosts    = ["localhost"]
max_ttl  = "1h"
max_uses = 100000000
approval = "auto"
"#;

fn main() {
    let scale: f64 = std::env::var("WARRANT_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = |count: usize| ((count as f64 * scale) as usize).max(20);
    let bench = BenchHome::new(POLICY);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ca_pem, upstream) = runtime.block_on(start_upstream());
    let ca_file = bench.dir.path().join("upstream-ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    // The daemon's egress trusts the upstream because its operator says so.
    let _daemon = bench.serve_with(&["--egress-ca", ca_file.to_str().unwrap()]);
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap();
    let url = format!("https://localhost:{}/user", upstream.port());

    println!(
        "the daemon's egress (warrant proxy --grant, real daemon) vs direct, HTTPS to a local upstream; \
         keep-alive; {IN_FLIGHT} in flight for req/s, one at a time for latency"
    );
    println!(
        "{:<30} {:>11} {:>11} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "grant", "direct r/s", "proxy r/s", "ratio", "dir p50", "added p50", "dir p99", "added p99"
    );
    for (label, actor, count) in [
        ("no use limit (lease)", "web", n(20_000)),
        ("use limit (per request)", "counted", n(2_000)),
    ] {
        let grant = request(&bench, actor);
        let mut proxy = ForegroundProxy::start(&bench, &grant);
        let direct = client(&ca, None, &format!("Bearer {VALUE}"));
        let through = client(
            &proxy.ca,
            Some(&proxy.url),
            &format!("Bearer {}", proxy.placeholder),
        );
        runtime.block_on(async {
            for c in [&direct, &through] {
                for _ in 0..50 {
                    c.get(&url).await;
                }
            }
            let d_rps = throughput(&direct, &url, count).await;
            let p_rps = throughput(&through, &url, count).await;
            let mut d_lat = latencies(&direct, &url, count / 10).await;
            let mut p_lat = latencies(&through, &url, count / 10).await;
            let (d50, d99) = (percentile(&mut d_lat, 50.0), percentile(&mut d_lat, 99.0));
            let (p50, p99) = (percentile(&mut p_lat, 50.0), percentile(&mut p_lat, 99.0));
            println!(
                "{:<30} {:>11.0} {:>11.0} {:>6.2} {:>10} {:>10} {:>10} {:>10}",
                label,
                d_rps,
                p_rps,
                p_rps / d_rps,
                ms(d50),
                ms(p50.saturating_sub(d50)),
                ms(d99),
                ms(p99.saturating_sub(d99)),
            );
        });
        proxy.stop();
    }
}

/// An active grant of `db/dev/url` for `actor`.
fn request(bench: &BenchHome, actor: &str) -> String {
    let out = bench
        .warrant(&[
            "request",
            "--actor",
            actor,
            "--secret",
            "db/dev/url",
            "--reason",
            "bench",
            "--ttl",
            "30m",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grant: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(grant["status"], "active");
    grant["id"].as_str().unwrap().to_owned()
}

/// `warrant proxy --grant ID --json` and what it printed.
struct ForegroundProxy {
    child: Child,
    url: String,
    ca: CertificateDer<'static>,
    placeholder: String,
}

impl ForegroundProxy {
    fn start(bench: &BenchHome, grant: &str) -> Self {
        let mut child = bench
            .warrant(&["proxy", "--grant", grant, "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        while !text.ends_with("}\n") {
            assert!(
                out.read_line(&mut text).unwrap() > 0,
                "warrant proxy ended: {text}"
            );
        }
        let settings: serde_json::Value = serde_json::from_str(&text).unwrap();
        let bundle = std::fs::read(settings["ca_bundle"].as_str().unwrap()).unwrap();
        // warrant's CA is the bundle's last certificate.
        let ca = CertificateDer::pem_slice_iter(&bundle)
            .filter_map(Result::ok)
            .last()
            .unwrap()
            .into_owned();
        Self {
            child,
            url: settings["env"]["HTTPS_PROXY"].as_str().unwrap().to_owned(),
            ca,
            placeholder: settings["placeholders"]["db/dev/url"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }

    fn stop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

struct Client {
    http: reqwest::Client,
    authorization: String,
}

impl Client {
    async fn get(&self, url: &str) {
        let response = self
            .http
            .get(url)
            .header("authorization", &self.authorization)
            .send()
            .await
            .expect("request");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response.bytes().await.expect("body");
        // Through the proxy the echoed value comes back redacted.
        let echoed = body.windows(VALUE.len()).any(|w| w == VALUE.as_bytes());
        assert_eq!(echoed, self.authorization.contains(VALUE));
    }
}

fn client(root: &CertificateDer<'static>, proxy: Option<&str>, authorization: &str) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only();
    let builder = match proxy {
        Some(url) => builder.proxy(reqwest::Proxy::all(url).unwrap()),
        None => builder.no_proxy(),
    };
    Client {
        http: builder.build().unwrap(),
        authorization: authorization.to_owned(),
    }
}

async fn throughput(client: &Client, url: &str, total: usize) -> f64 {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (http, auth, next, url) = (
                client.http.clone(),
                client.authorization.clone(),
                next.clone(),
                url.to_owned(),
            );
            tokio::spawn(async move {
                let client = Client {
                    http,
                    authorization: auth,
                };
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                    client.get(&url).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

async fn latencies(client: &Client, url: &str, count: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        client.get(url).await;
        out.push(start.elapsed());
    }
    out.sort();
    out
}

/// A TLS upstream for `localhost` that echoes `Authorization`; its CA (PEM).
async fn start_upstream() -> (String, SocketAddr) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service_fn(echo))
                    .await;
            });
        }
    });
    (ca_cert.pem(), addr)
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let auth = req
        .headers()
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let _ = req.into_body().collect().await;
    let body = format!("{{\"login\":\"octocat\",\"auth\":\"{auth}\"}}");
    Ok(Response::new(Full::new(Bytes::from(body))))
}
