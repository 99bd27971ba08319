//! `warrant mcp install` against real files in temporary directories.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use warrant_mcp::install::{self, ClientKind, Dirs, Entry, Error, Plan, Scope};

fn entry(actor: &str) -> Entry {
    Entry {
        command: "warrant".into(),
        actor: Some(actor.into()),
        home: None,
    }
}

/// A file `name` in a fresh directory holding `text`.
fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn backup_of(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.warrant-backup", path.display()))
}

/// Plans and applies; checks the file then holds the plan's text.
fn install(client: ClientKind, path: &Path, entry: &Entry) -> (Plan, Option<PathBuf>) {
    let plan = install::plan(client, path, entry).unwrap();
    let backup = install::apply(&plan).unwrap();
    assert_eq!(fs::read_to_string(path).unwrap(), plan.after);
    (plan, backup)
}

/// Checks that a second install of the same entry changes nothing.
fn assert_idempotent(client: ClientKind, path: &Path, entry: &Entry) {
    let text = fs::read_to_string(path).unwrap();
    let backup = fs::read(backup_of(path)).ok();
    let again = install::plan(client, path, entry).unwrap();
    assert!(
        !again.changed,
        "{client}: second run changed\n{}",
        again.after
    );
    assert_eq!(again.after, text);
    assert_eq!(install::diff(&again), "");
    assert_eq!(install::apply(&again).unwrap(), None);
    assert_eq!(fs::read_to_string(path).unwrap(), text);
    assert_eq!(fs::read(backup_of(path)).ok(), backup, "backup rewritten");
}

/// `after` is `before` with `added` inserted once and nothing else changed.
fn assert_only_added(before: &str, after: &str, added: &str) {
    let at = after
        .find(added)
        .unwrap_or_else(|| panic!("{added:?} not in\n{after}"));
    let rest = format!("{}{}", &after[..at], &after[at + added.len()..]);
    assert_eq!(rest, before, "bytes outside the entry changed");
}

const CODEX_TABLE: &str = "[mcp_servers.warrant]\n\
    command = \"warrant\"\n\
    args = [\"mcp\", \"--actor\", \"codex\"]\n";

#[test]
fn codex_fresh_file_in_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = Dirs::new(dir.path().into(), "/unused".into());
    let path = install::config_path(ClientKind::Codex, Scope::User, &dirs).unwrap();
    assert_eq!(path, dir.path().join(".codex/config.toml"));
    let (plan, backup) = install(ClientKind::Codex, &path, &entry("codex"));
    assert_eq!(plan.before, None);
    assert_eq!(backup, None);
    assert_eq!(plan.after, CODEX_TABLE);
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(names(&dir.path().join(".codex")), ["config.toml"]);
    assert_idempotent(ClientKind::Codex, &path, &entry("codex"));
}

const CODEX_CONFIG: &str = "# my codex config\n\
    model = \"o3\"  # inline comment\n\
    \n\
    [mcp_servers.docs]\n\
    command = \"npx\"\n\
    args = [ \"-y\",\"docs-mcp\" ]   # odd spacing stays\n\
    env = { \"API_KEY\" = \"not-a-real-key\" }\n\
    \n\
    \n\
    # about the UI\n\
    [tui]\n\
    notifications = true\n";

#[test]
fn codex_keeps_comments_blank_lines_and_other_tables() {
    let (dir, path) = file("config.toml", CODEX_CONFIG);
    let mut e = entry("codex");
    e.home = Some("/srv/warrant home".into());
    let (plan, backup) = install(ClientKind::Codex, &path, &e);
    let added = format!("{CODEX_TABLE}env = {{ WARRANT_HOME = \"/srv/warrant home\" }}\n\n");
    assert_only_added(CODEX_CONFIG, &plan.after, &added);
    // Right after the other server, before the next table's comment.
    assert!(plan.after.contains(
        "# odd spacing stays\nenv = { \"API_KEY\" = \"not-a-real-key\" }\n\n[mcp_servers.warrant]"
    ));
    assert_eq!(backup, Some(backup_of(&path)));
    assert_eq!(fs::read_to_string(backup_of(&path)).unwrap(), CODEX_CONFIG);
    assert_eq!(
        names(dir.path()),
        ["config.toml", "config.toml.warrant-backup"]
    );
    assert_idempotent(ClientKind::Codex, &path, &e);
}

#[test]
fn codex_replaces_an_old_entry_in_place() {
    let before = "model = \"o3\"\n\n\
        # warrant, added by hand\n\
        [mcp_servers.warrant]\n\
        command = \"/old/warrant\"\n\
        args = [\"mcp\", \"--actor\", \"old\"]\n\
        startup_timeout_sec = 20\n\n\
        [mcp_servers.warrant.env]\n\
        WARRANT_HOME = \"/old\"\n\n\
        [tui]\n\
        notifications = true\n";
    let (_dir, path) = file("config.toml", before);
    let (plan, _) = install(ClientKind::Codex, &path, &entry("codex"));
    assert_eq!(
        plan.after,
        format!(
            "model = \"o3\"\n\n# warrant, added by hand\n{CODEX_TABLE}\n[tui]\nnotifications = true\n"
        )
    );
    assert_eq!(fs::read_to_string(backup_of(&path)).unwrap(), before);
    assert_idempotent(ClientKind::Codex, &path, &entry("codex"));
}

#[test]
fn codex_changing_the_actor_replaces_only_that_line() {
    let (_dir, path) = file("config.toml", CODEX_CONFIG);
    install(ClientKind::Codex, &path, &entry("codex"));
    let first = fs::read_to_string(&path).unwrap();
    let (plan, _) = install(ClientKind::Codex, &path, &entry("reviewer"));
    assert!(plan.changed);
    assert_eq!(plan.after, first.replace("\"codex\"]", "\"reviewer\"]"));
    assert_eq!(fs::read_to_string(backup_of(&path)).unwrap(), first);
    assert!(install::diff(&plan).contains(
        "-args = [\"mcp\", \"--actor\", \"codex\"]\n+args = [\"mcp\", \"--actor\", \"reviewer\"]\n"
    ));
}

#[test]
fn codex_inline_servers_table_gets_an_inline_entry() {
    let before = "mcp_servers = { docs = { command = \"npx\" } }\n";
    let (_dir, path) = file("config.toml", before);
    let (plan, _) = install(ClientKind::Codex, &path, &entry("codex"));
    let doc: toml_edit::DocumentMut = plan.after.parse().unwrap();
    let servers = doc["mcp_servers"].as_inline_table().unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(
        servers["warrant"].as_inline_table().unwrap()["command"].as_str(),
        Some("warrant")
    );
    assert_idempotent(ClientKind::Codex, &path, &entry("codex"));
}

const CLAUDE_ENTRY: &str = "{\n\
    \x20     \"type\": \"stdio\",\n\
    \x20     \"command\": \"warrant\",\n\
    \x20     \"args\": [\n\
    \x20       \"mcp\",\n\
    \x20       \"--actor\",\n\
    \x20       \"claude\"\n\
    \x20     ]\n\
    \x20   }";

#[test]
fn claude_code_fresh_project_file() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = Dirs::new("/home/nobody".into(), dir.path().into());
    let path = install::config_path(ClientKind::ClaudeCode, Scope::Project, &dirs).unwrap();
    assert_eq!(path, dir.path().join(".mcp.json"));
    let (plan, _) = install(ClientKind::ClaudeCode, &path, &entry("claude"));
    assert_eq!(
        plan.after,
        format!("{{\n  \"mcpServers\": {{\n    \"warrant\": {CLAUDE_ENTRY}\n  }}\n}}\n")
    );
    assert_idempotent(ClientKind::ClaudeCode, &path, &entry("claude"));
}

/// Like the `~/.claude.json` Claude Code writes: keys in its own order,
/// numbers and escapes serde_json would respell, per-project servers.
const CLAUDE_JSON: &str = r#"{
  "numStartups": 12,
  "theme": "dark",
  "tipsHistory": {"z-tip": 3, "a-tip": 1.50, "big": 1e400},
  "userID": "caf\u00e9\/x",
  "projects": {
    "/work/p": {
      "mcpServers": {"local": {"command": "x"}},
      "allowedTools": []
    }
  },
  "mcpServers": {
    "github": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {}
    }
  },
  "autoUpdates": false
}
"#;

#[test]
fn claude_code_user_file_keeps_everything_else_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = Dirs::new(dir.path().into(), "/unused".into());
    let path = install::config_path(ClientKind::ClaudeCode, Scope::User, &dirs).unwrap();
    assert_eq!(path, dir.path().join(".claude.json"));
    fs::write(&path, CLAUDE_JSON).unwrap();
    let (plan, backup) = install(ClientKind::ClaudeCode, &path, &entry("claude"));
    assert_only_added(
        CLAUDE_JSON,
        &plan.after,
        &format!(",\n    \"warrant\": {CLAUDE_ENTRY}"),
    );
    let parsed: serde_json::Value =
        serde_json::from_str(&plan.after.replace("1e400", "1")).unwrap();
    assert_eq!(parsed["mcpServers"]["warrant"]["args"][2], "claude");
    assert!(
        parsed["projects"]["/work/p"]["mcpServers"]
            .get("warrant")
            .is_none()
    );
    assert_eq!(fs::read_to_string(backup.unwrap()).unwrap(), CLAUDE_JSON);
    assert_idempotent(ClientKind::ClaudeCode, &path, &entry("claude"));
}

#[test]
fn claude_code_entry_from_claude_mcp_add_counts_as_installed() {
    // What `claude mcp add warrant -- warrant mcp --actor claude` writes.
    let text = r#"{"mcpServers": {"warrant": {"type": "stdio", "command": "warrant", "args": ["mcp", "--actor", "claude"], "env": {}}}}"#;
    let (dir, path) = file(".mcp.json", text);
    let plan = install::plan(ClientKind::ClaudeCode, &path, &entry("claude")).unwrap();
    assert!(!plan.changed);
    assert_eq!(install::apply(&plan).unwrap(), None);
    assert_eq!(names(dir.path()), [".mcp.json"]);
}

#[test]
fn claude_desktop_with_a_home_and_no_project_scope() {
    let dir = tempfile::tempdir().unwrap();
    let mut dirs = Dirs::new("/home/nobody".into(), "/p".into());
    dirs.config_home = dir.path().into();
    let err = install::config_path(ClientKind::ClaudeDesktop, Scope::Project, &dirs).unwrap_err();
    assert!(matches!(err, Error::UnsupportedScope { .. }));
    assert_eq!(
        err.to_string(),
        "claude-desktop has no project-scope configuration; use --scope user"
    );
    let path = install::config_path(ClientKind::ClaudeDesktop, Scope::User, &dirs).unwrap();
    assert_eq!(path, dir.path().join("Claude/claude_desktop_config.json"));
    let e = Entry {
        command: "/opt/warrant/bin/warrant".into(),
        actor: None,
        home: Some("/var/lib/warrant".into()),
    };
    let (plan, _) = install(ClientKind::ClaudeDesktop, &path, &e);
    assert_eq!(
        plan.after,
        r#"{
  "mcpServers": {
    "warrant": {
      "command": "/opt/warrant/bin/warrant",
      "args": [
        "mcp"
      ],
      "env": {
        "WARRANT_HOME": "/var/lib/warrant"
      }
    }
  }
}
"#
    );
    assert_idempotent(ClientKind::ClaudeDesktop, &path, &e);
}

#[test]
fn cursor_compact_file_with_another_server() {
    let before = "{\"mcpServers\":{\"other\":{\"command\":\"o\",\"args\":[]}}}";
    let (_dir, path) = file(".cursor/mcp.json", before);
    let (plan, _) = install(ClientKind::Cursor, &path, &entry("cursor"));
    assert_eq!(
        plan.after,
        "{\"mcpServers\":{\"other\":{\"command\":\"o\",\"args\":[]}, \"warrant\": \
         {\"command\": \"warrant\", \"args\": [\"mcp\", \"--actor\", \"cursor\"]}}}"
    );
    assert_idempotent(ClientKind::Cursor, &path, &entry("cursor"));
}

#[test]
fn cursor_replaces_an_old_entry_and_keeps_four_space_indent() {
    let before = "{\n    \"mcpServers\": {\n        \"warrant\": {\n            \"command\": \"warrant\",\n            \"args\": [\"mcp\", \"--actor\", \"old\"]\n        },\n        \"b\": {\"command\": \"b\"}\n    }\n}\n";
    let (_dir, path) = file("mcp.json", before);
    let (plan, _) = install(ClientKind::Cursor, &path, &entry("cursor"));
    assert_eq!(
        plan.after,
        "{\n    \"mcpServers\": {\n        \"warrant\": {\n            \"command\": \"warrant\",\n            \"args\": [\n                \"mcp\",\n                \"--actor\",\n                \"cursor\"\n            ]\n        },\n        \"b\": {\"command\": \"b\"}\n    }\n}\n"
    );
    assert_idempotent(ClientKind::Cursor, &path, &entry("cursor"));
}

/// VS Code's own files are JSON with comments and trailing commas.
const VSCODE_JSON: &str = "{\r\n\
    \t// Servers for this repository.\r\n\
    \t\"inputs\": [\r\n\
    \t\t{\"type\": \"promptString\", \"id\": \"key\", \"password\": true},\r\n\
    \t],\r\n\
    \t\"servers\": {\r\n\
    \t\t\"memory\": {\"type\": \"stdio\", \"command\": \"npx\"}, /* keep */\r\n\
    \t},\r\n\
    }\r\n";

#[test]
fn vscode_project_file_with_comments_trailing_commas_tabs_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = Dirs::new("/home/nobody".into(), dir.path().into());
    let path = install::config_path(ClientKind::VsCode, Scope::Project, &dirs).unwrap();
    assert_eq!(path, dir.path().join(".vscode/mcp.json"));
    fs::create_dir(dir.path().join(".vscode")).unwrap();
    fs::write(&path, VSCODE_JSON).unwrap();
    let (plan, _) = install(ClientKind::VsCode, &path, &entry("copilot"));
    let added = "\t\t\"warrant\": {\r\n\t\t\t\"type\": \"stdio\",\r\n\t\t\t\"command\": \"warrant\",\r\n\t\t\t\"args\": [\r\n\t\t\t\t\"mcp\",\r\n\t\t\t\t\"--actor\",\r\n\t\t\t\t\"copilot\"\r\n\t\t\t]\r\n\t\t},\r\n";
    assert_only_added(VSCODE_JSON, &plan.after, added);
    assert_idempotent(ClientKind::VsCode, &path, &entry("copilot"));
}

#[test]
fn vscode_user_file_is_in_the_profile_folder() {
    let dirs = Dirs::new("/home/u".into(), "/p".into());
    let path = install::config_path(ClientKind::VsCode, Scope::User, &dirs).unwrap();
    assert_eq!(path, Path::new("/home/u/.config/Code/User/mcp.json"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp.json");
    let (plan, _) = install(ClientKind::VsCode, &path, &entry("copilot"));
    assert!(
        plan.after
            .starts_with("{\n  \"servers\": {\n    \"warrant\": {\n      \"type\": \"stdio\",\n")
    );
}

#[test]
fn every_client_has_its_file() {
    let dirs = Dirs::new("/h".into(), "/p".into());
    let table = [
        (ClientKind::Codex, Scope::User, "/h/.codex/config.toml"),
        (ClientKind::Codex, Scope::Project, "/p/.codex/config.toml"),
        (ClientKind::ClaudeCode, Scope::User, "/h/.claude.json"),
        (ClientKind::ClaudeCode, Scope::Project, "/p/.mcp.json"),
        (
            ClientKind::ClaudeDesktop,
            Scope::User,
            "/h/.config/Claude/claude_desktop_config.json",
        ),
        (ClientKind::Cursor, Scope::User, "/h/.cursor/mcp.json"),
        (ClientKind::Cursor, Scope::Project, "/p/.cursor/mcp.json"),
        (
            ClientKind::VsCode,
            Scope::User,
            "/h/.config/Code/User/mcp.json",
        ),
        (ClientKind::VsCode, Scope::Project, "/p/.vscode/mcp.json"),
    ];
    for (client, scope, want) in table {
        let got = install::config_path(client, scope, &dirs).unwrap();
        assert_eq!(got, Path::new(want), "{client} {scope}");
    }
}

#[test]
fn malformed_files_are_errors_with_a_position_and_stay_untouched() {
    let cases = [
        (ClientKind::Codex, "a = 1\n[mcp_servers\n", 2, 13),
        (ClientKind::Codex, "a = 1\nmcp_servers = \"x\"\n", 2, 15),
        (
            ClientKind::ClaudeCode,
            "{\n  \"mcpServers\": {\n    \"a\": {},\n  }\n}\n",
            3,
            12,
        ),
        (
            ClientKind::ClaudeDesktop,
            "{\n  // note\n  \"mcpServers\": {}\n}\n",
            2,
            3,
        ),
        (
            ClientKind::Cursor,
            "{\n  \"mcpServers\": [\"é\"]\n}\n",
            2,
            17,
        ),
        (ClientKind::Cursor, "[]", 1, 1),
        (
            ClientKind::VsCode,
            "{\n  \"servers\": {\"a\": 1}\n  \"inputs\": []\n}\n",
            3,
            3,
        ),
        (ClientKind::VsCode, "{ \"servers\": {} } }", 1, 19),
    ];
    for (client, text, line, column) in cases {
        let (dir, path) = file("config", text);
        let err = install::plan(client, &path, &entry("x")).unwrap_err();
        let Error::Malformed {
            path: at,
            line: l,
            column: c,
            ..
        } = &err
        else {
            panic!("{client}: {err}");
        };
        assert_eq!((at, *l, *c), (&path, line, column), "{client}: {err}");
        let message = err.to_string();
        assert!(message.starts_with(&format!("{}:{line}:{column}: ", path.display())));
        assert!(message.contains("left as it is"), "{message}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert_eq!(names(dir.path()), ["config"]);
    }
}

#[test]
fn a_file_that_is_not_utf8_is_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".mcp.json");
    fs::write(&path, b"{\n  \"a\": \"\xff\"\n}").unwrap();
    let err = install::plan(ClientKind::ClaudeCode, &path, &entry("x")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Malformed {
                line: 2,
                column: 9,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn dry_run_writes_nothing_and_shows_the_change() {
    let (dir, path) = file("config.toml", CODEX_CONFIG);
    let plan = install::plan(ClientKind::Codex, &path, &entry("codex")).unwrap();
    assert!(plan.changed);
    let diff = install::diff(&plan);
    let p = path.display();
    assert_eq!(
        diff,
        format!(
            "--- {p}\n+++ {p}\n@@ -6,6 +6,10 @@\n \
             args = [ \"-y\",\"docs-mcp\" ]   # odd spacing stays\n \
             env = {{ \"API_KEY\" = \"not-a-real-key\" }}\n \n\
             +[mcp_servers.warrant]\n\
             +command = \"warrant\"\n\
             +args = [\"mcp\", \"--actor\", \"codex\"]\n\
             +\n \n # about the UI\n [tui]\n"
        )
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), CODEX_CONFIG);
    assert_eq!(names(dir.path()), ["config.toml"]);

    let fresh = dir.path().join("new/.mcp.json");
    let plan = install::plan(ClientKind::ClaudeCode, &fresh, &entry("claude")).unwrap();
    assert!(install::diff(&plan).starts_with(&format!(
        "--- /dev/null\n+++ {}\n@@ -0,0 +1,13 @@\n+{{\n",
        fresh.display()
    )));
    assert!(!dir.path().join("new").exists());
}

#[test]
fn backup_holds_the_old_file_owner_only() {
    let (_dir, path) = file(".mcp.json", CLAUDE_JSON);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let (_, backup) = install(ClientKind::ClaudeCode, &path, &entry("claude"));
    let backup = backup.unwrap();
    assert_eq!(backup, backup_of(&path));
    assert_eq!(fs::read_to_string(&backup).unwrap(), CLAUDE_JSON);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(mode(&path), 0o644, "the file keeps its mode");
}

#[test]
fn a_change_after_planning_is_not_overwritten() {
    let (_dir, path) = file(".mcp.json", "{}\n");
    let plan = install::plan(ClientKind::ClaudeCode, &path, &entry("claude")).unwrap();
    fs::write(&path, "{\"numStartups\": 2}\n").unwrap();
    let err = install::apply(&plan).unwrap_err();
    assert!(matches!(err, Error::Changed(_)), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "{\"numStartups\": 2}\n");
    assert!(!backup_of(&path).exists());
}

#[test]
fn a_symlinked_file_is_rewritten_through_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles/codex.toml");
    fs::create_dir(dir.path().join("dotfiles")).unwrap();
    fs::write(&real, "model = \"o3\"\n").unwrap();
    let link = dir.path().join("config.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (plan, _) = install(ClientKind::Codex, &link, &entry("codex"));
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&real).unwrap(), plan.after);
    assert_eq!(
        fs::read_to_string(backup_of(&link)).unwrap(),
        "model = \"o3\"\n"
    );
}

#[test]
fn an_empty_file_counts_as_absent() {
    let (_dir, path) = file("mcp.json", "\n");
    let (plan, _) = install(ClientKind::Cursor, &path, &entry("cursor"));
    assert!(plan.after.starts_with("{\n  \"mcpServers\": {\n"));
    let (_dir, path) = file("config.toml", "");
    let (plan, _) = install(ClientKind::Codex, &path, &entry("codex"));
    assert_eq!(plan.after, CODEX_TABLE);
}

#[test]
fn a_new_servers_object_goes_at_the_end_of_the_top_level() {
    let before = "{\n  \"globalShortcut\": \"Ctrl+Space\",\n  \"theme\": \"dark\" // mine\n}\n";
    let (_dir, path) = file(
        "claude_desktop_config.json",
        &before.replace(" // mine", ""),
    );
    let (plan, _) = install(ClientKind::ClaudeDesktop, &path, &entry("desktop"));
    assert_eq!(
        plan.after,
        "{\n  \"globalShortcut\": \"Ctrl+Space\",\n  \"theme\": \"dark\",\n  \"mcpServers\": {\n    \"warrant\": {\n      \"command\": \"warrant\",\n      \"args\": [\n        \"mcp\",\n        \"--actor\",\n        \"desktop\"\n      ]\n    }\n  }\n}\n"
    );
    // In JSONC the comment stays on its line, after the new comma.
    let (_dir, path) = file("mcp.json", &before.replace("theme", "servers-note"));
    let (plan, _) = install(ClientKind::VsCode, &path, &entry("copilot"));
    assert!(
        plan.after.contains("\"dark\", // mine\n  \"servers\": {\n"),
        "{}",
        plan.after
    );
    let (_dir, path) = file("mcp.json", "{}");
    let (plan, _) = install(ClientKind::Cursor, &path, &entry("cursor"));
    assert!(
        plan.after
            .starts_with("{\n  \"mcpServers\": {\n    \"warrant\": {\n")
    );
    assert!(plan.after.ends_with("\n  }\n}"));
}

#[test]
fn a_home_that_is_not_utf8_cannot_be_written() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let mut e = entry("x");
    e.home = Some(Path::new(std::ffi::OsStr::from_bytes(b"/h\xff")).into());
    let err = install::plan(ClientKind::Cursor, &dir.path().join("mcp.json"), &e).unwrap_err();
    assert!(matches!(err, Error::NotUtf8(_)), "{err}");
}

mod properties {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    const JSON_CLIENTS: [(ClientKind, &str); 4] = [
        (ClientKind::ClaudeCode, "mcpServers"),
        (ClientKind::ClaudeDesktop, "mcpServers"),
        (ClientKind::Cursor, "mcpServers"),
        (ClientKind::VsCode, "servers"),
    ];

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("mcpServers".to_owned()),
            Just("servers".to_owned()),
            Just("warrant".to_owned()),
            any::<String>(),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map(key(), json_value(), 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever the file holds, the result is that file plus warrant's
        /// entry (parsed, as the client would), and a second run is a no-op.
        #[test]
        fn json_result_is_the_file_plus_the_entry(
            doc in json_object(),
            pretty in any::<bool>(),
            client in 0..JSON_CLIENTS.len(),
        ) {
            let (client, servers_key) = JSON_CLIENTS[client];
            let text = if pretty {
                serde_json::to_string_pretty(&doc).unwrap()
            } else {
                serde_json::to_string(&doc).unwrap()
            };
            let (_dir, path) = file("config.json", &text);
            let result = install::plan(client, &path, &entry("p"));
            let servers = doc.get(servers_key);
            if servers.is_some_and(|s| !s.is_object()) {
                let malformed = matches!(result, Err(Error::Malformed { .. }));
                prop_assert!(malformed);
                return Ok(());
            }
            let plan = result.unwrap();
            // What serde_json reads from the text (its float parsing is not
            // exact), so that both sides went through the same parser.
            let mut want: Value = serde_json::from_str(&text).unwrap();
            let mut entry_json = json!({"command": "warrant", "args": ["mcp", "--actor", "p"]});
            if client == ClientKind::ClaudeCode || client == ClientKind::VsCode {
                entry_json["type"] = json!("stdio");
            }
            if !want.as_object().unwrap().contains_key(servers_key) {
                want[servers_key] = json!({});
            }
            want[servers_key]["warrant"] = entry_json;
            let got: Value = serde_json::from_str(&plan.after).unwrap();
            prop_assert_eq!(got, want);
            fs::write(&path, &plan.after).unwrap();
            prop_assert!(!install::plan(client, &path, &entry("p")).unwrap().changed);
        }

        /// Any text: a plan or a positioned error, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>(), client in 0..5usize) {
            let client = ClientKind::ALL[client];
            let (_dir, path) = file("config", &text);
            match install::plan(client, &path, &entry("p")) {
                Ok(plan) => {
                    fs::write(&path, &plan.after).unwrap();
                    let again = install::plan(client, &path, &entry("p")).unwrap();
                    prop_assert!(!again.changed);
                }
                Err(Error::Malformed { line, column, .. }) => {
                    prop_assert!(line >= 1 && line <= text.lines().count() + 1);
                    prop_assert!(column >= 1);
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
    }
}
