//! `warrant audit [verify]`.

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use warrant_audit::AuditLog;

use super::{Context, print_json};
use crate::args::{AuditArgs, AuditCommand};

/// Fields every record has; the rest are the event's own.
const COMMON: &[&str] = &["seq", "time", "user", "pid", "event", "prev", "hash"];

pub fn run(ctx: &Context, args: AuditArgs) -> Result<u8> {
    let log = AuditLog::new(&ctx.home);
    match args.command {
        Some(AuditCommand::Verify { json }) => verify(&log, json),
        None => list(&log, args.json),
    }
}

fn list(log: &AuditLog, json: bool) -> Result<u8> {
    let records = log
        .records()
        .with_context(|| format!("cannot read {}", log.path().display()))?;
    if json {
        print_json(&records)?;
        return Ok(0);
    }
    if records.is_empty() {
        eprintln!("The audit log {} is empty.", log.path().display());
    }
    for record in &records {
        let value = serde_json::to_value(record)?;
        let field = |key: &str| value.get(key).map(plain).unwrap_or_default();
        let details: Vec<String> = value
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, v)| !COMMON.contains(&key.as_str()) && !v.is_null())
            .map(|(key, v)| format!("{key}={}", plain(v)))
            .collect();
        println!(
            "{:>5}  {}  {:<10} {:<16} {}",
            field("seq"),
            field("time"),
            field("user"),
            field("event"),
            details.join(" ")
        );
    }
    Ok(0)
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn verify(log: &AuditLog, json: bool) -> Result<u8> {
    match log.verify() {
        Ok(verification) => {
            if json {
                print_json(
                    &json!({ "ok": true, "records": verification.records, "head": verification.head }),
                )?;
            } else {
                println!(
                    "The audit log is intact: {} record(s), chain head {}.",
                    verification.records,
                    verification.head.as_deref().unwrap_or("(empty)")
                );
            }
            Ok(0)
        }
        Err(warrant_audit::Error::Broken { path, line, reason }) => {
            if json {
                print_json(&json!({ "ok": false, "path": path, "line": line, "reason": reason }))?;
            } else {
                eprintln!(
                    "warrant: the audit log {} is broken at line {line}: {reason}",
                    path.display()
                );
            }
            Ok(1)
        }
        Err(error) => Err(error).context("cannot verify the audit log"),
    }
}
