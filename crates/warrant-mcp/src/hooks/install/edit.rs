//! A JSON hook configuration edited as text: an entry appended to the
//! array at a path, or entries taken out of it. Every other byte (order,
//! spelling, comments where the client allows them) stays as it was; the
//! parser and the layout rules are `warrant mcp install`'s.

use crate::install::json::{Layout, compact, indent_at, line_start, pretty, quote, starts_line};
use crate::install::jsonc::{Kind, Member, Node, Parser, at};
use crate::install::{Located, Value};

/// One edit: at this offset, remove this many bytes, insert this text.
type Edit = (usize, usize, String);

/// `text` with `item` appended to the array at `path` (the objects on the
/// way and the array created when missing), or `text` itself when an item
/// for which `present` holds is already in that array.
pub(super) fn append(
    text: &str,
    comments: bool,
    path: &[&str],
    item: &Value,
    present: &dyn Fn(&Value) -> bool,
) -> Result<String, Located> {
    if text.trim().is_empty() {
        let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let mut out = String::new();
        pretty(&nest(path, item), "", "  ", nl, &mut out);
        out.push_str(nl);
        return Ok(out);
    }
    let root = Parser::new(text, comments).document()?;
    let layout = Layout::of(text, &root);
    let fmt = Fmt {
        text,
        unit: &layout.unit,
        nl: layout.nl,
    };
    let mut node = &root;
    for (i, key) in path.iter().enumerate() {
        let Kind::Object(members) = &node.kind else {
            return Err(at(node.start, "expected an object here"));
        };
        match find(members, key)? {
            Some(member) => node = &member.value,
            None => {
                return Ok(apply(
                    text,
                    fmt.insert(node, key, &nest(&path[i + 1..], item)),
                ));
            }
        }
    }
    let Kind::Array(items) = &node.kind else {
        let key = path.last().copied().unwrap_or("");
        return Err(at(node.start, &format!("`{key}` is not an array")));
    };
    if items.iter().any(|n| present(&n.to_value(text))) {
        return Ok(text.to_owned());
    }
    Ok(apply(text, fmt.push(node, item)))
}

/// `text` without the items of the array at `path` for which `matches`
/// holds; `text` itself when there is no such array or item.
pub(super) fn remove(
    text: &str,
    comments: bool,
    path: &[&str],
    matches: &dyn Fn(&Value) -> bool,
) -> Result<String, Located> {
    if text.trim().is_empty() {
        return Ok(text.to_owned());
    }
    let root = Parser::new(text, comments).document()?;
    let mut node = &root;
    for key in path {
        let Kind::Object(members) = &node.kind else {
            return Ok(text.to_owned());
        };
        match find(members, key)? {
            Some(member) => node = &member.value,
            None => return Ok(text.to_owned()),
        }
    }
    let Kind::Array(items) = &node.kind else {
        return Ok(text.to_owned());
    };
    let gone: Vec<bool> = items.iter().map(|n| matches(&n.to_value(text))).collect();
    if !gone.contains(&true) {
        return Ok(text.to_owned());
    }
    let mut edits = Vec::new();
    match gone.iter().rposition(|g| !g) {
        // Nothing left: an empty array.
        None => edits.push((node.start + 1, node.end - node.start - 2, String::new())),
        Some(kept) => {
            // Before the last kept item, each goes with what follows it up
            // to the next item (its comma); after it, the tail goes from
            // the kept item's end (the comma before the first removed one).
            for i in (0..kept).filter(|&i| gone[i]) {
                edits.push((
                    items[i].start,
                    items[i + 1].start - items[i].start,
                    String::new(),
                ));
            }
            if let Some(last) = items.last().filter(|_| kept + 1 < items.len()) {
                let from = items[kept].end;
                edits.push((from, last.end - from, String::new()));
            }
        }
    }
    Ok(apply(text, edits))
}

/// `{"a": {"b": [item]}}` for the path `a, b`.
fn nest(path: &[&str], item: &Value) -> Value {
    path.iter()
        .rev()
        .fold(Value::Arr(vec![item.clone()]), |inner, key| {
            Value::Obj(vec![((*key).to_owned(), inner)])
        })
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

/// Applies `edits` (sorted by offset, not overlapping) from the end.
fn apply(text: &str, edits: Vec<Edit>) -> String {
    let mut out = text.to_owned();
    for (offset, len, insert) in edits.into_iter().rev() {
        out.replace_range(offset..offset + len, &insert);
    }
    out
}

/// Whether the text between a last value and its closing bracket holds a
/// trailing comma (perhaps after a comment).
fn comma_follows(between: &str) -> bool {
    let mut p = Parser::new(between, true);
    p.skip_ws().is_ok() && p.peek() == Some(b',')
}

/// The file's own indentation unit and line ending.
struct Fmt<'a> {
    text: &'a str,
    unit: &'a str,
    nl: &'static str,
}

impl Fmt<'_> {
    fn render(&self, value: &Value, indent: &str, multiline: bool) -> String {
        let mut out = String::new();
        if multiline {
            pretty(value, indent, self.unit, self.nl, &mut out);
        } else {
            compact(value, &mut out);
        }
        out
    }

    /// `"key": value` added as `obj`'s last member.
    fn insert(&self, obj: &Node, key: &str, value: &Value) -> Vec<Edit> {
        let Kind::Object(members) = &obj.kind else {
            return Vec::new();
        };
        let first = members.first().map(|m| m.key_start);
        let last = members.last().map(|m| m.value.end);
        self.add(obj, first, last, &|indent, multiline| {
            format!("{}: {}", quote(key), self.render(value, indent, multiline))
        })
    }

    /// `item` added as `arr`'s last element.
    fn push(&self, arr: &Node, item: &Value) -> Vec<Edit> {
        let Kind::Array(items) = &arr.kind else {
            return Vec::new();
        };
        let first = items.first().map(|n| n.start);
        let last = items.last().map(|n| n.end);
        self.add(arr, first, last, &|indent, multiline| {
            self.render(item, indent, multiline)
        })
    }

    /// Adds an entry after the last one of an object or array, in the
    /// container's own style: on one line if it is on one line, else on a
    /// line of its own, indented like the first entry, with a trailing
    /// comma if the container had one.
    fn add(
        &self,
        node: &Node,
        first: Option<usize>,
        last: Option<usize>,
        entry: &dyn Fn(&str, bool) -> String,
    ) -> Vec<Edit> {
        let text = self.text;
        let nl = self.nl;
        let close = node.end - 1;
        let outer = indent_at(text, node.start);
        let indent = match first.filter(|&f| starts_line(text, f)) {
            Some(f) => indent_at(text, f).to_owned(),
            None => format!("{outer}{}", self.unit),
        };
        let Some(last_end) = last else {
            let entry = entry(&indent, true);
            let (open, shut) = (&text[node.start..=node.start], &text[close..node.end]);
            return if text[node.start + 1..close].trim().is_empty() {
                let new = format!("{open}{nl}{indent}{entry}{nl}{outer}{shut}");
                vec![(node.start, node.end - node.start, new)]
            } else {
                // Only comments inside: keep them, add the entry after.
                vec![(close, 0, format!("{nl}{indent}{entry}{nl}{outer}"))]
            };
        };
        let trailing_comma = comma_follows(&text[last_end..close]);
        if !text[node.start..node.end].contains('\n') {
            let entry = entry(&indent, false);
            return vec![if trailing_comma {
                (close, 0, format!(" {entry},"))
            } else {
                (last_end, 0, format!(", {entry}"))
            }];
        }
        let entry = entry(&indent, true);
        let mut edits = Vec::new();
        if !trailing_comma {
            edits.push((last_end, 0, ",".to_owned()));
        }
        let tail = if trailing_comma { "," } else { "" };
        if starts_line(text, close) {
            edits.push((
                line_start(text, close),
                0,
                format!("{indent}{entry}{tail}{nl}"),
            ));
        } else {
            edits.push((close, 0, format!("{nl}{indent}{entry}{tail}{nl}{outer}")));
        }
        edits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(cmd: &str) -> Value {
        Value::Obj(vec![("command".into(), Value::Str(cmd.into()))])
    }

    fn is(cmd: &'static str) -> impl Fn(&Value) -> bool {
        move |v| *v == item(cmd)
    }

    const PATH: [&str; 2] = ["hooks", "stop"];

    #[test]
    fn creates_what_is_missing() {
        let out = append("", false, &PATH, &item("a"), &is("a")).unwrap();
        assert_eq!(
            out,
            "{\n  \"hooks\": {\n    \"stop\": [\n      {\n        \"command\": \"a\"\n      }\n    ]\n  }\n}\n"
        );
        let out = append("{\"version\": 1}", false, &PATH, &item("a"), &is("a")).unwrap();
        assert_eq!(
            out,
            "{\"version\": 1, \"hooks\": {\"stop\": [{\"command\": \"a\"}]}}"
        );
        let out = append(
            "{\"hooks\": {\"stop\": []}}",
            false,
            &PATH,
            &item("a"),
            &is("a"),
        );
        assert_eq!(
            out.unwrap(),
            "{\"hooks\": {\"stop\": [\n  {\n    \"command\": \"a\"\n  }\n]}}"
        );
    }

    #[test]
    fn appends_in_the_files_style_and_only_once() {
        let text =
            "{\n\t\"hooks\": {\n\t\t\"stop\": [\n\t\t\t{\"command\": \"mine\"}\n\t\t]\n\t}\n}\n";
        let out = append(text, false, &PATH, &item("a"), &is("a")).unwrap();
        assert_eq!(
            out,
            "{\n\t\"hooks\": {\n\t\t\"stop\": [\n\t\t\t{\"command\": \"mine\"},\n\t\t\t{\n\t\t\t\t\"command\": \"a\"\n\t\t\t}\n\t\t]\n\t}\n}\n"
        );
        assert_eq!(
            append(&out, false, &PATH, &item("a"), &is("a")).unwrap(),
            out
        );
        let jsonc = "{\"hooks\": {\"stop\": [{\"command\": \"m\"}, // c\n]}}";
        let out = append(jsonc, true, &PATH, &item("a"), &is("a")).unwrap();
        assert!(Parser::new(&out, true).document().is_ok(), "{out}");
        assert!(out.contains("// c"));
    }

    #[test]
    fn removes_items_and_their_commas() {
        let cases = [
            ("[X, Y]", "[Y]"),
            ("[Y, X]", "[Y]"),
            ("[X, Y, X, X]", "[Y]"),
            ("[X]", "[]"),
            ("[\n  X,\n  Y\n]", "[\n  Y\n]"),
            ("[\n  Y,\n  X\n]", "[\n  Y\n]"),
        ];
        for (before, after) in cases {
            let wrap = |s: &str| {
                format!(
                    "{{\"hooks\": {{\"stop\": {}}}}}",
                    s.replace('X', "{\"command\": \"a\"}")
                        .replace('Y', "{\"command\": \"m\"}")
                )
            };
            let out = remove(&wrap(before), false, &PATH, &is("a")).unwrap();
            assert_eq!(out, wrap(after), "{before}");
        }
        let text = "{\"other\": 1}";
        assert_eq!(remove(text, false, &PATH, &is("a")).unwrap(), text);
    }

    #[test]
    fn shape_errors_are_located() {
        let e = append("{\"hooks\": []}", false, &PATH, &item("a"), &is("a")).unwrap_err();
        assert_eq!(e.offset, 10);
        let e = append(
            "{\"hooks\": {\"stop\": {}}}",
            false,
            &PATH,
            &item("a"),
            &is("a"),
        );
        assert!(e.unwrap_err().message.contains("not an array"));
    }
}
