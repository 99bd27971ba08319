//! Where MCP clients keep their server lists.
//!
//! Every file `warrant mcp install` writes ([`install::config_path`], both
//! scopes), plus (checked 2026, Linux paths):
//!
//! | client | user | project | servers under |
//! | --- | --- | --- | --- |
//! | `windsurf` | `~/.codeium/windsurf/mcp_config.json` | none | `mcpServers` (remote: `serverUrl`) |
//! | `gemini` | `~/.gemini/settings.json` | `.gemini/settings.json` | `mcpServers` (remote: `url`, `httpUrl`) |
//! | `zed` | `$XDG_CONFIG_HOME/zed/settings.json` | `.zed/settings.json` | `context_servers` (JSON with comments) |
//! | `kiro` | `~/.kiro/settings/mcp.json` | `.kiro/settings/mcp.json` | `mcpServers` |
//!
//! Sources: docs.windsurf.com (Cascade MCP), geminicli.com/docs/tools/mcp-server
//! and docs/cli/configuration, zed.dev/docs/ai/mcp, kiro.dev/docs/mcp/configuration.
//! `~/.claude.json` also holds per-project servers under
//! `projects.PATH.mcpServers` (Claude Code's `local` scope); those are
//! migrated too, and so are VS Code's `servers` and a settings file's
//! `mcp.servers`.

use std::path::PathBuf;

use serde::Serialize;

use crate::install::{self, ClientKind, Dirs, Scope};

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Codex's `config.toml`: `[mcp_servers.NAME]`.
    Toml,
    /// JSON, or JSON with comments.
    Json,
}

/// A configuration file to migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The file.
    pub path: PathBuf,
    /// The client that reads it (`cursor`, `claude-code`, ...), or `file`
    /// for a file named on the command line.
    pub client: &'static str,
    /// `user` or `project`, for a client's own file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
    /// How it is written.
    pub format: Format,
}

impl Source {
    /// A file named by the user: TOML when it ends in `.toml`, else JSON.
    pub fn named(path: PathBuf) -> Source {
        let toml = path.extension().is_some_and(|e| e == "toml");
        Source {
            path,
            client: "file",
            scope: None,
            format: if toml { Format::Toml } else { Format::Json },
        }
    }

    fn client(client: &'static str, scope: Scope, path: PathBuf) -> Source {
        let toml = path.extension().is_some_and(|e| e == "toml");
        Source {
            path,
            client,
            scope: Some(match scope {
                Scope::User => "user",
                Scope::Project => "project",
            }),
            format: if toml { Format::Toml } else { Format::Json },
        }
    }
}

/// Every configuration file a known client may read, whether it exists or
/// not, without duplicates (the project may be the home directory).
pub fn known_sources(dirs: &Dirs) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    for client in ClientKind::ALL {
        for scope in [Scope::User, Scope::Project] {
            if let Ok(path) = install::config_path(client, scope, dirs) {
                out.push(Source::client(client.name(), scope, path));
            }
        }
    }
    let (home, project) = (&dirs.home, &dirs.project);
    let more = [
        (
            "windsurf",
            Scope::User,
            home.join(".codeium/windsurf/mcp_config.json"),
        ),
        ("gemini", Scope::User, home.join(".gemini/settings.json")),
        (
            "gemini",
            Scope::Project,
            project.join(".gemini/settings.json"),
        ),
        (
            "zed",
            Scope::User,
            dirs.config_home.join("zed/settings.json"),
        ),
        ("zed", Scope::Project, project.join(".zed/settings.json")),
        ("kiro", Scope::User, home.join(".kiro/settings/mcp.json")),
        (
            "kiro",
            Scope::Project,
            project.join(".kiro/settings/mcp.json"),
        ),
    ];
    for (client, scope, path) in more {
        out.push(Source::client(client, scope, path));
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    out.retain(|s| {
        let key = std::fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone());
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sources_cover_each_client_once() {
        let dirs = Dirs::new("/h".into(), "/h".into());
        let sources = known_sources(&dirs);
        let paths: Vec<_> = sources.iter().map(|s| s.path.clone()).collect();
        for wanted in [
            "/h/.codex/config.toml",
            "/h/.claude.json",
            "/h/.mcp.json",
            "/h/.config/Claude/claude_desktop_config.json",
            "/h/.cursor/mcp.json",
            "/h/.vscode/mcp.json",
            "/h/.codeium/windsurf/mcp_config.json",
            "/h/.gemini/settings.json",
            "/h/.config/zed/settings.json",
            "/h/.kiro/settings/mcp.json",
        ] {
            assert!(paths.contains(&PathBuf::from(wanted)), "{wanted}");
        }
        // The project is the home here: `.gemini/settings.json` is one file.
        let gemini = paths
            .iter()
            .filter(|p| p.ends_with(".gemini/settings.json"));
        assert_eq!(gemini.count(), 1);
        let codex = sources.iter().find(|s| s.client == "codex").unwrap();
        assert_eq!(codex.format, Format::Toml);
        assert_eq!(Source::named("x.json".into()).format, Format::Json);
    }
}
