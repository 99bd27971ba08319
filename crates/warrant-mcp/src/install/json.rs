//! JSON configuration files, edited as text.
//!
//! The parser ([`super::jsonc`]) records where every value starts and ends,
//! so that the edit replaces or inserts only warrant's own bytes and leaves
//! everything else (key order, number spelling, escapes, comments, blank
//! lines) as it was.

use super::jsonc::{Kind, Member, Node, Parser, at};
use super::{Located, SERVER_NAME, Value};

/// How one client spells its file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Style {
    /// The top-level key holding the servers.
    pub servers_key: &'static str,
    /// Whether entries carry `"type": "stdio"`.
    pub stdio_type: bool,
    /// Whether the client accepts comments and trailing commas (JSONC).
    pub comments: bool,
}

/// `text` with `entry` as the `warrant` server, or `text` itself when that
/// entry is already there.
pub(super) fn upsert(text: &str, style: Style, entry: &Value) -> Result<String, Located> {
    if text.trim().is_empty() {
        let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let servers = Value::Obj(vec![(SERVER_NAME.to_owned(), entry.clone())]);
        let root = Value::Obj(vec![(style.servers_key.to_owned(), servers)]);
        let mut out = String::new();
        pretty(&root, "", "  ", nl, &mut out);
        out.push_str(nl);
        return Ok(out);
    }
    let root = Parser::new(text, style.comments).document()?;
    let Kind::Object(members) = &root.kind else {
        return Err(at(root.start, "the top level is not an object"));
    };
    let fmt = Layout::of(text, &root);
    let edit = match find(members, style.servers_key)? {
        None => {
            let servers = Value::Obj(vec![(SERVER_NAME.to_owned(), entry.clone())]);
            fmt.insert(&root, style.servers_key, &servers)
        }
        Some(servers) => {
            let Kind::Object(entries) = &servers.value.kind else {
                let msg = format!("`{}` is not an object", style.servers_key);
                return Err(at(servers.value.start, &msg));
            };
            match find(entries, SERVER_NAME)? {
                None => fmt.insert(&servers.value, SERVER_NAME, entry),
                Some(old) if old.value.to_value(text).same_entry(entry) => Vec::new(),
                Some(old) => fmt.replace(&servers.value, &old.value, entry),
            }
        }
    };
    let mut out = text.to_owned();
    // Edits are sorted by offset; apply from the end so offsets stay valid.
    for (offset, remove, insert) in edit.into_iter().rev() {
        out.replace_range(offset..offset + remove, &insert);
    }
    Ok(out)
}

/// The member named `key`; a duplicate is an error, since clients disagree
/// on which one counts.
fn find<'a>(members: &'a [Member], key: &str) -> Result<Option<&'a Member>, Located> {
    let mut named = members.iter().filter(|m| m.key == key);
    let first = named.next();
    if let Some(dup) = named.next() {
        return Err(at(dup.key_start, &format!("duplicate key `{key}`")));
    }
    Ok(first)
}

/// Indentation and line endings, learnt from the file.
pub(crate) struct Layout<'a> {
    text: &'a str,
    pub(crate) unit: String,
    pub(crate) nl: &'static str,
}

/// One edit: at this offset, remove this many bytes, insert this text.
type Edit = (usize, usize, String);

impl<'a> Layout<'a> {
    pub(crate) fn of(text: &'a str, root: &Node) -> Layout<'a> {
        let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let mut layout = Layout {
            text,
            unit: "  ".to_owned(),
            nl,
        };
        if let Some(indent) = layout.member_indent(root) {
            let outer = indent_at(text, root.start);
            if let Some(unit) = indent.strip_prefix(outer).filter(|u| !u.is_empty()) {
                layout.unit = unit.to_owned();
            }
        }
        layout
    }

    /// The indentation of `obj`'s first member, when it starts a line.
    fn member_indent(&self, obj: &Node) -> Option<&'a str> {
        let Kind::Object(members) = &obj.kind else {
            return None;
        };
        let first = members.first()?;
        starts_line(self.text, first.key_start).then(|| indent_at(self.text, first.key_start))
    }

    fn multiline(&self, obj: &Node) -> bool {
        self.text[obj.start..obj.end].contains('\n')
    }

    /// `"key": value` added as `obj`'s last member.
    fn insert(&self, obj: &Node, key: &str, value: &Value) -> Vec<Edit> {
        let text = self.text;
        let close = obj.end - 1;
        let outer = indent_at(text, obj.start);
        let indent = self
            .member_indent(obj)
            .map_or_else(|| format!("{outer}{}", self.unit), str::to_owned);
        let Some(last_end) = obj.last_value_end() else {
            let member = self.member(key, value, &indent, true);
            return if text[obj.start + 1..close].trim().is_empty() {
                let nl = self.nl;
                vec![(
                    obj.start,
                    obj.end - obj.start,
                    format!("{{{nl}{indent}{member}{nl}{outer}}}"),
                )]
            } else {
                // Only comments inside: keep them, add the member after.
                vec![(
                    close,
                    0,
                    format!("{}{indent}{member}{}{outer}", self.nl, self.nl),
                )]
            };
        };
        let trailing_comma = comma_follows(&text[last_end..close]);
        if !self.multiline(obj) {
            let member = self.member(key, value, &indent, false);
            return vec![if trailing_comma {
                (close, 0, format!(" {member},"))
            } else {
                (last_end, 0, format!(", {member}"))
            }];
        }
        let member = self.member(key, value, &indent, true);
        let nl = self.nl;
        let mut edits = Vec::new();
        if !trailing_comma {
            edits.push((last_end, 0, ",".to_owned()));
        }
        // A file that ends its members with a comma gets one after ours too.
        let tail = if trailing_comma { "," } else { "" };
        if starts_line(text, close) {
            let line = line_start(text, close);
            edits.push((line, 0, format!("{indent}{member}{tail}{nl}")));
        } else {
            edits.push((close, 0, format!("{nl}{indent}{member}{tail}{nl}{outer}")));
        }
        edits
    }

    /// `old` (the value of a member of `obj`) replaced by `value`.
    fn replace(&self, obj: &Node, old: &Node, value: &Value) -> Vec<Edit> {
        let mut out = String::new();
        if self.multiline(obj) {
            pretty(
                value,
                indent_at(self.text, old.start),
                &self.unit,
                self.nl,
                &mut out,
            );
        } else {
            compact(value, &mut out);
        }
        vec![(old.start, old.end - old.start, out)]
    }

    fn member(&self, key: &str, value: &Value, indent: &str, multiline: bool) -> String {
        let mut out = quote(key);
        out.push_str(": ");
        if multiline {
            pretty(value, indent, &self.unit, self.nl, &mut out);
        } else {
            compact(value, &mut out);
        }
        out
    }
}

/// Whether the text between a last value and its closing brace holds a
/// trailing comma (perhaps after a comment: `1 /* c */ ,`).
fn comma_follows(between: &str) -> bool {
    let mut p = Parser::new(between, true);
    p.skip_ws().is_ok() && p.peek() == Some(b',')
}

pub(crate) fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// The spaces and tabs that begin the line holding `pos`.
pub(crate) fn indent_at(text: &str, pos: usize) -> &str {
    let line = &text[line_start(text, pos)..];
    let width = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..width]
}

/// Whether only spaces and tabs precede `pos` on its line.
pub(crate) fn starts_line(text: &str, pos: usize) -> bool {
    text[line_start(text, pos)..pos]
        .bytes()
        .all(|b| b == b' ' || b == b'\t')
}

pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

/// `value` over several lines; `indent` is that of the line it starts on.
pub(crate) fn pretty(value: &Value, indent: &str, unit: &str, nl: &str, out: &mut String) {
    let inner = format!("{indent}{unit}");
    match value {
        Value::Obj(fields) if !fields.is_empty() => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { "," });
                out.push_str(nl);
                out.push_str(&inner);
                out.push_str(&quote(k));
                out.push_str(": ");
                pretty(v, &inner, unit, nl, out);
            }
            out.push_str(nl);
            out.push_str(indent);
            out.push('}');
        }
        Value::Arr(items) if !items.is_empty() => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { "," });
                out.push_str(nl);
                out.push_str(&inner);
                pretty(v, &inner, unit, nl, out);
            }
            out.push_str(nl);
            out.push_str(indent);
            out.push(']');
        }
        _ => compact(value, out),
    }
}

/// `value` on one line: `{"a": ["b", "c"]}`.
pub(crate) fn compact(value: &Value, out: &mut String) {
    match value {
        Value::Str(s) => out.push_str(&quote(s)),
        Value::Other(raw) => out.push_str(raw),
        Value::Arr(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { ", " });
                compact(v, out);
            }
            out.push(']');
        }
        Value::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { ", " });
                out.push_str(&quote(k));
                out.push_str(": ");
                compact(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Style = Style {
        servers_key: "mcpServers",
        stdio_type: false,
        comments: false,
    };
    const JSONC: Style = Style {
        servers_key: "servers",
        stdio_type: true,
        comments: true,
    };

    fn entry() -> Value {
        Value::Obj(vec![
            ("command".into(), Value::Str("warrant".into())),
            ("args".into(), Value::Arr(vec![Value::Str("mcp".into())])),
        ])
    }

    #[test]
    fn single_line_object_gets_a_compact_member() {
        let out = upsert("{\"a\": 1}", STRICT, &entry()).unwrap();
        assert_eq!(
            out,
            "{\"a\": 1, \"mcpServers\": {\"warrant\": {\"command\": \"warrant\", \"args\": [\"mcp\"]}}}"
        );
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }

    #[test]
    fn empty_object_and_crlf_and_tabs() {
        let out = upsert("{\r\n\t\"servers\": {}\r\n}\r\n", JSONC, &entry()).unwrap();
        assert_eq!(
            out,
            "{\r\n\t\"servers\": {\r\n\t\t\"warrant\": {\r\n\t\t\t\"command\": \"warrant\",\r\n\t\t\t\"args\": [\r\n\t\t\t\t\"mcp\"\r\n\t\t\t]\r\n\t\t}\r\n\t}\r\n}\r\n"
        );
    }

    #[test]
    fn trailing_comma_and_comments_survive() {
        let text =
            "{\n  // mine\n  \"servers\": {\n    \"x\": {\"command\": \"x\"}, // keep\n  },\n}\n";
        let out = upsert(text, JSONC, &entry()).unwrap();
        assert_eq!(
            out,
            "{\n  // mine\n  \"servers\": {\n    \"x\": {\"command\": \"x\"}, // keep\n    \"warrant\": {\n      \"command\": \"warrant\",\n      \"args\": [\n        \"mcp\"\n      ]\n    },\n  },\n}\n"
        );
        assert!(Parser::new(&out, true).document().is_ok());
    }

    #[test]
    fn shape_errors_point_at_the_value() {
        let e = upsert("[]", STRICT, &entry()).err().unwrap();
        assert_eq!(e.offset, 0);
        let e = upsert("{\"mcpServers\": []}", STRICT, &entry())
            .err()
            .unwrap();
        assert_eq!(e.offset, 15);
        let e = upsert("{\"a\": 1, \"a\": 2, \"mcpServers\": {}}", STRICT, &entry());
        assert!(e.is_ok(), "a duplicate elsewhere is not ours to judge");
        let e = upsert("{\"mcpServers\": {}, \"mcpServers\": {}}", STRICT, &entry());
        assert_eq!(e.err().unwrap().message, "duplicate key `mcpServers`");
    }
}
