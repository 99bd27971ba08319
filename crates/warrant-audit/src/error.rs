use std::path::PathBuf;

/// Audit errors. Records hold no values, so neither do these messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The chain is broken at this record (1-based line number). Also what
    /// `append` returns when the end of the log is damaged: a record is
    /// never chained onto a broken log.
    #[error("audit log {path} is broken at line {line}: {reason}")]
    Broken {
        /// The log file (or `audit.head`, when that is what is wrong).
        path: PathBuf,
        /// 1-based line of the first bad record.
        line: u64,
        /// What is wrong (altered, removed, reordered, unparsable).
        reason: String,
    },
    /// A chain handed over as lines (not read from the log file: a
    /// database table, an export) is broken at this record.
    #[error("audit chain {origin} is broken at record {line}: {reason}")]
    Chain {
        /// Where the lines came from (a table, a file), for the message.
        origin: String,
        /// 1-based position of the first bad line.
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

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
