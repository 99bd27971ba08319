//! Hooks of agent clients: what each client sends a hook, and how a hook
//! answers it.
//!
//! Coding agents that have hooks run a command before a prompt reaches the
//! model and before a tool call runs, with a JSON payload on stdin. This
//! module turns such a payload into the pieces of text worth checking for
//! secrets ([`parse`]), and a verdict into what that client understands on
//! stdout, stderr and the exit status ([`render`]). It does not scan: the
//! caller (`warrant guard`) does, so that this crate needs no scanner.
//!
//! [`install`] writes `warrant guard` into a client's hook configuration
//! and warrant's pre-commit hook into a git repository.
//!
//! ```
//! use warrant_mcp::hooks::{self, Client, Subject};
//!
//! let payload = br#"{"hook_event_name": "UserPromptSubmit", "session_id": "s",
//!                    "cwd": "/p", "prompt": "deploy it"}"#;
//! let parsed = hooks::parse(payload, None).unwrap().unwrap();
//! assert_eq!(parsed.client, Client::ClaudeCode);
//! assert_eq!(parsed.subject, Subject::Prompt);
//! assert_eq!(parsed.pieces[0].text(), "deploy it");
//! let allow = hooks::render(&parsed, &[]);
//! assert_eq!(allow.exit_code, 0);
//! ```
//!
//! Client formats (checked 2026; sources in `docs/guard.md`):
//!
//! | client | prompt event | tool events | how warrant blocks |
//! | --- | --- | --- | --- |
//! | Claude Code | `UserPromptSubmit` | `PreToolUse` | exit 2, reason on stderr |
//! | Codex | `UserPromptSubmit` | `PreToolUse` | exit 2, reason on stderr |
//! | Cursor | `beforeSubmitPrompt` | `preToolUse`, `beforeShellExecution`, `beforeMCPExecution`, `beforeReadFile` | JSON `continue: false` / `permission: "deny"`, exit 0 |
//! | Gemini CLI | `BeforeAgent` | `BeforeTool` | exit 2, reason on stderr |
//! | Windsurf | `pre_user_prompt` | `pre_run_command`, `pre_mcp_tool_use`, `pre_write_code` | exit 2, reason on stderr |
//! | Cline | `UserPromptSubmit` | `PreToolUse` | JSON `cancel: true`, exit 0 |

pub mod install;
mod payload;
mod response;

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

pub use payload::parse;
pub use response::{Hit, Response, render, render_failure};

/// An agent client whose hooks warrant understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Claude Code: `hook_event_name` in PascalCase, `tool_input` an object.
    ClaudeCode,
    /// OpenAI Codex: Claude Code's format, plus `turn_id` and `model`.
    Codex,
    /// Cursor: camelCase events, JSON answers.
    Cursor,
    /// Gemini CLI: `BeforeAgent`, `BeforeTool`.
    Gemini,
    /// Windsurf (Cascade hooks): `agent_action_name` and `tool_info`.
    Windsurf,
    /// Cline: `hookName` and one object named after the hook.
    Cline,
}

impl Client {
    /// Every client, in the order the CLI lists them.
    pub const ALL: [Client; 6] = [
        Client::ClaudeCode,
        Client::Codex,
        Client::Cursor,
        Client::Gemini,
        Client::Windsurf,
        Client::Cline,
    ];

    /// The CLI's name for the client.
    pub fn name(self) -> &'static str {
        match self {
            Client::ClaudeCode => "claude-code",
            Client::Codex => "codex",
            Client::Cursor => "cursor",
            Client::Gemini => "gemini",
            Client::Windsurf => "windsurf",
            Client::Cline => "cline",
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Client {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Client::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| Error::UnknownClient(s.to_owned()))
    }
}

/// What a hook event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A prompt on its way to the model.
    Prompt,
    /// A tool call, with the tool's name as the client gives it.
    Tool(String),
    /// A file's content on its way to the model (Cursor's `beforeReadFile`).
    File(String),
    /// An event warrant does not guard: always let through.
    Other,
}

/// A hook payload, read.
#[derive(Debug)]
pub struct Parsed {
    /// The client that sent it.
    pub client: Client,
    /// The event's name as the client spells it.
    pub event: String,
    /// What the event is about.
    pub subject: Subject,
    /// The text to check; empty for [`Subject::Other`].
    pub pieces: Vec<Piece>,
}

/// One piece of text from a payload, and where it was.
pub struct Piece {
    /// Where it was, for people: `the prompt`, `tool_input.command`.
    pub what: String,
    text: Zeroizing<String>,
}

impl Piece {
    fn new(what: impl Into<String>, text: &str) -> Piece {
        Piece {
            what: what.into(),
            text: Zeroizing::new(text.to_owned()),
        }
    }

    /// The text itself (it may hold a secret: check it, never show it).
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Piece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Piece")
            .field("what", &self.what)
            .field("text", &"[REDACTED]")
            .finish()
    }
}

/// What can go wrong reading a payload or installing a hook.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The payload is not a JSON object.
    #[error("the hook input is not a JSON object: {0}")]
    Payload(String),
    /// The client name is not one of [`Client::ALL`].
    #[error(
        "unknown agent client `{0}` (one of: claude-code, codex, cursor, gemini, windsurf, cline)"
    )]
    UnknownClient(String),
    /// The directory is not inside a git work tree.
    #[error("{0}")]
    Git(String),
    /// A hook file that warrant did not write is in the way.
    #[error(
        "{} is not warrant's hook; run again with --chain to keep it and run it after warrant's check, or with --force to replace it (it is kept as {}.warrant-backup)",
        .0.display(),
        .0.display()
    )]
    Foreign(std::path::PathBuf),
    /// Uninstalling found something else than warrant's hook.
    #[error("{} is not warrant's hook; left as it is", .0.display())]
    NotOurs(std::path::PathBuf),
    /// A configuration file could not be read, parsed or written.
    #[error(transparent)]
    Config(#[from] crate::install::Error),
}
