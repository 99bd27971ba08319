//! Runs one command with injected secrets (STUB: API fixed, implementation pending).

use std::collections::BTreeMap;
use std::ffi::OsString;

use warrant_redact::Redactor;
use warrant_secret::SecretValue;

/// Errors starting or supervising the child. Never hold a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program was not found on the child's PATH.
    #[error("command not found: {program}")]
    NotFound {
        /// The program as given.
        program: String,
    },
    /// The program exists but could not be executed.
    #[error("cannot execute {program}: {source}")]
    Exec {
        /// The program as given.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Setting up the child (pipes, terminal, in-memory files) failed.
    #[error("{what}: {source}")]
    Setup {
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether the child gets a pseudo-terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TerminalMode {
    /// A pseudo-terminal when warrant's stdout is a terminal.
    #[default]
    Auto,
    /// Always pipes.
    Never,
}

/// Everything needed to run one command.
pub struct RunSpec {
    /// argv[0]: a path, or a name looked up on the child's `PATH`.
    pub program: OsString,
    /// argv[1..].
    pub args: Vec<OsString>,
    /// The child's whole non-secret environment (the caller removes reference variables).
    pub env: Vec<(OsString, OsString)>,
    /// Variables whose values are secrets.
    pub secret_env: Vec<(String, SecretValue)>,
    /// Variables that receive the path of an in-memory file holding a secret.
    pub secret_files: Vec<(String, SecretValue)>,
    /// Applied to the child's stdout and stderr.
    pub redactor: Redactor,
    /// Pipes or a pseudo-terminal.
    pub terminal: TerminalMode,
}

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The child's pid.
    pub pid: u32,
    /// How it ended.
    pub status: ChildStatus,
    /// Replacements made in its output, per label.
    pub redactions: BTreeMap<String, u64>,
}

impl RunOutcome {
    /// The exit code warrant should end with: the child's, or 128+N for signal N.
    pub fn exit_code(&self) -> i32 {
        match self.status {
            ChildStatus::Exited(code) => code,
            ChildStatus::Signaled(signal) => 128 + signal,
        }
    }

    /// Total replacements.
    pub fn total_redactions(&self) -> u64 {
        self.redactions.values().sum()
    }
}

/// Runs the command to completion, forwarding signals and redacting its output.
/// Secret values are wiped from this process once the child has them.
pub fn run(spec: RunSpec) -> Result<RunOutcome, Error> {
    let _ = spec;
    todo!()
}
