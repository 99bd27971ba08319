use thiserror::Error;

/// Why an env file or a variable was refused. Never quotes a value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A line is not `KEY=VALUE`, a comment or blank.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What was expected.
        message: String,
    },
    /// A quoted value is never closed.
    #[error("line {line}: the {quote} quote opened here is never closed")]
    Unterminated {
        /// 1-based line where the quote opened.
        line: usize,
        /// `single` or `double`.
        quote: &'static str,
    },
    /// A variable holds a malformed `warrant://` reference.
    #[error("{var} (from {origin}) holds a malformed reference: {source}")]
    BadReference {
        /// The variable.
        var: String,
        /// Where it was set.
        origin: String,
        /// Why the reference is malformed.
        #[source]
        source: warrant_secret::Error,
    },
    /// A `--env` or `--file` flag is not `VAR=warrant://NAME`.
    #[error("{flag} {var}=...: {reason}")]
    BadFlag {
        /// `--env` or `--file`.
        flag: &'static str,
        /// The variable part of the flag, if any; the rest is never quoted
        /// because a mistaken flag may carry a value.
        var: String,
        /// What is wrong.
        reason: String,
    },
}
