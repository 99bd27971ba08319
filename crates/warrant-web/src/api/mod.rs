//! The page's JSON API. Reads need a session; anything that changes
//! something needs the session's CSRF token too; approving needs the
//! approver passphrase again (and a security key where the policy says so).
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/session`, `POST /api/session`, `DELETE /api/session` | who is signed in; sign in; sign out |
//! | `GET /api/grants` | pending and active grants |
//! | `GET /api/events` | server-sent events: the grants again whenever one changes |
//! | `POST /api/grants/{id}/challenge` | a security key challenge for approving `id` |
//! | `POST /api/grants/{id}/approve` / `deny` / `revoke` | decisions |
//! | `GET /api/audit` | the audit log, filtered, with the chain's verification |
//! | `GET /api/keys`, `POST /api/keys/challenge`, `POST /api/keys/register/start`, `.../finish` | security keys |

mod audit;
mod events;
mod grants;
mod keys;
mod session;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::WebError;

/// Every API route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/session",
            get(session::status)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/api/grants", get(grants::list))
        .route("/api/events", get(events::stream))
        .route("/api/grants/{id}/challenge", post(grants::challenge))
        .route("/api/grants/{id}/approve", post(grants::approve))
        .route("/api/grants/{id}/deny", post(grants::deny))
        .route("/api/grants/{id}/revoke", post(grants::revoke))
        .route("/api/audit", get(audit::query))
        .route("/api/keys", get(keys::list))
        .route("/api/keys/challenge", post(keys::challenge))
        .route("/api/keys/register/start", post(keys::register_start))
        .route("/api/keys/register/finish", post(keys::register_finish))
}

/// Parses a JSON body that may hold the passphrase: the body's buffer is
/// wiped once parsed. Only `application/json` is taken (a form posted from
/// another site cannot send it without asking first).
fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: Bytes) -> Result<T, WebError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next() == Some("application/json"));
    if !json {
        return Err(WebError::BadRequest("send application/json".into()));
    }
    let buffer = Zeroizing::new(Vec::from(body));
    serde_json::from_slice(&buffer).map_err(|e| WebError::BadRequest(format!("bad request: {e}")))
}
