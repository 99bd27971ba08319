//! The listener: accepts clients, answers `CONNECT` (intercept, tunnel or
//! refuse) and plain-HTTP requests in absolute form.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::body::{self, ProxyBody};
use crate::redact::Redaction;
use crate::substitute::Placeholders;
use crate::target::{Scheme, Target, not_allowed_reason};
use crate::upstream::Upstream;
use crate::{EventSink, ProxyEvent, ValueSource, ca, intercept};

/// What every connection of one proxy shares.
pub(crate) struct Shared {
    pub(crate) placeholders: Placeholders,
    pub(crate) passthrough: bool,
    pub(crate) ca: ca::Authority,
    pub(crate) upstream: Upstream,
    pub(crate) values: Arc<dyn ValueSource>,
    pub(crate) events: EventSink,
    /// Every value substituted so far, redacted from every response.
    pub(crate) redaction: Redaction,
    /// Who may use the proxy, when not everyone.
    pub(crate) auth: Option<Arc<crate::ProxyAuth>>,
}

/// Spawns tasks that end when the proxy stops, and lets the proxy wait for them.
#[derive(Clone)]
pub(crate) struct Tasks {
    stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
}

impl Tasks {
    pub(crate) fn new(stop: watch::Receiver<bool>, alive: mpsc::Sender<()>) -> Self {
        Self { stop, alive }
    }

    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut stop = self.stop.clone();
        let alive = self.alive.clone();
        tokio::spawn(async move {
            let _alive = alive;
            tokio::select! {
                () = task => {}
                () = stopped(&mut stop) => {}
            }
        });
    }
}

/// Returns once stop is asked for, or the `Proxy` is dropped.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tasks: Tasks) {
    let mut stop = tasks.stop.clone();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    tasks.spawn(serve_client(tcp, shared.clone(), tasks.clone()));
                }
                // Out of file descriptors, say: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

/// One client connection: HTTP/1.1 with `CONNECT` upgrades.
async fn serve_client(tcp: TcpStream, shared: Arc<Shared>, tasks: Tasks) {
    let service = service_fn(move |req| {
        let (shared, tasks) = (shared.clone(), tasks.clone());
        async move { Ok::<_, Infallible>(route(req, shared, tasks).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades()
        .await;
}

async fn route(req: Request<Incoming>, shared: Arc<Shared>, tasks: Tasks) -> Response<ProxyBody> {
    if let Some(auth) = &shared.auth
        && !auth.admits(req.headers())
    {
        let mut response = answer(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "this proxy serves one grant's command: use the proxy URL it was given, credentials included",
        );
        response.headers_mut().insert(
            http::header::PROXY_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"warrant\""),
        );
        return response;
    }
    if req.method() == Method::CONNECT {
        return connect(req, shared, tasks).await;
    }
    let target = match (req.uri().scheme_str(), req.uri().authority()) {
        (Some(scheme), Some(authority)) if scheme.eq_ignore_ascii_case("http") => {
            match Target::parse(authority, Scheme::Http, false) {
                Ok(target) => target,
                Err(reason) => return plain_refusal(&shared, &req, reason),
            }
        }
        (Some(_), Some(_)) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "only http:// URLs are proxied as such; use CONNECT for https",
            );
        }
        _ => {
            return answer(
                StatusCode::BAD_REQUEST,
                "this is a proxy: send absolute-form requests or CONNECT",
            );
        }
    };
    if !shared.placeholders.any_allows(&target) && !shared.passthrough {
        // A placeholder aimed here is an exfiltration attempt, not merely a
        // host nobody needs: report it as such.
        let mut seen = vec![false; shared.placeholders.len()];
        let (parts, ()) = clone_head(&req);
        shared.placeholders.scan_head(&parts, &mut seen);
        if seen.contains(&true) {
            let p = &shared.placeholders;
            let reason = (0..p.len())
                .filter(|&i| seen[i])
                .map(|i| not_allowed_reason(p.secret(i), &target))
                .collect::<Vec<_>>()
                .join("; ");
            return intercept::blocked(
                &shared,
                target.host.clone(),
                &parts.method,
                parts.uri.path(),
                &seen,
                reason,
            );
        }
        return denied(&shared, &target);
    }
    intercept::handle(req, Arc::new(target), shared).await
}

/// A plain-HTTP request whose URL is unusable (user info, a bad host).
fn plain_refusal(shared: &Shared, req: &Request<Incoming>, reason: String) -> Response<ProxyBody> {
    let host = req.uri().host().unwrap_or_default().to_owned();
    let mut seen = vec![false; shared.placeholders.len()];
    let (parts, ()) = clone_head(req);
    shared.placeholders.scan_head(&parts, &mut seen);
    intercept::blocked(shared, host, &parts.method, parts.uri.path(), &seen, reason)
}

fn clone_head(req: &Request<Incoming>) -> (http::request::Parts, ()) {
    let mut copy = Request::new(());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    copy.into_parts()
}

async fn connect(
    mut req: Request<Incoming>,
    shared: Arc<Shared>,
    tasks: Tasks,
) -> Response<ProxyBody> {
    let Some(authority) = req.uri().authority().cloned() else {
        return answer(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
    };
    let target = match Target::parse(&authority, Scheme::Https, true) {
        Ok(target) => Arc::new(target),
        Err(reason) => return answer(StatusCode::BAD_REQUEST, &reason),
    };
    let upgrade = hyper::upgrade::on(&mut req);
    if shared.placeholders.any_allows(&target) {
        tasks.spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                intercept::serve(upgraded, target, shared).await;
            }
        });
        return answer(StatusCode::OK, "");
    }
    if !shared.passthrough {
        return denied(&shared, &target);
    }
    let upstream = match shared
        .upstream
        .connector
        .tcp(&target.host, target.port)
        .await
    {
        Ok(tcp) => tcp,
        Err(e) => {
            return answer(
                StatusCode::BAD_GATEWAY,
                &format!("cannot reach {target}: {e}"),
            );
        }
    };
    tasks.spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let mut client = TokioIo::new(upgraded);
            let mut upstream = upstream;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    });
    answer(StatusCode::OK, "")
}

fn denied(shared: &Shared, target: &Target) -> Response<ProxyBody> {
    let reason = format!(
        "no secret is allowed for {} and passthrough is off",
        target.host
    );
    (shared.events)(ProxyEvent::Denied {
        host: target.host.clone(),
        reason: reason.clone(),
    });
    answer(StatusCode::FORBIDDEN, &reason)
}

/// The header on every answer the proxy gives itself (a refusal, an
/// upstream failure), never on an upstream's: clients tell "warrant
/// refused" from "the server said 403" by it. Upstream responses lose any
/// header of this name.
pub const OWN_ANSWER: &str = "x-warrant-proxy";

/// The proxy's own answer: `status` with `text` (if any) as the body.
pub(crate) fn answer(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let body = if text.is_empty() {
        body::empty()
    } else {
        body::text(format!("warrant proxy: {text}\n"))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::HeaderName::from_static(OWN_ANSWER),
        http::HeaderValue::from_static("1"),
    );
    if !text.is_empty() {
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}
