//! Registering security keys: the passphrase, and an existing key once one
//! is registered (so someone who learnt the passphrase cannot add a key of
//! their own).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use secrecy::SecretString;
use serde::Deserialize;
use warrant_broker::Purpose;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

use super::json_body;
use crate::AppState;
use crate::error::WebError;
use crate::keys::{Challenge, KeyInfo};
use crate::peer::Peer;
use crate::session::{Guarded, Signed};

/// The longest name a key may have.
const MAX_NAME: usize = 64;

/// `GET /api/keys`.
pub async fn list(State(state): State<AppState>, _: Signed) -> Json<Vec<KeyInfo>> {
    Json(state.keys().list())
}

/// `POST /api/keys/challenge`: a challenge an existing key answers before
/// another is added.
pub async fn challenge(
    State(state): State<AppState>,
    session: Guarded,
) -> Result<Json<RequestChallengeResponse>, WebError> {
    let (options, auth) = state.keys().start_assertion()?;
    state
        .sessions()
        .put_challenge(&session.id, Challenge::Unlock(auth))?;
    Ok(Json(options))
}

#[derive(Deserialize)]
struct Start {
    passphrase: SecretString,
    assertion: Option<Box<PublicKeyCredential>>,
}

/// `POST /api/keys/register/start`: checks the passphrase (and an existing
/// key's answer), then asks the browser for a new key.
pub async fn register_start(
    State(state): State<AppState>,
    session: Guarded,
    Peer(caller): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CreationChallengeResponse>, WebError> {
    let request: Start = json_body(&headers, body)?;
    if state.keys().any() {
        let Some(assertion) = &request.assertion else {
            return Err(WebError::Key(
                "a key is registered: touch it first to add another".into(),
            ));
        };
        let Some(Challenge::Unlock(auth)) = state.sessions().take_challenge(&session.id, "unlock")
        else {
            return Err(WebError::Key("no challenge: ask the key again".into()));
        };
        state.keys().finish_assertion(assertion, &auth)?;
    }
    state
        .daemon()
        .check_passphrase(&caller, Purpose::RegisterKey, &request.passphrase)
        .await?;
    let (options, registration) = state.keys().start_registration()?;
    state
        .sessions()
        .put_challenge(&session.id, Challenge::Register(registration))?;
    Ok(Json(options))
}

#[derive(Deserialize)]
struct Finish {
    name: String,
    credential: Box<RegisterPublicKeyCredential>,
}

/// `POST /api/keys/register/finish`: stores the new key.
pub async fn register_finish(
    State(state): State<AppState>,
    session: Guarded,
    Peer(caller): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<KeyInfo>, WebError> {
    let request: Finish = json_body(&headers, body)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(WebError::BadRequest(format!(
            "name the key in 1 to {MAX_NAME} printable characters"
        )));
    }
    let Some(Challenge::Register(registration)) =
        state.sessions().take_challenge(&session.id, "register")
    else {
        return Err(WebError::Key("no registration in progress".into()));
    };
    let info = state
        .keys()
        .finish_registration(name, &request.credential, &registration)?;
    state
        .daemon()
        .security_key_added(&caller, &info.name, &info.credential)
        .await?;
    Ok(Json(info))
}
