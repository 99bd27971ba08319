//! Signing in and out.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use warrant_broker::Purpose;

use super::json_body;
use crate::AppState;
use crate::error::WebError;
use crate::peer::Peer;
use crate::session::{Guarded, clear_cookie, cookie, set_cookie};

#[derive(Deserialize)]
struct SignIn {
    passphrase: SecretString,
}

/// `GET /api/session`: whether this browser is signed in, and its CSRF
/// token (readable only by the page's own origin).
pub async fn status(State(state): State<AppState>, parts: Parts) -> Json<serde_json::Value> {
    let csrf = cookie(&parts).and_then(|id| state.sessions().touch(&id));
    let approver = state.daemon().status().await.ok().map(|s| s.approver_set);
    Json(json!({
        "signed_in": csrf.is_some(),
        "csrf": csrf,
        "approver_set": approver,
    }))
}

/// `POST /api/session`: signs in with the approver passphrase.
pub async fn sign_in(
    State(state): State<AppState>,
    Peer(caller): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let SignIn { passphrase } = json_body(&headers, body)?;
    state
        .daemon()
        .check_passphrase(&caller, Purpose::SignIn, &passphrase)
        .await?;
    drop(passphrase);
    let (id, csrf) = state.sessions().create()?;
    Ok((
        StatusCode::OK,
        [(SET_COOKIE, set_cookie(&id))],
        Json(json!({ "signed_in": true, "csrf": csrf })),
    )
        .into_response())
}

/// `DELETE /api/session`: signs out.
pub async fn sign_out(State(state): State<AppState>, session: Guarded) -> Response {
    state.sessions().end(&session.id);
    (
        StatusCode::OK,
        [(SET_COOKIE, clear_cookie())],
        Json(json!({ "signed_in": false })),
    )
        .into_response()
}
