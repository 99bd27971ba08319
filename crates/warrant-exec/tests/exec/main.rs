//! Integration tests: `warrant_exec::run` with real child processes.
//!
//! Cases that only need `run`'s result call it in this process (with
//! children that print nothing); cases that look at what warrant writes,
//! feed its stdin, give it a terminal or send it signals run it in a
//! subprocess (see `scenario`).

mod env;
mod files;
mod io;
mod pty;
mod scenario;
mod session;
mod signals;
mod status;
mod streams;

use std::ffi::OsString;

use warrant_exec::{RunSpec, TerminalMode};
use warrant_redact::RedactorBuilder;

/// A spec for `argv` with pipes, `PATH` and nothing secret.
pub fn spec(argv: &[&str]) -> RunSpec {
    RunSpec {
        program: argv[0].into(),
        args: argv[1..].iter().map(OsString::from).collect(),
        env: vec![("PATH".into(), std::env::var_os("PATH").unwrap())],
        secret_env: Vec::new(),
        secret_files: Vec::new(),
        redactor: RedactorBuilder::new().build().unwrap(),
        terminal: TerminalMode::Never,
    }
}
