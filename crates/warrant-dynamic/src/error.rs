use thiserror::Error;

/// Why a dynamic credential could not be issued, revoked or swept.
///
/// Messages name hosts, users, roles, databases and template statements,
/// which are not secret; never a password, a password verifier or the admin
/// connection string. Server messages are passed through with any known
/// secret scrubbed out first.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// `stores.toml` is malformed or names something that does not exist.
    #[error("{path}: {reason}")]
    StoresConfig {
        /// The file.
        path: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A store (the admin connection's secret, an OpenBao call) failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: warrant_store::Error,
    },
    /// A reference to a dynamic store names no role or field it has.
    #[error("{reason}")]
    Reference {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The admin connection string cannot be used.
    #[error("invalid admin connection string: {reason}")]
    InvalidDsn {
        /// What is wrong, without quoting the string.
        reason: String,
    },
    /// The admin connection string leaves room for plaintext to a host that
    /// is not loopback.
    #[error(
        "refusing a possibly unencrypted connection to {host}: set sslmode=verify-full \
         (or verify-ca, require), or sslmode=disable to allow plaintext"
    )]
    TlsModeRequired {
        /// The host.
        host: String,
    },
    /// TLS could not be set up (root certificates).
    #[error("cannot set up tls for {host}: {reason}")]
    TlsSetup {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// The server could not be reached, or refused the database.
    #[error("cannot connect to {host}:{port} (database {database:?}): {reason}")]
    Connect {
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The database.
        database: String,
        /// Why, as the client library or the server said.
        reason: String,
    },
    /// The server refused the credentials.
    #[error("authentication failed for user {user:?} at {host}:{port}: {reason}")]
    Authentication {
        /// The user that logged in.
        user: String,
        /// The host.
        host: String,
        /// The port.
        port: u16,
        /// The server's message.
        reason: String,
    },
    /// The admin user may not do something warrant needs (create roles,
    /// grant a group role, terminate sessions).
    #[error("user {user:?} may not {action}: {message}")]
    InsufficientPrivilege {
        /// The admin user.
        user: String,
        /// What was refused.
        action: String,
        /// The server's message.
        message: String,
    },
    /// The role template is not usable.
    #[error("invalid role template: {reason}")]
    InvalidTemplate {
        /// What is wrong.
        reason: String,
    },
    /// The grant id cannot be put in a role name or comment.
    #[error(
        "grant id {grant_id:?} must be 1 to 128 characters of letters, digits, '.', '_', ':' \
         and '-', with at least one letter or digit"
    )]
    InvalidGrantId {
        /// The refused id, cut short.
        grant_id: String,
    },
    /// The expiry is not in the future.
    #[error("expiry {expires_at} is not in the future")]
    ExpiryPassed {
        /// The expiry, RFC 3339.
        expires_at: String,
    },
    /// A template statement failed; nothing was created.
    #[error(
        "template statement {index} failed for role {role} in database {database:?}: {message}"
    )]
    Statement {
        /// Index of the statement in the template's `grants` (from 0).
        index: usize,
        /// The role being created.
        role: String,
        /// The database.
        database: String,
        /// The server's message.
        message: String,
    },
    /// After the template statements, the role lost a guarantee warrant
    /// gives (expiry, no elevated attributes); nothing was created.
    #[error("template statements for role {role} {what}; the role was not created")]
    TemplateWeakened {
        /// The role being created.
        role: String,
        /// What changed.
        what: String,
    },
    /// The name is not one warrant creates, so warrant will not drop it.
    #[error("{role:?} is not a role warrant creates (warrant_<grant>_<random>)")]
    NotWarrantRole {
        /// The refused name.
        role: String,
    },
    /// Any other server error.
    #[error("cannot {action} (role {role}, database {database:?}): {message}")]
    Server {
        /// What was being done.
        action: String,
        /// The role concerned.
        role: String,
        /// The database.
        database: String,
        /// The server's (or the client library's) message.
        message: String,
    },
}
