use std::path::{Path, PathBuf};

use crate::protocol::ErrorBody;

/// What can go wrong in the broker, the daemon or a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The state database failed.
    #[error("cannot use the grant state {path}: {source}")]
    State {
        /// The state file.
        path: PathBuf,
        /// What redb said.
        source: redb::Error,
    },
    /// A state record does not parse.
    #[error("the grant state {path} is corrupt: {reason}")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode a state record: {0}")]
    Encode(String),
    /// An I/O operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] warrant_store::Error),
    /// The audit log failed.
    #[error(transparent)]
    Audit(#[from] warrant_audit::Error),
    /// No daemon answers at the socket.
    #[error("no warrant daemon is running for {home} (nothing answers at {socket})")]
    NotRunning {
        /// The warrant home.
        home: PathBuf,
        /// The socket tried.
        socket: PathBuf,
    },
    /// Another daemon already serves this home.
    #[error("a warrant daemon already serves {home} (it answers at {socket})")]
    AlreadyRunning {
        /// The warrant home.
        home: PathBuf,
        /// Its socket.
        socket: PathBuf,
    },
    /// The daemon refused or failed a request.
    #[error("{}", .0.message)]
    Daemon(ErrorBody),
    /// The peer broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The approver passphrase could not be hashed or read.
    #[error("approver passphrase: {0}")]
    Approver(String),
    /// The team state (PostgreSQL) failed; the message never holds the
    /// password.
    #[error(transparent)]
    Team(#[from] crate::team::Error),
    /// The system's random source failed.
    #[error("cannot get random bytes: {0}")]
    Random(String),
}

impl Error {
    pub(crate) fn state(path: &Path, source: impl Into<redb::Error>) -> Self {
        Self::State {
            path: path.to_owned(),
            source: source.into(),
        }
    }

    pub(crate) fn encode(e: serde_json::Error) -> Self {
        Self::Encode(e.to_string())
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// The daemon's hint, when it gave one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Daemon(body) => body.hint.as_deref(),
            Self::NotRunning { .. } => {
                Some("start it with `warrant serve` (in another terminal, or as a service)")
            }
            _ => None,
        }
    }
}
