//! Secret stores: where values live, behind the [`SecretStore`] trait.
//!
//! - [`SecretStore`]: get, list, set, set many at once, remove. Every
//!   backend passes the same suite, `conformance::run` (feature `testing`).
//! - [`LocalStore`]: the embedded default, an encrypted file under the
//!   warrant home. Values are sealed with XChaCha20-Poly1305 under a random
//!   256-bit data key, each bound to its name; the data key sits in a 0600
//!   key file, raw ([`KeyProtection::KeyFile`]) or wrapped under a key
//!   derived from a passphrase with Argon2id ([`KeyProtection::Passphrase`]).
//!   Names, descriptions and times are in clear: names are not secret, and
//!   [`Unlock::MetadataOnly`] lists them without the key.
//! - [`SecretMeta`]: what is known about a secret without revealing it.
//! - [`Error`]: names files by path and secrets by name, never a value.
//!
//! Every write is atomic (temp file, fsync, rename, fsync of the directory)
//! and writers are serialised by an exclusive lock, so a crash at any
//! instant leaves the old or the new store, and concurrent writers never
//! lose each other's changes. A wrong key or a corrupt file changes nothing
//! on disk.
//!
//! What the key file does not protect against: anyone who can read it as
//! the same OS user (an agent running as you) can open the store. Use a
//! passphrase, or keep the key with a daemon the agent cannot read.
//!
//! ```
//! use warrant_secret::{SecretName, SecretValue};
//! use warrant_store::{KeyProtection, LocalStore, SecretStore, Unlock};
//!
//! let home = tempfile::tempdir()?;
//! let store = LocalStore::init(home.path(), KeyProtection::KeyFile)?;
//! let name = SecretName::new("db/dev/url")?;
//! store.set(&name, &SecretValue::from(b"postgres://fake".to_vec()), Some("dev db"))?;
//!
//! let store = LocalStore::open(home.path(), Unlock::KeyFile)?;
//! assert_eq!(store.get(&name)?.expose_secret(), b"postgres://fake");
//!
//! let metadata = LocalStore::open(home.path(), Unlock::MetadataOnly)?;
//! assert_eq!(metadata.list()?[0].description.as_deref(), Some("dev db"));
//! assert!(metadata.get(&name).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod b64;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod crypto;
mod error;
mod fsio;
mod local;
#[cfg(feature = "openbao")]
pub mod openbao;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use warrant_secret::{SecretName, SecretValue};

pub use error::Error;
pub use local::LocalStore;
#[doc(hidden)]
pub use local::{INSECURE_FAST_KDF_ENV, insecure_fast_kdf};

/// What is known about a secret without revealing it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SecretMeta {
    /// Its name.
    pub name: SecretName,
    /// Free text, never a value.
    pub description: Option<String>,
    /// RFC 3339 creation time.
    pub created: String,
    /// RFC 3339 time of the last change.
    pub updated: String,
}

/// Where values live.
pub trait SecretStore {
    /// The value of `name`.
    fn get(&self, name: &SecretName) -> Result<SecretValue, Error>;
    /// Every secret's metadata, sorted by name.
    fn list(&self) -> Result<Vec<SecretMeta>, Error>;
    /// Creates or replaces `name`. `description: None` keeps an existing description.
    fn set(
        &self,
        name: &SecretName,
        value: &SecretValue,
        description: Option<&str>,
    ) -> Result<(), Error>;
    /// Writes all entries in one atomic step; fails on an existing name unless `overwrite`.
    fn set_many(&self, entries: &[(SecretName, SecretValue)], overwrite: bool)
    -> Result<(), Error>;
    /// Removes `name`.
    fn remove(&self, name: &SecretName) -> Result<(), Error>;
}

/// How a new local store's key is protected.
pub enum KeyProtection {
    /// A random key in a 0600 key file.
    KeyFile,
    /// A random key wrapped under a key derived from this passphrase (Argon2id).
    Passphrase(SecretString),
}

/// How an existing local store's key is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// A 0600 key file.
    KeyFile,
    /// A passphrase.
    Passphrase,
}

/// How to open a local store.
pub enum Unlock {
    /// Metadata only: `list` works, values do not.
    MetadataOnly,
    /// With the key file.
    KeyFile,
    /// With the passphrase.
    Passphrase(SecretString),
}
