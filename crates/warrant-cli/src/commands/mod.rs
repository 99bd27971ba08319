//! One module per subcommand.

pub mod approver;
pub mod audit;
pub mod grant;
pub mod guard;
pub mod hook;
pub mod import;
pub mod init;
pub mod mcp;
pub mod migrate;
pub mod policy;
pub mod proxy;
pub mod report;
pub mod run;
pub mod scan;
pub mod secret;
pub mod serve;
pub mod status;
pub mod task;
pub mod ui;

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use warrant_audit::{AuditLog, Event};

/// What every command needs to know.
pub struct Context {
    /// The warrant home.
    pub home: PathBuf,
    /// `--passphrase-file`, if given.
    pub passphrase_file: Option<PathBuf>,
}

impl Context {
    /// Appends `event` to the audit log.
    pub fn audit(&self, event: Event) -> Result<()> {
        let log = AuditLog::new(&self.home);
        log.append(event)
            .with_context(|| format!("cannot write the audit log {}", log.path().display()))?;
        Ok(())
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot format JSON")?;
    println!("{text}");
    Ok(())
}
