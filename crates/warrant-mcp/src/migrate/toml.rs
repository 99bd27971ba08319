//! Codex's `config.toml` (`[mcp_servers.NAME]` with `command`, `args`,
//! `env`), edited with `toml_edit`: comments, blank lines, key order and
//! every other table stay as they were.

use std::path::Path;

use toml_edit::{Array, Document, DocumentMut, InlineTable, Item, RawString, TableLike, Value};

use super::Error;
use super::entry::{Decider, Entry, Rewrite};
use crate::install::{Located, malformed};

/// The table holding Codex's servers.
const SERVERS: &str = "mcp_servers";

/// Deeper strings in an entry than this are not looked at.
const MAX_DEPTH: usize = 8;

/// `text` with every server entry's secrets moved, as `decider` decides.
pub(super) fn migrate(path: &Path, text: &str, decider: &mut Decider) -> Result<String, Error> {
    let parsed = Document::parse(text).map_err(|e| {
        let at = Located {
            offset: e.span().map_or(0, |s| s.start),
            message: e.message().trim_end().to_owned(),
        };
        malformed(path, text, at)
    })?;
    let mut doc: DocumentMut = parsed.into_mut();
    let Some(servers) = doc.get_mut(SERVERS).and_then(Item::as_table_like_mut) else {
        return Ok(text.to_owned());
    };
    let mut changed = false;
    for (name, item) in servers.iter_mut() {
        let Some(table) = item.as_table_like_mut() else {
            continue;
        };
        let entry = read_entry(table);
        if let Some(rewrite) = decider.decide(name.get(), None, &entry)? {
            write_entry(table, &rewrite);
            changed = true;
        }
    }
    if !changed {
        return Ok(text.to_owned());
    }
    let out = doc.to_string();
    // toml_edit writes `\n` for what it adds; match a file that is all CRLF.
    let crlf = text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count();
    Ok(if crlf {
        out.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        out
    })
}

fn read_entry(table: &dyn TableLike) -> Entry {
    let mut entry = Entry::default();
    for (key, item) in table.iter() {
        match key {
            "command" => {
                entry.has_command = true;
                entry.command = item.as_str().map(str::to_owned);
            }
            "args" if item.is_array() => {
                let args = item.as_array().expect("checked").iter();
                entry.args = Some(args.map(|v| v.as_str().map(str::to_owned)).collect());
            }
            "env" if item.is_table_like() => {
                let vars = item.as_table_like().expect("checked");
                for (var, value) in vars.iter() {
                    if let Some(s) = value.as_str() {
                        entry.env.push((var.to_owned(), s.to_owned()));
                    }
                }
            }
            _ => {
                entry.remote |= key == "url";
                strings(key, item, 0, &mut entry.other);
            }
        }
    }
    entry
}

/// Every string under `item`, by dotted path.
fn strings(path: &str, item: &Item, depth: usize, out: &mut Vec<(String, String)>) {
    if depth > MAX_DEPTH {
        return;
    }
    match item {
        Item::Value(Value::String(s)) => out.push((path.to_owned(), s.value().clone())),
        Item::Value(Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                strings(
                    &format!("{path}[{i}]"),
                    &Item::Value(v.clone()),
                    depth + 1,
                    out,
                );
            }
        }
        Item::Value(Value::InlineTable(t)) => {
            for (k, v) in t.iter() {
                strings(
                    &format!("{path}.{k}"),
                    &Item::Value(v.clone()),
                    depth + 1,
                    out,
                );
            }
        }
        Item::Table(t) => {
            for (k, v) in t.iter() {
                strings(&format!("{path}.{k}"), v, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Sets `key` to `value`, keeping the old value's comments and spacing.
fn set(table: &mut dyn TableLike, key: &str, mut value: Value) {
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        _ => {
            table.insert(key, Item::Value(value));
        }
    }
}

fn write_entry(table: &mut dyn TableLike, rewrite: &Rewrite) {
    if let Some(command) = &rewrite.command {
        set(table, "command", command.as_str().into());
    }
    let args: Array = rewrite.args.iter().map(String::as_str).collect();
    if table.contains_key("args") {
        set(table, "args", args.into());
    } else {
        insert_after(table, "command", "args", Item::Value(args.into()));
    }
    let env = table.get_mut("env");
    // The blank before an inline table's `}` hangs on its last value: keep
    // it at the end whichever value ends up last.
    let tail = env
        .as_deref()
        .and_then(Item::as_inline_table)
        .and_then(|t| {
            let (_, last) = t.iter().last()?;
            last.decor().suffix().cloned()
        });
    match env.and_then(Item::as_table_like_mut) {
        Some(env) => {
            if tail.is_some() {
                set_last_suffix(env, "");
            }
            for key in &rewrite.remove_env {
                env.remove(key);
            }
            for (key, value) in &rewrite.add_env {
                if !env.contains_key(key) {
                    env.insert(key, Item::Value(value.as_str().into()));
                }
            }
            if let Some(tail) = tail {
                set_last_suffix(env, tail);
            }
        }
        None if !rewrite.add_env.is_empty() => {
            let mut env = InlineTable::new();
            for (key, value) in &rewrite.add_env {
                env.insert(key, value.as_str().into());
            }
            table.insert("env", Item::Value(env.into()));
        }
        None => {}
    }
}

/// Inserts `key` right after `after`, every other key keeping its place
/// and formatting.
fn insert_after(table: &mut dyn TableLike, after: &str, key: &str, item: Item) {
    let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
    let start = keys
        .iter()
        .position(|k| k == after)
        .map_or(keys.len(), |i| i + 1);
    let mut tail = Vec::new();
    for k in &keys[start..] {
        let formatted = table.key(k).cloned().expect("a listed key");
        let old = table.remove(k).expect("a listed key");
        tail.push((formatted, old));
    }
    table.insert(key, item);
    for (k, v) in tail {
        table.entry_format(&k).or_insert(v);
    }
}

/// Sets the decor after the last value of an inline table.
fn set_last_suffix(table: &mut dyn TableLike, suffix: impl Into<RawString>) {
    if let Some((_, Item::Value(last))) = table.iter_mut().last() {
        last.decor_mut().set_suffix(suffix);
    }
}

#[cfg(test)]
mod tests {
    use crate::migrate::tests::{Fixture, secret};

    #[test]
    fn codex_entry_is_rewritten_in_place() {
        let token = secret("tok");
        let text = format!(
            "# my settings\nmodel = \"o4\"\n\n[mcp_servers.github] # the github one\n\
             command = \"npx\" # runner\nargs = [\"-y\", \"@mcp/server-github\"]\n\
             env = {{ GITHUB_TOKEN = \"{token}\", LOG_LEVEL = \"debug\" }}\n\n\
             [mcp_servers.other]\ncommand = \"other\"\n"
        );
        let mut fx = Fixture::new();
        let out = fx.run_toml(&text);
        assert_eq!(
            out,
            "# my settings\nmodel = \"o4\"\n\n[mcp_servers.github] # the github one\n\
             command = \"warrant\" # runner\nargs = [\"run\", \"--env\", \
             \"GITHUB_TOKEN=warrant://mcp/github/github-token\", \"--\", \"npx\", \"-y\", \
             \"@mcp/server-github\"]\nenv = { LOG_LEVEL = \"debug\" }\n\n\
             [mcp_servers.other]\ncommand = \"other\"\n"
        );
        assert_eq!(fx.run_toml(&out), out, "a second run changes nothing");
    }

    #[test]
    fn env_subtable_and_home_and_remote_headers() {
        let token = secret("tok");
        let text = format!(
            "[mcp_servers.db]\ncommand = \"db-server\"\n\n[mcp_servers.db.env]\n\
             DB_PASSWORD = \"{token}\"\n\n[mcp_servers.remote]\nurl = \"https://x.test/mcp\"\n\
             http_headers = {{ Authorization = \"Bearer {token}\" }}\n"
        );
        let mut fx = Fixture::new();
        fx.home = Some("/h/w".into());
        let out = fx.run_toml(&text);
        assert!(out.contains("args = [\"run\", \"--env\", \"DB_PASSWORD=warrant://mcp/db/db-password\", \"--\", \"db-server\"]"), "{out}");
        assert!(
            out.contains("[mcp_servers.db.env]\nWARRANT_HOME = \"/h/w\"\n"),
            "{out}"
        );
        assert!(!out.contains(&format!("DB_PASSWORD = \"{token}\"")));
        let refused = &fx.last.as_ref().unwrap().not_migrated;
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].field, "http_headers.Authorization");
    }

    #[test]
    fn inline_env_keeps_its_spacing_whichever_member_goes() {
        let token = secret("tok");
        let text = format!(
            "[mcp_servers.s]\ncommand = \"x\"\nenv = {{ A = \"a\", TOKEN = \"{token}\" }}\n"
        );
        let out = Fixture::new().run_toml(&text);
        assert!(out.ends_with("\nenv = { A = \"a\" }\n"), "{out}");
        let mut fx = Fixture::new();
        fx.home = Some("/h".into());
        let out = fx.run_toml(&text);
        assert!(
            out.ends_with("\nenv = { A = \"a\", WARRANT_HOME = \"/h\" }\n"),
            "{out}"
        );
        let crlf = text.replace('\n', "\r\n");
        let out = Fixture::new().run_toml(&crlf);
        assert_eq!(
            out.matches('\n').count(),
            out.matches("\r\n").count(),
            "{out:?}"
        );
    }
}
