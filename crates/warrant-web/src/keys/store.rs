//! Registered security keys: public data (credential ids, public keys,
//! counters), in `$WARRANT_HOME/security-keys.json`, 0600, replaced
//! atomically. The daemon reads the file once at start, so a process that
//! could write it still cannot add a key to a running daemon.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{Passkey, Uuid};

use crate::error::WebError;

/// The file's name under the home.
pub const KEYS_FILE: &str = "security-keys.json";

/// The file's contents.
#[derive(Serialize, Deserialize)]
pub struct KeyFile {
    /// The approver's WebAuthn user handle (random, made once).
    pub user: Uuid,
    /// The keys, oldest first.
    pub keys: Vec<StoredKey>,
}

/// One registered key.
#[derive(Serialize, Deserialize)]
pub struct StoredKey {
    /// The name the approver gave it.
    pub name: String,
    /// When it was added (RFC 3339).
    pub added: String,
    /// The credential (public key, id, counter).
    pub passkey: Passkey,
}

impl KeyFile {
    /// Reads the file under `home`, or starts an empty one.
    pub fn load(home: &Path) -> Result<Self, WebError> {
        let path = path(home);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| WebError::Io {
                what: format!("{} does not parse", path.display()),
                source: std::io::Error::other(e.to_string()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                user: random_uuid()?,
                keys: Vec::new(),
            }),
            Err(source) => Err(WebError::Io {
                what: format!("cannot read {}", path.display()),
                source,
            }),
        }
    }

    /// Writes the file under `home` atomically, mode 0600.
    pub fn save(&self, home: &Path) -> Result<(), WebError> {
        let path = path(home);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| WebError::Io {
            what: "cannot encode the security keys".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        warrant_fs::write_atomic(&path, &bytes, warrant_fs::FILE_MODE).map_err(|source| {
            WebError::Io {
                what: format!("cannot write {}", path.display()),
                source,
            }
        })
    }
}

/// `$WARRANT_HOME/security-keys.json`.
pub fn path(home: &Path) -> PathBuf {
    home.join(KEYS_FILE)
}

fn random_uuid() -> Result<Uuid, WebError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| WebError::Io {
        what: "no randomness".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(uuid_v4(bytes))
}

/// A version 4 UUID from 16 random bytes.
fn uuid_v4(mut bytes: [u8; 16]) -> Uuid {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}
