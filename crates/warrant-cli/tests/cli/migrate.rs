//! `warrant migrate` on real-shaped configuration files of every client
//! (`tests/fixtures/migrate/`), whose `@@NAME@@` placeholders become values
//! generated here and stored under `seed/NAME`, so that the scanner finds
//! them as store values. The rewritten entries are then run for real, with
//! a stand-in server that records the SHA-256 of what it receives.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::harness::{Home, fake_value, path_with_bin};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/migrate");

/// Stands in for every server command: hashes of its arguments and of the
/// variables named in `STANDIN_VARS`, never the values themselves.
const STANDIN: &str = r#"#!/bin/sh
hash() { printf %s "$1" | sha256sum | cut -c1-64; }
{
  for a in "$@"; do printf 'arg %s\n' "$(hash "$a")"; done
  for v in $STANDIN_VARS; do
    eval "val=\${$v-unset}"
    printf 'env %s %s\n' "$v" "$(hash "$val")"
  done
} > "$STANDIN_OUT"
"#;

/// The commands the fixtures start.
const COMMANDS: [&str; 4] = ["npx", "uvx", "docker", "ionoscloud-mcp"];

/// A client's file: fixture, where it goes (under the test's `user` or
/// `project` directory), and the servers (JSON paths) whose secrets move.
struct Client {
    fixture: &'static str,
    dest: &'static str,
    moved: &'static [&'static [&'static str]],
}

const CLIENTS: &[Client] = &[
    Client {
        fixture: "codex-config.toml",
        dest: "user/.codex/config.toml",
        moved: &[&["mcp_servers", "github"], &["mcp_servers", "sentry"]],
    },
    Client {
        fixture: "claude.json",
        dest: "user/.claude.json",
        moved: &[
            &["mcpServers", "github"],
            &["projects", "/home/me/src/app", "mcpServers", "postgres"],
        ],
    },
    Client {
        fixture: "mcp.json",
        dest: "project/.mcp.json",
        moved: &[&["mcpServers", "stripe"]],
    },
    Client {
        fixture: "claude_desktop_config.json",
        dest: "user/.config/Claude/claude_desktop_config.json",
        moved: &[&["mcpServers", "brave-search"]],
    },
    Client {
        fixture: "cursor-mcp.json",
        dest: "user/.cursor/mcp.json",
        moved: &[&["mcpServers", "github"]],
    },
    Client {
        fixture: "vscode-mcp.json",
        dest: "project/.vscode/mcp.json",
        moved: &[&["servers", "fetch"]],
    },
    Client {
        fixture: "windsurf-mcp_config.json",
        dest: "user/.codeium/windsurf/mcp_config.json",
        moved: &[&["mcpServers", "tomtom-mcp"]],
    },
    Client {
        fixture: "gemini-settings.json",
        dest: "user/.gemini/settings.json",
        moved: &[&["mcpServers", "zep"]],
    },
    Client {
        fixture: "zed-settings.json",
        dest: "user/.config/zed/settings.json",
        moved: &[&["context_servers", "postgres"]],
    },
    Client {
        fixture: "kiro-mcp.json",
        dest: "project/.kiro/settings/mcp.json",
        moved: &[&["mcpServers", "ionoscloud"]],
    },
];

/// A warrant home, a user's home (`HOME`), a project (the working
/// directory), stand-in servers, and the generated values by placeholder.
struct World {
    home: Home,
    values: BTreeMap<String, String>,
}

impl World {
    fn new() -> World {
        let home = Home::new();
        let shims = home.scratch().join("shims");
        std::fs::create_dir_all(&shims).unwrap();
        for command in COMMANDS {
            let path = shims.join(command);
            std::fs::write(&path, STANDIN).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for dir in ["user", "project"] {
            std::fs::create_dir_all(home.scratch().join(dir)).unwrap();
        }
        World {
            home,
            values: BTreeMap::new(),
        }
    }

    fn path(&self, dest: &str) -> PathBuf {
        self.home.scratch().join(dest)
    }

    /// The fixture with every placeholder replaced (values made and stored
    /// on first use), written to `dest`; returns its text.
    fn place(&mut self, fixture: &str, dest: &str) -> String {
        let template = std::fs::read_to_string(Path::new(FIXTURES).join(fixture)).unwrap();
        let text = self.fill(&template);
        let path = self.path(dest);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        text
    }

    fn fill(&mut self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("@@") {
            let len = rest[start + 2..].find("@@").expect("closed placeholder");
            let name = &rest[start + 2..start + 2 + len];
            out.push_str(&rest[..start]);
            out.push_str(&self.value(name));
            rest = &rest[start + 4 + len..];
        }
        out.push_str(rest);
        out
    }

    fn value(&mut self, name: &str) -> String {
        if let Some(v) = self.values.get(name) {
            return v.clone();
        }
        let value = fake_value(&name.to_lowercase());
        self.home
            .set(&format!("seed/{}", name.to_lowercase()), &value);
        self.values.insert(name.to_owned(), value.clone());
        value
    }

    /// `text` with every value turned back into its placeholder and the
    /// warrant home into `@@WARRANT_HOME@@`.
    fn normalize(&self, text: &str) -> String {
        let mut out = text.replace(self.home.path().to_str().unwrap(), "@@WARRANT_HOME@@");
        for (name, value) in &self.values {
            out = out.replace(value.as_str(), &format!("@@{name}@@"));
        }
        out
    }

    /// `warrant migrate ARGS` as the user, from the project.
    fn migrate(&self, args: &[&str]) -> Output {
        let mut cmd = self.home.std_cmd();
        cmd.arg("migrate")
            .args(args)
            .env("HOME", self.path("user"))
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("CODEX_HOME")
            .env_remove("CLAUDE_CONFIG_DIR")
            .current_dir(self.path("project"))
            .stdin(Stdio::null());
        cmd.output().unwrap()
    }

    /// Starts `entry` as its client would (command, args, env on top of
    /// ours) and returns what the stand-in recorded about the variables
    /// `vars`.
    fn start(&self, entry: &Value, vars: &[String]) -> String {
        let out = self.home.scratch().join("standin.out");
        let _ = std::fs::remove_file(&out);
        let mut path = std::ffi::OsString::from(self.home.scratch().join("shims"));
        path.push(":");
        path.push(path_with_bin());
        let mut cmd = Command::new(entry["command"].as_str().unwrap());
        cmd.args(strings(&entry["args"]))
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.path("user"))
            .env("STANDIN_OUT", &out)
            .env("STANDIN_VARS", vars.join(" "))
            .current_dir(self.path("project"))
            .stdin(Stdio::null());
        for (k, v) in entry["env"].as_object().into_iter().flatten() {
            cmd.env(k, v.as_str().unwrap());
        }
        let done = cmd.output().unwrap();
        assert!(
            done.status.success(),
            "{entry}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        std::fs::read_to_string(&out).expect("the stand-in ran")
    }
}

fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn sha256(value: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// What the stand-in should record when it gets `entry`'s original
/// arguments and environment.
fn expected(entry: &Value) -> (String, Vec<String>) {
    let mut lines = String::new();
    for arg in strings(&entry["args"]) {
        lines.push_str(&format!("arg {}\n", sha256(&arg)));
    }
    let mut vars = Vec::new();
    for (k, v) in entry["env"].as_object().into_iter().flatten() {
        lines.push_str(&format!("env {k} {}\n", sha256(v.as_str().unwrap())));
        vars.push(k.clone());
    }
    (lines, vars)
}

/// The file as JSON: comments and trailing commas dropped, TOML converted.
fn parse(path: &str, text: &str) -> Value {
    if path.ends_with(".toml") {
        let table: toml::Table = toml::from_str(text).unwrap();
        return serde_json::to_value(table).unwrap();
    }
    serde_json::from_str(&strip_jsonc(text)).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"))
}

fn strip_jsonc(text: &str) -> String {
    let (mut out, mut chars) = (String::new(), text.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '\\' {
                        out.push(chars.next().unwrap());
                    } else if c == '"' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => while chars.next_if(|c| *c != '\n').is_some() {},
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                while !(chars.next() == Some('*') && chars.peek() == Some(&'/')) {}
                chars.next();
            }
            _ => out.push(c),
        }
    }
    // Trailing commas: `,` followed by blanks and a closing bracket.
    let mut cleaned = String::new();
    for (i, c) in out.char_indices() {
        if c == ',' && matches!(out[i + 1..].trim_start().chars().next(), Some('}' | ']')) {
            continue;
        }
        cleaned.push(c);
    }
    cleaned
}

fn at<'v>(value: &'v Value, path: &[&str]) -> &'v Value {
    path.iter().fold(value, |v, key| &v[*key])
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn secret_names(home: &Home) -> String {
    let out = home.cmd().args(["secret", "ls"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_clients_file_round_trips() {
    let mut world = World::new();
    let before: Vec<String> = CLIENTS
        .iter()
        .map(|c| world.place(c.fixture, c.dest))
        .collect();
    let names_before = secret_names(&world.home);

    // A dry run shows every change, masked, and changes nothing.
    let dry = world.migrate(&["--mcp", "--dry-run"]);
    let shown = stdout(&dry);
    assert_eq!(dry.status.code(), Some(1), "{shown}");
    for value in world.values.values() {
        assert!(
            !shown.contains(value.as_str()),
            "a value in the dry run:\n{shown}"
        );
    }
    assert!(
        shown.contains("+      \"command\": \"warrant\","),
        "{shown}"
    );
    assert!(shown.contains("Dry run"), "{shown}");
    for (client, text) in CLIENTS.iter().zip(&before) {
        assert_eq!(
            &std::fs::read_to_string(world.path(client.dest)).unwrap(),
            text
        );
    }
    assert_eq!(secret_names(&world.home), names_before);

    // The migration: 1, since remote servers' headers stay.
    let run = world.migrate(&["--mcp"]);
    let said = stdout(&run);
    assert_eq!(run.status.code(), Some(1), "{said}");
    for value in world.values.values() {
        assert!(
            !said.contains(value.as_str()),
            "a value in the output:\n{said}"
        );
    }
    assert!(
        said.contains("left in place: apideck headers.x-apideck-api-key"),
        "{said}"
    );
    let mut afters = Vec::new();
    for (client, old) in CLIENTS.iter().zip(&before) {
        let path = world.path(client.dest);
        let after = std::fs::read_to_string(&path).unwrap();
        let golden = Path::new(FIXTURES).join("migrated").join(client.fixture);
        let normalized = world.normalize(&after);
        assert_eq!(
            normalized,
            std::fs::read_to_string(&golden).unwrap_or_default(),
            "{} differs from {}",
            client.dest,
            golden.display()
        );
        // The backup: the old file, 0600.
        let backup = PathBuf::from(format!("{}.warrant-backup", path.display()));
        assert_eq!(&std::fs::read_to_string(&backup).unwrap(), old);
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", backup.display());

        // Each migrated server starts through warrant and gets what it had.
        let (old_json, new_json) = (parse(client.dest, old), parse(client.dest, &after));
        for server in client.moved {
            let entry = at(&new_json, server);
            assert_eq!(entry["command"], "warrant", "{}: {server:?}", client.dest);
            assert_eq!(
                entry["env"]["WARRANT_HOME"].as_str(),
                world.home.path().to_str()
            );
            let original = at(&old_json, server);
            let (want, vars) = expected(original);
            assert_eq!(
                world.start(entry, &vars),
                want,
                "{}: {server:?}",
                client.dest
            );
        }
        afters.push(after);
    }
    let names = secret_names(&world.home);
    assert!(
        names.contains("mcp/github/github-personal-access-token"),
        "{names}"
    );
    assert!(names.contains("mcp/postgres/url"), "{names}");
    assert!(
        names.contains("mcp/postgres/url-2"),
        "zed's other database: {names}"
    );
    assert!(names.contains("mcp/stripe/api-key"), "{names}");
    assert!(
        !names.contains("github-personal-access-token-2"),
        "one GitHub token, one name: {names}"
    );

    let audit = world.home.audit_text();
    assert!(audit.contains("\"event\":\"secrets_imported\""), "{audit}");
    for value in world.values.values() {
        assert!(!audit.contains(value.as_str()));
    }

    // Again: nothing changes, and it says so.
    let again = world.migrate(&["--mcp"]);
    let said = stdout(&again);
    assert_eq!(again.status.code(), Some(1), "{said}");
    assert!(said.contains("Nothing to migrate"), "{said}");
    for (client, after) in CLIENTS.iter().zip(&afters) {
        assert_eq!(
            &std::fs::read_to_string(world.path(client.dest)).unwrap(),
            after
        );
    }
    assert_eq!(secret_names(&world.home), names);
}

/// Writes `text` (placeholders filled) to `project/NAME`; returns its path.
fn named_file(world: &mut World, name: &str, text: &str) -> PathBuf {
    let text = world.fill(text);
    let path = world.path("project").join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn secrets_in_args_reach_the_server_byte_for_byte() {
    let mut world = World::new();
    let template = r#"{"mcpServers": {"tricky": {"command": "npx", "args": [
        "--name", "it's \"quoted\" & spaced $HOME `x`", "--api-key=@@API_KEY@@",
        "--token", "@@TOKEN@@", "-e", "KEY=@@KEY@@", "postgres://u:@@PW@@@h/db", "",
        "a", "b", "c", "d"]}}}"#;
    let file = named_file(&mut world, "servers.json", template);
    let old = std::fs::read_to_string(&file).unwrap();
    let out = world.migrate(&["--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let moved = &report["files"][0]["servers"][0]["secrets"];
    let fields: Vec<_> = moved
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["field"].as_str().unwrap(), m["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("args[2]", "mcp/tricky/api-key"),
            ("args[4]", "mcp/tricky/token"),
            ("args[6]", "mcp/tricky/key"),
            ("args[7]", "mcp/tricky/url"),
        ]
    );
    assert!(
        moved
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["in_argv"] == true && m["rule"] == "store-value")
    );
    assert_eq!(report["files"][0]["written"], true);

    let after = std::fs::read_to_string(&file).unwrap();
    for value in world.values.values() {
        assert!(!after.contains(value.as_str()), "{after}");
    }
    let (old, new) = (parse("f.json", &old), parse("f.json", &after));
    let entry = &new["mcpServers"]["tricky"];
    let (want, vars) = expected(&old["mcpServers"]["tricky"]);
    assert_eq!(world.start(entry, &vars), want);
}

#[test]
fn a_name_holding_another_value_is_not_overwritten() {
    let mut world = World::new();
    let other = fake_value("other");
    world.home.set("mcp/svc/token", &other);
    let template = r#"{"mcpServers": {
  "svc": {"command": "npx", "env": {"TOKEN": "@@MINE@@"}},
  "twin": {"command": "npx", "env": {"TOKEN": "@@MINE@@"}}
}}"#;
    let file = named_file(&mut world, "a.json", template);
    // The same value as the one already named mcp/svc/token: reused.
    let reuse = named_file(
        &mut world,
        "b.json",
        &format!(
            r#"{{"mcpServers": {{"svc": {{"command": "npx", "env": {{"TOKEN": "{other}"}}}}}}}}"#
        ),
    );
    let out = world.migrate(&[file.to_str().unwrap(), reuse.to_str().unwrap()]);
    let said = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let a = std::fs::read_to_string(&file).unwrap();
    assert!(a.contains("TOKEN=warrant://mcp/svc/token-2"), "{a}");
    assert!(a.contains("TOKEN=warrant://mcp/twin/token"), "{a}");
    let b = std::fs::read_to_string(&reuse).unwrap();
    assert!(b.contains("TOKEN=warrant://mcp/svc/token\""), "{b}");
    assert!(said.contains("already in the store"), "{said}");
    assert!(!said.contains(&other));
    // mcp/svc/token still holds its own value.
    let entry = serde_json::json!({"command": "warrant", "args": [
        "run", "--env", "TOKEN=warrant://mcp/svc/token", "--", "npx"], "env": {"WARRANT_HOME": world.home.path()}});
    let want = format!("env TOKEN {}\n", sha256(&other));
    assert_eq!(world.start(&entry, &["TOKEN".to_owned()]), want);
}

#[test]
fn an_entry_already_under_warrant_gets_another_env() {
    let mut world = World::new();
    let template = r#"{
  "mcpServers": {
    "svc": {
      "command": "npx",
      "args": ["svc"],
      "env": {"FIRST": "@@FIRST@@"}
    }
  }
}
"#;
    let file = named_file(&mut world, "mcp.json", template);
    assert!(world.migrate(&[file.to_str().unwrap()]).status.success());
    // The user pastes another secret into the migrated entry.
    let second = world.value("SECOND");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "\"env\": {\n",
        &format!("\"env\": {{\n        \"SECOND\": \"{second}\",\n"),
    );
    std::fs::write(&file, &text).unwrap();
    let out = world.migrate(&[file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    let after = parse("f.json", &std::fs::read_to_string(&file).unwrap());
    let entry = &after["mcpServers"]["svc"];
    assert_eq!(
        strings(&entry["args"]),
        [
            "run",
            "--env",
            "FIRST=warrant://mcp/svc/first",
            "--env",
            "SECOND=warrant://mcp/svc/second",
            "--",
            "npx",
            "svc"
        ]
    );
    let vars = ["FIRST".to_owned(), "SECOND".to_owned()];
    let want = format!(
        "arg {}\nenv FIRST {}\nenv SECOND {}\n",
        sha256("svc"),
        sha256(&world.values["FIRST"]),
        sha256(&second)
    );
    assert_eq!(world.start(entry, &vars), want);
}

#[test]
fn exit_status_tells_done_left_and_failed_apart() {
    let mut world = World::new();
    // Nothing anywhere: 0.
    let out = world.migrate(&["--mcp"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("No MCP configuration file found"));
    let clean = named_file(
        &mut world,
        "clean.json",
        r#"{"mcpServers": {"a": {"command": "a"}}}"#,
    );
    let out = world.migrate(&[clean.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Nothing to migrate"));

    // A remote server's header: 1, and the file is left as it was.
    let remote = named_file(
        &mut world,
        "remote.json",
        r#"{"mcpServers": {"r": {"url": "https://x.test/mcp", "headers": {"Authorization": "Bearer @@R@@"}}}}"#,
    );
    let before = std::fs::read_to_string(&remote).unwrap();
    let out = world.migrate(&["--json", remote.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let left = &report["files"][0]["not_migrated"][0];
    assert_eq!(left["field"], "headers.Authorization");
    assert!(left["reason"].as_str().unwrap().contains("remote server"));
    assert!(left["hint"].as_str().unwrap().contains("${env:VAR}"));
    assert_eq!(std::fs::read_to_string(&remote).unwrap(), before);
    assert!(!stdout(&out).contains(&world.values["R"]));

    // A broken file and a missing one: 2, and the good file still moves.
    let broken = named_file(&mut world, "broken.json", r#"{"mcpServers": {"#);
    let good = named_file(
        &mut world,
        "good.json",
        r#"{"mcpServers": {"g": {"command": "npx", "env": {"K": "@@G@@"}}}}"#,
    );
    let missing = world.path("project").join("missing.json");
    let out = world.migrate(&[
        broken.to_str().unwrap(),
        good.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    let said = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("broken.json:1:"), "{said}");
    assert!(said.contains("no such file"), "{said}");
    assert!(
        std::fs::read_to_string(&good)
            .unwrap()
            .contains("K=warrant://mcp/g/k")
    );
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        r#"{"mcpServers": {"#
    );
}

#[test]
fn a_credential_format_is_found_without_the_store() {
    let mut world = World::new();
    let seed = crate::harness::random_below(u64::MAX);
    let token = warrant_scan::fixtures::Generator::new(seed)
        .token("github-pat")
        .expect("the github-pat rule");
    let file = named_file(
        &mut world,
        "mcp.json",
        &format!(
            r#"{{"mcpServers": {{"github": {{"command": "npx", "env": {{"GITHUB_TOKEN": "{token}"}}}}}}}}"#
        ),
    );
    let out = world.migrate(&["--json", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(!stdout(&out).contains(&token));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let moved = &report["files"][0]["servers"][0]["secrets"][0];
    assert_eq!(moved["rule"], "github-pat");
    assert_eq!(moved["name"], "mcp/github/github-token");
    assert_eq!(moved["stored"], true);
    let after = parse("f.json", &std::fs::read_to_string(&file).unwrap());
    let want = format!("env GITHUB_TOKEN {}\n", sha256(&token));
    let entry = &after["mcpServers"]["github"];
    assert_eq!(world.start(entry, &["GITHUB_TOKEN".to_owned()]), want);
}
