//! Security keys (WebAuthn passkeys with user verification): registering
//! one, and asserting one for an approval.
//!
//! The relying party is `localhost` and the only origin accepted is the
//! page's own `http://localhost:PORT` (a secure context for browsers). Each
//! challenge is kept server-side in the session that asked for it, bound to
//! what it is for (one grant's approval, or registering a key), and
//! answered at most once.

mod store;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

pub use store::KEYS_FILE;
use store::{KeyFile, StoredKey};

use crate::error::WebError;

/// How long the browser waits for a key to be touched.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A challenge a session started and has not answered yet.
pub enum Challenge {
    /// To approve one grant.
    Approve {
        /// The grant.
        grant: String,
        /// The server's half of the ceremony.
        state: Box<PasskeyAuthentication>,
    },
    /// To prove an existing key before adding another.
    Unlock(Box<PasskeyAuthentication>),
    /// To register a key.
    Register(Box<PasskeyRegistration>),
}

impl Challenge {
    /// What it is for: `approve:ID`, `unlock` or `register`.
    pub fn purpose(&self) -> String {
        match self {
            Self::Approve { grant, .. } => approve_purpose(grant),
            Self::Unlock(_) => "unlock".into(),
            Self::Register(_) => "register".into(),
        }
    }
}

/// The purpose of a challenge to approve `grant`.
pub fn approve_purpose(grant: &str) -> String {
    format!("approve:{grant}")
}

/// A registered key as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// Its name.
    pub name: String,
    /// When it was added (RFC 3339).
    pub added: String,
    /// The start of its credential id.
    pub credential: String,
}

/// The relying party and the registered keys.
pub struct Keys {
    webauthn: Webauthn,
    home: PathBuf,
    file: Mutex<KeyFile>,
}

fn key_error(e: impl std::fmt::Display) -> WebError {
    WebError::Key(e.to_string())
}

impl Keys {
    /// Loads the keys under `home` for the page at `http://localhost:PORT`.
    pub fn load(home: PathBuf, port: u16) -> Result<Self, WebError> {
        let origin = Url::parse(&format!("http://localhost:{port}")).map_err(key_error)?;
        let webauthn = WebauthnBuilder::new("localhost", &origin)
            .and_then(|b| b.rp_name("warrant").timeout(TIMEOUT).build())
            .map_err(key_error)?;
        let file = KeyFile::load(&home)?;
        Ok(Self {
            webauthn,
            home,
            file: Mutex::new(file),
        })
    }

    fn file(&self) -> std::sync::MutexGuard<'_, KeyFile> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The registered keys.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.file()
            .keys
            .iter()
            .map(|k| KeyInfo {
                name: k.name.clone(),
                added: k.added.clone(),
                credential: short_id(k),
            })
            .collect()
    }

    /// Whether any key is registered.
    pub fn any(&self) -> bool {
        !self.file().keys.is_empty()
    }

    /// Starts an assertion by any registered key.
    pub fn start_assertion(
        &self,
    ) -> Result<(RequestChallengeResponse, Box<PasskeyAuthentication>), WebError> {
        let file = self.file();
        if file.keys.is_empty() {
            return Err(WebError::Key(
                "no security key is registered; add one under Security keys first".into(),
            ));
        }
        let passkeys: Vec<_> = file.keys.iter().map(|k| k.passkey.clone()).collect();
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(key_error)?;
        Ok((options, Box::new(state)))
    }

    /// Checks an assertion against the challenge it answers; returns the
    /// name of the key that made it. Its signature counter is saved.
    pub fn finish_assertion(
        &self,
        credential: &PublicKeyCredential,
        state: &PasskeyAuthentication,
    ) -> Result<String, WebError> {
        let result = self
            .webauthn
            .finish_passkey_authentication(credential, state)
            .map_err(key_error)?;
        if !result.user_verified() {
            return Err(WebError::Key("the key did not verify its user".into()));
        }
        let mut file = self.file();
        let key = file
            .keys
            .iter_mut()
            .find(|k| k.passkey.cred_id() == result.cred_id())
            .ok_or_else(|| WebError::Key("an unknown key answered".into()))?;
        let name = key.name.clone();
        if key.passkey.update_credential(&result) == Some(true) {
            file.save(&self.home)?;
        }
        Ok(name)
    }

    /// Starts registering a key (the caller checked the passphrase, and
    /// an existing key when there is one).
    pub fn start_registration(
        &self,
    ) -> Result<(CreationChallengeResponse, Box<PasskeyRegistration>), WebError> {
        let file = self.file();
        let exclude: Vec<_> = file
            .keys
            .iter()
            .map(|k| k.passkey.cred_id().clone())
            .collect();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                file.user,
                "approver",
                "warrant approver",
                Some(exclude).filter(|e| !e.is_empty()),
            )
            .map_err(key_error)?;
        Ok((options, Box::new(state)))
    }

    /// Finishes registering a key under `name`; returns it as listed.
    pub fn finish_registration(
        &self,
        name: &str,
        credential: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
    ) -> Result<KeyInfo, WebError> {
        let passkey = self
            .webauthn
            .finish_passkey_registration(credential, state)
            .map_err(key_error)?;
        let mut file = self.file();
        if file
            .keys
            .iter()
            .any(|k| k.passkey.cred_id() == passkey.cred_id())
        {
            return Err(WebError::Key("this key is registered already".into()));
        }
        let key = StoredKey {
            name: name.to_owned(),
            added: now_rfc3339(),
            passkey,
        };
        let info = KeyInfo {
            name: key.name.clone(),
            added: key.added.clone(),
            credential: short_id(&key),
        };
        file.keys.push(key);
        if let Err(e) = file.save(&self.home) {
            file.keys.pop();
            return Err(e);
        }
        Ok(info)
    }
}

/// The first 8 bytes of a key's credential id, hex: enough to tell keys
/// apart in a list and the audit log.
fn short_id(key: &StoredKey) -> String {
    let id: &[u8] = key.passkey.cred_id().as_ref();
    hex::encode(&id[..id.len().min(8)])
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
