//! `warrant proxy --grant ID`: the credential-injecting HTTPS proxy in the
//! foreground, for one grant; and what `warrant run --proxy` shares with it:
//! the proxy on a runtime of its own, the CA bundle a child trusts, the
//! child's environment, where values come from and how blocks are audited.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use warrant_audit::{AuditLog, Event};
use warrant_broker::protocol::{EgressReply, EgressRequest};
use warrant_broker::{Client, EgressSession};
use warrant_proxy::{EventSink, Proxy, ProxyConfig, ProxyEvent, ValueSource, ca};

use super::{Context, print_json};
use crate::args::ProxyArgs;

/// Proxy variables a child gets (the lower-case ones for curl and
/// friends, which ignore upper-case `HTTP_PROXY`). `NO_PROXY` is empty, so
/// loopback goes through the proxy too.
pub(crate) const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// Makes Node's own `fetch` and `http` use the proxy variables, in releases
/// that know it (newer 22.x, 24.x on); Node 20 ignores it and needs
/// undici's `EnvHttpProxyAgent`.
pub(crate) const NODE_VAR: &str = "NODE_USE_ENV_PROXY";

/// Variables naming the CA bundle for OpenSSL, curl, Python requests, Node
/// and git.
pub(crate) const CA_VARS: [&str; 5] = [
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
];

pub fn run(ctx: &Context, args: ProxyArgs) -> Result<u8> {
    if !args.upstream_ca.is_empty() || args.listen != ProxyConfig::default().listen {
        bail!(
            "--listen and --upstream-ca no longer apply: the proxy runs in the daemon (its egress), \
             which picks a loopback port and trusts the system's roots plus `warrant serve \
             --egress-ca FILE`"
        );
    }
    let grant = GrantScope::check(ctx, &args.grant)?;
    let secrets: Vec<String> = grant
        .secrets
        .iter()
        .filter(|name| grant.hosts(name).is_ok())
        .cloned()
        .collect();
    if secrets.is_empty() {
        bail!(
            "grant {} lets none of its secrets go to a host, so the proxy could never send one; \
             list hosts in the policy rule (hosts = [...])",
            grant.id
        );
    }
    let request = EgressRequest {
        grant: grant.id.clone(),
        secrets,
        passthrough: args.passthrough,
        substitute_in_body: args.substitute_in_body,
    };
    let Egress {
        reply,
        mut session,
        bundle,
        dir,
    } = Egress::open(ctx, request)?;
    let env = child_env(&reply.proxy, &bundle);
    let placeholders: BTreeMap<&str, &str> = reply
        .placeholders
        .iter()
        .map(|(name, placeholder)| (name.as_str(), placeholder.as_str()))
        .collect();
    let address = reply.proxy.rsplit_once('@').map_or("", |(_, addr)| addr);
    if args.json {
        print_json(&serde_json::json!({
            "grant": grant.id,
            "proxy": address,
            "ca_bundle": bundle,
            "env": env.iter().cloned().collect::<BTreeMap<_, _>>(),
            "placeholders": placeholders,
        }))?;
    } else {
        for (var, value) in &env {
            println!("export {var}={value}");
        }
        println!("# Give the command these placeholders instead of the values:");
        for (name, placeholder) in &placeholders {
            println!("# {name}: {placeholder}");
        }
    }
    std::io::stdout()
        .flush()
        .context("cannot write the proxy's settings")?;
    eprintln!(
        "warrant: the daemon's egress serves grant {} at {address} (Ctrl-C stops it)",
        grant.id
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot wait for signals")?;
    let ended = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let end = tokio::task::spawn_blocking(move || session.wait_end());
        tokio::select! {
            _ = interrupt.recv() => Ok::<_, std::io::Error>(None),
            _ = terminate.recv() => Ok(None),
            end = end => Ok(Some(end.ok().flatten())),
        }
    })?;
    // The session's connection closes with this process.
    runtime.shutdown_background();
    drop(dir);
    match ended {
        Some(end) => {
            let reason = end.map_or_else(|| "the daemon stopped".to_owned(), |e| e.reason);
            eprintln!(
                "warrant: grant {} ended ({reason}); the proxy stopped",
                grant.id
            );
            Ok(1)
        }
        None => Ok(0),
    }
}

/// A session of the daemon's egress, and the CA bundle its command trusts
/// (in a temporary directory removed with it; not under the home, which a
/// command under `warrant task` cannot read).
pub(crate) struct Egress {
    /// The daemon's answer: the proxy URL, the CA, the placeholders.
    pub reply: EgressReply,
    /// Open while the session lasts.
    pub session: EgressSession,
    /// The system's roots and warrant's CA.
    pub bundle: PathBuf,
    /// Holds the bundle.
    pub dir: tempfile::TempDir,
}

impl Egress {
    /// Asks the daemon for a session and writes the bundle.
    pub fn open(ctx: &Context, request: EgressRequest) -> Result<Self> {
        let grant = request.grant.clone();
        let (reply, session) = Client::connect(&ctx.home)?
            .egress(request)
            .with_context(|| format!("cannot use grant {grant} through the daemon's egress"))?;
        let dir = tempfile::Builder::new()
            .prefix("warrant-egress-")
            .tempdir()
            .context("cannot make a directory for the CA bundle")?;
        let bundle = dir.path().join("ca-bundle.pem");
        warrant_proxy::bundle::write(&reply.ca_pem, &bundle)
            .with_context(|| format!("cannot write the CA bundle {}", bundle.display()))?;
        Ok(Self {
            reply,
            session,
            bundle,
            dir,
        })
    }
}

/// What a command needs to go through the egress at `proxy` (credentials
/// included) and trust warrant's CA in `bundle`.
pub(crate) fn child_env(proxy: &str, bundle: &Path) -> Vec<(String, String)> {
    let bundle = bundle.to_string_lossy().into_owned();
    let proxy_vars = PROXY_VARS.iter().map(|var| {
        let value = if var.eq_ignore_ascii_case("no_proxy") {
            String::new()
        } else {
            proxy.to_owned()
        };
        ((*var).to_owned(), value)
    });
    let ca = CA_VARS
        .iter()
        .map(|var| ((*var).to_owned(), bundle.clone()));
    let node = std::iter::once((NODE_VAR.to_owned(), "1".to_owned()));
    proxy_vars.chain(node).chain(ca).collect()
}

/// A grant as the proxy needs it: active, with its secrets' hosts.
pub(crate) struct GrantScope {
    pub id: String,
    pub secrets: Vec<String>,
    secret_hosts: BTreeMap<String, Vec<String>>,
}

impl GrantScope {
    /// Asks the daemon (which records the check).
    pub fn check(ctx: &Context, id: &str) -> Result<Self> {
        let view = Client::connect(&ctx.home)?.check(id)?;
        if view.status != "active" {
            bail!(
                "grant {id} is {}: only an active grant's secrets can be substituted",
                view.status
            );
        }
        Ok(Self {
            id: view.id,
            secrets: view.secrets,
            secret_hosts: view.secret_hosts,
        })
    }

    /// The hosts `name` may be sent to under this grant.
    pub fn hosts(&self, name: &str) -> Result<Vec<String>> {
        if !self.secrets.iter().any(|s| s == name) {
            bail!(
                "grant {} does not cover warrant://{name} (it covers: {})",
                self.id,
                self.secrets.join(", ")
            );
        }
        match self.secret_hosts.get(name) {
            Some(hosts) if !hosts.is_empty() => Ok(hosts.clone()),
            _ => Err(anyhow!(
                "grant {} lets warrant://{name} go to no host, so the proxy could never send it; \
                 list its hosts in the policy rule (hosts = [...])",
                self.id
            )),
        }
    }
}

/// The proxy on its own runtime, and the CA bundle its child trusts, in a
/// temporary directory removed with it (not under the home: a child under
/// `warrant task` cannot read the home).
pub(crate) struct Running {
    runtime: Option<tokio::runtime::Runtime>,
    proxy: Option<Proxy>,
    bundle: PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    pub fn start(
        home: &Path,
        config: ProxyConfig,
        values: Arc<dyn ValueSource>,
        events: EventSink,
    ) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("warrant-proxy-")
            .tempdir()
            .context("cannot make a directory for the proxy's CA bundle")?;
        let authority = authority(home)?;
        let bundle = dir.path().join("ca-bundle.pem");
        warrant_proxy::bundle::write(authority.cert_pem(), &bundle)
            .with_context(|| format!("cannot write the CA bundle {}", bundle.display()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("warrant-proxy")
            .enable_all()
            .build()
            .context("cannot start the proxy's runtime")?;
        let proxy = runtime
            .block_on(Proxy::start(config, authority, values, events))
            .context("cannot start the proxy")?;
        Ok(Self {
            runtime: Some(runtime),
            proxy: Some(proxy),
            bundle,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let addr = self.proxy.as_ref().map(Proxy::addr);
        format!("http://{}", addr.expect("running"))
    }

    /// What a child needs to go through the proxy and trust it.
    pub fn child_env(&self) -> Vec<(String, String)> {
        child_env(&self.url(), &self.bundle)
    }

    /// Ends every connection and stops the runtime (also done on drop).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let (Some(runtime), Some(proxy)) = (&self.runtime, self.proxy.take()) {
            runtime.block_on(proxy.shutdown());
        }
        // A value request stuck on the daemon must not hold the exit up
        // (the client gives up after its own timeout anyway).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// warrant's CA, from the home. Under `warrant task` the home is hidden
/// from the agent's processes (this one included): the proxy then signs
/// with a CA made for this run alone, held in memory only.
fn authority(home: &Path) -> Result<ca::Authority> {
    match ca::Authority::load_or_create(home) {
        Ok(authority) => Ok(authority),
        Err(warrant_proxy::Error::CaFile { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            ca::Authority::ephemeral().context("cannot make a CA for the proxy")
        }
        Err(error) => Err(error)
            .with_context(|| format!("cannot load or create the proxy's CA in {}", home.display())),
    }
}

/// Reads `--upstream-ca` files (PEM, one or more certificates each).
pub(crate) fn load_upstream_cas(files: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>> {
    let mut roots = Vec::new();
    for file in files {
        let before = roots.len();
        for cert in CertificateDer::pem_file_iter(file)
            .with_context(|| format!("cannot read the CA file {}", file.display()))?
        {
            roots.push(cert.with_context(|| format!("bad PEM in {}", file.display()))?);
        }
        if roots.len() == before {
            bail!("{} holds no PEM certificate", file.display());
        }
    }
    Ok(roots)
}

/// Parses `--resolve HOST=ADDR` flags.
pub(crate) fn parse_resolve(flags: &[String]) -> Result<Vec<(String, SocketAddr)>> {
    flags
        .iter()
        .map(|flag| {
            let (host, addr) = flag
                .split_once('=')
                .ok_or_else(|| anyhow!("--resolve {flag:?} is not HOST=ADDR"))?;
            let addr: SocketAddr = addr.parse().map_err(|_| {
                anyhow!("--resolve {flag:?}: {addr:?} is not an address with a port (IP:PORT)")
            })?;
            if host.is_empty() {
                bail!("--resolve {flag:?} names no host");
            }
            Ok((host.to_ascii_lowercase(), addr))
        })
        .collect()
}

/// Records blocks and says on stderr why a request was refused.
pub(crate) struct Auditor {
    home: PathBuf,
    /// The hosts each secret may go to.
    hosts: BTreeMap<String, Vec<String>>,
    /// Hosts already reported as denied (reported once each).
    denied: Mutex<BTreeSet<String>>,
}

impl Auditor {
    /// Blocks go to the audit log of `home`.
    pub fn new(home: &Path, hosts: BTreeMap<String, Vec<String>>) -> Self {
        Self {
            home: home.to_owned(),
            hosts,
            denied: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn sink(self) -> EventSink {
        Arc::new(move |event| self.event(event))
    }

    fn event(&self, event: ProxyEvent) {
        match event {
            ProxyEvent::Blocked {
                host,
                method,
                path,
                secrets,
                reason,
            } => {
                eprintln!(
                    "warrant: proxy: blocked {method} {host}{}: {reason}",
                    shorten(&path)
                );
                self.blocked(host, method, path, secrets, reason);
            }
            ProxyEvent::Denied { host, reason } => {
                if lock(&self.denied).insert(host.clone()) {
                    eprintln!(
                        "warrant: proxy: refused a connection to {host}: {reason} \
                         (no secret goes there; --passthrough lets such connections through untouched)"
                    );
                }
            }
        }
    }

    fn blocked(
        &self,
        host: String,
        method: String,
        path: String,
        secrets: Vec<String>,
        reason: String,
    ) {
        // Secrets aimed at a host they may not go to.
        let strays: Vec<String> = secrets
            .iter()
            .filter(|s| {
                let hosts = self.hosts.get(*s).map_or(&[][..], Vec::as_slice);
                !warrant_policy::host_matches(hosts, &host)
            })
            .cloned()
            .collect();
        let reason = if strays.is_empty() || reason.starts_with(EXFILTRATION) {
            reason
        } else {
            format!("{EXFILTRATION}: {reason}")
        };
        let path = shorten(&path);
        let record = Event::ProxyBlocked {
            host,
            method,
            path,
            secrets,
            reason,
            grant: None,
            actor: None,
        };
        if let Err(error) = AuditLog::new(&self.home).append(record) {
            eprintln!("warrant: error: this block was not recorded: {error}");
        }
    }
}

/// How a secret aimed at another host is called in the audit log (as the
/// daemon calls it).
const EXFILTRATION: &str = "exfiltration attempt";

/// Locks `mutex`, also after a panic elsewhere (the data stays usable).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// At most 200 characters of a path, for messages and the log.
fn shorten(path: &str) -> String {
    match path.char_indices().nth(200) {
        Some((end, _)) => format!("{}...", &path[..end]),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_flags_need_a_host_and_an_address_with_a_port() {
        let parsed = parse_resolve(&["API.example.test=127.0.0.1:8443".into()]).unwrap();
        assert_eq!(
            parsed,
            vec![(
                "api.example.test".to_owned(),
                "127.0.0.1:8443".parse().unwrap()
            )]
        );
        assert!(parse_resolve(&["api.example.test".into()]).is_err());
        assert!(parse_resolve(&["api.example.test=127.0.0.1".into()]).is_err());
        assert!(parse_resolve(&["=127.0.0.1:1".into()]).is_err());
    }

    #[test]
    fn long_paths_are_shortened() {
        assert_eq!(shorten("/a"), "/a");
        let long = "x".repeat(300);
        assert_eq!(shorten(&long).len(), 203);
    }
}
