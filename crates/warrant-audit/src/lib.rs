//! Hash-chained audit log (STUB: API fixed, implementation pending).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Audit errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The chain is broken at this record (1-based line number).
    #[error("audit log {path} is broken at line {line}: {reason}")]
    Broken {
        /// The log file.
        path: PathBuf,
        /// 1-based line of the first bad record.
        line: u64,
        /// What is wrong (altered, removed, reordered, unparsable).
        reason: String,
    },
    /// The log could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What happened. Holds names, counts and codes; never a value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A store was created.
    Init {
        /// `key_file` or `passphrase`.
        key: String,
    },
    /// A secret was created or replaced.
    SecretSet {
        /// Its name.
        name: String,
    },
    /// A secret was removed.
    SecretRemoved {
        /// Its name.
        name: String,
    },
    /// Secrets were imported from an env file.
    SecretsImported {
        /// The file they came from.
        file: String,
        /// The names they were stored under.
        names: Vec<String>,
    },
    /// `warrant run` ran a command with injected secrets.
    Run {
        /// The command (argv[0] only; arguments are not recorded).
        command: String,
        /// The child's pid.
        child_pid: Option<u32>,
        /// Secrets injected into the environment.
        env_secrets: Vec<String>,
        /// Secrets handed over as in-memory files.
        file_secrets: Vec<String>,
        /// Exit code, when the child exited.
        exit_code: Option<i32>,
        /// Signal number, when the child was killed by a signal.
        signal: Option<i32>,
        /// How many values were redacted from its output.
        redactions: u64,
    },
}

/// One line of the log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// 1-based position in the chain.
    pub seq: u64,
    /// RFC 3339 time.
    pub time: String,
    /// OS user name.
    pub user: String,
    /// pid of the warrant process that wrote it.
    pub pid: u32,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
    /// Hash of the previous record (hex SHA-256; zeros for the first).
    pub prev: String,
    /// Hash of this record.
    pub hash: String,
}

/// Result of a successful verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Records checked.
    pub records: u64,
    /// Hash of the last record, if any.
    pub head: Option<String>,
}

/// The log at `$WARRANT_HOME/audit.jsonl`.
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log of the warrant home `home` (created on first append).
    pub fn new(home: &Path) -> Self {
        Self {
            path: home.join("audit.jsonl"),
        }
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record, chained to the last.
    pub fn append(&self, event: Event) -> Result<Record, Error> {
        let _ = event;
        todo!()
    }

    /// Every record, parsed (not verified).
    pub fn records(&self) -> Result<Vec<Record>, Error> {
        Ok(Vec::new())
    }

    /// Checks the whole chain.
    pub fn verify(&self) -> Result<Verification, Error> {
        Ok(Verification {
            records: 0,
            head: None,
        })
    }
}
