//! The credential-injecting HTTP proxy: an agent's processes hold only
//! placeholders; warrant puts the real value on the wire, and only towards
//! the hosts allowed for that secret.
//!
//! A [`Proxy`] is an HTTP forward proxy on loopback. It takes plain-HTTP
//! requests in absolute form and `CONNECT` tunnels. A tunnel to a host that
//! some [`ProxiedSecret`] may be sent to is intercepted: the proxy answers
//! TLS with a certificate from its own [`ca::Authority`] (which the child
//! trusts through the bundle [`bundle::write`] makes), reads each request,
//! and forwards it over a fresh, verified TLS connection. Tunnels to other
//! hosts are passed through untouched or refused, per
//! [`ProxyConfig::passthrough`].
//!
//! In every forwarded request the proxy looks for placeholders (in header
//! values and `Basic` credentials; in the path and query for secrets with
//! [`ProxiedSecret::query`], in the body for those with
//! [`ProxiedSecret::body`]), and adds the values a secret's
//! [`ProxiedSecret::inject`] declares for the host. A value goes only to a
//! host and port that secret allows, over HTTPS unless
//! [`ProxiedSecret::allow_http`]; the host is
//! the `CONNECT` target (or the absolute URI's host for plain HTTP), and a
//! request whose `Host` or `:authority` names another host, or whose URL
//! carries user info, is refused. Any refusal is a `403`, a
//! [`ProxyEvent::Blocked`], and nothing sent upstream. Values come from a
//! [`ValueSource`], asked once per request that needs them. The proxy never
//! follows redirects, and every value it has substituted is redacted (in
//! every encoding `warrant_redact` knows) from the headers and bodies of
//! every response it forwards afterwards, on any connection.
//!
//! ```
//! use std::sync::Arc;
//! use warrant_proxy::{ProxiedSecret, Proxy, ProxyConfig, UseRequest, ValueSource, ca};
//! use warrant_secret::SecretValue;
//!
//! struct Store;
//! impl ValueSource for Store {
//!     fn values(&self, request: &UseRequest) -> Result<Vec<SecretValue>, String> {
//!         // The real source asks the daemon, which checks the grant and audits.
//!         Ok(request.secrets.iter().map(|_| SecretValue::from("ghp_fake_0123456789".to_owned())).collect())
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let home = tempfile::tempdir().unwrap();
//! let authority = ca::Authority::load_or_create(home.path()).unwrap();
//! let placeholder = warrant_proxy::placeholder::generate("github/token");
//! let config = ProxyConfig {
//!     secrets: vec![ProxiedSecret::new("github/token", &placeholder, vec!["api.github.com".into()])],
//!     ..ProxyConfig::default()
//! };
//! let proxy = Proxy::start(config, authority, Arc::new(Store), Arc::new(|event| eprintln!("{event:?}")))
//!     .await
//!     .unwrap();
//! // The child gets GITHUB_TOKEN=<placeholder>, HTTPS_PROXY=http://<addr> and the CA bundle.
//! assert!(proxy.addr().ip().is_loopback());
//! proxy.shutdown().await;
//! # });
//! ```

mod auth;
mod body;
pub mod bundle;
pub mod ca;
mod error;
mod intercept;
pub mod placeholder;
mod redact;
mod server;
mod substitute;
mod target;
mod upstream;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use crate::auth::ProxyAuth;
pub use crate::error::Error;
pub use crate::server::OWN_ANSWER;

/// One secret the proxy can put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxiedSecret {
    /// The store name, e.g. `github/token`.
    pub name: String,
    /// What the child holds instead of the value (see [`placeholder::generate`]).
    pub placeholder: String,
    /// Exact host names or `*.suffix` patterns with an optional `:port`
    /// (443, or 80 for plain HTTP, when none is written; `:*` for any), as
    /// [`warrant_policy::endpoint_matches`]; an IP address only matches the
    /// same IP address written as a pattern.
    pub hosts: Vec<String>,
    /// Whether the value may also go over plain HTTP.
    pub allow_http: bool,
    /// Whether the value may also be substituted in the path and query.
    pub query: bool,
    /// Whether the value may also be substituted in request bodies.
    pub body: bool,
    /// What the proxy adds to every request to a matching host by itself
    /// (the request needs no placeholder).
    pub inject: Vec<warrant_policy::Injection>,
}

/// The host names `secrets` name exactly (no `*.` pattern), without
/// ports: the [`ProxyConfig::private_hosts`] a rule vouches for.
pub fn named_hosts(secrets: &[ProxiedSecret]) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for pattern in secrets.iter().flat_map(|s| s.hosts.iter()) {
        if let Some((host, _)) = warrant_policy::split_port(pattern)
            && !host.starts_with("*.")
            && !hosts.iter().any(|h| h == host)
        {
            hosts.push(host.to_owned());
        }
    }
    hosts
}

impl ProxiedSecret {
    /// A secret whose placeholders are replaced in headers only, over HTTPS.
    pub fn new(name: &str, placeholder: &str, hosts: Vec<String>) -> Self {
        Self {
            name: name.to_owned(),
            placeholder: placeholder.to_owned(),
            hosts,
            allow_http: false,
            query: false,
            body: false,
            inject: Vec::new(),
        }
    }
}

/// Where values come from: asked once per request that carries
/// placeholders, after the proxy's own host check passed.
///
/// The daemon's implementation calls its `Substitute` operation, which
/// re-checks the grant and the hosts and audits the use. A refusal's text is
/// shown in the `403` and reported in [`ProxyEvent::Blocked`], so it must not
/// hold a value.
pub trait ValueSource: Send + Sync + 'static {
    /// One value per name in `request.secrets`, in that order, or why not.
    fn values(&self, request: &UseRequest) -> Result<Vec<warrant_secret::SecretValue>, String>;

    /// Whether [`ValueSource::values`] may block (I/O, a round trip to the
    /// daemon): then it is called on a blocking thread. A source that only
    /// reads memory returns `false` and is called in place, which saves a
    /// thread hand-off per request.
    fn blocks(&self) -> bool {
        true
    }
}

/// A request that needs values, as shown to the [`ValueSource`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UseRequest {
    /// The store names whose placeholders the request carries.
    pub secrets: Vec<String>,
    /// The host the request goes to (lower case, no trailing dot).
    pub host: String,
    /// The request method.
    pub method: String,
    /// The request path, without the query.
    pub path: String,
    /// `https` or `http`.
    pub scheme: String,
    /// The port the request goes to.
    pub port: u16,
    /// The secrets among `secrets` the proxy injects (declared by the
    /// policy) rather than substitutes for a placeholder.
    pub injected: Vec<String>,
}

/// What the proxy reports for the audit log (never a value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyEvent {
    /// A placeholder aimed at a host not allowed for it, a host confusion
    /// trick, or a refused substitution: the request was answered 403 and
    /// nothing was sent upstream (or, for a streamed body, the body was cut off).
    Blocked {
        /// The host the request went to.
        host: String,
        /// The request method.
        method: String,
        /// The request path, without the query.
        path: String,
        /// The secrets whose placeholders the request carried.
        secrets: Vec<String>,
        /// Why it was blocked.
        reason: String,
    },
    /// A host no secret needs, denied by the passthrough policy.
    Denied {
        /// The host asked for.
        host: String,
        /// Why it was denied.
        reason: String,
    },
}

/// How a [`Proxy`] runs.
#[derive(Clone)]
pub struct ProxyConfig {
    /// Where to listen: a loopback address only; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The secrets the proxy may substitute.
    pub secrets: Vec<ProxiedSecret>,
    /// Tunnel hosts no secret needs untouched; when false, refuse them (403).
    pub passthrough: bool,
    /// Extra trusted roots for upstream servers, besides the system's.
    pub upstream_ca: Vec<CertificateDer<'static>>,
    /// Host overrides: connections to a host (any port) go to this address
    /// instead (for tests and private hosts). The TLS name stays the host.
    pub resolve: Vec<(String, SocketAddr)>,
    /// Hosts that may resolve to a loopback, private or link-local
    /// address. Any other host that does is refused before a byte is sent
    /// (no SSRF into the machine, its network or the daemon's own page);
    /// hosts in `resolve` are taken as configured.
    pub private_hosts: Vec<String>,
    /// Addresses never connected to, whatever the host or override (the
    /// daemon's own approval page).
    pub forbidden: Vec<SocketAddr>,
    /// Who may use the proxy: without it in `Proxy-Authorization`, every
    /// request and tunnel is answered 407 (see [`ProxyAuth`]). `None` lets
    /// any local process use it.
    pub auth: Option<Arc<ProxyAuth>>,
    /// Values redacted from every response from the first byte, whether or
    /// not a request carried them yet (a grant's values, so a response to a
    /// request sent before the first substitution is clean too). Values
    /// substituted later are added as they are.
    pub redact_from_start: Arc<[(String, warrant_secret::SecretValue)]>,
}

impl Default for ProxyConfig {
    /// `127.0.0.1:0`, no secrets, no passthrough, no extra roots or overrides.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            secrets: Vec::new(),
            passthrough: false,
            upstream_ca: Vec::new(),
            resolve: Vec::new(),
            private_hosts: Vec::new(),
            forbidden: Vec::new(),
            auth: None,
            redact_from_start: Arc::from(Vec::new()),
        }
    }
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("listen", &self.listen)
            .field("secrets", &self.secrets)
            .field("passthrough", &self.passthrough)
            .field("upstream_ca", &self.upstream_ca.len())
            .field("resolve", &self.resolve)
            .field("private_hosts", &self.private_hosts)
            .field("forbidden", &self.forbidden)
            .field("auth", &self.auth.is_some())
            .field("redact_from_start", &self.redact_from_start.len())
            .finish()
    }
}

/// Receives [`ProxyEvent`]s; called on the proxy's tasks, so keep it quick.
pub type EventSink = Arc<dyn Fn(ProxyEvent) + Send + Sync>;

/// A running proxy. Dropping it stops it too; [`Proxy::shutdown`] also waits.
pub struct Proxy {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Closed once every task (the accept loop holds a sender) has ended.
    alive: mpsc::Receiver<()>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy").field("addr", &self.addr).finish()
    }
}

impl Proxy {
    /// Binds the listener and starts serving on the current Tokio runtime.
    ///
    /// Fails on a non-loopback `listen` address, a placeholder that is too
    /// short, not printable ASCII, or overlaps another, or TLS set-up errors.
    pub async fn start(
        config: ProxyConfig,
        ca: ca::Authority,
        values: Arc<dyn ValueSource>,
        events: EventSink,
    ) -> Result<Proxy, Error> {
        if !config.listen.ip().is_loopback() {
            return Err(Error::NotLoopback(config.listen));
        }
        let placeholders = substitute::Placeholders::new(config.secrets)?;
        let extra_roots = config.upstream_ca;
        let resolve = config.resolve;
        let private_hosts = config.private_hosts;
        let forbidden = config.forbidden;
        // Reading the system's roots touches the file system.
        let upstream = tokio::task::spawn_blocking(move || {
            upstream::Upstream::new(&extra_roots, &resolve, &private_hosts, forbidden)
        })
        .await
        .map_err(|e| Error::Tls(e.to_string()))??;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
        let redaction = redact::Redaction::default();
        redaction
            .add(
                config
                    .redact_from_start
                    .iter()
                    .map(|(name, value)| (name.as_str(), value)),
            )
            .map_err(Error::Config)?;
        let shared = Arc::new(server::Shared {
            placeholders,
            passthrough: config.passthrough,
            ca,
            upstream,
            values,
            events,
            redaction,
            auth: config.auth,
        });
        let (stop, stopped) = watch::channel(false);
        let (alive_tx, alive) = mpsc::channel(1);
        let tasks = server::Tasks::new(stopped, alive_tx);
        let task = tokio::spawn(server::accept_loop(listener, shared, tasks));
        Ok(Proxy {
            addr,
            stop,
            task,
            alive,
        })
    }

    /// The address the proxy listens on (for `HTTP_PROXY`/`HTTPS_PROXY`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends every open connection, and waits for that.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
        // Nobody sends: this returns once the last task dropped its sender.
        let _ = self.alive.recv().await;
    }
}
