//! Answering a hook: the verdict in each client's terms, and the message
//! that tells the user (or the agent) what to do instead.

use std::fmt::Write as _;

use serde_json::json;

use super::{Client, Parsed, Subject};

/// At most this many findings are listed in a message.
const LISTED: usize = 5;

/// One secret found in a payload, as the message names it. It never holds
/// the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Where: the piece's [`super::Piece::what`].
    pub what: String,
    /// What was found, for people: a rule's name and masked excerpt
    /// (`GitHub personal access token (ghp_****)`).
    pub label: String,
    /// For a value already in warrant's store: its name.
    pub stored_as: Option<String>,
}

/// What the hook process should print and exit with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// For stdout (may be empty).
    pub stdout: String,
    /// For stderr (may be empty).
    pub stderr: String,
    /// The exit status.
    pub exit_code: u8,
}

impl Response {
    fn new(stdout: String, stderr: String, exit_code: u8) -> Response {
        Response {
            stdout,
            stderr,
            exit_code,
        }
    }
}

/// The answer to `parsed`: let it through when `hits` is empty, block it
/// otherwise.
///
/// Claude Code, Codex, Gemini CLI and Windsurf block on exit status 2 with
/// the reason on stderr (for a prompt the user reads it; for a tool call
/// the agent does). Cursor and Cline read a JSON answer on stdout. Cursor
/// is never told `allow`, which would run a command its own settings would
/// have asked about: warrant has no opinion on what it does not block.
pub fn render(parsed: &Parsed, hits: &[Hit]) -> Response {
    let block = !hits.is_empty() && parsed.subject != Subject::Other;
    let subject = &parsed.subject;
    match parsed.client {
        Client::ClaudeCode | Client::Codex | Client::Gemini | Client::Windsurf => {
            if block {
                Response::new(String::new(), line(&message(subject, hits)), 2)
            } else {
                Response::new(String::new(), String::new(), 0)
            }
        }
        Client::Cursor => {
            let answer = match (subject, block) {
                (Subject::Prompt, false) => json!({ "continue": true }),
                (Subject::Prompt, true) => json!({
                    "continue": false,
                    "user_message": message(subject, hits),
                }),
                (Subject::Tool(_), true) => json!({
                    "permission": "deny",
                    "user_message": message(subject, hits),
                    "agent_message": message(subject, hits),
                }),
                // `beforeReadFile` takes `permission` only; the reason
                // goes to Cursor's hook log.
                (Subject::File(_), true) => json!({ "permission": "deny" }),
                _ => json!({}),
            };
            let stderr = match subject {
                Subject::File(_) if block => line(&message(subject, hits)),
                _ => String::new(),
            };
            Response::new(line(&answer.to_string()), stderr, 0)
        }
        Client::Cline => {
            let answer = if block {
                let text = message(subject, hits);
                match subject {
                    Subject::Tool(_) => json!({
                        "cancel": true,
                        "errorMessage": text,
                        "contextModification": text,
                    }),
                    _ => json!({ "cancel": true, "errorMessage": text }),
                }
            } else {
                json!({ "cancel": false })
            };
            Response::new(line(&answer.to_string()), String::new(), 0)
        }
    }
}

/// The answer when the payload could not be read or checked: `problem` on
/// stderr, and the event let through, unless `fail_closed` asks to block
/// it. Letting through is the default because a broken hook must not lock
/// the user out of their agent.
///
/// Let through: exit 1, which the clients show as a hook error and go on
/// (Claude Code, Codex, Gemini, Windsurf, Cursor); Cline blocks on any
/// non-zero status, so it gets `cancel: false` and exit 0. Blocked: exit 2
/// (and each JSON client's refusal, when the client is known).
pub fn render_failure(client: Option<Client>, problem: &str, fail_closed: bool) -> Response {
    let how = if fail_closed {
        "blocked it (--fail-closed)"
    } else {
        "let it through (run with --fail-closed to block instead)"
    };
    let text = format!("warrant guard: {problem}; {how}");
    match (client, fail_closed) {
        (Some(Client::Cline), false) => Response::new(
            line(&json!({ "cancel": false }).to_string()),
            line(&text),
            0,
        ),
        (Some(Client::Cline), true) => {
            let answer = json!({ "cancel": true, "errorMessage": text });
            Response::new(line(&answer.to_string()), line(&text), 2)
        }
        (Some(Client::Cursor), true) => {
            let answer = json!({
                "continue": false,
                "permission": "deny",
                "user_message": text,
            });
            Response::new(line(&answer.to_string()), line(&text), 2)
        }
        (_, true) => Response::new(String::new(), line(&text), 2),
        (_, false) => Response::new(String::new(), line(&text), 1),
    }
}

fn line(s: &str) -> String {
    format!("{s}\n")
}

/// Why it was blocked and what to do instead. It names the finding by rule
/// and masked excerpt, or by reference for a stored value: never by value.
fn message(subject: &Subject, hits: &[Hit]) -> String {
    let mut out = String::from("warrant: ");
    out.push_str(&match subject {
        Subject::Prompt => "this prompt was not sent: it contains a secret".to_owned(),
        Subject::Tool(name) => format!("blocked this {name} call: its input carries a secret"),
        Subject::File(path) => format!("blocked reading {path}: it holds a secret"),
        Subject::Other => "blocked: it carries a secret".to_owned(),
    });
    out.push('\n');
    for hit in hits.iter().take(LISTED) {
        let _ = writeln!(out, "  - {}: {}", hit.what, hit.label);
    }
    if hits.len() > LISTED {
        let _ = writeln!(out, "  - and {} more", hits.len() - LISTED);
    }
    let stored: Vec<&str> = hits.iter().filter_map(|h| h.stored_as.as_deref()).collect();
    if let Some(name) = stored.first() {
        let _ = write!(
            out,
            "It is already in warrant's store: refer to it as warrant://{name} instead of its value. "
        );
    }
    if stored.len() < hits.len() {
        out.push_str(match subject {
            Subject::Tool(_) => {
                "Do not retry with the value in the call. Ask the user to store it with \
                 `warrant secret set NAME` (it reads the value from a prompt), "
            }
            Subject::File(_) => {
                "Move the value into the store with `warrant secret set NAME` (or \
                 `warrant secret import FILE` for a dotenv file), "
            }
            _ => "Store it with `warrant secret set NAME` (it reads the value from a prompt), ",
        });
        out.push_str("then use the reference warrant://NAME. ");
    }
    // A stored value's own reference in the example, when that is all there is.
    let name = match stored.first() {
        Some(name) if stored.len() == hits.len() => *name,
        _ => "NAME",
    };
    let _ = write!(
        out,
        "A command gets the value at run time with \
         `warrant run --env VAR=warrant://{name} -- COMMAND`, and its output comes back redacted."
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::Piece;

    fn parsed(client: Client, subject: Subject) -> Parsed {
        Parsed {
            client,
            event: String::new(),
            subject,
            pieces: vec![Piece::new("the prompt", "x")],
        }
    }

    fn hit(stored: bool) -> Hit {
        Hit {
            what: "the prompt".into(),
            label: if stored {
                "the value of warrant://db/url".into()
            } else {
                "GitHub personal access token (ghp_****)".into()
            },
            stored_as: stored.then(|| "db/url".into()),
        }
    }

    #[test]
    fn exit_code_clients_block_with_2_and_stderr() {
        for client in [
            Client::ClaudeCode,
            Client::Codex,
            Client::Gemini,
            Client::Windsurf,
        ] {
            let p = parsed(client, Subject::Prompt);
            assert_eq!(
                render(&p, &[]),
                Response::new(String::new(), String::new(), 0)
            );
            let r = render(&p, &[hit(false)]);
            assert_eq!((r.exit_code, r.stdout.as_str()), (2, ""));
            assert!(r.stderr.contains("warrant secret set NAME"), "{}", r.stderr);
            assert!(r.stderr.contains("ghp_****"));
        }
    }

    #[test]
    fn cursor_answers_in_json_and_never_allows() {
        let prompt = parsed(Client::Cursor, Subject::Prompt);
        assert_eq!(render(&prompt, &[]).stdout, "{\"continue\":true}\n");
        let v: serde_json::Value =
            serde_json::from_str(&render(&prompt, &[hit(true)]).stdout).unwrap();
        assert_eq!(v["continue"], false);
        assert!(
            v["user_message"]
                .as_str()
                .unwrap()
                .contains("warrant://db/url")
        );
        let tool = parsed(Client::Cursor, Subject::Tool("Shell".into()));
        assert_eq!(render(&tool, &[]).stdout, "{}\n");
        let v: serde_json::Value =
            serde_json::from_str(&render(&tool, &[hit(false)]).stdout).unwrap();
        assert_eq!(v["permission"], "deny");
        let file = parsed(Client::Cursor, Subject::File("/p/.env".into()));
        let r = render(&file, &[hit(false)]);
        assert_eq!(
            (r.stdout.as_str(), r.exit_code),
            ("{\"permission\":\"deny\"}\n", 0)
        );
        assert!(r.stderr.contains("/p/.env"));
    }

    #[test]
    fn cline_cancels() {
        let tool = parsed(Client::Cline, Subject::Tool("execute_command".into()));
        assert_eq!(render(&tool, &[]).stdout, "{\"cancel\":false}\n");
        let v: serde_json::Value =
            serde_json::from_str(&render(&tool, &[hit(false)]).stdout).unwrap();
        assert_eq!(v["cancel"], true);
        assert!(v["contextModification"].is_string());
    }

    #[test]
    fn other_events_are_never_blocked() {
        let p = parsed(Client::ClaudeCode, Subject::Other);
        assert_eq!(render(&p, &[hit(false)]).exit_code, 0);
    }

    #[test]
    fn failures_let_through_unless_fail_closed() {
        assert_eq!(render_failure(None, "bad", false).exit_code, 1);
        assert_eq!(render_failure(None, "bad", true).exit_code, 2);
        let cline = render_failure(Some(Client::Cline), "bad", false);
        assert_eq!(
            (cline.exit_code, cline.stdout.as_str()),
            (0, "{\"cancel\":false}\n")
        );
        assert!(
            render_failure(Some(Client::Cursor), "bad", true)
                .stdout
                .contains("deny")
        );
    }

    #[test]
    fn many_hits_are_cut_short() {
        let hits = vec![hit(false); LISTED + 2];
        let m = message(&Subject::Prompt, &hits);
        assert!(m.contains("and 2 more"));
    }
}
