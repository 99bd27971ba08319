//! The page's one error type, turned into a JSON answer with a status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use warrant_broker::protocol::{ErrorBody, ErrorCode};

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
    code: ErrorCode,
    message: String,
    hint: Option<&'a str>,
}

impl WebError {
    /// The one code this error is known by; its status follows from it
    /// ([`ErrorCode::http_status`]), as the CLI's exit code and MCP's
    /// tool errors do.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::SignedOut => ErrorCode::SignedOut,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Host(_) => ErrorCode::WrongHost,
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Key(_) => ErrorCode::SecurityKey,
            Self::Io { .. } | Self::Audit(_) => ErrorCode::Internal,
            Self::Daemon(body) => body.code,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_daemon_refusal_is_a_client_error_on_the_page() {
        // The page once answered refusals it had no string for with 500.
        for code in [
            ErrorCode::Denied,
            ErrorCode::OutOfScope,
            ErrorCode::UseLimited,
            ErrorCode::NotActive,
            ErrorCode::HardwareKeyRequired,
        ] {
            let error = WebError::Daemon(ErrorBody::new(code, "no", None));
            let status = error.into_response().status();
            assert!(status.is_client_error(), "{code:?} answered {status}");
        }
    }
}
