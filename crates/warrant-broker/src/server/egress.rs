//! The daemon's egress: use without holding, for real.
//!
//! A command run with `warrant run --proxy --grant` gets placeholders and
//! the address of a proxy that runs here, in the daemon, not in a process
//! the agent started. So the values stay in this process; this process
//! resolves the host names and connects (the agent's `LD_PRELOAD`,
//! resolver and `HTTPS_PROXY` do not reach it); it trusts the system's
//! roots plus the CAs `warrant serve` was given, never the caller's
//! `SSL_CERT_FILE`; and it signs its interceptions with a CA made at start
//! and held in memory only.
//!
//! Each session is one [`Proxy`] on a loopback port of its own with a
//! random access secret ([`ProxyAuth`]): a placeholder alone gets nothing.
//! Every response through it is redacted for every value of the session
//! from the first byte. It stops when the command's `warrant run` hangs up
//! or the grant ends, whichever comes first.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::CertificateDer;
use tokio::net::UnixStream;
use warrant_proxy::{ProxiedSecret, Proxy, ProxyAuth, ProxyConfig, ProxyEvent, UseRequest, ca};
use warrant_secret::SecretValue;

use super::{
    Prefetch, Shared, send, values_of, with_broker, with_broker_durable, with_broker_reading,
};
use crate::broker::Caller;
use crate::protocol::nonblocking::{read_frame, write_frame};
use crate::protocol::{
    Destination, EgressReply, EgressRequest, ErrorBody, ErrorCode, LeaseEnd, LeaseRequest,
    ProxyBlockedReport, SubstituteRequest, SubstitutedReport, SubstitutionRecord,
};

/// How the daemon's egress reaches upstream servers.
#[derive(Debug, Default, Clone)]
pub struct EgressOptions {
    /// CAs trusted for upstream servers besides the system's (from
    /// `warrant serve --egress-ca`).
    pub upstream_ca: Vec<CertificateDer<'static>>,
    /// Host overrides (from `warrant serve --egress-resolve`): the daemon's
    /// own configuration, never a caller's.
    pub resolve: Vec<(String, SocketAddr)>,
    /// Addresses the egress never connects to: the approval page's.
    pub forbidden: Vec<SocketAddr>,
}

/// The egress's lasting parts: its options and the CA it signs with.
pub(crate) struct Egress {
    options: EgressOptions,
    authority: ca::Authority,
}

impl Egress {
    /// A CA made now, in memory only: it never touches a disk an agent
    /// could read, and it dies with the daemon.
    pub(crate) fn new(options: EgressOptions) -> Result<Self, crate::Error> {
        let authority =
            ca::Authority::ephemeral().map_err(|e| crate::Error::Protocol(e.to_string()))?;
        Ok(Self { options, authority })
    }
}

/// One session: checks, starts the proxy, answers, then waits for the
/// caller to hang up or the grant to end.
pub(crate) async fn session(
    shared: &Arc<Shared>,
    mut stream: UnixStream,
    caller: Caller,
    req: EgressRequest,
) -> std::io::Result<()> {
    // Before the check: an end between the check and here is not missed.
    let mut ended = with_broker(shared, |b| b.subscribe_ended()).await;
    let lease = LeaseRequest {
        grant: req.grant.clone(),
        secrets: req.secrets.clone(),
    };
    let (c, p) = (caller.clone(), Prefetch::Grant(req.grant.clone()));
    let (reply, counted) =
        match with_broker_reading(shared, p, move |b| b.egress_begin(&c, &lease)).await {
            Ok(begun) => begun,
            Err(body) => return send::<()>(&mut stream, Err(body)).await,
        };
    let values = match values_of(shared, &reply.grant, &reply.names).await {
        Ok(values) => values,
        Err(body) => return send::<()>(&mut stream, Err(body)).await,
    };
    let mut secrets = Vec::with_capacity(reply.names.len());
    for name in &reply.names {
        let hosts = reply
            .secret_hosts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, hosts)| hosts.clone())
            .unwrap_or_default();
        if hosts.is_empty() {
            let body = ErrorBody::new(
                ErrorCode::BadRequest,
                format!(
                    "grant {} lets warrant://{name} go to no host, so the egress could never send it",
                    reply.grant
                ),
                Some("list its hosts in the policy rule (hosts = [...])".into()),
            );
            return send::<()>(&mut stream, Err(body)).await;
        }
        let delivery = reply
            .delivery
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_default();
        // The policy decides where a value may go and how; the caller only
        // picks which of the grant's secrets its command uses.
        secrets.push(ProxiedSecret {
            allow_http: delivery.allow_http,
            query: delivery.substitute_in.query,
            body: delivery.substitute_in.body,
            inject: delivery.inject,
            ..ProxiedSecret::new(name, &warrant_proxy::placeholder::generate(name), hosts)
        });
    }
    let named: Vec<(String, SecretValue)> = reply
        .names
        .iter()
        .cloned()
        .zip(values.iter().map(SecretValue::duplicate))
        .collect();
    let (reports, recorded) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(record(
        Arc::clone(shared),
        caller.clone(),
        reply.grant.clone(),
        reply.actor.clone(),
        recorded,
    ));
    let source = Arc::new(DaemonSource {
        shared: Arc::clone(shared),
        runtime: tokio::runtime::Handle::current(),
        caller: caller.clone(),
        grant: reply.grant.clone(),
        counted,
        expires_ms: reply.expires_ms,
        values: Mutex::new(Some(values)),
        names: reply.names.clone(),
        ended: AtomicBool::new(false),
        reports: reports.clone(),
    });
    let auth = match ProxyAuth::generate() {
        Ok(auth) => Arc::new(auth),
        Err(e) => return send::<()>(&mut stream, Err(failed(&e.to_string()))).await,
    };
    let egress = &shared.egress;
    let config = ProxyConfig {
        secrets: secrets.clone(),
        passthrough: req.passthrough,
        upstream_ca: egress.options.upstream_ca.clone(),
        resolve: egress.options.resolve.clone(),
        forbidden: egress.options.forbidden.clone(),
        // A host a rule names exactly may be an internal one; a wildcard
        // that resolves inward is refused.
        private_hosts: warrant_proxy::named_hosts(&secrets),
        auth: Some(Arc::clone(&auth)),
        redact_from_start: Arc::from(named),
        ..ProxyConfig::default()
    };
    let events = events(&reply.grant, &reply.secret_hosts, reports.clone());
    let proxy = match Proxy::start(
        config,
        egress.authority.clone(),
        source.clone() as Arc<dyn warrant_proxy::ValueSource>,
        events,
    )
    .await
    {
        Ok(proxy) => proxy,
        Err(e) => return send::<()>(&mut stream, Err(failed(&e.to_string()))).await,
    };
    let answer = EgressReply {
        grant: reply.grant.clone(),
        proxy: auth.proxy_url(proxy.addr()),
        ca_pem: egress.authority.cert_pem().to_owned(),
        placeholders: secrets
            .iter()
            .map(|s| (s.name.clone(), s.placeholder.clone()))
            .collect(),
        expires_ms: reply.expires_ms,
    };
    send(&mut stream, Ok(&answer)).await?;
    drop(answer);

    // Until the caller hangs up (anything it sends is ignored) or the
    // grant ends.
    let (mut reader, mut writer) = stream.into_split();
    let end = tokio::select! {
        _ = async { while let Ok(Some(_)) = read_frame(&mut reader).await {} } => None,
        reason = grant_end(shared, &mut ended, &reply.grant) => Some(reason),
    };
    source.end();
    proxy.shutdown().await;
    // Everything the session did is in the log before the caller hears the
    // end: a `warrant run` that exited leaves no record still on its way.
    let (flushed, done) = tokio::sync::oneshot::channel();
    if reports.send(Record::Flush(flushed)).is_ok() {
        let _ = done.await;
    }
    if let Some(reason) = end {
        let bytes = serde_json::to_vec(&LeaseEnd { reason }).unwrap_or_default();
        let _ = write_frame(&mut writer, &bytes).await;
    }
    Ok(())
}

/// Why `grant` ended, once it has.
async fn grant_end(
    shared: &Arc<Shared>,
    ended: &mut tokio::sync::broadcast::Receiver<(String, String)>,
    grant: &str,
) -> String {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match ended.recv().await {
            Ok((id, reason)) if id == grant => return reason,
            Ok(_) => {}
            // Missed some ends: look at the grant itself.
            Err(RecvError::Lagged(_)) => {
                let g = grant.to_owned();
                if !with_broker(shared, move |b| b.is_active(&g)).await {
                    return "ended".to_owned();
                }
            }
            Err(RecvError::Closed) => return "the daemon stopped".to_owned(),
        }
    }
}

/// How a secret aimed at another host is called in the audit log.
const EXFILTRATION: &str = "exfiltration attempt";

fn failed(message: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Internal,
        format!("cannot start the egress: {message}"),
        None,
    )
}

/// The proxy's refusals, recorded by the daemon that saw them (under the
/// session's caller, whose task the grant is), in order with its
/// substitutions.
fn events(
    grant: &str,
    secret_hosts: &[(String, Vec<String>)],
    records: tokio::sync::mpsc::UnboundedSender<Record>,
) -> warrant_proxy::EventSink {
    let grant = grant.to_owned();
    let secret_hosts = secret_hosts.to_vec();
    Arc::new(move |event| {
        let ProxyEvent::Blocked {
            host,
            method,
            path,
            secrets,
            reason,
        } = event
        else {
            return;
        };
        // A secret aimed at a host it may not go to is named for what it is.
        let stray = secrets.iter().any(|secret| {
            let allowed = secret_hosts
                .iter()
                .find(|(name, _)| name == secret)
                .map_or(&[][..], |(_, hosts)| hosts.as_slice());
            !warrant_policy::host_matches(allowed, &host)
        });
        let reason = if stray && !reason.starts_with(EXFILTRATION) {
            format!("{EXFILTRATION}: {reason}")
        } else {
            reason
        };
        let report = ProxyBlockedReport {
            grant: grant.clone(),
            host,
            method,
            path,
            secrets,
            reason,
        };
        if records.send(Record::Blocked(report)).is_err() {
            eprintln!("warrant serve: cannot record a blocked request: the session has ended");
        }
    })
}

/// Values for one session's proxy, from the daemon's memory.
struct DaemonSource {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    caller: Caller,
    grant: String,
    /// The grant has a use limit: each request is checked and counted first.
    counted: bool,
    /// When the grant expires (Unix ms): no value after it, whether or not
    /// the end was announced yet.
    expires_ms: u64,
    /// The values, in the order of `names`; wiped at the session's end.
    values: Mutex<Option<Vec<SecretValue>>>,
    names: Vec<String>,
    /// Set when the grant ends (announced by the broker) or the session does.
    ended: AtomicBool,
    /// Substitutions under the lease, to [`record`].
    reports: tokio::sync::mpsc::UnboundedSender<Record>,
}

/// What a session's recorder is sent.
enum Record {
    /// A substitution under a lease.
    Substituted(SubstitutionRecord),
    /// A request the proxy refused.
    Blocked(ProxyBlockedReport),
    /// Answered once everything sent before it is in the log.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Records a session's substitutions and refusals in the order they came,
/// consecutive substitutions in one write: a request never waits for the
/// disk, and the log still has every one.
async fn record(
    shared: Arc<Shared>,
    caller: Caller,
    grant: String,
    actor: String,
    mut recorded: tokio::sync::mpsc::UnboundedReceiver<Record>,
) {
    const BATCH: usize = 1024;
    let mut next = recorded.recv().await;
    while let Some(first) = next.take() {
        match first {
            Record::Substituted(entry) => {
                let mut entries = vec![entry];
                while entries.len() < BATCH {
                    match recorded.try_recv() {
                        Ok(Record::Substituted(entry)) => entries.push(entry),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let (g, a) = (grant.clone(), actor.clone());
                let report = SubstitutedReport { entries };
                if let Err(body) =
                    with_broker_durable(&shared, move |b| b.lease_substituted(&g, &a, report)).await
                {
                    eprintln!(
                        "warrant serve: cannot record a substitution: {}",
                        body.message
                    );
                }
            }
            Record::Blocked(report) => {
                let c = caller.clone();
                if let Err(body) =
                    with_broker_durable(&shared, move |b| b.proxy_blocked(&c, report)).await
                {
                    eprintln!(
                        "warrant serve: cannot record a blocked request: {}",
                        body.message
                    );
                }
            }
            Record::Flush(done) => {
                let _ = done.send(());
            }
        }
        if next.is_none() {
            next = recorded.recv().await;
        }
    }
}

impl DaemonSource {
    fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    fn held(&self, wanted: &[String]) -> Result<Vec<SecretValue>, String> {
        let values = self
            .values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(values) = values.as_ref() else {
            return Err(format!("grant {} has ended", self.grant));
        };
        wanted
            .iter()
            .map(|name| {
                self.names
                    .iter()
                    .position(|n| n == name)
                    .map(|i| values[i].duplicate())
                    .ok_or_else(|| format!("grant {} does not cover {name} here", self.grant))
            })
            .collect()
    }
}

impl warrant_proxy::ValueSource for DaemonSource {
    /// A lease only reads memory; a counted grant asks the broker.
    fn blocks(&self) -> bool {
        self.counted
    }

    fn values(&self, request: &UseRequest) -> Result<Vec<SecretValue>, String> {
        if self.ended.load(Ordering::SeqCst) {
            return Err(format!("grant {} has ended", self.grant));
        }
        if self.counted {
            // Checked (grant, expiry, uses, host) and counted before the
            // value goes on the wire.
            let req = SubstituteRequest {
                grant: self.grant.clone(),
                secrets: request.secrets.clone(),
                host: request.host.clone(),
                method: request.method.clone(),
                at: Some(destination(request)),
                injected: request.injected.clone(),
            };
            let (shared, caller) = (Arc::clone(&self.shared), self.caller.clone());
            let p = Prefetch::Grant(self.grant.clone());
            self.runtime
                .block_on(with_broker_reading(&shared, p, move |b| {
                    b.substitute_begin(&caller, &req)
                }))
                .map_err(|body| body.message)?;
            return self.held(&request.secrets);
        }
        // A lease: the grant was checked once; its end (announced by the
        // broker) stops this session, and its expiry is checked here too,
        // in case the announcement is still on its way.
        if crate::grant::now_ms() >= self.expires_ms {
            return Err(format!("grant {} has expired", self.grant));
        }
        let values = self.held(&request.secrets)?;
        let entry = SubstitutionRecord {
            secrets: request.secrets.clone(),
            host: request.host.clone(),
            method: request.method.clone(),
            at: Some(destination(request)),
            injected: request.injected.clone(),
        };
        if self.reports.send(Record::Substituted(entry)).is_err() {
            // Nothing could record it: it does not happen.
            return Err("the substitution cannot be recorded".to_owned());
        }
        Ok(values)
    }
}

/// Scheme, port and path of a request, for its record.
fn destination(request: &UseRequest) -> Destination {
    Destination::new(&request.scheme, request.port, &request.path)
}
