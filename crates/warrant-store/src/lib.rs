//! Secret stores (STUB: API fixed, implementation pending).

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Serialize;
use warrant_secret::{SecretName, SecretValue};

/// Store errors. Messages name secrets by name and files by path, never values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No store at this home.
    #[error("no store at {home}")]
    NotInitialized {
        /// The warrant home.
        home: PathBuf,
    },
    /// `init` on a home that already has a store.
    #[error("a store already exists at {home}")]
    AlreadyInitialized {
        /// The warrant home.
        home: PathBuf,
    },
    /// The key (file or passphrase) does not open this store.
    #[error("the key does not open the store at {path}")]
    WrongKey {
        /// The store file.
        path: PathBuf,
    },
    /// The store is protected by a passphrase and none was given.
    #[error("the store is protected by a passphrase")]
    PassphraseRequired,
    /// Opened for metadata only; values need the key.
    #[error("the store was opened without its key")]
    Locked,
    /// A file is not what it should be.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No secret with this name.
    #[error("no secret named {name}")]
    NotFound {
        /// The missing name.
        name: SecretName,
    },
    /// A secret with this name exists and overwriting was not asked for.
    #[error("a secret named {name} already exists")]
    Exists {
        /// The existing name.
        name: SecretName,
    },
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// The encrypted local store, the embedded default.
pub struct LocalStore {
    _home: PathBuf,
}

impl LocalStore {
    /// Creates a store under `home` (creating `home`, mode 0700).
    pub fn init(home: &Path, protection: KeyProtection) -> Result<Self, Error> {
        let _ = protection;
        Ok(Self {
            _home: home.to_owned(),
        })
    }

    /// Whether `home` holds a store.
    pub fn exists(home: &Path) -> bool {
        home.join("store.json").exists()
    }

    /// How the store's key is protected.
    pub fn key_kind(home: &Path) -> Result<KeyKind, Error> {
        let _ = home;
        Ok(KeyKind::KeyFile)
    }

    /// Opens the store under `home`.
    pub fn open(home: &Path, unlock: Unlock) -> Result<Self, Error> {
        let _ = unlock;
        Ok(Self {
            _home: home.to_owned(),
        })
    }
}

impl SecretStore for LocalStore {
    fn get(&self, name: &SecretName) -> Result<SecretValue, Error> {
        Err(Error::NotFound { name: name.clone() })
    }
    fn list(&self) -> Result<Vec<SecretMeta>, Error> {
        Ok(Vec::new())
    }
    fn set(
        &self,
        _name: &SecretName,
        _value: &SecretValue,
        _description: Option<&str>,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn set_many(
        &self,
        _entries: &[(SecretName, SecretValue)],
        _overwrite: bool,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn remove(&self, name: &SecretName) -> Result<(), Error> {
        Err(Error::NotFound { name: name.clone() })
    }
}
