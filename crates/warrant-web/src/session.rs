//! Sessions: a random id in an HttpOnly, SameSite=Strict cookie, kept in
//! memory only (a restart signs everyone out), ended after 15 minutes
//! without a request or an hour in all. Each session has a CSRF token that
//! every state-changing request must carry in `X-CSRF-Token`; the page
//! reads it from `GET /api/session`, which no other origin can read.
//!
//! Cookies are not separated by port: every `http://localhost:*` server the
//! browser talks to receives this cookie, and `SameSite` treats them all as
//! one site. So the cookie alone never authorises a change (the CSRF token
//! and the origin check do), and an approval needs the passphrase again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, HeaderValue};
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::WebError;
use crate::keys::Challenge;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "warrant_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends after this long without a request.
const IDLE: Duration = Duration::from_secs(15 * 60);
/// A session ends this long after sign-in, however busy.
const LIFETIME: Duration = Duration::from_secs(60 * 60);

/// One signed-in browser.
struct Session {
    csrf: String,
    created: Instant,
    seen: Instant,
    /// Security key challenges this session started, not yet answered.
    challenges: Vec<Challenge>,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.seen) > IDLE || now.duration_since(self.created) > LIFETIME
    }
}

/// Every live session, by id.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session; returns its id and CSRF token.
    pub fn create(&self) -> Result<(String, String), WebError> {
        let (id, csrf) = (token()?, token()?);
        let now = Instant::now();
        let mut sessions = self.lock();
        sessions.retain(|_, s| !s.expired(now));
        sessions.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                created: now,
                seen: now,
                challenges: Vec::new(),
            },
        );
        Ok((id, csrf))
    }

    /// The CSRF token of a live session, marking it used now.
    pub fn touch(&self, id: &str) -> Option<String> {
        let now = Instant::now();
        let mut sessions = self.lock();
        match sessions.get_mut(id) {
            Some(s) if !s.expired(now) => {
                s.seen = now;
                Some(s.csrf.clone())
            }
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// Whether a session is live (without marking it used).
    pub fn alive(&self, id: &str) -> bool {
        self.lock()
            .get(id)
            .is_some_and(|s| !s.expired(Instant::now()))
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Keeps a security key challenge for this session (one per purpose).
    pub fn put_challenge(&self, id: &str, challenge: Challenge) -> Result<(), WebError> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(id).ok_or(WebError::SignedOut)?;
        session
            .challenges
            .retain(|c| c.purpose() != challenge.purpose());
        session.challenges.push(challenge);
        Ok(())
    }

    /// Takes this session's challenge for `purpose` (each is answered once).
    pub fn take_challenge(&self, id: &str, purpose: &str) -> Option<Challenge> {
        let mut sessions = self.lock();
        let session = sessions.get_mut(id)?;
        let at = session
            .challenges
            .iter()
            .position(|c| c.purpose() == purpose)?;
        Some(session.challenges.swap_remove(at))
    }
}

/// 32 random bytes, hex.
fn token() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| WebError::Io {
        what: "no randomness".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(hex::encode(bytes))
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(id: &str) -> HeaderValue {
    let secs = LIFETIME.as_secs();
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={secs}"
    ))
    .expect("a hex id is a valid header value")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("warrant_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The session id in the request's cookies, if any.
pub fn cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
}

/// A signed-in request (reads).
pub struct Signed {
    /// The session id.
    pub id: String,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let id = cookie(parts).ok_or(WebError::SignedOut)?;
        state.sessions().touch(&id).ok_or(WebError::SignedOut)?;
        Ok(Self { id })
    }
}

/// A signed-in request that may change something: it carries the
/// session's CSRF token (compared in constant time).
pub struct Guarded {
    /// The session id.
    pub id: String,
}

impl FromRequestParts<AppState> for Guarded {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let id = cookie(parts).ok_or(WebError::SignedOut)?;
        let csrf = state.sessions().touch(&id).ok_or(WebError::SignedOut)?;
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !bool::from(sent.ct_eq(csrf.as_bytes())) {
            return Err(WebError::Forbidden("missing or wrong CSRF token".into()));
        }
        Ok(Self { id })
    }
}
