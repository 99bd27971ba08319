//! What every answer carries, and what every request must show.
//!
//! - Only the loopback names the page listens on are served (`Host` is
//!   `localhost:PORT`, `127.0.0.1:PORT` or `[::1]:PORT`; the daemon holds
//!   the port on both addresses): a page elsewhere that rebinds its own name
//!   to a loopback address gets nothing.
//! - A request that may change something and comes from a browser must
//!   come from the page's own origin (`Origin`, or `Sec-Fetch-Site`).
//! - Every answer has a strict Content-Security-Policy (only the page's own
//!   scripts, styles and connections; no inline code, no frames, no
//!   forms elsewhere), and is neither cached nor framed.

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;
use crate::error::WebError;

/// The page's Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
base-uri 'none'";

const HEADERS: [(&str, &str); 8] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "publickey-credentials-get=(self), publickey-credentials-create=(self), camera=(), microphone=(), geolocation=()",
    ),
];

/// The addresses the page listens on, as they appear in `Host` and
/// `Origin`.
const LOOPBACK: [&str; 2] = ["127.0.0.1", "[::1]"];

/// Checks the host and origin, then adds the security headers.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let port = state.port();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let by_address = LOOPBACK.iter().any(|ip| host == format!("{ip}:{port}"));
    let mut response = if by_address && request.method() == Method::GET {
        // WebAuthn needs a name, not an address: send the browser to it.
        Redirect::temporary(&format!("http://localhost:{port}{}", request.uri().path()))
            .into_response()
    } else if !by_address && host != format!("localhost:{port}") {
        WebError::Host(host).into_response()
    } else if let Err(e) = same_origin(&request, port) {
        e.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// A request that may change something must come from the page itself.
fn same_origin(request: &Request, port: u16) -> Result<(), WebError> {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return Ok(());
    }
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let own = origin == format!("http://localhost:{port}")
            || LOOPBACK
                .iter()
                .any(|ip| origin == format!("http://{ip}:{port}"));
        if !own {
            return Err(WebError::Forbidden(format!(
                "a request from {origin} may not change anything here"
            )));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && site.as_bytes() != b"same-origin"
    {
        return Err(WebError::Forbidden(
            "a request from another site may not change anything here".into(),
        ));
    }
    Ok(())
}

/// Answers for paths that do not exist.
pub async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}
