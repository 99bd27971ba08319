//! Grants: the list, and the decisions on them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use warrant_broker::protocol::GrantView;
use warrant_broker::{ApprovalTerms, Caller};
use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

use super::json_body;
use crate::AppState;
use crate::error::WebError;
use crate::keys::{Challenge, approve_purpose};
use crate::peer::Peer;
use crate::session::{Guarded, Signed};

/// The grants as the page shows them.
#[derive(Serialize)]
pub struct Grants {
    /// Pending and active grants.
    pub grants: Vec<GrantView>,
    /// Whether a security key is registered.
    pub keys: bool,
}

/// Reads the live grants.
pub async fn current(state: &AppState, caller: &Caller) -> Result<Grants, WebError> {
    Ok(Grants {
        grants: state.daemon().grants(caller, false).await?,
        keys: state.keys().any(),
    })
}

/// `GET /api/grants`.
pub async fn list(
    State(state): State<AppState>,
    _: Signed,
    Peer(caller): Peer,
) -> Result<Json<Grants>, WebError> {
    Ok(Json(current(&state, &caller).await?))
}

/// `POST /api/grants/{id}/challenge`: a security key challenge bound to
/// approving this grant in this session.
pub async fn challenge(
    State(state): State<AppState>,
    session: Guarded,
    Path(id): Path<String>,
) -> Result<Json<RequestChallengeResponse>, WebError> {
    let grant = state.daemon().show(&id).await?;
    if grant.status != "pending" {
        return Err(WebError::BadRequest(format!(
            "grant {id} is {}, not pending",
            grant.status
        )));
    }
    let (options, auth) = state.keys().start_assertion()?;
    state.sessions().put_challenge(
        &session.id,
        Challenge::Approve {
            grant: id,
            state: auth,
        },
    )?;
    Ok(Json(options))
}

#[derive(Deserialize)]
struct Approve {
    passphrase: SecretString,
    /// A shorter lifetime than asked, in seconds.
    ttl_secs: Option<u64>,
    /// Fewer uses than the policy allows.
    max_uses: Option<u64>,
    /// The security key's answer to this grant's challenge.
    assertion: Option<Box<PublicKeyCredential>>,
}

/// `POST /api/grants/{id}/approve`: the passphrase again, and the security
/// key's assertion when the grant needs one.
pub async fn approve(
    State(state): State<AppState>,
    session: Guarded,
    Peer(caller): Peer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<GrantView>, WebError> {
    let request: Approve = json_body(&headers, body)?;
    let security_key = match &request.assertion {
        Some(assertion) => {
            let Some(Challenge::Approve { grant, state: auth }) = state
                .sessions()
                .take_challenge(&session.id, &approve_purpose(&id))
            else {
                return Err(WebError::Key(
                    "no challenge for this grant: ask the key again".into(),
                ));
            };
            debug_assert_eq!(grant, id);
            Some(state.keys().finish_assertion(assertion, &auth)?)
        }
        None => None,
    };
    let terms = ApprovalTerms {
        ttl_ms: request.ttl_secs.map(|s| s.saturating_mul(1000)),
        max_uses: request.max_uses,
        security_key,
    };
    let view = state
        .daemon()
        .approve(&caller, &id, &request.passphrase, terms)
        .await?;
    Ok(Json(view))
}

#[derive(Deserialize)]
struct Reason {
    reason: Option<String>,
}

/// `POST /api/grants/{id}/deny`.
pub async fn deny(
    State(state): State<AppState>,
    _: Guarded,
    Peer(caller): Peer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<GrantView>, WebError> {
    let Reason { reason } = json_body(&headers, body)?;
    Ok(Json(
        state.daemon().deny(&caller, &id, nonempty(reason)).await?,
    ))
}

/// `POST /api/grants/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    _: Guarded,
    Peer(caller): Peer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<GrantView>, WebError> {
    let Reason { reason } = json_body(&headers, body)?;
    Ok(Json(
        state
            .daemon()
            .revoke(&caller, &id, nonempty(reason))
            .await?,
    ))
}

fn nonempty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}
