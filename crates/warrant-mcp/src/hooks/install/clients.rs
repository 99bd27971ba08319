//! Agent clients' hook configurations: where each client reads them, the
//! entry warrant adds for each event, and Cline's hook scripts.

use std::path::{Path, PathBuf};

use super::{Change, Existing, Kind, MARKER, edit, is_guard, read_script};
use crate::hooks::{Client, Error};
use crate::install::{Dirs, Plan, Scope, Value};

/// The events warrant guards, as `client` names them.
pub fn events(client: Client) -> &'static [&'static str] {
    match client {
        Client::ClaudeCode | Client::Codex | Client::Cline => &["UserPromptSubmit", "PreToolUse"],
        Client::Cursor => &[
            "beforeSubmitPrompt",
            "preToolUse",
            "beforeShellExecution",
            "beforeMCPExecution",
            "beforeReadFile",
        ],
        Client::Gemini => &["BeforeAgent", "BeforeTool"],
        Client::Windsurf => &[
            "pre_user_prompt",
            "pre_run_command",
            "pre_mcp_tool_use",
            "pre_write_code",
        ],
    }
}

/// The file (for Cline, the directory) where `client` reads its hooks.
pub fn config_path(client: Client, scope: Scope, dirs: &Dirs) -> PathBuf {
    let home = &dirs.home;
    let project = &dirs.project;
    match (client, scope) {
        // Claude Code keeps `settings.json` in `$CLAUDE_CONFIG_DIR` when
        // set, else in `~/.claude` (`.claude.json` sits in the home).
        (Client::ClaudeCode, Scope::User) if dirs.claude_json_dir != *home => {
            dirs.claude_json_dir.join("settings.json")
        }
        (Client::ClaudeCode, Scope::User) => home.join(".claude/settings.json"),
        (Client::ClaudeCode, Scope::Project) => project.join(".claude/settings.json"),
        (Client::Codex, Scope::User) => dirs.codex_home.join("hooks.json"),
        (Client::Codex, Scope::Project) => project.join(".codex/hooks.json"),
        (Client::Cursor, Scope::User) => home.join(".cursor/hooks.json"),
        (Client::Cursor, Scope::Project) => project.join(".cursor/hooks.json"),
        (Client::Gemini, Scope::User) => home.join(".gemini/settings.json"),
        (Client::Gemini, Scope::Project) => project.join(".gemini/settings.json"),
        (Client::Windsurf, Scope::User) => home.join(".codeium/windsurf/hooks.json"),
        (Client::Windsurf, Scope::Project) => project.join(".windsurf/hooks.json"),
        (Client::Cline, Scope::User) => home.join("Documents/Cline/Hooks"),
        (Client::Cline, Scope::Project) => project.join(".clinerules/hooks"),
    }
}

/// What the client needs to hear after an install, if anything.
pub fn note(client: Client) -> Option<&'static str> {
    match client {
        Client::ClaudeCode => {
            Some("Claude Code loads hooks at startup: restart it (or review them in /hooks)")
        }
        Client::Codex => Some("Codex runs a new hook once you trust it: review it in /hooks"),
        Client::Cursor => Some("restart Cursor; its Hooks settings tab shows the hooks it runs"),
        Client::Gemini => Some("check in /hooks panel that Gemini CLI's hooks system is enabled"),
        Client::Windsurf => None,
        Client::Cline => Some("enable hooks in Cline's settings if they are off"),
    }
}

/// Adds `command` (see [`guard_command`](super::guard_command)) to `client`'s hooks at `path`
/// (from [`config_path`]). `existing` says what to do with a Cline script
/// that is not warrant's.
pub fn client_install(
    client: Client,
    path: &Path,
    command: &str,
    existing: Existing,
) -> Result<Vec<Change>, Error> {
    if client == Client::Cline {
        return cline_scripts(path, Some(command), existing);
    }
    let style = style(client);
    let before = crate::install::read(path)?;
    let mut text = before.clone().unwrap_or_default();
    if text.trim().is_empty() {
        text = style.initial.to_owned();
    }
    for event in events(client) {
        let entry = entry(client, event, command);
        let path_in_file = [style.key, *event];
        let step = |t: &str| {
            let stale = |v: &Value| commands(v).iter().any(|c| is_guard(c) && *c != command);
            let t = edit::remove(t, style.comments, &path_in_file, &stale)?;
            let present = |v: &Value| commands(v).contains(&command);
            edit::append(&t, style.comments, &path_in_file, &entry, &present)
        };
        text = step(&text).map_err(|e| crate::install::malformed(path, &text, e))?;
    }
    Ok(vec![config_change(path, before, text)])
}

/// Takes warrant's entries out of `client`'s hooks at `path`.
pub fn client_uninstall(client: Client, path: &Path) -> Result<Vec<Change>, Error> {
    if client == Client::Cline {
        return cline_scripts(path, None, Existing::Refuse);
    }
    let style = style(client);
    let Some(before) = crate::install::read(path)? else {
        return Ok(Vec::new());
    };
    let mut text = before.clone();
    for event in events(client) {
        let ours = |v: &Value| {
            let cmds = commands(v);
            !cmds.is_empty() && cmds.iter().all(|c| is_guard(c))
        };
        text = edit::remove(&text, style.comments, &[style.key, *event], &ours)
            .map_err(|e| crate::install::malformed(path, &text, e))?;
    }
    Ok(vec![config_change(path, Some(before), text)])
}

fn config_change(path: &Path, before: Option<String>, after: String) -> Change {
    let changed = before.as_deref() != Some(after.as_str());
    Change {
        plan: Plan {
            path: path.to_owned(),
            before,
            after,
            changed,
        },
        kind: Kind::Config,
    }
}

/// How one client spells its hook file.
struct Style {
    /// The top-level key holding the events.
    key: &'static str,
    /// Whether the client reads comments and trailing commas.
    comments: bool,
    /// The text of a new file, before the hooks go in.
    initial: &'static str,
}

fn style(client: Client) -> Style {
    match client {
        // Cursor's file carries a schema version.
        Client::Cursor => Style {
            key: "hooks",
            comments: false,
            initial: "{\n  \"version\": 1\n}\n",
        },
        // Gemini CLI strips comments from its settings files.
        Client::Gemini => Style {
            key: "hooks",
            comments: true,
            initial: "",
        },
        _ => Style {
            key: "hooks",
            comments: false,
            initial: "",
        },
    }
}

/// The entry for one event.
fn entry(client: Client, event: &str, command: &str) -> Value {
    let s = |v: &str| Value::Str(v.to_owned());
    let field = |k: &str, v: Value| (k.to_owned(), v);
    match client {
        Client::Cursor => Value::Obj(vec![field("command", s(command))]),
        Client::Windsurf => Value::Obj(vec![
            field("command", s(command)),
            field("show_output", Value::Other("true".into())),
        ]),
        _ => {
            let mut hook = Vec::new();
            if client == Client::Gemini {
                hook.push(field("name", s("warrant-guard")));
            }
            hook.push(field("type", s("command")));
            hook.push(field("command", s(command)));
            let mut group = Vec::new();
            if client == Client::Gemini && event == "BeforeTool" {
                group.push(field("matcher", s("*")));
            }
            group.push(field("hooks", Value::Arr(vec![Value::Obj(hook)])));
            Value::Obj(group)
        }
    }
}

/// The commands of an entry: its own `command`, or those of a matcher
/// group's `hooks`.
fn commands(entry: &Value) -> Vec<&str> {
    let Value::Obj(fields) = entry else {
        return Vec::new();
    };
    let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    if let Some(Value::Str(command)) = get("command") {
        return vec![command.as_str()];
    }
    match get("hooks") {
        Some(Value::Arr(hooks)) => hooks.iter().flat_map(commands).collect(),
        _ => Vec::new(),
    }
}

/// Cline's hooks are executables named after the event, in `dir`.
fn cline_scripts(
    dir: &Path,
    command: Option<&str>,
    existing: Existing,
) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    for event in events(Client::Cline) {
        let path = dir.join(event);
        let before = read_script(&path)?;
        let ours = before.as_deref().is_some_and(|t| t.contains(MARKER));
        match command {
            Some(command) => {
                let foreign = before.is_some() && !ours;
                let backup = match (foreign, existing) {
                    (false, _) => false,
                    (true, Existing::Replace) => true,
                    (true, _) => return Err(Error::Foreign(path)),
                };
                let after = format!(
                    "#!/bin/sh\n{MARKER}\n# Checks Cline's {event} input for secrets.\nexec {command}\n"
                );
                changes.push(Change::script(
                    path,
                    before,
                    after,
                    Kind::Script {
                        chain: None,
                        backup,
                    },
                ));
            }
            None if ours => {
                changes.push(Change::script(
                    path,
                    before,
                    String::new(),
                    Kind::Delete { restore: None },
                ));
            }
            None => {}
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::{apply, guard_command};
    use super::*;

    fn dirs(root: &Path) -> Dirs {
        Dirs::new(root.join("home"), root.join("project"))
    }

    #[test]
    fn commands_are_quoted_and_recognised() {
        let cmd = guard_command(
            "/opt/my tools/warrant",
            Client::Cursor,
            &["--home".into(), "/h".into()],
        );
        assert_eq!(
            cmd,
            "'/opt/my tools/warrant' guard --client cursor --home /h"
        );
        assert!(is_guard("warrant guard --client codex"));
        assert!(is_guard("/usr/local/bin/warrant guard"));
        assert!(!is_guard("warrant scan --staged"));
        assert!(!is_guard("./lint.sh guard"));
    }

    #[test]
    fn install_is_idempotent_and_replaces_old_options() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = dirs(tmp.path());
        for client in Client::ALL.into_iter().filter(|c| *c != Client::Cline) {
            let path = config_path(client, Scope::User, &dirs);
            let first = guard_command("warrant", client, &[]);
            let change = client_install(client, &path, &first, Existing::Refuse).unwrap();
            apply(&change[0]).unwrap();
            let again = client_install(client, &path, &first, Existing::Refuse).unwrap();
            assert!(!again[0].changed(), "{client}");
            let text = fs::read_to_string(&path).unwrap();
            assert_eq!(
                text.matches("guard --client").count(),
                events(client).len(),
                "{client}"
            );
            let second = format!("{first} --fail-closed");
            apply(&client_install(client, &path, &second, Existing::Refuse).unwrap()[0]).unwrap();
            let text = fs::read_to_string(&path).unwrap();
            assert_eq!(
                text.matches("--fail-closed").count(),
                events(client).len(),
                "{client}"
            );
            assert_eq!(
                text.matches("guard --client").count(),
                events(client).len(),
                "{client}"
            );
            apply(&client_uninstall(client, &path).unwrap()[0]).unwrap();
            assert!(
                !fs::read_to_string(&path).unwrap().contains("guard"),
                "{client}"
            );
        }
    }

    #[test]
    fn other_settings_survive() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("settings.json");
        let text = "{\n  \"model\": \"opus\",\n  \"hooks\": {\n    \"PreToolUse\": [\n      {\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": \"./lint.sh\"}]}\n    ]\n  }\n}\n";
        fs::write(&path, text).unwrap();
        let cmd = guard_command("warrant", Client::ClaudeCode, &[]);
        let change = &client_install(Client::ClaudeCode, &path, &cmd, Existing::Refuse).unwrap()[0];
        assert!(change.plan.after.starts_with("{\n  \"model\": \"opus\",\n  \"hooks\": {\n    \"PreToolUse\": [\n      {\"matcher\": \"Bash\", \"hooks\": [{\"type\": \"command\", \"command\": \"./lint.sh\"}]},\n"));
        let v: serde_json::Value = serde_json::from_str(&change.plan.after).unwrap();
        assert_eq!(
            v["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
            cmd.as_str()
        );
        assert_eq!(v["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        apply(change).unwrap();
        let back = &client_uninstall(Client::ClaudeCode, &path).unwrap()[0];
        let v: serde_json::Value = serde_json::from_str(&back.plan.after).unwrap();
        assert_eq!(
            v["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
            "./lint.sh"
        );
    }

    #[test]
    fn cline_scripts_refuse_a_foreign_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = config_path(Client::Cline, Scope::Project, &dirs(tmp.path()));
        let cmd = guard_command("warrant", Client::Cline, &[]);
        for change in client_install(Client::Cline, &dir, &cmd, Existing::Refuse).unwrap() {
            apply(&change).unwrap();
        }
        let script = dir.join("PreToolUse");
        assert!(
            fs::read_to_string(&script)
                .unwrap()
                .ends_with(&format!("exec {cmd}\n"))
        );
        fs::write(dir.join("UserPromptSubmit"), "#!/bin/sh\necho mine\n").unwrap();
        let e = client_install(Client::Cline, &dir, &cmd, Existing::Refuse).unwrap_err();
        assert!(matches!(e, Error::Foreign(_)));
        for change in client_uninstall(Client::Cline, &dir).unwrap() {
            apply(&change).unwrap();
        }
        assert!(!script.exists());
        assert!(dir.join("UserPromptSubmit").exists());
    }
}
