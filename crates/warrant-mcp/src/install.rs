//! `warrant mcp install`: writes warrant's server entry into an MCP
//! client's own configuration file.
//!
//! [`config_path`] says which file a client reads, [`plan`] computes the
//! file's new text without writing anything, [`diff`] shows the change (for
//! `--dry-run`) and [`apply`] writes it: a backup of the old file first, then
//! the new file through [`warrant_fs::write_atomic`] (temp file in the same
//! directory, fsync, rename), so a crash leaves the old file or the new one.
//!
//! ```no_run
//! use warrant_mcp::install::{self, ClientKind, Dirs, Entry, Scope};
//!
//! let dirs = Dirs::from_env("/work/project".into())?;
//! let path = install::config_path(ClientKind::Codex, Scope::User, &dirs)?;
//! let entry = Entry { command: "warrant".into(), actor: Some("codex".into()), home: None };
//! let plan = install::plan(ClientKind::Codex, &path, &entry)?;
//! print!("{}", install::diff(&plan));
//! install::apply(&plan)?;
//! # Ok::<(), install::Error>(())
//! ```
//!
//! # The entry
//!
//! A server named `warrant` whose command is `warrant` (or the absolute path
//! the caller gives), args `["mcp", "--actor", ACTOR]` (no `--actor` when
//! none is given) and, only when the caller names a warrant home, `env` with
//! `WARRANT_HOME`. It never holds a secret: the server asks the daemon for
//! everything. An existing `warrant` entry is replaced whole (so a new
//! `--actor` takes effect); every other server, key and comment stays.
//!
//! # Where each client reads its servers (checked 2026; Linux paths)
//!
//! | client | `--scope user` | `--scope project` | shape |
//! | --- | --- | --- | --- |
//! | `codex` | `$CODEX_HOME/config.toml` (`~/.codex`) | `.codex/config.toml` | TOML table `[mcp_servers.warrant]`, `env` an inline table |
//! | `claude-code` | `~/.claude.json` (`$CLAUDE_CONFIG_DIR/.claude.json` when set) | `.mcp.json` | `mcpServers`, entries with `"type": "stdio"` |
//! | `claude-desktop` | `$XDG_CONFIG_HOME/Claude/claude_desktop_config.json` (`~/.config`) | none: an error | `mcpServers` |
//! | `cursor` | `~/.cursor/mcp.json` | `.cursor/mcp.json` | `mcpServers` |
//! | `vscode` | `$XDG_CONFIG_HOME/Code/User/mcp.json` (`~/.config`) | `.vscode/mcp.json` | `servers`, entries with `"type": "stdio"` |
//!
//! Project files are at the project root given in [`Dirs::project`].
//! Sources:
//! - Codex: developers.openai.com/codex/config-basic and config-advanced
//!   (user file `~/.codex/config.toml`; project `.codex/config.toml` files are
//!   read only once the project is trusted), codex/environment-variables
//!   (`CODEX_HOME`, default `~/.codex`), and openai/codex `docs/config.md`
//!   (`[mcp_servers.NAME]` with `command`, `args`, `env = { .. }`).
//! - Claude Code: code.claude.com/docs/en/mcp. Scope `user` is the top-level
//!   `mcpServers` of `~/.claude.json`, scope `project` is `.mcp.json` at the
//!   project root (each user approves its servers on first use); its `local`
//!   scope (`projects.PATH.mcpServers` in `~/.claude.json`) is not offered.
//!   `claude mcp add` writes `"type": "stdio"`. The file's path is
//!   `join(CLAUDE_CONFIG_DIR || homedir(), ".claude.json")` in Claude Code's
//!   own code (a legacy `.config.json` in its config dir, if present, takes
//!   precedence there; that case is not handled). Claude Code rewrites this
//!   file while it runs: [`apply`] refuses to write over a change made after
//!   [`plan`] read it, but quit Claude Code first to be sure.
//! - Claude Desktop: modelcontextprotocol.io's user quickstart names
//!   `claude_desktop_config.json` with `mcpServers` (macOS and Windows
//!   paths); there is no official Linux build, and the Linux builds read
//!   `~/.config/Claude/claude_desktop_config.json` (Electron's config dir).
//!   It has no project configuration.
//! - Cursor: cursor.com/docs/mcp (`~/.cursor/mcp.json` for every project,
//!   `.cursor/mcp.json` for one; `mcpServers` with `command`, `args`, `env`).
//! - VS Code: code.visualstudio.com/docs/copilot/reference/mcp-configuration
//!   (`.vscode/mcp.json` in the workspace or `mcp.json` in the user profile;
//!   top-level `servers`; `"type": "stdio"` is required) and
//!   docs/getstarted/settings (the default profile's folder is
//!   `~/.config/Code/User` on Linux; another profile keeps its own
//!   `User/profiles/ID/mcp.json`, which this module does not pick).
//!
//! # Choices
//!
//! - **Backup**: `FILE.warrant-backup` beside the file (one fixed name, not a
//!   timestamped one): the file as it was before warrant's latest change, so
//!   `mv FILE.warrant-backup FILE` undoes it. Written 0600 whatever the
//!   original's mode, since the file being replaced may hold another server's
//!   hard-coded secret. A file that did not exist gets no backup.
//! - **Idempotence**: when the file already has an entry equal to the new one
//!   (key order aside; an empty `env` counts as none), nothing is written and
//!   [`Plan::changed`] is false.
//! - **Formatting**: TOML goes through `toml_edit`, which keeps comments,
//!   blank lines and the order of everything it does not touch. JSON is
//!   edited as text: the file is parsed to find where the servers object and
//!   the `warrant` entry are, and only those bytes change; the entry is
//!   written with the file's own indentation and line endings (2 spaces and
//!   `\n` for a new file), so key order and number spelling elsewhere are
//!   untouched by construction.
//! - **JSON with comments**: VS Code reads its configuration files as JSON
//!   with comments and trailing commas, so `vscode` files may have both; the
//!   other clients parse strict JSON and a comment there is an error.
//! - **Malformed file**: an [`Error::Malformed`] naming the file, line and
//!   column; the file is never overwritten. An empty file counts as absent.
//! - **Modes and links**: an existing file keeps its permission bits, a new
//!   one is created 0600 (with missing parent directories). A symbolic link
//!   (a dotfiles checkout) is followed: its target is rewritten, the link
//!   stays.

mod diff;
pub(crate) mod json;
pub(crate) mod jsonc;
mod toml;

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use diff::diff;

/// The name of warrant's entry in every client's server list.
pub const SERVER_NAME: &str = "warrant";

/// Suffix of the backup written beside a file before it is changed.
pub const BACKUP_SUFFIX: &str = ".warrant-backup";

/// An MCP client whose configuration warrant can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// OpenAI Codex (CLI and IDE extension): TOML.
    Codex,
    /// Claude Code: JSON, `mcpServers`.
    ClaudeCode,
    /// Claude Desktop: JSON, `mcpServers`, user scope only.
    ClaudeDesktop,
    /// Cursor: JSON, `mcpServers`.
    Cursor,
    /// VS Code (Copilot agent mode): JSON with comments, `servers`.
    VsCode,
}

impl ClientKind {
    /// Every client, in the order the CLI lists them.
    pub const ALL: [ClientKind; 5] = [
        ClientKind::Codex,
        ClientKind::ClaudeCode,
        ClientKind::ClaudeDesktop,
        ClientKind::Cursor,
        ClientKind::VsCode,
    ];

    /// The CLI's name for the client (`claude-code`, `vscode`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Codex => "codex",
            ClientKind::ClaudeCode => "claude-code",
            ClientKind::ClaudeDesktop => "claude-desktop",
            ClientKind::Cursor => "cursor",
            ClientKind::VsCode => "vscode",
        }
    }

    /// What the user should know after installing into this client at this
    /// scope, if anything.
    pub fn note(self, scope: Scope) -> Option<&'static str> {
        match (self, scope) {
            (ClientKind::Codex, Scope::Project) => {
                Some("Codex reads a project's .codex/config.toml only once you trust the project")
            }
            (ClientKind::ClaudeCode, Scope::Project) => {
                Some("Claude Code asks each user to approve the servers in .mcp.json on first use")
            }
            (ClientKind::ClaudeDesktop | ClientKind::Cursor, _) => {
                Some("restart the client to load the new server")
            }
            _ => None,
        }
    }

    fn format(self) -> Format {
        match self {
            ClientKind::Codex => Format::Toml,
            ClientKind::ClaudeCode => Format::Json(json::Style {
                servers_key: "mcpServers",
                stdio_type: true,
                comments: false,
            }),
            ClientKind::ClaudeDesktop | ClientKind::Cursor => Format::Json(json::Style {
                servers_key: "mcpServers",
                stdio_type: false,
                comments: false,
            }),
            ClientKind::VsCode => Format::Json(json::Style {
                servers_key: "servers",
                stdio_type: true,
                comments: true,
            }),
        }
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ClientKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        ClientKind::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| Error::UnknownClient(s.to_owned()))
    }
}

/// Which of a client's files: the user's own, or the project's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user's configuration, for every project.
    User,
    /// The project's configuration, meant to be committed.
    Project,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::User => "user",
            Scope::Project => "project",
        })
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "user" => Ok(Scope::User),
            "project" => Ok(Scope::Project),
            _ => Err(Error::UnknownScope(s.to_owned())),
        }
    }
}

/// The directories that client configuration paths start from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// The user's home directory.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, else `~/.config` (Claude Desktop, VS Code).
    pub config_home: PathBuf,
    /// `$CODEX_HOME`, else `~/.codex`.
    pub codex_home: PathBuf,
    /// `$CLAUDE_CONFIG_DIR`, else the home directory: where `.claude.json` is.
    pub claude_json_dir: PathBuf,
    /// The project root, for project scope.
    pub project: PathBuf,
}

impl Dirs {
    /// The default locations under `home`, ignoring the environment.
    pub fn new(home: PathBuf, project: PathBuf) -> Dirs {
        Dirs {
            config_home: home.join(".config"),
            codex_home: home.join(".codex"),
            claude_json_dir: home.clone(),
            home,
            project,
        }
    }

    /// The locations the clients themselves would use: `$HOME`, then
    /// `$XDG_CONFIG_HOME`, `$CODEX_HOME` and `$CLAUDE_CONFIG_DIR` where set.
    pub fn from_env(project: PathBuf) -> Result<Dirs, Error> {
        Dirs::from_lookup(project, |name| std::env::var_os(name))
    }

    fn from_lookup(
        project: PathBuf,
        var: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Dirs, Error> {
        // An empty value counts as unset, as in the clients (`a || b`).
        let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = set("HOME").ok_or(Error::NoHome)?;
        let mut dirs = Dirs::new(home, project);
        // The XDG spec ignores a relative XDG_CONFIG_HOME.
        if let Some(dir) = set("XDG_CONFIG_HOME").filter(|d| d.is_absolute()) {
            dirs.config_home = dir;
        }
        if let Some(dir) = set("CODEX_HOME") {
            dirs.codex_home = dir;
        }
        if let Some(dir) = set("CLAUDE_CONFIG_DIR") {
            dirs.claude_json_dir = dir;
        }
        Ok(dirs)
    }
}

/// The server entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The program the client starts: `warrant`, or an absolute path.
    pub command: String,
    /// The actor to name with `--actor`, if any.
    pub actor: Option<String>,
    /// A non-default warrant home, passed as `WARRANT_HOME` in `env`.
    pub home: Option<PathBuf>,
}

impl Entry {
    fn value(&self, stdio_type: bool) -> Result<Value, Error> {
        let mut fields = Vec::new();
        if stdio_type {
            fields.push(("type".to_owned(), Value::Str("stdio".to_owned())));
        }
        fields.push(("command".to_owned(), Value::Str(self.command.clone())));
        let mut args = vec![Value::Str("mcp".to_owned())];
        if let Some(actor) = &self.actor {
            args.push(Value::Str("--actor".to_owned()));
            args.push(Value::Str(actor.clone()));
        }
        fields.push(("args".to_owned(), Value::Arr(args)));
        if let Some(home) = &self.home {
            let home = home.to_str().ok_or_else(|| Error::NotUtf8(home.clone()))?;
            let env = vec![("WARRANT_HOME".to_owned(), Value::Str(home.to_owned()))];
            fields.push(("env".to_owned(), Value::Obj(env)));
        }
        Ok(Value::Obj(fields))
    }
}

/// A computed change to one configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The file.
    pub path: PathBuf,
    /// Its content now, `None` if it does not exist.
    pub before: Option<String>,
    /// Its content with warrant's entry.
    pub after: String,
    /// Whether `after` differs from `before`.
    pub changed: bool,
}

/// What can go wrong installing the entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client name is not one of [`ClientKind::ALL`].
    #[error(
        "unknown MCP client `{0}` (one of: codex, claude-code, claude-desktop, cursor, vscode)"
    )]
    UnknownClient(String),
    /// The scope is neither `user` nor `project`.
    #[error("unknown scope `{0}` (user or project)")]
    UnknownScope(String),
    /// The client has no configuration at that scope.
    #[error("{client} has no {scope}-scope configuration; use --scope user")]
    UnsupportedScope {
        /// The client.
        client: ClientKind,
        /// The scope asked for.
        scope: Scope,
    },
    /// `$HOME` is not set.
    #[error("HOME is not set, so the user's configuration cannot be found")]
    NoHome,
    /// A path that must go into the file as text is not UTF-8.
    #[error("{} is not valid UTF-8 and cannot be written into a configuration file", .0.display())]
    NotUtf8(PathBuf),
    /// The existing file cannot be read as its client's format (or its
    /// server list is not a table/object). The file is left as it is.
    #[error(
        "{}:{line}:{column}: {message}; the file was left as it is: fix it by hand (or move it away) and run again",
        path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// The file changed between [`plan`] and [`apply`].
    #[error("{} changed since it was read (is the client running?); nothing was written, run again", .0.display())]
    Changed(PathBuf),
    /// Reading the file failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Writing the file (or its backup, or creating its directory) failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// The configuration file `client` reads at `scope`.
pub fn config_path(client: ClientKind, scope: Scope, dirs: &Dirs) -> Result<PathBuf, Error> {
    let project = &dirs.project;
    Ok(match (client, scope) {
        (ClientKind::Codex, Scope::User) => dirs.codex_home.join("config.toml"),
        (ClientKind::Codex, Scope::Project) => project.join(".codex/config.toml"),
        (ClientKind::ClaudeCode, Scope::User) => dirs.claude_json_dir.join(".claude.json"),
        (ClientKind::ClaudeCode, Scope::Project) => project.join(".mcp.json"),
        (ClientKind::ClaudeDesktop, Scope::User) => {
            dirs.config_home.join("Claude/claude_desktop_config.json")
        }
        (ClientKind::ClaudeDesktop, Scope::Project) => {
            return Err(Error::UnsupportedScope { client, scope });
        }
        (ClientKind::Cursor, Scope::User) => dirs.home.join(".cursor/mcp.json"),
        (ClientKind::Cursor, Scope::Project) => project.join(".cursor/mcp.json"),
        (ClientKind::VsCode, Scope::User) => dirs.config_home.join("Code/User/mcp.json"),
        (ClientKind::VsCode, Scope::Project) => project.join(".vscode/mcp.json"),
    })
}

/// Reads `path` (if it exists) and computes its text with `entry` as
/// `client`'s `warrant` server. Writes nothing.
pub fn plan(client: ClientKind, path: &Path, entry: &Entry) -> Result<Plan, Error> {
    let before = read(path)?;
    let text = before.as_deref().unwrap_or("");
    let edited = match client.format() {
        Format::Toml => toml::upsert(text, &entry.value(false)?),
        Format::Json(style) => json::upsert(text, style, &entry.value(style.stdio_type)?),
    };
    let after = edited.map_err(|e| malformed(path, text, e))?;
    let changed = before.as_deref() != Some(after.as_str());
    Ok(Plan {
        path: path.to_owned(),
        before,
        after,
        changed,
    })
}

/// Writes `plan`: the backup (when the file existed), then the new file.
/// Returns the backup's path; does nothing when the plan changes nothing.
pub fn apply(plan: &Plan) -> Result<Option<PathBuf>, Error> {
    if !plan.changed {
        return Ok(None);
    }
    if read(&plan.path)? != plan.before {
        return Err(Error::Changed(plan.path.clone()));
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write { path, source }
    };
    // Follow a link so that it stays a link to the rewritten file.
    let target = match fs::symlink_metadata(&plan.path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(&plan.path).map_err(|source| Error::Read {
                path: plan.path.clone(),
                source,
            })?
        }
        _ => plan.path.clone(),
    };
    let mode = match fs::metadata(&target) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(_) => warrant_fs::FILE_MODE,
    };
    let backup = match &plan.before {
        Some(old) => {
            let mut name = plan.path.clone().into_os_string();
            name.push(BACKUP_SUFFIX);
            let backup = PathBuf::from(name);
            warrant_fs::write_atomic(&backup, old.as_bytes(), warrant_fs::FILE_MODE)
                .map_err(write_err(&backup))?;
            Some(backup)
        }
        None => None,
    };
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(write_err(dir))?;
    }
    warrant_fs::write_atomic(&target, plan.after.as_bytes(), mode).map_err(write_err(&target))?;
    Ok(backup)
}

/// A file format and its conventions.
enum Format {
    Toml,
    Json(json::Style),
}

/// A configuration value, as much of one as the entry needs: scalars other
/// than strings are kept as their source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Str(String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
    Other(String),
}

impl Value {
    /// Equality as the client sees it: key order does not matter, and an
    /// empty `env` object is the same as none (`claude mcp add` writes one).
    fn same_entry(&self, other: &Value) -> bool {
        fn fields(v: &Value) -> Option<Vec<(String, Value)>> {
            let Value::Obj(fields) = v else {
                return None;
            };
            let empty_env = |(k, v): &&(String, Value)| {
                k == "env" && matches!(v, Value::Obj(f) if f.is_empty())
            };
            Some(fields.iter().filter(|f| !empty_env(f)).cloned().collect())
        }
        match (fields(self), fields(other)) {
            (Some(a), Some(b)) => Value::Obj(a).same(&Value::Obj(b)),
            _ => false,
        }
    }

    fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Obj(a), Value::Obj(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(kb, vb)| k == kb && v.same(vb)))
            }
            (Value::Arr(a), Value::Arr(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            _ => self == other,
        }
    }
}

/// A syntax or shape error at a byte offset of the text.
#[derive(Debug)]
pub(crate) struct Located {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

pub(crate) fn malformed(path: &Path, text: &str, e: Located) -> Error {
    let offset = e.offset.min(text.len());
    let head = text.get(..offset).unwrap_or(text);
    let line_start = head.rfind('\n').map_or(0, |i| i + 1);
    Error::Malformed {
        path: path.to_owned(),
        line: head.matches('\n').count() + 1,
        column: head[line_start..].chars().count() + 1,
        message: e.message,
    }
}

/// The file's text, `None` when it does not exist. Not UTF-8 is malformed.
pub(crate) fn read(path: &Path) -> Result<Option<String>, Error> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            let at = Located {
                offset: valid,
                message: "the file is not valid UTF-8".to_owned(),
            };
            Err(malformed(path, &text, at))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for client in ClientKind::ALL {
            assert_eq!(client.name().parse::<ClientKind>().unwrap(), client);
        }
        assert!("claude".parse::<ClientKind>().is_err());
        assert_eq!("project".parse::<Scope>().unwrap(), Scope::Project);
    }

    #[test]
    fn environment_overrides_defaults() {
        let vars = |name: &str| match name {
            "HOME" => Some("/home/u".into()),
            "XDG_CONFIG_HOME" => Some("relative/ignored".into()),
            "CODEX_HOME" => Some("/opt/codex".into()),
            "CLAUDE_CONFIG_DIR" => Some("".into()),
            _ => None,
        };
        let dirs = Dirs::from_lookup("/p".into(), vars).unwrap();
        assert_eq!(dirs.config_home, Path::new("/home/u/.config"));
        assert_eq!(dirs.codex_home, Path::new("/opt/codex"));
        assert_eq!(dirs.claude_json_dir, Path::new("/home/u"));
        assert!(matches!(
            Dirs::from_lookup("/p".into(), |_| None),
            Err(Error::NoHome)
        ));
    }

    #[test]
    fn same_entry_ignores_order_and_empty_env() {
        let entry = Entry {
            command: "warrant".into(),
            actor: Some("a".into()),
            home: None,
        };
        let ours = entry.value(true).unwrap();
        let Value::Obj(mut fields) = ours.clone() else {
            unreachable!()
        };
        fields.reverse();
        fields.push(("env".into(), Value::Obj(Vec::new())));
        assert!(ours.same_entry(&Value::Obj(fields.clone())));
        fields.push(("cwd".into(), Value::Str("/".into())));
        assert!(!ours.same_entry(&Value::Obj(fields)));
    }

    #[test]
    fn malformed_position_counts_characters() {
        let Error::Malformed { line, column, .. } = malformed(
            Path::new("f"),
            "a\néé x",
            Located {
                offset: "a\néé ".len(),
                message: String::new(),
            },
        ) else {
            unreachable!()
        };
        assert_eq!((line, column), (2, 4));
    }
}
