//! The page's one error type, turned into a JSON answer with a status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use warrant_broker::protocol::ErrorBody;

/// Why a request to the page failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// No session, or it expired.
    #[error("not signed in, or the session expired")]
    SignedOut,
    /// A state-changing request without this session's CSRF token, or from
    /// another origin.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request named another host (DNS rebinding): only the loopback
    /// names this page listens on are served.
    #[error("host {0:?} is not served here")]
    Host(String),
    /// The daemon refused or failed.
    #[error("{}", .0.message)]
    Daemon(ErrorBody),
    /// The request does not make sense.
    #[error("{0}")]
    BadRequest(String),
    /// A security key operation failed or did not verify.
    #[error("security key: {0}")]
    Key(String),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The audit log could not be read.
    #[error("cannot read the audit log: {0}")]
    Audit(String),
}

impl From<ErrorBody> for WebError {
    fn from(body: ErrorBody) -> Self {
        Self::Daemon(body)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    hint: Option<&'a str>,
}

impl WebError {
    fn status_and_code(&self) -> (StatusCode, &str) {
        match self {
            Self::SignedOut => (StatusCode::UNAUTHORIZED, "signed_out"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::Host(_) => (StatusCode::MISDIRECTED_REQUEST, "wrong_host"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Key(_) => (StatusCode::FORBIDDEN, "security_key"),
            Self::Io { .. } | Self::Audit(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Daemon(body) => {
                let status = match body.code.as_str() {
                    "not_found" => StatusCode::NOT_FOUND,
                    "wrong_passphrase" | "forbidden" | "hardware_key_required" => {
                        StatusCode::FORBIDDEN
                    }
                    "throttled" => StatusCode::TOO_MANY_REQUESTS,
                    "bad_request" => StatusCode::BAD_REQUEST,
                    "not_pending" | "not_active" => StatusCode::CONFLICT,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, body.code.as_str())
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let hint = match &self {
            Self::Daemon(body) => body.hint.as_deref(),
            Self::SignedOut => Some("sign in again with the approver passphrase"),
            _ => None,
        };
        let body = Body {
            code,
            message: self.to_string(),
            hint,
        };
        (status, Json(body)).into_response()
    }
}
