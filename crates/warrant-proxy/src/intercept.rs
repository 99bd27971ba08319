//! Intercepted tunnels: TLS with a leaf for the `CONNECT` target, then each
//! request checked, its placeholders substituted, forwarded, and its
//! response redacted.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::Body as _;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_rustls::TlsAcceptor;
use warrant_secret::SecretValue;

use crate::body::{self, Buffered, Origin, ProxyBody, ReadBody, ScanBody};
use crate::redact::{RedactBody, WHOLE_BODY_LIMIT, redact_headers, redact_whole};
use crate::server::{Shared, answer};
use crate::substitute::Substitution;
use crate::target::{Target, check_authority, host_allowed};
use crate::{ProxyEvent, UseRequest};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one intercepted tunnel until either side closes it.
pub(crate) async fn serve(upgraded: Upgraded, target: Arc<Target>, shared: Arc<Shared>) {
    let Ok(config) = shared.ca.server_config(target.bare_host()) else {
        return;
    };
    let accept = TlsAcceptor::from(config).accept(TokioIo::new(upgraded));
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await else {
        return;
    };
    let service = service_fn(move |req| {
        let (target, shared) = (target.clone(), shared.clone());
        async move { Ok::<_, Infallible>(handle(req, target, shared).await) }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

/// Why a request was not forwarded.
enum Refusal {
    /// 403 and [`ProxyEvent::Blocked`]: `seen` marks the secrets it carried.
    Blocked { seen: Vec<bool>, reason: String },
    /// Any other answer from the proxy itself.
    Answer(StatusCode, String),
}

/// Checks, substitutes, forwards one request and redacts its response.
pub(crate) async fn handle(
    req: Request<Incoming>,
    target: Arc<Target>,
    shared: Arc<Shared>,
) -> Response<ProxyBody> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match forward(req, &target, &shared).await {
        Ok(response) => response,
        Err(Refusal::Blocked { seen, reason }) => {
            blocked(&shared, target.host.clone(), &method, &path, &seen, reason)
        }
        Err(Refusal::Answer(status, text)) => answer(status, &text),
    }
}

/// Reports a blocked request and answers it 403.
pub(crate) fn blocked(
    shared: &Shared,
    host: String,
    method: &Method,
    path: &str,
    seen: &[bool],
    reason: String,
) -> Response<ProxyBody> {
    let secrets = names(shared, seen);
    let text = format!("blocked: {reason}");
    (shared.events)(ProxyEvent::Blocked {
        host,
        method: method.to_string(),
        path: path.to_owned(),
        secrets,
        reason,
    });
    answer(StatusCode::FORBIDDEN, &text)
}

fn names(shared: &Shared, seen: &[bool]) -> Vec<String> {
    let p = &shared.placeholders;
    (0..p.len())
        .filter(|&i| seen[i])
        .map(|i| p.secret(i).name.clone())
        .collect()
}

async fn forward(
    req: Request<Incoming>,
    target: &Arc<Target>,
    shared: &Arc<Shared>,
) -> Result<Response<ProxyBody>, Refusal> {
    let placeholders = &shared.placeholders;
    let (mut parts, body) = req.into_parts();
    // Before looking for placeholders: these headers are never forwarded.
    strip_hop_by_hop(&mut parts.headers);
    // As received: after substitution the URL may hold a value.
    let path = parts.uri.path().to_owned();
    let mut in_head = vec![false; placeholders.len()];
    placeholders.scan_head(&parts, &mut in_head);
    let block = |seen: &[bool], reason: String| Refusal::Blocked {
        seen: seen.to_vec(),
        reason,
    };
    if parts.method == Method::CONNECT {
        return Err(block(
            &in_head,
            "CONNECT inside an intercepted tunnel".to_owned(),
        ));
    }
    check_authority(&parts, target).map_err(|reason| block(&in_head, reason))?;

    let body = body::read(body).await.map_err(|e| {
        Refusal::Answer(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        )
    })?;
    let mut in_body = vec![false; placeholders.len()];
    match &body {
        ReadBody::Empty => {}
        ReadBody::Full(data, _) | ReadBody::Stream(data, _) => {
            placeholders.scan(data, &mut in_body)
        }
    }
    let seen: Vec<bool> = in_head
        .iter()
        .zip(&in_body)
        .map(|(h, b)| *h || *b)
        .collect();
    let misdirected: Vec<&str> = (0..placeholders.len())
        .filter(|&i| seen[i] && !host_allowed(&placeholders.secret(i).hosts, &target.host))
        .map(|i| placeholders.secret(i).name.as_str())
        .collect();
    if !misdirected.is_empty() {
        let reason = format!(
            "{} may not be sent to {}",
            misdirected.join(", "),
            target.host
        );
        return Err(block(&seen, reason));
    }

    // Values for placeholders in the head, and in a buffered body where allowed.
    let buffered = matches!(body, ReadBody::Full(..));
    let wanted: Vec<usize> = (0..placeholders.len())
        .filter(|&i| in_head[i] || (buffered && in_body[i] && placeholders.secret(i).body))
        .collect();
    let values = if wanted.is_empty() {
        Vec::new()
    } else {
        let request = UseRequest {
            secrets: wanted
                .iter()
                .map(|&i| placeholders.secret(i).name.clone())
                .collect(),
            host: target.host.clone(),
            method: parts.method.to_string(),
            path: path.clone(),
            scheme: target.scheme.as_str().to_owned(),
            port: target.port,
        };
        ask(shared, request)
            .await
            .map_err(|reason| block(&seen, reason))?
    };
    let substitution = Substitution::new(placeholders, &wanted, values);
    if !wanted.is_empty() {
        shared
            .redaction
            .add(substitution.named_values())
            .map_err(|e| {
                Refusal::Answer(
                    StatusCode::BAD_GATEWAY,
                    format!("cannot redact responses: {e}"),
                )
            })?;
    }
    substitution
        .headers(&mut parts.headers)
        .map_err(|reason| block(&seen, reason))?;
    let pq = match parts.uri.path_and_query() {
        Some(pq) => substitution
            .path_and_query(pq)
            .map_err(|reason| block(&seen, reason))?,
        None => None,
    };
    let pq = pq.or_else(|| parts.uri.path_and_query().cloned());
    let mut builder = Uri::builder()
        .scheme(target.scheme.as_str())
        .authority(target.authority());
    if let Some(pq) = pq {
        builder = builder.path_and_query(pq);
    }
    parts.uri = builder
        .build()
        .map_err(|_| Refusal::Answer(StatusCode::BAD_REQUEST, "invalid request URL".to_owned()))?;
    parts.version = http::Version::default();
    // The client sets Host (HTTP/1.1) or :authority (HTTP/2) from the URI.
    parts.headers.remove(HOST);
    let redactor = shared.redaction.redactor();
    if redactor.is_some() {
        // The redactor cannot see into compressed bodies.
        parts
            .headers
            .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }

    let body = match body {
        ReadBody::Empty => body::empty(),
        ReadBody::Full(data, trailers) => {
            let data = substitution.body(&data).unwrap_or(data);
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(data.len()));
            Buffered::wiped(data, trailers).boxed_unsync()
        }
        ReadBody::Stream(prefix, rest) => {
            let origin = Origin {
                target: target.clone(),
                method: parts.method.to_string(),
                path,
            };
            ScanBody::new(prefix, rest, shared.clone(), origin).boxed_unsync()
        }
    };
    drop(substitution);

    let response = shared
        .upstream
        .client
        .request(Request::from_parts(parts, body))
        .await
        .map_err(|e| {
            Refusal::Answer(
                StatusCode::BAD_GATEWAY,
                format!("upstream {target}: {}", chain(&e)),
            )
        })?;
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    // Only the proxy's own answers carry its marker.
    parts.headers.remove(crate::OWN_ANSWER);
    let Some(redactor) = redactor else {
        return Ok(Response::from_parts(
            parts,
            body.map_err(Into::into).boxed_unsync(),
        ));
    };
    let encoded = parts
        .headers
        .get(CONTENT_ENCODING)
        .is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded && !body.is_end_stream() {
        return Err(Refusal::Answer(
            StatusCode::BAD_GATEWAY,
            format!("{target} sent a compressed response, which cannot be redacted"),
        ));
    }
    redact_headers(&redactor, &mut parts.headers);
    if body.is_end_stream() {
        return Ok(Response::from_parts(
            parts,
            body.map_err(Into::into).boxed_unsync(),
        ));
    }
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len <= WHOLE_BODY_LIMIT) {
        let whole = redact_whole(body, &redactor).await.map_err(|e| {
            Refusal::Answer(
                StatusCode::BAD_GATEWAY,
                format!("upstream {target}: {}", chain(e.as_ref())),
            )
        })?;
        let len = whole.size_hint().exact().unwrap_or_default();
        parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        return Ok(Response::from_parts(parts, whole.boxed_unsync()));
    }
    // Redaction changes the length.
    parts.headers.remove(CONTENT_LENGTH);
    Ok(Response::from_parts(
        parts,
        RedactBody::new(body, redactor).boxed_unsync(),
    ))
}

/// Asks the value source (on a blocking thread if it may block); checks it
/// answered in full.
async fn ask(shared: &Shared, request: UseRequest) -> Result<Vec<SecretValue>, String> {
    let source = shared.values.clone();
    let wanted = request.secrets.len();
    let values = if source.blocks() {
        tokio::task::spawn_blocking(move || source.values(&request))
            .await
            .map_err(|_| "the value source failed".to_owned())??
    } else {
        source.values(&request)?
    };
    if values.len() != wanted {
        return Err(format!(
            "the value source gave {} values for {wanted} secrets",
            values.len()
        ));
    }
    Ok(values)
}

/// Removes connection-level headers (and those `Connection` names), which
/// belong to one hop; keeps `te: trailers`, which HTTP/2 (gRPC) needs.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
    let trailers_only = headers
        .get(http::header::TE)
        .is_none_or(|te| te.as_bytes().eq_ignore_ascii_case(b"trailers"));
    if !trailers_only {
        headers.remove(http::header::TE);
    }
}

/// An error and its sources, one layer each. Upstream errors name hosts and
/// I/O or TLS failures, never request contents.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic eDp5"),
            ("upgrade", "websocket"),
            ("te", "trailers"),
            ("x-kept", "1"),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["te", "x-kept"]);
        headers.insert("te", "gzip".parse().unwrap());
        strip_hop_by_hop(&mut headers);
        assert!(!headers.contains_key("te"));
    }
}
