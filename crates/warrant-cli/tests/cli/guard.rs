//! `warrant guard` fed the payloads each client's hooks send (the samples
//! in `tests/fixtures/hooks`, from the clients' documentation), with a
//! secret put into the field that carries text: it must block in that
//! client's terms, pass the sample as it is, and never repeat the secret.

use std::path::PathBuf;
use std::process::Output;

use base64::Engine as _;
use serde_json::Value;

use crate::harness::{Home, contains, fake_value};

/// How a client reads a blocking answer.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Exit 2, the reason on stderr (Claude Code, Codex, Gemini, Windsurf).
    Exit2,
    /// Cursor's prompt answer: `continue: false`.
    CursorContinue,
    /// Cursor's tool answer: `permission: "deny"`.
    CursorDeny,
    /// Cline: `cancel: true`.
    ClineCancel,
}

/// Every sample, the JSON pointer of its text field, and how it blocks.
const CASES: &[(&str, &str, &str, Shape)] = &[
    ("claude-code", "UserPromptSubmit", "/prompt", Shape::Exit2),
    (
        "claude-code",
        "PreToolUse",
        "/tool_input/command",
        Shape::Exit2,
    ),
    ("codex", "UserPromptSubmit", "/prompt", Shape::Exit2),
    ("codex", "PreToolUse", "/tool_input/command", Shape::Exit2),
    (
        "cursor",
        "beforeSubmitPrompt",
        "/prompt",
        Shape::CursorContinue,
    ),
    (
        "cursor",
        "beforeShellExecution",
        "/command",
        Shape::CursorDeny,
    ),
    (
        "cursor",
        "beforeMCPExecution",
        "/tool_input",
        Shape::CursorDeny,
    ),
    ("cursor", "beforeReadFile", "/content", Shape::CursorDeny),
    (
        "cursor",
        "preToolUse",
        "/tool_input/command",
        Shape::CursorDeny,
    ),
    ("gemini", "BeforeAgent", "/prompt", Shape::Exit2),
    ("gemini", "BeforeTool", "/tool_input/content", Shape::Exit2),
    (
        "windsurf",
        "pre_user_prompt",
        "/tool_info/user_prompt",
        Shape::Exit2,
    ),
    (
        "windsurf",
        "pre_run_command",
        "/tool_info/command_line",
        Shape::Exit2,
    ),
    (
        "windsurf",
        "pre_mcp_tool_use",
        "/tool_info/mcp_tool_arguments/title",
        Shape::Exit2,
    ),
    (
        "windsurf",
        "pre_write_code",
        "/tool_info/edits/0/new_string",
        Shape::Exit2,
    ),
    (
        "cline",
        "UserPromptSubmit",
        "/userPromptSubmit/prompt",
        Shape::ClineCancel,
    ),
    (
        "cline",
        "PreToolUse",
        "/preToolUse/parameters/content",
        Shape::ClineCancel,
    ),
];

fn fixture(client: &str, event: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hooks")
        .join(client)
        .join(format!("{event}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The sample with `text` at `pointer` (Cursor's MCP arguments are a JSON
/// string, so the text goes inside one).
fn filled(client: &str, event: &str, pointer: &str, text: &str) -> Value {
    let mut payload = fixture(client, event);
    let slot = payload
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{client}/{event}: no {pointer}"));
    *slot = if event == "beforeMCPExecution" {
        Value::String(serde_json::json!({ "query": text }).to_string())
    } else {
        Value::String(text.to_owned())
    };
    payload
}

fn guard(home: &Home, payload: &[u8], args: &[&str]) -> Output {
    home.cmd()
        .arg("guard")
        .args(args)
        .write_stdin(payload.to_vec())
        .output()
        .unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Whether `out` is `shape`'s refusal; returns the message it carries.
fn blocked(shape: Shape, out: &Output) -> Option<String> {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match shape {
        Shape::Exit2 => (out.status.code() == Some(2) && out.stdout.is_empty()).then_some(stderr),
        Shape::CursorContinue => {
            let v = stdout_json(out);
            (out.status.code() == Some(0) && v["continue"] == false)
                .then(|| v["user_message"].as_str().unwrap_or("").to_owned())
        }
        Shape::CursorDeny => {
            let v = stdout_json(out);
            let message = v["agent_message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or(stderr);
            (out.status.code() == Some(0) && v["permission"] == "deny").then_some(message)
        }
        Shape::ClineCancel => {
            let v = stdout_json(out);
            (out.status.code() == Some(0) && v["cancel"] == true)
                .then(|| v["errorMessage"].as_str().unwrap_or("").to_owned())
        }
    }
}

/// Whether `out` lets the event through without a word.
fn passed(shape: Shape, out: &Output) -> bool {
    if out.status.code() != Some(0) || !out.stderr.is_empty() {
        return false;
    }
    match shape {
        Shape::Exit2 => out.stdout.is_empty(),
        Shape::CursorContinue => stdout_json(out) == serde_json::json!({ "continue": true }),
        // Never `allow`: that would skip Cursor's own approval.
        Shape::CursorDeny => stdout_json(out) == serde_json::json!({}),
        Shape::ClineCancel => stdout_json(out) == serde_json::json!({ "cancel": false }),
    }
}

#[test]
fn every_client_sample_passes_as_documented() {
    let home = Home::new();
    home.set("db/url", &fake_value("db"));
    for (client, event, _, shape) in CASES {
        let payload = serde_json::to_vec(&fixture(client, event)).unwrap();
        let out = guard(&home, &payload, &[]);
        assert!(passed(*shape, &out), "{client}/{event}: {out:?}");
        let forced = guard(&home, &payload, &["--client", client]);
        assert!(
            passed(*shape, &forced),
            "{client}/{event} forced: {forced:?}"
        );
    }
}

#[test]
fn a_store_value_raw_or_base64_is_blocked_and_never_repeated() {
    let home = Home::new();
    let value = fake_value("db");
    home.set("db/url", &value);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&value);
    for (client, event, pointer, shape) in CASES {
        for (form, text) in [
            ("raw", format!("use {value} for the tests")),
            ("base64", format!("the header is Basic {b64} ok")),
        ] {
            let payload = serde_json::to_vec(&filled(client, event, pointer, &text)).unwrap();
            let out = guard(&home, &payload, &[]);
            let message = blocked(*shape, &out)
                .unwrap_or_else(|| panic!("{client}/{event} {form}: not blocked: {out:?}"));
            assert!(
                message.contains("warrant://db/url"),
                "{client}/{event}: {message}"
            );
            for bytes in [&out.stdout, &out.stderr] {
                assert!(
                    !contains(bytes, value.as_bytes()) && !contains(bytes, b64.as_bytes()),
                    "{client}/{event} {form}: the secret was repeated"
                );
            }
        }
    }
    // Each block is recorded, by reference, never by value.
    let audit = home.audit_text();
    let blocks: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "guard_blocked")
        .collect();
    assert_eq!(blocks.len(), CASES.len() * 2);
    assert!(
        blocks
            .iter()
            .all(|b| b["found"] == serde_json::json!(["warrant://db/url"]))
    );
    assert!(!audit.contains(&value) && !audit.contains(&b64));
}

#[test]
fn a_generated_github_token_is_blocked_by_rule_with_a_masked_excerpt() {
    let home = Home::new();
    let token = warrant_scan::fixtures::Generator::new(0x9a7d)
        .token("github-pat")
        .expect("the github-pat rule");
    for (client, event, pointer, shape) in CASES {
        let text = format!("push with {token} please");
        let payload = serde_json::to_vec(&filled(client, event, pointer, &text)).unwrap();
        let out = guard(&home, &payload, &[]);
        let message = blocked(*shape, &out)
            .unwrap_or_else(|| panic!("{client}/{event}: not blocked: {out:?}"));
        assert!(
            message.contains("GitHub") && message.contains("ghp_"),
            "{message}"
        );
        assert!(message.contains("warrant secret set NAME"), "{message}");
        for bytes in [&out.stdout, &out.stderr] {
            assert!(
                !contains(bytes, token.as_bytes()),
                "{client}/{event}: token repeated"
            );
        }
    }
}

#[test]
fn the_message_says_how_to_store_and_reference_a_secret() {
    let home = Home::new();
    let value = fake_value("api");
    home.set("api/token", &value);
    let payload = filled(
        "claude-code",
        "PreToolUse",
        "/tool_input/command",
        &format!("curl -H 'X-Key: {value}' x"),
    );
    let out = guard(&home, &serde_json::to_vec(&payload).unwrap(), &[]);
    let message = blocked(Shape::Exit2, &out).unwrap();
    assert!(message.contains("blocked this Bash call"), "{message}");
    assert!(message.contains("tool_input.command"), "{message}");
    assert!(message.contains("warrant://api/token"), "{message}");
    assert!(
        message.contains("warrant run --env VAR=warrant://api/token -- COMMAND"),
        "{message}"
    );
}

#[test]
fn an_allow_marker_or_a_clean_prompt_passes() {
    let home = Home::new();
    let value = fake_value("db");
    home.set("db/url", &value);
    for text in [
        format!("this one is known: {value} # warrant:allow"),
        "refer to warrant://db/url instead".to_owned(),
    ] {
        let payload = filled("claude-code", "UserPromptSubmit", "/prompt", &text);
        let out = guard(&home, &serde_json::to_vec(&payload).unwrap(), &[]);
        assert!(passed(Shape::Exit2, &out), "{out:?}");
    }
}

#[test]
fn the_text_an_edit_replaces_is_not_checked() {
    // Replacing a hard-coded value with its reference must stay possible.
    let home = Home::new();
    let value = fake_value("db");
    home.set("db/url", &value);
    let payload = serde_json::json!({
        "session_id": "s", "cwd": "/p", "hook_event_name": "PreToolUse", "tool_name": "Edit",
        "tool_input": {"file_path": "/p/app.py", "old_string": format!("URL = '{value}'"),
                       "new_string": "URL = os.environ['DB_URL']"},
    });
    let out = guard(&home, &serde_json::to_vec(&payload).unwrap(), &[]);
    assert!(passed(Shape::Exit2, &out), "{out:?}");
}

#[test]
fn unguarded_and_unknown_events_pass_silently() {
    let home = Home::new();
    let value = fake_value("db");
    home.set("db/url", &value);
    let mut stop = fixture("claude-code", "Stop");
    stop["last_assistant_message"] = Value::String(value.clone());
    let unknown =
        serde_json::json!({"toolName": "bash", "toolArgs": format!("{{\"command\":\"{value}\"}}")});
    for payload in [stop, unknown] {
        let out = guard(&home, &serde_json::to_vec(&payload).unwrap(), &[]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    }
}

#[test]
fn malformed_input_is_reported_and_let_through_unless_fail_closed() {
    let home = Home::new();
    let out = guard(&home, b"{\"prompt\": ", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a JSON object") && stderr.contains("--fail-closed"),
        "{stderr}"
    );
    let out = guard(&home, b"not json", &["--fail-closed"]);
    assert_eq!(out.status.code(), Some(2));
    // Cline blocks on any non-zero status: it gets `cancel: false`, exit 0.
    let out = guard(&home, b"", &["--client", "cline"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_json(&out), serde_json::json!({ "cancel": false }));
    let out = guard(&home, b"{}", &["--client", "vim"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown agent client"));
}

#[test]
fn without_a_readable_store_the_rules_still_apply() {
    // A home with no store at all (an agent inside `warrant task` cannot
    // read it): the guard checks formats only, and never prompts.
    let home = Home::empty();
    let payload = serde_json::to_vec(&fixture("gemini", "BeforeAgent")).unwrap();
    let out = guard(&home, &payload, &[]);
    assert!(passed(Shape::Exit2, &out), "{out:?}");
}
