//! `warrant audit [verify]`.

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use warrant_audit::AuditLog;
use warrant_broker::server::StateLocation;
use warrant_broker::team::{self, TeamState};
use warrant_secret::SecretValue;

use super::{Context, print_json};
use crate::args::{AuditArgs, AuditCommand};

/// Fields every record has; the rest are the event's own.
const COMMON: &[&str] = &["seq", "time", "user", "pid", "event", "prev", "hash"];

pub fn run(ctx: &Context, args: AuditArgs) -> Result<u8> {
    if let StateLocation::Team(dsn) = args.state.location()? {
        return team(&dsn, args);
    }
    if let Some(dsn) = crate::team_state::remembered(&ctx.home) {
        eprintln!(
            "warrant: note: this home's daemon keeps its decisions in the team state {dsn}; \
             this is the home's own log (local events only). Add --state {dsn} for the team's chain"
        );
    }
    let log = AuditLog::new(&ctx.home);
    match args.command {
        Some(AuditCommand::Verify { json }) => verify(&log, json),
        None => list(&log, args.json),
    }
}

/// Team mode: the chain the daemons keep in PostgreSQL. Verified in
/// place; listed from an export (the file log's format, in a private
/// temporary directory) so both modes print the same.
fn team(dsn: &SecretValue, args: AuditArgs) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    let daemon = format!("audit/{}", std::process::id());
    let mut state = runtime
        .block_on(TeamState::connect(dsn, &daemon))
        .context("cannot open the team state")?;
    match args.command {
        Some(AuditCommand::Verify { json }) => match runtime.block_on(state.verify_audit()) {
            Ok(verification) => {
                if json {
                    print_json(&json!({
                        "ok": true,
                        "records": verification.records,
                        "head": verification.head,
                    }))?;
                } else {
                    println!(
                        "The team audit chain is intact: {} record(s), chain head {}.",
                        verification.records,
                        verification.head.as_deref().unwrap_or("(empty)")
                    );
                }
                Ok(0)
            }
            Err(team::Error::Audit(e)) => {
                if json {
                    print_json(&json!({ "ok": false, "reason": e.to_string() }))?;
                } else {
                    eprintln!("warrant: the team audit chain is broken: {e}");
                }
                Ok(1)
            }
            Err(e) => Err(e).context("cannot verify the team audit chain"),
        },
        None => {
            let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
            let log = AuditLog::new(dir.path());
            let mut out = std::fs::File::create(log.path())
                .with_context(|| format!("cannot write {}", log.path().display()))?;
            runtime
                .block_on(state.export_audit(&mut out))
                .context("cannot read the team audit chain")?;
            list(&log, args.json)
        }
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
        Ok(verification) if verification.unvouched.is_some() => {
            let why = verification.unvouched.unwrap_or_default();
            if json {
                print_json(&json!({
                    "ok": false,
                    "records": verification.records,
                    "vouched": verification.vouched,
                    "head": verification.head,
                    "reason": why,
                }))?;
            } else {
                eprintln!(
                    "warrant: the audit log's chain is intact for {} record(s), but its end cannot \
                     be vouched for: {why}. After a crash while the head was written this clears \
                     with the next record; otherwise records may have been cut off the end \
                     (compare with a copy or a team store's log).",
                    verification.records
                );
            }
            Ok(1)
        }
        Ok(verification) => {
            if json {
                print_json(&json!({
                    "ok": true,
                    "records": verification.records,
                    "vouched": verification.vouched,
                    "head": verification.head,
                }))?;
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
