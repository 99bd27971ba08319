//! What the proxy costs: requests per second and latency (p50, p99) through
//! the proxy against the same local TLS upstream reached directly, in one
//! run, with keep-alive connections (HTTP/1.1 and HTTP/2) and with a new
//! connection per request.
//!
//! The first row forwards requests without a placeholder (run first: once a
//! value has been substituted, every response is redacted). In the other
//! rows every request through the proxy carries a placeholder in
//! `Authorization` (so each one is scanned, asks the value source, in place
//! or on a blocking thread as the source says, is substituted) and the
//! upstream echoes the header back (so every response is redacted): the
//! proxy's full path. Directly, the request carries the real value.
//!
//! Client, proxy and upstream share the machine's cores, so the proxy's
//! own work (a second TLS session each way) competes with theirs.
//!
//! `cpu ratio` is the direct CPU time per request over the proxied one
//! (client, proxy and upstream together): what the throughput ratio is on a
//! saturated machine, and steady when other work loads it.
//!
//! `cargo bench -p warrant-proxy --bench proxy`; `WARRANT_BENCH_SCALE=0.2`
//! runs fewer requests; `WARRANT_BENCH_ONLY=TEXT` runs the rows whose name
//! holds TEXT. Throughput uses 16 requests in flight.
#![expect(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use warrant_proxy::{ProxiedSecret, Proxy, ProxyConfig, UseRequest, ValueSource, ca};
use warrant_secret::SecretValue;

const HOST: &str = "api.example.test";
const TOKEN: &str = "ghs_BenchValue_0123456789abcdefXYZ";
const IN_FLIGHT: usize = 16;

/// Values from memory; `blocking` says whether to claim it may block (the
/// daemon-backed source does), which moves each call to a blocking thread.
#[derive(Default)]
struct Fixed {
    blocking: AtomicBool,
}

impl ValueSource for Fixed {
    fn values(&self, request: &UseRequest) -> Result<Vec<SecretValue>, String> {
        Ok(request
            .secrets
            .iter()
            .map(|_| SecretValue::from(TOKEN.to_owned()))
            .collect())
    }

    fn blocks(&self) -> bool {
        self.blocking.load(Ordering::Relaxed)
    }
}

fn main() {
    let scale: f64 = std::env::var("WARRANT_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let n = |count: usize| ((count as f64 * scale) as usize).max(20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let bench = Bench::start().await;
        println!(
            "warrant-proxy vs direct, same TLS upstream; {IN_FLIGHT} in flight for req/s, one at a \
             time for latency; k-a = keep-alive, ph = placeholder substituted and response redacted"
        );
        println!(
            "{:<24} {:>11} {:>11} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "scenario",
            "direct r/s",
            "proxy r/s",
            "ratio",
            "cpu ratio",
            "dir p50",
            "prx p50",
            "added p50",
            "dir p99",
            "prx p99",
            "added p99"
        );
        let only = std::env::var("WARRANT_BENCH_ONLY").unwrap_or_default();
        for &scenario in SCENARIOS.iter().filter(|s| s.name.contains(only.as_str())) {
            bench
                .source
                .blocking
                .store(scenario.blocking_source, Ordering::Relaxed);
            let (throughput_n, latency_n) = if scenario.new_connections {
                (n(1500), n(400))
            } else {
                (n(20_000), n(3000))
            };
            let direct = bench.client(scenario, false);
            let proxied = bench.client(scenario, true);
            // Warm up: handshakes, pools, the leaf certificate cache.
            for client in [&direct, &proxied] {
                for _ in 0..50 {
                    client.get().await;
                }
            }
            let (d_rps, d_cpu) = throughput(&direct, throughput_n).await;
            let (p_rps, p_cpu) = throughput(&proxied, throughput_n).await;
            let d_lat = latencies(&direct, latency_n).await;
            let p_lat = latencies(&proxied, latency_n).await;
            let (d50, d99) = (percentile(&d_lat, 50.0), percentile(&d_lat, 99.0));
            let (p50, p99) = (percentile(&p_lat, 50.0), percentile(&p_lat, 99.0));
            println!(
                "{:<24} {:>11.0} {:>11.0} {:>6.2} {:>9.2} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                scenario.name,
                d_rps,
                p_rps,
                p_rps / d_rps,
                d_cpu.as_secs_f64() / p_cpu.as_secs_f64().max(1e-9),
                ms(d50),
                ms(p50),
                ms(p50.saturating_sub(d50)),
                ms(d99),
                ms(p99),
                ms(p99.saturating_sub(d99)),
            );
        }
        println!(
            "targets (keep-alive): ratio >= 0.5, added p99 < 2 ms; upstream answered {} requests",
            bench.served.load(Ordering::Relaxed)
        );
        bench.proxy.shutdown();
    });
}

/// One row of the table.
#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    h2: bool,
    new_connections: bool,
    /// Through the proxy: a placeholder (else a plain token nobody substitutes).
    placeholder: bool,
    /// The value source claims it may block (a blocking-thread hand-off per request).
    blocking_source: bool,
}

/// Forwarding only comes first: once a value has been substituted, every
/// response is redacted.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "k-a h1, no placeholder",
        h2: false,
        new_connections: false,
        placeholder: false,
        blocking_source: false,
    },
    Scenario {
        name: "k-a h1, placeholder",
        h2: false,
        new_connections: false,
        placeholder: true,
        blocking_source: false,
    },
    Scenario {
        name: "k-a h1, ph, blocking src",
        h2: false,
        new_connections: false,
        placeholder: true,
        blocking_source: true,
    },
    Scenario {
        name: "k-a h2, placeholder",
        h2: true,
        new_connections: false,
        placeholder: true,
        blocking_source: false,
    },
    Scenario {
        name: "new conn h1, placeholder",
        h2: false,
        new_connections: true,
        placeholder: true,
        blocking_source: false,
    },
];

struct Bench {
    proxy: ProxyThread,
    upstream: SocketAddr,
    test_ca: CertificateDer<'static>,
    proxy_ca: CertificateDer<'static>,
    placeholder: String,
    served: Arc<AtomicUsize>,
    source: Arc<Fixed>,
}

/// One client and the `Authorization` it sends.
struct Client {
    http: reqwest::Client,
    authorization: String,
}

impl Client {
    async fn get(&self) {
        let response = self
            .http
            .get(format!("https://{HOST}/user"))
            .header("authorization", &self.authorization)
            .send()
            .await
            .expect("request");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response.bytes().await.expect("body");
        assert!(!body.is_empty());
    }
}

/// The proxy on its own runtime and thread, as `warrant run --proxy` runs it
/// (`WARRANT_BENCH_PROXY_THREADS`: worker threads, 0 for a current-thread
/// runtime; default 2, as warrant).
struct ProxyThread {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProxyThread {
    fn start(config: ProxyConfig, authority: ca::Authority, source: Arc<Fixed>) -> Self {
        let threads: usize = std::env::var("WARRANT_BENCH_PROXY_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(2);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut builder = if threads == 0 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(threads);
                b
            };
            let runtime = builder.enable_all().thread_name("proxy").build().unwrap();
            runtime.block_on(async move {
                let proxy = Proxy::start(config, authority, source, Arc::new(|_| {}))
                    .await
                    .unwrap();
                addr_tx.send(proxy.addr()).unwrap();
                let _ = stopped.await;
                proxy.shutdown().await;
            });
        });
        Self {
            addr: addr_rx.recv().unwrap(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn shutdown(mut self) {
        let _ = self.stop.take().map(|stop| stop.send(()));
        let _ = self.thread.take().map(std::thread::JoinHandle::join);
    }
}

impl Bench {
    async fn start() -> Self {
        let (test_ca, tls) = upstream_tls();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let counter = served.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req| echo(req, counter.clone()));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let authority = ca::Authority::ephemeral().unwrap();
        let placeholder = warrant_proxy::placeholder::generate("github/token");
        let config = ProxyConfig {
            secrets: vec![ProxiedSecret::new(
                "github/token",
                &placeholder,
                vec![HOST.to_owned()],
            )],
            upstream_ca: vec![test_ca.clone()],
            resolve: vec![(HOST.to_owned(), upstream)],
            ..ProxyConfig::default()
        };
        let proxy_ca = authority.cert_der().clone();
        let source = Arc::new(Fixed::default());
        let proxy = ProxyThread::start(config, authority, source.clone());
        Self {
            proxy,
            upstream,
            test_ca,
            proxy_ca,
            placeholder,
            served,
            source,
        }
    }

    fn client(&self, scenario: Scenario, through_proxy: bool) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(if through_proxy {
                self.proxy_ca.clone()
            } else {
                self.test_ca.clone()
            })
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut builder = reqwest::Client::builder().tls_backend_preconfigured(tls);
        builder = if through_proxy {
            builder.proxy(reqwest::Proxy::all(format!("http://{}", self.proxy.addr())).unwrap())
        } else {
            builder.no_proxy().resolve(HOST, self.upstream)
        };
        builder = if scenario.h2 {
            builder.http2_adaptive_window(false)
        } else {
            builder.http1_only()
        };
        if scenario.new_connections {
            builder = builder.pool_max_idle_per_host(0);
        }
        let authorization = if !scenario.placeholder {
            "Bearer public-0123456789abcdef".to_owned()
        } else if through_proxy {
            format!("Bearer {}", self.placeholder)
        } else {
            format!("Bearer {TOKEN}")
        };
        Client {
            http: builder.build().unwrap(),
            authorization,
        }
    }
}

/// Answers with a small JSON that echoes `Authorization` (so the proxy redacts).
async fn echo(
    req: Request<Incoming>,
    served: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    served.fetch_add(1, Ordering::Relaxed);
    let auth = req
        .headers()
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let _ = req.into_body().collect().await;
    let body = format!("{{\"login\":\"octocat\",\"id\":1,\"plan\":\"free\",\"auth\":\"{auth}\"}}");
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(response)
}

/// A test CA and the upstream's TLS configuration with a leaf from it.
fn upstream_tls() -> (CertificateDer<'static>, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![HOST.to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
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
    (ca_cert.der().clone(), config)
}

/// Requests per second with [`IN_FLIGHT`] requests in flight.
/// The process's CPU time so far (user + system), from /proc in clock ticks
/// of 10 ms: throughput on a machine that others are loading is noisy, CPU
/// per request is not.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Requests per second and CPU time per request of `total` requests.
async fn throughput(client: &Client, total: usize) -> (f64, Duration) {
    let client = Arc::new(Client {
        http: client.http.clone(),
        authorization: client.authorization.clone(),
    });
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = cpu_time();
    let start = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    client.get().await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let rps = total as f64 / start.elapsed().as_secs_f64();
    (rps, (cpu_time() - cpu) / total as u32)
}

/// The latency of `count` requests sent one at a time, sorted.
async fn latencies(client: &Client, count: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        client.get().await;
        out.push(start.elapsed());
    }
    out.sort_unstable();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1000.0)
}
