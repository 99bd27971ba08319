//! Reading a hook payload: which client sent it, what it is about, and the
//! strings in it worth checking.

use serde_json::{Map, Value};

use super::{Client, Error, Parsed, Piece, Subject};

/// Keys whose strings are not checked: the text an edit replaces is
/// already in the file, and refusing it would stop an agent from removing
/// a hard-coded secret (replacing it with a reference).
const SKIPPED_KEYS: [&str; 3] = ["old_string", "old_str", "oldText"];

/// Reads a hook payload. `client` forces the client instead of telling it
/// from the payload's shape.
///
/// `Ok(None)`: valid JSON from no client warrant knows (let it through).
/// An event warrant does not guard comes back as [`Subject::Other`] with
/// no pieces.
pub fn parse(input: &[u8], client: Option<Client>) -> Result<Option<Parsed>, Error> {
    let value: Value = serde_json::from_slice(input).map_err(|e| Error::Payload(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(Error::Payload("the top level is not an object".into()));
    };
    let Some(client) = client.or_else(|| detect(&map)) else {
        return Ok(None);
    };
    let event = event_name(client, &map).unwrap_or_default().to_owned();
    let mut pieces = Vec::new();
    let subject = match client {
        Client::ClaudeCode | Client::Codex => claude(&event, &map, &mut pieces),
        Client::Cursor => cursor(&event, &map, &mut pieces),
        Client::Gemini => gemini(&event, &map, &mut pieces),
        Client::Windsurf => windsurf(&event, &map, &mut pieces),
        Client::Cline => cline(&event, &map, &mut pieces),
    };
    if subject == Subject::Other {
        pieces.clear();
    }
    Ok(Some(Parsed {
        client,
        event,
        subject,
        pieces,
    }))
}

/// The client, from the payload's shape. Each family names its events in
/// its own case (`UserPromptSubmit`, `beforeSubmitPrompt`, `BeforeAgent`,
/// `pre_user_prompt`), so the event name decides; Codex adds `turn_id` to
/// Claude Code's format.
fn detect(map: &Map<String, Value>) -> Option<Client> {
    if map.contains_key("agent_action_name") {
        return Some(Client::Windsurf);
    }
    if map.contains_key("hookName") && map.contains_key("clineVersion") {
        return Some(Client::Cline);
    }
    let event = map.get("hook_event_name")?.as_str()?;
    let first = event.chars().next()?;
    if matches!(
        event,
        "BeforeAgent" | "BeforeTool" | "AfterAgent" | "AfterTool"
    ) || event.starts_with("BeforeModel")
        || event == "AfterModel"
        || event == "PreCompress"
    {
        return Some(Client::Gemini);
    }
    if first.is_ascii_lowercase() {
        // Cursor's events are camelCase; Copilot's `preToolUse` has no
        // `tool_input`/`conversation_id` and is not understood.
        let cursorish = map.contains_key("conversation_id")
            || map.contains_key("cursor_version")
            || map.contains_key("workspace_roots")
            || map.contains_key("tool_input")
            || map.contains_key("command")
            || map.contains_key("prompt")
            || map.contains_key("content");
        return cursorish.then_some(Client::Cursor);
    }
    if map.contains_key("turn_id") {
        return Some(Client::Codex);
    }
    Some(Client::ClaudeCode)
}

fn event_name(client: Client, map: &Map<String, Value>) -> Option<&str> {
    let key = match client {
        Client::Windsurf => "agent_action_name",
        Client::Cline => "hookName",
        _ => "hook_event_name",
    };
    map.get(key)?.as_str()
}

fn claude(event: &str, map: &Map<String, Value>, out: &mut Vec<Piece>) -> Subject {
    match event {
        "UserPromptSubmit" => prompt(map.get("prompt"), out),
        "PreToolUse" => tool(map, "tool_name", "tool_input", out),
        _ => Subject::Other,
    }
}

fn cursor(event: &str, map: &Map<String, Value>, out: &mut Vec<Piece>) -> Subject {
    match event {
        "beforeSubmitPrompt" => prompt(map.get("prompt"), out),
        "beforeShellExecution" => {
            strings("command", map.get("command"), out);
            Subject::Tool("shell".into())
        }
        "beforeMCPExecution" | "preToolUse" => tool(map, "tool_name", "tool_input", out),
        "beforeReadFile" | "beforeTabFileRead" => {
            let path = map.get("file_path").and_then(Value::as_str).unwrap_or("");
            if let Some(Value::String(content)) = map.get("content") {
                out.push(Piece::new(format!("the file {path}"), content));
            }
            Subject::File(path.to_owned())
        }
        _ => Subject::Other,
    }
}

fn gemini(event: &str, map: &Map<String, Value>, out: &mut Vec<Piece>) -> Subject {
    match event {
        "BeforeAgent" => prompt(map.get("prompt"), out),
        "BeforeTool" => tool(map, "tool_name", "tool_input", out),
        _ => Subject::Other,
    }
}

fn windsurf(event: &str, map: &Map<String, Value>, out: &mut Vec<Piece>) -> Subject {
    let info = map.get("tool_info").and_then(Value::as_object);
    let field = |key: &str| info.and_then(|i| i.get(key));
    match event {
        "pre_user_prompt" => prompt(field("user_prompt"), out),
        "pre_run_command" => {
            strings("tool_info.command_line", field("command_line"), out);
            Subject::Tool("command".into())
        }
        "pre_mcp_tool_use" => {
            strings(
                "tool_info.mcp_tool_arguments",
                field("mcp_tool_arguments"),
                out,
            );
            let server = field("mcp_server_name").and_then(Value::as_str);
            let name = field("mcp_tool_name").and_then(Value::as_str);
            Subject::Tool(format!(
                "{}/{}",
                server.unwrap_or("mcp"),
                name.unwrap_or("?")
            ))
        }
        "pre_write_code" => {
            strings("tool_info.edits", field("edits"), out);
            strings("tool_info.content", field("content"), out);
            Subject::Tool("write".into())
        }
        _ => Subject::Other,
    }
}

fn cline(event: &str, map: &Map<String, Value>, out: &mut Vec<Piece>) -> Subject {
    match event {
        "UserPromptSubmit" => {
            let body = map.get("userPromptSubmit").and_then(Value::as_object);
            prompt(body.and_then(|b| b.get("prompt")), out)
        }
        "PreToolUse" => match map.get("preToolUse").and_then(Value::as_object) {
            Some(body) => {
                strings("parameters", body.get("parameters"), out);
                let name = body.get("toolName").and_then(Value::as_str);
                Subject::Tool(name.unwrap_or("tool").to_owned())
            }
            None => Subject::Tool("tool".into()),
        },
        _ => Subject::Other,
    }
}

fn prompt(value: Option<&Value>, out: &mut Vec<Piece>) -> Subject {
    if let Some(Value::String(text)) = value {
        out.push(Piece::new("the prompt", text));
    }
    Subject::Prompt
}

fn tool(map: &Map<String, Value>, name: &str, input: &str, out: &mut Vec<Piece>) -> Subject {
    strings(input, map.get(input), out);
    let name = map.get(name).and_then(Value::as_str).unwrap_or("tool");
    Subject::Tool(name.to_owned())
}

/// Every string under `value`, with its path. A string holding a JSON
/// object or array (Cursor passes MCP arguments as a JSON string) is read
/// as JSON, so that escaping does not hide what is in it.
fn strings(path: &str, value: Option<&Value>, out: &mut Vec<Piece>) {
    let Some(value) = value else { return };
    match value {
        Value::String(s) => {
            let trimmed = s.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                if let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str(s) {
                    return strings(path, Some(&inner), out);
                }
            }
            if !s.is_empty() {
                out.push(Piece::new(path, s));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(&format!("{path}[{i}]"), Some(item), out);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                if !SKIPPED_KEYS.contains(&key.as_str()) {
                    strings(&format!("{path}.{key}"), Some(item), out);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Parsed {
        parse(json.as_bytes(), None).unwrap().unwrap()
    }

    fn texts(p: &Parsed) -> Vec<(String, String)> {
        p.pieces
            .iter()
            .map(|x| (x.what.clone(), x.text().to_owned()))
            .collect()
    }

    #[test]
    fn each_family_is_told_from_its_shape() {
        let cases = [
            (
                r#"{"hook_event_name":"UserPromptSubmit","prompt":"p"}"#,
                Client::ClaudeCode,
            ),
            (
                r#"{"hook_event_name":"PreToolUse","turn_id":"t","tool_input":{}}"#,
                Client::Codex,
            ),
            (
                r#"{"hook_event_name":"beforeSubmitPrompt","conversation_id":"c","prompt":"p"}"#,
                Client::Cursor,
            ),
            (
                r#"{"hook_event_name":"BeforeAgent","prompt":"p"}"#,
                Client::Gemini,
            ),
            (
                r#"{"agent_action_name":"pre_user_prompt","tool_info":{}}"#,
                Client::Windsurf,
            ),
            (
                r#"{"hookName":"PreToolUse","clineVersion":"3.36"}"#,
                Client::Cline,
            ),
        ];
        for (json, client) in cases {
            assert_eq!(read(json).client, client, "{json}");
        }
        assert!(
            parse(br#"{"toolName":"bash","toolArgs":"{}"}"#, None)
                .unwrap()
                .is_none()
        );
        assert!(
            parse(br#"{"hook_event_name":"preToolUse","toolName":"x"}"#, None)
                .unwrap()
                .is_none()
        );
        assert!(parse(b"[1]", None).is_err());
        assert!(parse(b"{not json", None).is_err());
    }

    #[test]
    fn tool_input_strings_are_collected_recursively() {
        let p = read(
            r#"{"hook_event_name":"PreToolUse","tool_name":"Edit","tool_input":{"file_path":"/a",
            "old_string":"was","new_string":"now","n":3,"edits":[{"new_string":"x","old_string":"y"}]}}"#,
        );
        assert_eq!(p.subject, Subject::Tool("Edit".into()));
        assert_eq!(
            texts(&p),
            [
                ("tool_input.edits[0].new_string".to_owned(), "x".to_owned()),
                ("tool_input.file_path".to_owned(), "/a".to_owned()),
                ("tool_input.new_string".to_owned(), "now".to_owned()),
            ]
        );
    }

    #[test]
    fn json_in_a_string_is_read_as_json() {
        let p = read(
            r#"{"hook_event_name":"beforeMCPExecution","conversation_id":"c","tool_name":"q",
            "tool_input":"{\"query\": \"a\\u0062c\"}"}"#,
        );
        assert_eq!(
            texts(&p),
            [("tool_input.query".to_owned(), "abc".to_owned())]
        );
    }

    #[test]
    fn unguarded_events_carry_nothing() {
        let p = read(r#"{"hook_event_name":"Stop","session_id":"s","last_assistant_message":"x"}"#);
        assert_eq!(p.subject, Subject::Other);
        assert!(p.pieces.is_empty());
        let forced = parse(br#"{"prompt":"p"}"#, Some(Client::Gemini))
            .unwrap()
            .unwrap();
        assert_eq!(forced.subject, Subject::Other);
    }

    #[test]
    fn debug_never_shows_the_text() {
        let p = read(r#"{"hook_event_name":"UserPromptSubmit","prompt":"hunter2-secret"}"#);
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
