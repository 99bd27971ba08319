//! Codex's `config.toml`, edited with `toml_edit` so that comments, blank
//! lines and the order of everything else survive.

use toml_edit::{Array, Document, DocumentMut, InlineTable, Item, Table, TableLike};

use super::{Located, SERVER_NAME, Value};

/// The table holding Codex's servers.
const SERVERS: &str = "mcp_servers";

/// `text` with `entry` as `[mcp_servers.warrant]`, or `text` itself when
/// that entry is already there.
pub(super) fn upsert(text: &str, entry: &Value) -> Result<String, Located> {
    let parsed = Document::parse(text).map_err(|e| Located {
        offset: e.span().map_or(0, |s| s.start),
        message: e.message().trim_end().to_owned(),
    })?;
    // Spans are known only before the document becomes mutable.
    if let Some(item) = parsed.get(SERVERS).filter(|i| !i.is_table_like()) {
        return Err(Located {
            offset: item.span().map_or(0, |s| s.start),
            message: format!("`{SERVERS}` is not a table"),
        });
    }
    let mut doc: DocumentMut = parsed.into_mut();
    let Value::Obj(fields) = entry else {
        unreachable!("an entry is an object")
    };
    let root = doc.as_table_mut();
    // `mcp_servers = { .. }` can only hold inline tables.
    let servers_inline = root.get(SERVERS).is_some_and(Item::is_inline_table);
    if !root.contains_key(SERVERS) {
        // `[mcp_servers.warrant]` alone, without an empty `[mcp_servers]`.
        let mut servers = Table::new();
        servers.set_implicit(true);
        root.insert(SERVERS, Item::Table(servers));
    }
    let servers = root
        .get_mut(SERVERS)
        .and_then(Item::as_table_like_mut)
        .expect("checked above");
    if let Some(old) = servers.get(SERVER_NAME) {
        if to_value(old).same_entry(entry) {
            return Ok(text.to_owned());
        }
    }
    let inline = servers_inline || servers.get(SERVER_NAME).is_some_and(Item::is_inline_table);
    match servers.get_mut(SERVER_NAME) {
        // Rewrite the table in place: its comments and position stay.
        Some(Item::Table(table)) => {
            table.clear();
            table.set_implicit(false);
            fill(table, fields);
        }
        _ if inline => {
            let mut table = InlineTable::new();
            fill(&mut table, fields);
            servers.insert(SERVER_NAME, Item::Value(table.into()));
        }
        _ => {
            let mut table = Table::new();
            fill(&mut table, fields);
            servers.insert(SERVER_NAME, Item::Table(table));
        }
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

/// Puts the entry's fields into `table` (command and args as values, `env`
/// as an inline table).
fn fill(table: &mut dyn TableLike, fields: &[(String, Value)]) {
    for (key, value) in fields {
        table.insert(key, Item::Value(to_toml(value)));
    }
}

fn to_toml(value: &Value) -> toml_edit::Value {
    match value {
        Value::Str(s) => s.as_str().into(),
        Value::Arr(items) => items.iter().map(to_toml).collect::<Array>().into(),
        Value::Obj(fields) => {
            let mut table = InlineTable::new();
            for (k, v) in fields {
                table.insert(k, to_toml(v));
            }
            table.into()
        }
        Value::Other(raw) => raw.parse().unwrap_or_else(|_| raw.as_str().into()),
    }
}

fn to_value(item: &Item) -> Value {
    match item {
        Item::Value(value) => value_to_value(value),
        Item::Table(table) => table_to_value(table),
        Item::ArrayOfTables(tables) => {
            Value::Arr(tables.iter().map(|t| table_to_value(t)).collect())
        }
        Item::None => Value::Other(String::new()),
    }
}

fn table_to_value(table: &dyn TableLike) -> Value {
    Value::Obj(
        table
            .iter()
            .map(|(k, v)| (k.to_owned(), to_value(v)))
            .collect(),
    )
}

fn value_to_value(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => Value::Str(s.value().clone()),
        toml_edit::Value::Array(items) => Value::Arr(items.iter().map(value_to_value).collect()),
        toml_edit::Value::InlineTable(table) => table_to_value(table),
        other => Value::Other(other.to_string().trim().to_owned()),
    }
}
