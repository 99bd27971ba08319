//! The audit log, filtered, newest first, with the chain's verification.
//! Records hold names, counts and codes, never a value.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warrant_audit::AuditLog;

use crate::AppState;
use crate::error::WebError;
use crate::session::Signed;

/// The most records one answer carries.
const MAX_LIMIT: usize = 1000;

/// The filters; each is optional.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// An actor, or the user or approver who acted.
    actor: Option<String>,
    /// A secret name; a trailing `*` matches names that start with the rest.
    secret: Option<String>,
    /// A kind of event (`grant_approved`, `run`, ...).
    event: Option<String>,
    /// From: RFC 3339, a date, or an age such as `1h` or `7d`.
    since: Option<String>,
    /// Until, in the same forms.
    until: Option<String>,
    /// At most this many records (200 unless said).
    limit: Option<usize>,
}

/// What the page shows.
#[derive(Serialize)]
pub struct AuditView {
    /// Matching records, newest first.
    records: Vec<Value>,
    /// Records in the log.
    total: usize,
    /// Records that match (before the limit).
    matched: usize,
    /// Every kind of event in the log, for the filter's choices.
    kinds: Vec<String>,
    /// The chain's verification.
    verification: Verification,
}

/// Whether the chain verifies.
#[derive(Serialize)]
pub struct Verification {
    ok: bool,
    records: u64,
    head: Option<String>,
    error: Option<String>,
}

/// `GET /api/audit`.
pub async fn query(
    State(state): State<AppState>,
    _: Signed,
    Query(filter): Query<Filter>,
) -> Result<Json<AuditView>, WebError> {
    let home = state.home().to_owned();
    let view = tokio::task::spawn_blocking(move || read(&AuditLog::new(&home), &filter))
        .await
        .map_err(|e| WebError::Audit(e.to_string()))??;
    Ok(Json(view))
}

fn read(log: &AuditLog, filter: &Filter) -> Result<AuditView, WebError> {
    let now = OffsetDateTime::now_utc();
    let bound = |text: &Option<String>| {
        text.as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(|t| warrant_audit::parse_since(t, now).map_err(WebError::BadRequest))
            .transpose()
    };
    let (since, until) = (bound(&filter.since)?, bound(&filter.until)?);
    let verification = match log.verify() {
        Ok(v) => Verification {
            ok: true,
            records: v.records,
            head: v.head,
            error: None,
        },
        Err(e) => Verification {
            ok: false,
            records: 0,
            head: None,
            error: Some(e.to_string()),
        },
    };
    let records = log.records().map_err(|e| WebError::Audit(e.to_string()))?;
    let total = records.len();
    let mut kinds: Vec<String> = records.iter().map(|r| r.event.kind().to_owned()).collect();
    kinds.sort();
    kinds.dedup();
    let mut matched: Vec<Value> = records
        .iter()
        .rev()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter(|r| matches(r, filter, since, until))
        .collect();
    let count = matched.len();
    matched.truncate(filter.limit.unwrap_or(200).min(MAX_LIMIT));
    Ok(AuditView {
        records: matched,
        total,
        matched: count,
        kinds,
        verification,
    })
}

fn matches(
    record: &Value,
    filter: &Filter,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
) -> bool {
    let text = |field: &str| record.get(field).and_then(Value::as_str);
    if let Some(kind) = nonempty(&filter.event)
        && text("event") != Some(kind)
    {
        return false;
    }
    if let Some(actor) = nonempty(&filter.actor) {
        let acted = ["actor", "by", "user"].iter().any(|f| {
            text(f).is_some_and(|who| who == actor || who.starts_with(&format!("{actor} ")))
        });
        if !acted {
            return false;
        }
    }
    if let Some(secret) = nonempty(&filter.secret) {
        let names = ["name", "secrets", "env_secrets", "file_secrets"]
            .iter()
            .filter_map(|f| record.get(*f))
            .flat_map(|v| match v {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            })
            .collect::<Vec<_>>();
        let hit = match secret.strip_suffix('*') {
            Some(prefix) => names.iter().any(|n| n.starts_with(prefix)),
            None => names.contains(&secret),
        };
        if !hit {
            return false;
        }
    }
    if since.is_some() || until.is_some() {
        let Some(at) = text("time").and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()) else {
            return false;
        };
        if since.is_some_and(|s| at < s) || until.is_some_and(|u| at > u) {
            return false;
        }
    }
    true
}

fn nonempty(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}
