//! warrant's secret scanner: finds credentials in files, git changes and the
//! configuration files of coding agents.
//!
//! Three detectors share one pass over the bytes:
//! - **store values**: every form of every value in warrant's store that the
//!   redactor knows (raw, base64, percent, JSON, hex), via
//!   [`warrant_redact::Redactor`];
//! - **formats**: rules kept as data files (`rules/*.toml`), each with
//!   examples that the tests check, with checksums where a format has one;
//! - **generic assignments** (`password = ...`), gated by entropy and context.
//!
//! Content is read in chunks that overlap by more than the longest possible
//! match, so memory stays bounded however large a file or line is, and no
//! match is missed at a chunk edge. A finding carries a masked excerpt, never
//! the secret itself.
//!
//! ```
//! use warrant_scan::Scanner;
//!
//! let scanner = Scanner::builder().build().unwrap();
//! let findings = scanner.scan_bytes(b"no secrets here\n");
//! assert!(findings.is_empty());
//! ```

mod checksum;
mod engine;
pub mod fixtures;
pub mod git;
pub mod report;
mod rules;
pub mod walk;

pub use engine::{ALLOW_MARKER, Finding, Kind, Scanner, ScannerBuilder};
pub use rules::RuleInfo;

/// Errors building a scanner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rule file does not parse or a rule is invalid.
    #[error("rule {rule}: {message}")]
    Rule {
        /// The rule's id, or the file when the file itself is broken.
        rule: String,
        /// What is wrong with it.
        message: String,
    },
    /// The store values could not be turned into patterns.
    #[error("cannot build the value matcher: {0}")]
    Values(#[from] warrant_redact::Error),
}
