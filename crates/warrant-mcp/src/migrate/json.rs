//! JSON (and JSON with comments) configuration files, edited as text: the
//! parser keeps every value's offsets, and only the bytes of `command`,
//! `args` and the moved `env` members change.

use std::path::Path;

use super::Error;
use super::entry::{Decider, Entry, Rewrite};
use crate::install::Value;
use crate::install::json::{Layout, compact, indent_at, line_start, pretty, quote, starts_line};
use crate::install::jsonc::{Kind, Member, Node, Parser, at};
use crate::install::malformed;

/// Keys whose object holds servers, at the top level.
const SERVER_KEYS: [&str; 3] = ["mcpServers", "servers", "context_servers"];

/// Keys that make an entry a remote server.
const URL_KEYS: [&str; 3] = ["url", "serverUrl", "httpUrl"];

/// Deeper strings in an entry than this are not looked at.
const MAX_DEPTH: usize = 8;

/// One edit: at this offset, remove this many bytes, insert this text.
type Edit = (usize, usize, String);

/// `text` with every server entry's secrets moved, as `decider` decides.
pub(super) fn migrate(path: &Path, text: &str, decider: &mut Decider) -> Result<String, Error> {
    if text.trim().is_empty() {
        return Ok(text.to_owned());
    }
    let root = Parser::new(text, true)
        .document()
        .map_err(|e| malformed(path, text, e))?;
    let Kind::Object(top) = &root.kind else {
        let e = at(root.start, "the top level is not an object");
        return Err(malformed(path, text, e).into());
    };
    let layout = Layout::of(text, &root);
    let mut maps: Vec<(Option<&str>, &Node)> = Vec::new();
    for member in top {
        match member.key.as_str() {
            key if SERVER_KEYS.contains(&key) => maps.push((None, &member.value)),
            "mcp" => maps.extend(child(&member.value, "servers").map(|n| (None, n))),
            "projects" => {
                if let Kind::Object(projects) = &member.value.kind {
                    for project in projects {
                        let servers = child(&project.value, "mcpServers");
                        maps.extend(servers.map(|n| (Some(project.key.as_str()), n)));
                    }
                }
            }
            _ => {}
        }
    }
    let mut edits: Vec<Edit> = Vec::new();
    for (project, map) in maps {
        let Kind::Object(servers) = &map.kind else {
            continue;
        };
        for server in servers {
            let Kind::Object(fields) = &server.value.kind else {
                continue;
            };
            let entry = read_entry(fields);
            if let Some(rewrite) = decider.decide(&server.key, project, &entry)? {
                edits.extend(rewrite_edits(
                    text,
                    &layout,
                    &server.value,
                    fields,
                    &rewrite,
                ));
            }
        }
    }
    // Apply from the end so offsets stay valid; inserts at one offset keep
    // their order.
    edits.sort_by_key(|e| e.0);
    let mut out = text.to_owned();
    for (offset, remove, insert) in edits.into_iter().rev() {
        out.replace_range(offset..offset + remove, &insert);
    }
    Ok(out)
}

/// The value of `obj`'s member `key`.
fn child<'n>(obj: &'n Node, key: &str) -> Option<&'n Node> {
    let Kind::Object(members) = &obj.kind else {
        return None;
    };
    members.iter().find(|m| m.key == key).map(|m| &m.value)
}

fn member<'n>(fields: &'n [Member], key: &str) -> Option<&'n Member> {
    fields.iter().find(|m| m.key == key)
}

fn read_entry(fields: &[Member]) -> Entry {
    let mut entry = Entry::default();
    let mut has_url = false;
    let mut remote_type = false;
    for m in fields {
        match (m.key.as_str(), &m.value.kind) {
            ("command", kind) => {
                entry.has_command = true;
                if let Kind::Str(s) = kind {
                    entry.command = Some(s.clone());
                }
            }
            ("args", Kind::Array(items)) => {
                let args = items.iter().map(|n| match &n.kind {
                    Kind::Str(s) => Some(s.clone()),
                    _ => None,
                });
                entry.args = Some(args.collect());
            }
            ("env", Kind::Object(vars)) => {
                for var in vars {
                    if let Kind::Str(s) = &var.value.kind {
                        entry.env.push((var.key.clone(), s.clone()));
                    }
                }
            }
            (key, kind) => {
                has_url |= URL_KEYS.contains(&key);
                remote_type |=
                    key == "type" && matches!(kind, Kind::Str(t) if t != "stdio" && t != "local");
                strings(key, &m.value, 0, &mut entry.other);
            }
        }
    }
    entry.remote = has_url || remote_type;
    entry
}

/// Every string under `node`, by dotted path.
fn strings(path: &str, node: &Node, depth: usize, out: &mut Vec<(String, String)>) {
    if depth > MAX_DEPTH {
        return;
    }
    match &node.kind {
        Kind::Str(s) => out.push((path.to_owned(), s.clone())),
        Kind::Object(members) => {
            for m in members {
                strings(&format!("{path}.{}", m.key), &m.value, depth + 1, out);
            }
        }
        Kind::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(&format!("{path}[{i}]"), item, depth + 1, out);
            }
        }
        Kind::Scalar => {}
    }
}

/// The edits that turn entry `obj` (with members `fields`) into `rewrite`.
fn rewrite_edits(
    text: &str,
    layout: &Layout,
    obj: &Node,
    fields: &[Member],
    rewrite: &Rewrite,
) -> Vec<Edit> {
    let multiline = text[obj.start..obj.end].contains('\n');
    let render = |value: &Value, at: usize, multiline: bool| {
        let mut out = String::new();
        if multiline {
            pretty(
                value,
                indent_at(text, at),
                &layout.unit,
                layout.nl,
                &mut out,
            );
        } else {
            compact(value, &mut out);
        }
        out
    };
    let mut edits = Vec::new();
    let command = member(fields, "command").expect("a rewritten entry has a command");
    if let Some(new) = &rewrite.command {
        let old = &command.value;
        edits.push((old.start, old.end - old.start, quote(new)));
    }
    let args = Value::Arr(rewrite.args.iter().cloned().map(Value::Str).collect());
    match member(fields, "args") {
        Some(old) => {
            let old = &old.value;
            let multiline = text[old.start..old.end].contains('\n');
            edits.push((
                old.start,
                old.end - old.start,
                render(&args, old.start, multiline),
            ));
        }
        None => {
            // Right after `command`, on a line of its own when the entry
            // has one member per line.
            let own_line = multiline && starts_line(text, command.key_start);
            let rendered = render(&args, command.key_start, own_line);
            let sep = if own_line {
                format!(",{}{}", layout.nl, indent_at(text, command.key_start))
            } else {
                ", ".to_owned()
            };
            edits.push((command.value.end, 0, format!("{sep}\"args\": {rendered}")));
        }
    }
    match member(fields, "env") {
        Some(env) => edits.extend(env_edits(text, layout, &env.value, rewrite, multiline)),
        None if !rewrite.add_env.is_empty() => {
            let last = fields.last().expect("the entry has a command").value.end;
            let key_at = fields[0].key_start;
            let own_line = multiline && starts_line(text, key_at);
            let vars = Value::Obj(
                rewrite
                    .add_env
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                    .collect(),
            );
            let rendered = render(&vars, key_at, own_line);
            let sep = if own_line {
                format!(",{}{}", layout.nl, indent_at(text, key_at))
            } else {
                ", ".to_owned()
            };
            edits.push((last, 0, format!("{sep}\"env\": {rendered}")));
        }
        None => {}
    }
    edits
}

/// The edits to `env` (object `env`, in an entry written over several lines
/// when `multiline`): the moved members removed (a member on its own lines
/// takes those lines, trailing comment included), and `add_env` put first.
fn env_edits(
    text: &str,
    layout: &Layout,
    env: &Node,
    rewrite: &Rewrite,
    multiline: bool,
) -> Vec<Edit> {
    let Kind::Object(vars) = &env.kind else {
        return Vec::new();
    };
    let removed = |m: &Member| rewrite.remove_env.contains(&m.key);
    let added: Vec<(String, Value)> = rewrite
        .add_env
        .iter()
        .filter(|(k, _)| !vars.iter().any(|m| &m.key == k && !removed(m)))
        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
        .collect();
    let Some(last_kept) = vars.iter().rposition(|m| !removed(m)) else {
        // Nothing left: the object is written anew, over several lines
        // when the entry has them.
        let mut out = String::new();
        if multiline && !added.is_empty() {
            let indent = indent_at(text, env.start);
            pretty(
                &Value::Obj(added),
                indent,
                &layout.unit,
                layout.nl,
                &mut out,
            );
        } else {
            compact(&Value::Obj(added), &mut out);
        }
        return vec![(env.start, env.end - env.start, out)];
    };
    let own_line = |m: &Member| starts_line(text, m.key_start);
    let mut edits: Vec<Edit> = Vec::new();
    for (i, m) in vars.iter().enumerate().take(last_kept) {
        if removed(m) {
            let next = &vars[i + 1];
            let (from, to) = if own_line(m) && own_line(next) {
                (
                    line_start(text, m.key_start),
                    line_start(text, next.key_start),
                )
            } else {
                (m.key_start, next.key_start)
            };
            edits.push((from, to - from, String::new()));
        }
    }
    if let Some(first_gone) = vars.get(last_kept + 1) {
        let last = vars.last().expect("not empty").value.end;
        let kept_end = vars[last_kept].value.end;
        match line_end_after(text, last).filter(|_| own_line(first_gone)) {
            Some(end) => {
                let from = line_start(text, first_gone.key_start);
                edits.push((from, end - from, String::new()));
                // Without a trailing comma, the kept member's comma goes too.
                if comma_after(text, last).is_none() {
                    if let Some(comma) = comma_after(text, kept_end) {
                        edits.push((comma, 1, String::new()));
                    }
                }
            }
            None => edits.push((kept_end, last - kept_end, String::new())),
        }
    }
    if !added.is_empty() {
        let first = &vars[0];
        let mut insert = String::new();
        for (key, value) in &added {
            let mut rendered = String::new();
            compact(value, &mut rendered);
            insert.push_str(&quote(key));
            insert.push_str(": ");
            insert.push_str(&rendered);
            if own_line(first) {
                insert.push_str(&format!(
                    ",{}{}",
                    layout.nl,
                    indent_at(text, first.key_start)
                ));
            } else {
                insert.push_str(", ");
            }
        }
        // Before the first member's key, in the same edit as its removal.
        match edits.iter_mut().find(|e| e.0 == first.key_start) {
            Some(edit) => edit.2.insert_str(0, &insert),
            None => {
                // A removal from the line's start: the new member takes the line.
                match edits
                    .iter_mut()
                    .find(|e| e.0 == line_start(text, first.key_start))
                {
                    Some(edit) if own_line(first) => {
                        let indent = indent_at(text, first.key_start);
                        edit.2 = format!("{indent}{}{}", insert.trim_end(), layout.nl);
                    }
                    _ => edits.push((first.key_start, 0, insert)),
                }
            }
        }
    }
    edits
}

/// The offset of the `,` that follows `from`, past blanks and comments.
fn comma_after(text: &str, from: usize) -> Option<usize> {
    let at = skip_blanks(text, from, true);
    (text.as_bytes().get(at) == Some(&b',')).then_some(at)
}

/// The offset just past the end of the line holding `from`, when only
/// blanks, commas and comments come before it.
fn line_end_after(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        at = skip_blanks(text, at, false);
        match text.as_bytes().get(at) {
            Some(b',') => at += 1,
            Some(b'\n') => return Some(at + 1),
            Some(b'/') if text[at..].starts_with("//") => {
                return Some(text[at..].find('\n').map_or(text.len(), |n| at + n + 1));
            }
            _ => return None,
        }
    }
}

/// The first offset at or after `from` that is not a blank or a `/* */`
/// comment (nor, with `newlines`, a line end or a `//` comment).
fn skip_blanks(text: &str, from: usize, newlines: bool) -> usize {
    let bytes = text.as_bytes();
    let mut at = from;
    loop {
        match bytes.get(at) {
            Some(b' ' | b'\t' | b'\r') => at += 1,
            Some(b'\n') if newlines => at += 1,
            Some(b'/') if text[at..].starts_with("/*") => match text[at + 2..].find("*/") {
                Some(n) => at += n + 4,
                None => return at,
            },
            Some(b'/') if newlines && text[at..].starts_with("//") => {
                at += text[at..].find('\n').unwrap_or(text.len() - at);
            }
            _ => return at,
        }
    }
}

#[cfg(test)]
mod tests;
