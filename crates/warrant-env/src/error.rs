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
}
