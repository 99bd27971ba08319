//! `warrant migrate`: hard-coded secrets in MCP client configuration files
//! move into warrant's store, and each server entry is rewritten to start
//! through `warrant run` with references instead of values.
//!
//! [`Migrator::plan`] reads one file, asks a [`Classifier`] about every
//! string of every server entry, names each secret it moves and computes
//! the file's new text without writing anything. The caller then stores
//! [`Migrator::secrets`] (all files' new secrets, in one atomic
//! `set_many`) **before** [`apply`] writes any file, so a crash never leaves
//! a configuration pointing at a missing secret. [`diff`] shows a plan with
//! every value masked, for `--dry-run`.
//!
//! ```no_run
//! use warrant_mcp::install::Dirs;
//! use warrant_mcp::migrate::{self, Existing, Launcher, Migrator};
//! use warrant_secret::{SecretName, SecretValue};
//!
//! struct Empty;
//! impl Existing for Empty {
//!     fn get(&self, _: &SecretName) -> Result<Option<SecretValue>, migrate::BoxError> {
//!         Ok(None)
//!     }
//! }
//! let classify = |key: &str, _value: &str| (key == "API_KEY").then(|| "api-key".to_owned());
//! let launcher = Launcher { command: "warrant".into(), home: None };
//! let mut migrator = Migrator::new(&classify, &Empty, launcher);
//! let dirs = Dirs::from_env("/work/project".into())?;
//! let mut plans = Vec::new();
//! for source in migrate::known_sources(&dirs) {
//!     plans.extend(migrator.plan(&source)?);
//! }
//! // store migrator.secrets() first, then:
//! for plan in &plans {
//!     migrate::apply(plan)?;
//! }
//! # Ok::<(), migrate::Error>(())
//! ```
//!
//! # What moves, and how the entry starts afterwards
//!
//! - **`env` values** of a stdio server (`command`): removed from `env`, and
//!   the entry becomes `command: warrant`, `args: ["run", "--env",
//!   "VAR=warrant://NAME", "--", OLD_COMMAND, OLD_ARGS...]`.
//! - **A value in `args`** (a database URL, `--api-key=VALUE`, `-e
//!   KEY=VALUE`, or the argument after `--token`): the secret part goes to
//!   the store and reaches the server through `sh -c`, which puts it back in
//!   the server's argv (where it was before, visible to `ps` as before):
//!   `warrant run --env WARRANT_ARG_1=warrant://NAME -- sh -c 'exec "$0"
//!   "${1}" "${2}${WARRANT_ARG_1}"' OLD_COMMAND ARG1 --api-key=`. The
//!   script names positions only, so no text of the file is ever parsed by
//!   the shell: spaces and quotes in arguments pass through as they are.
//! - **An entry already started by `warrant run`** gets more `--env` flags
//!   before its `--`; it is never wrapped twice.
//! - A non-default warrant home goes into the entry's `env` as
//!   `WARRANT_HOME`, as `warrant mcp install` writes it.
//!
//! Not moved (reported with the reason and what to do): values of remote
//! servers (`url`, `serverUrl`, `httpUrl` with `headers` or a token in the
//! URL), which no command starts; values in any other field; values under 8
//! bytes (`warrant run` refuses to inject what it cannot redact); entries
//! whose shape is not understood.
//!
//! # Names
//!
//! `mcp/SERVER/VAR`: the server's name and the variable (or the flag, `url`
//! for a URL argument, `arg-N` otherwise), lower-cased, with every character
//! a [`SecretName`] does not allow turned into `-`:
//! `GITHUB_PERSONAL_ACCESS_TOKEN` of server `github` becomes
//! `mcp/github/github-personal-access-token`. When the name already holds
//! the same value it is reused (so a second machine's file, or a run after a
//! crash, converges); when it holds another value, `-2`, `-3`, ... is
//! appended.
//!
//! # Files
//!
//! [`known_sources`] lists every client file `warrant mcp install` knows
//! and a few more (see `sources.rs`); any other file can be named with
//! [`Source::named`]. JSON files are parsed as JSON with comments (a strict
//! file has none, so nothing changes for it) and edited as text: only the
//! bytes of the rewritten values change. Codex's TOML goes through
//! `toml_edit`. Backups and atomic writes are `warrant mcp install`'s
//! ([`install::apply`]): `FILE.warrant-backup`, 0600, holds the previous
//! file (and so the values: it should be deleted once the servers work).

mod entry;
mod json;
mod names;
mod refusals;
mod sources;
mod toml;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use warrant_secret::{SecretName, SecretValue};

use crate::install;
use entry::Decider;
use names::Names;
pub use sources::{Format, Source, known_sources};

/// Says whether a value is a secret: given the key it is found under (an
/// env variable, a flag, a header, `arg`) and the value, the id of the rule
/// that matched, or `None`.
pub type Classifier<'a> = dyn Fn(&str, &str) -> Option<String> + 'a;

/// An error from the store, passed through.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the store already holds, to choose names that do not clash.
pub trait Existing {
    /// The value of `name`, `None` when there is no such secret.
    fn get(&self, name: &SecretName) -> Result<Option<SecretValue>, BoxError>;
}

/// How a rewritten entry starts warrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// The program: `warrant`, or an absolute path.
    pub command: String,
    /// A non-default warrant home, written as `WARRANT_HOME` in `env`.
    pub home: Option<PathBuf>,
}

/// A secret that moved from a file into the store.
#[derive(Debug, Clone, Serialize)]
pub struct Moved {
    /// Where it was: `env.VAR` or `args[N]` (0-based, in the old `args`).
    pub field: String,
    /// Its name in the store.
    pub name: SecretName,
    /// The rule that found it.
    pub rule: String,
    /// False when the name already held this value, so nothing new is stored.
    pub stored: bool,
    /// True when the server still receives it in its argv (it was an argument).
    pub in_argv: bool,
}

/// The secrets moved out of one server entry.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    /// The server's name.
    pub server: String,
    /// For `~/.claude.json`'s per-project servers, the project's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// What moved.
    pub secrets: Vec<Moved>,
}

/// A secret found but left in the file.
#[derive(Debug, Clone, Serialize)]
pub struct NotMigrated {
    /// The server's name.
    pub server: String,
    /// For `~/.claude.json`'s per-project servers, the project's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Where it is: `headers.Authorization`, `env.VAR`, ...
    pub field: String,
    /// The rule that found it.
    pub rule: String,
    /// Why it was not moved.
    pub reason: String,
    /// What the user can do.
    pub hint: String,
}

/// One file's computed migration. Holds the file's text, so it has no
/// derived `Debug`.
pub struct FilePlan {
    /// The file.
    pub source: Source,
    /// The servers whose secrets move.
    pub servers: Vec<ServerReport>,
    /// The secrets that stay, and why.
    pub not_migrated: Vec<NotMigrated>,
    /// Names this file adds to the store.
    pub stored: Vec<SecretName>,
    plan: install::Plan,
    masks: Vec<SecretValue>,
}

impl FilePlan {
    /// Whether the file changes.
    pub fn changed(&self) -> bool {
        self.plan.changed
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.plan.path
    }
}

impl fmt::Debug for FilePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilePlan")
            .field("source", &self.source)
            .field("servers", &self.servers)
            .field("not_migrated", &self.not_migrated)
            .field("changed", &self.plan.changed)
            .finish_non_exhaustive()
    }
}

/// What can stop a migration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading, parsing or writing a configuration file failed.
    #[error(transparent)]
    File(#[from] install::Error),
    /// The store could not say whether a name is taken.
    #[error("cannot read the store")]
    Store(#[source] BoxError),
    /// Every candidate name for a secret is taken by other values.
    #[error("no free name for a secret of server `{0}`")]
    NoName(String),
}

/// Plans migrations, choosing names across all the files it plans.
pub struct Migrator<'a> {
    classify: &'a Classifier<'a>,
    names: Names<'a>,
    launcher: Launcher,
}

impl<'a> Migrator<'a> {
    /// A migrator asking `classify` which values are secrets and `existing`
    /// which names are taken.
    pub fn new(
        classify: &'a Classifier<'a>,
        existing: &'a dyn Existing,
        launcher: Launcher,
    ) -> Migrator<'a> {
        Migrator {
            classify,
            names: Names::new(existing),
            launcher,
        }
    }

    /// Reads `source` and computes its migration; `None` when the file does
    /// not exist. Writes nothing. A file that fails leaves no name taken.
    pub fn plan(&mut self, source: &Source) -> Result<Option<FilePlan>, Error> {
        let Some(before) = install::read(&source.path)? else {
            return Ok(None);
        };
        let checkpoint = self.names.checkpoint();
        let mut decider = Decider::new(self.classify, &mut self.names, &self.launcher);
        let after = match source.format {
            Format::Toml => toml::migrate(&source.path, &before, &mut decider),
            Format::Json => json::migrate(&source.path, &before, &mut decider),
        };
        let after = match after {
            Ok(after) => after,
            Err(e) => {
                self.names.rollback(checkpoint);
                return Err(e);
            }
        };
        let changed = after != before;
        let Decider {
            servers,
            not_migrated,
            stored,
            masks,
            ..
        } = decider;
        Ok(Some(FilePlan {
            source: source.clone(),
            servers,
            not_migrated,
            stored,
            plan: install::Plan {
                path: source.path.clone(),
                before: Some(before),
                after,
                changed,
            },
            masks,
        }))
    }

    /// The new secrets of every file planned so far, to store (all at once)
    /// before any file is written.
    pub fn secrets(&self) -> &[(SecretName, SecretValue)] {
        self.names.pending()
    }
}

/// Writes `plan`: the backup, then the new file, atomically. Returns the
/// backup's path; does nothing when the plan changes nothing.
pub fn apply(plan: &FilePlan) -> Result<Option<PathBuf>, Error> {
    Ok(install::apply(&plan.plan)?)
}

/// What replaces a value in [`diff`].
pub const MASK: &str = "********";

/// The change `plan` makes as a unified diff, with every secret found in
/// the file (moved or not) masked; empty when it changes nothing.
pub fn diff(plan: &FilePlan) -> String {
    let before = plan.plan.before.as_deref().map(|t| mask(t, &plan.masks));
    let masked = install::Plan {
        path: plan.plan.path.clone(),
        before,
        after: mask(&plan.plan.after, &plan.masks),
        changed: plan.plan.changed,
    };
    install::diff(&masked)
}

/// `text` with every spelling of every value (raw, JSON-escaped,
/// TOML-escaped) replaced by [`MASK`].
fn mask(text: &str, values: &[SecretValue]) -> String {
    let mut forms: Vec<String> = Vec::new();
    for value in values {
        let Ok(raw) = std::str::from_utf8(value.expose_secret()) else {
            continue;
        };
        let json = install::json::quote(raw);
        let toml = toml_edit::Value::from(raw).to_string();
        for form in [raw, strip_quotes(&json), strip_quotes(toml.trim())] {
            if !form.is_empty() && !forms.iter().any(|f| f == form) {
                forms.push(form.to_owned());
            }
        }
    }
    // Longest first, so that a value containing another is masked whole.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let mut out = text.to_owned();
    for form in &forms {
        out = out.replace(form.as_str(), MASK);
    }
    out
}

fn strip_quotes(s: &str) -> &str {
    s.get(1..s.len().saturating_sub(1)).unwrap_or("")
}

#[cfg(test)]
mod tests;
