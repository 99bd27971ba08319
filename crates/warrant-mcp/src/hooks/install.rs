//! `warrant hook install`: `warrant guard` in an agent client's hook
//! configuration, or warrant's pre-commit hook in a git repository.
//!
//! Each function computes [`Change`]s without writing anything; [`diff`]
//! shows one (for `--dry-run`) and [`apply`] writes it. Configuration files
//! go through [`crate::install::apply`], as `warrant mcp install` does: a
//! backup beside the file (`FILE.warrant-backup`), an atomic write, every
//! other setting kept byte for byte. Scripts (Cline's hooks, git's
//! pre-commit) are written 0755.
//!
//! | client | user scope | `--project` | entries |
//! | --- | --- | --- | --- |
//! | `claude-code` | `~/.claude/settings.json` (`$CLAUDE_CONFIG_DIR/settings.json`) | `.claude/settings.json` | `hooks.UserPromptSubmit`, `hooks.PreToolUse` |
//! | `codex` | `$CODEX_HOME/hooks.json` (`~/.codex`) | `.codex/hooks.json` | same as Claude Code |
//! | `cursor` | `~/.cursor/hooks.json` | `.cursor/hooks.json` | `beforeSubmitPrompt`, `preToolUse`, `beforeShellExecution`, `beforeMCPExecution`, `beforeReadFile` |
//! | `gemini` | `~/.gemini/settings.json` | `.gemini/settings.json` | `hooks.BeforeAgent`, `hooks.BeforeTool` |
//! | `windsurf` | `~/.codeium/windsurf/hooks.json` | `.windsurf/hooks.json` | `pre_user_prompt`, `pre_run_command`, `pre_mcp_tool_use`, `pre_write_code` |
//! | `cline` | `~/Documents/Cline/Hooks/` | `.clinerules/hooks/` | scripts `UserPromptSubmit`, `PreToolUse` |
//!
//! An entry is warrant's when its command is `warrant guard ...` (any path
//! to a `warrant` binary): installing again changes nothing, installing
//! with other options replaces warrant's entries, and uninstalling removes
//! only them.

mod clients;
mod edit;
mod git;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use clients::{client_install, client_uninstall, config_path, events, note};
pub use git::{Existing, git_hooks_dir, git_install, git_uninstall, pre_commit_script};

use super::{Client, Error};
use crate::install::Plan;

/// Mode of the scripts warrant writes.
const SCRIPT_MODE: u32 = 0o755;

/// A line that marks a script as warrant's.
const MARKER: &str =
    "# Managed by warrant (`warrant hook install`; `warrant hook uninstall` removes it).";

/// One file to write, replace or remove.
#[derive(Debug, Clone)]
pub struct Change {
    /// The file before and after.
    pub plan: Plan,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A configuration file, through [`crate::install::apply`].
    Config,
    /// An executable script; `chain` moves the file that was there aside
    /// first, `backup` keeps a copy of it.
    Script {
        chain: Option<PathBuf>,
        backup: bool,
    },
    /// Remove the file; `restore` moves a chained hook back in its place.
    Delete { restore: Option<PathBuf> },
}

impl Change {
    /// The file it changes.
    pub fn path(&self) -> &Path {
        &self.plan.path
    }

    /// Whether applying it changes anything.
    pub fn changed(&self) -> bool {
        self.plan.changed
    }

    fn script(path: PathBuf, before: Option<String>, after: String, kind: Kind) -> Change {
        let changed = before.as_deref() != Some(after.as_str());
        Change {
            plan: Plan {
                path,
                before,
                after,
                changed,
            },
            kind,
        }
    }
}

/// The change as a unified diff (empty when there is none).
pub fn diff(change: &Change) -> String {
    crate::install::diff(&change.plan)
}

/// Writes `change`; returns the backup it made, if any.
pub fn apply(change: &Change) -> Result<Option<PathBuf>, Error> {
    if !change.changed() {
        return Ok(None);
    }
    let path = change.path();
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Config(crate::install::Error::Write { path, source })
    };
    match &change.kind {
        Kind::Config => Ok(crate::install::apply(&change.plan)?),
        Kind::Script { chain, backup } => {
            if read_script(path)? != change.plan.before {
                return Err(crate::install::Error::Changed(path.to_owned()).into());
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::create_dir_all(dir).map_err(write_err(dir))?;
            }
            let mut kept = None;
            if let (true, Some(old)) = (*backup, &change.plan.before) {
                let copy = sibling(path, crate::install::BACKUP_SUFFIX);
                warrant_fs::write_atomic(&copy, old.as_bytes(), 0o700).map_err(write_err(&copy))?;
                kept = Some(copy);
            }
            if let Some(aside) = chain {
                fs::rename(path, aside).map_err(write_err(aside))?;
                kept = Some(aside.clone());
            }
            warrant_fs::write_atomic(path, change.plan.after.as_bytes(), SCRIPT_MODE)
                .map_err(write_err(path))?;
            Ok(kept)
        }
        Kind::Delete { restore } => {
            match restore {
                Some(chained) => fs::rename(chained, path).map_err(write_err(path))?,
                None => fs::remove_file(path).map_err(write_err(path))?,
            }
            Ok(None)
        }
    }
}

/// `warrant guard --client CLIENT` for a hook command line, shell-quoted:
/// `program` runs warrant, `extra` are further arguments (`--home DIR`).
pub fn guard_command(program: &str, client: Client, extra: &[String]) -> String {
    let mut words = vec![
        shell_quote(program),
        "guard".to_owned(),
        "--client".to_owned(),
    ];
    words.push(client.name().to_owned());
    words.extend(extra.iter().map(|w| shell_quote(w)));
    words.join(" ")
}

/// Whether a hook command runs `warrant guard` (from any path).
pub fn is_guard(command: &str) -> bool {
    let mut words = command.split_whitespace();
    let program = words.next().unwrap_or("").trim_matches(['\'', '"']);
    Path::new(program)
        .file_name()
        .is_some_and(|n| n == "warrant")
        && words.next() == Some("guard")
}

/// `s` as one word for `sh`.
pub(crate) fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A script's text, `None` when it does not exist.
fn read_script(path: &Path) -> Result<Option<String>, Error> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(crate::install::Error::Read {
            path: path.to_owned(),
            source,
        }
        .into()),
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
