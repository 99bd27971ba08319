use std::path::PathBuf;

use warrant_secret::SecretName;

/// Store errors. Messages name secrets by name and files by path, never values
/// or key material.
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
    /// The key (file or passphrase) does not open this store: a wrong
    /// passphrase, or a key file that belongs to another store.
    #[error("the key does not open the store at {path}")]
    WrongKey {
        /// The store file.
        path: PathBuf,
    },
    /// The store is protected by a passphrase and none was given.
    #[error("the store is protected by a passphrase")]
    PassphraseRequired,
    /// A passphrase was given but the store is protected by a key file.
    #[error("the store at {home} is protected by a key file, not a passphrase")]
    NotPassphraseProtected {
        /// The warrant home.
        home: PathBuf,
    },
    /// `init` was given an empty passphrase.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// The store exists but its key file does not.
    #[error("the key file {path} is missing")]
    KeyMissing {
        /// Where the key file should be.
        path: PathBuf,
    },
    /// The key file can be read by other users.
    #[error(
        "{path} is readable by group or others (mode {mode:03o}); fix it with `chmod 600 {path}`"
    )]
    InsecurePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
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
    /// Argon2 could not derive a key from the passphrase (out of memory).
    #[error("could not derive a key from the passphrase: {reason}")]
    Kdf {
        /// Why, as text.
        reason: String,
    },
    /// The operating system could not provide random bytes.
    #[error("the system random number generator failed: {reason}")]
    Random {
        /// The OS error, as text.
        reason: String,
    },
    /// A remote store's configuration is unusable (OpenBao: address, mount,
    /// prefix, CA file).
    #[error("bad store configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The remote server could not be reached (refused, reset, timed out,
    /// name not resolved).
    #[error("cannot reach {address}: {reason}")]
    Network {
        /// The server's address.
        address: String,
        /// The innermost cause, as text.
        reason: String,
    },
    /// The TLS handshake with the remote server failed (unknown CA, name
    /// mismatch, expired certificate).
    #[error("TLS with {address} failed: {reason}; for a private CA set `ca_file`")]
    Tls {
        /// The server's address.
        address: String,
        /// The TLS error, as text.
        reason: String,
    },
    /// The OpenBao / Vault server is sealed.
    #[error("the server at {address} is sealed; unseal it (`bao operator unseal`) and try again")]
    Sealed {
        /// The server's address.
        address: String,
    },
    /// The server refused the token for this path (HTTP 403).
    #[error(
        "permission denied by {address}: the token's policy needs \"{capability}\" on path \"{path}\""
    )]
    PermissionDenied {
        /// The server's address.
        address: String,
        /// The API path refused, as a policy names it (`secret/data/app/db`).
        path: String,
        /// The capability the request needs (`read`, `create`, `list`, ...).
        capability: &'static str,
    },
    /// Logging in to the remote server failed (AppRole: wrong role id or
    /// secret id, or an expired secret id).
    #[error("login with {method} at {address} failed: {reason}")]
    Login {
        /// The server's address.
        address: String,
        /// The auth method (`approle`).
        method: String,
        /// The server's reason, as text.
        reason: String,
    },
    /// The secret exists but has no such field.
    #[error("secret {name} has no field {field:?}")]
    MissingField {
        /// The secret.
        name: SecretName,
        /// The field asked for.
        field: String,
    },
    /// The secret changed on the server while it was being written (a
    /// check-and-set mismatch); nothing was overwritten.
    #[error("secret {name} changed on the server during the write; try again")]
    Conflict {
        /// The secret.
        name: SecretName,
    },
    /// A batch failed and some of its writes could not be undone.
    #[error("a batch write failed and could not be undone for: {names}")]
    PartialBatch {
        /// The names left written (comma-separated).
        names: String,
        /// Why the batch failed.
        #[source]
        cause: Box<Error>,
    },
    /// The remote server answered with an error this crate has no better
    /// name for. The message is the server's, and only for requests that
    /// carried no value.
    #[error("{address} answered {status} for {path}: {message}")]
    Server {
        /// The server's address.
        address: String,
        /// The API path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The server's error messages, or a note that they were withheld.
        message: String,
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

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
