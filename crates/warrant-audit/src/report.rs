//! Exposure report over the audit log: per secret and per actor, how many
//! processes ever held a value, how many uses never exposed it, how often it
//! was redacted from output, and how many requests were denied.
//!
//! Security teams count exposure, not vaulted secrets: a secret handed to
//! forty processes is a different risk from one used forty times through
//! the HTTP proxy without ever entering an agent's process. [`Report`]
//! computes both from the log's [`Record`]s; [`Report::render_text`] prints
//! them as two tables and serde gives `--json`. The log holds no values, so
//! neither does the report.
//!
//! What counts where:
//! - a process *held* a secret for each `grant_used` record naming it, and
//!   for each `run` record without a grant (a direct `warrant run`). A `run`
//!   with a grant is the end of a granted process whose exposure its
//!   `grant_used` already counted; it contributes its redactions only.
//! - a use *without exposure* is a `substituted` record (MCP server, HTTP
//!   proxy), a kind this version does not know: it is read from the raw
//!   fields `secrets` (names) or `secret` (one name), `actor` or `grant`.
//! - *denied* counts `request_denied`, `grant_denied`, `use_refused`, and
//!   (per actor only) `approval_refused`.
//!
//! A grant's actor and secrets come from its `grant_requested` record,
//! looked up over the whole log even when that record is older than
//! `since`. Actors that cannot be named get a pseudo-actor: `user:NAME` for
//! a direct run (the OS user who ran it), `grant:ID` for a grant whose
//! request is not in the log.
//!
//! ```
//! use warrant_audit::{AuditLog, Event, report::Report};
//!
//! let home = tempfile::tempdir()?;
//! let log = AuditLog::new(home.path());
//! log.append(Event::GrantUsed {
//!     grant: "g1".into(),
//!     actor: "claude".into(),
//!     command: "cargo".into(),
//!     use_number: 1,
//!     env_secrets: vec!["db/dev/url".into()],
//!     file_secrets: vec![],
//! })?;
//! let report = Report::from_records(&log.records()?, None);
//! assert_eq!(report.secrets[0].secret, "db/dev/url");
//! assert_eq!(report.secrets[0].processes_held, 1);
//! assert_eq!(report.actors[0].actor, "claude");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use crate::{AnyEvent, Event, Record};

/// The kind of record a later version writes when the MCP server or the
/// HTTP proxy substitutes a value the agent never held.
pub const SUBSTITUTED: &str = "substituted";

/// Exposure per secret and per actor over the records at or after `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The start of the window (RFC 3339), or `None` for the whole log.
    pub since: Option<String>,
    /// Records in the window (of any kind, known or not).
    pub records: u64,
    /// Records left out because their `time` could not be read (only when
    /// `since` is given; without it every record counts).
    pub undated: u64,
    /// One row per secret with any activity, sorted by name.
    pub secrets: Vec<SecretExposure>,
    /// One row per actor with any activity, sorted by name.
    pub actors: Vec<ActorExposure>,
    /// Redactions that no single secret can be blamed for: records of older
    /// versions (no `redactions_by`) of runs given several secrets.
    pub unattributed_redactions: u64,
}

/// Exposure of one secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretExposure {
    /// The secret's name.
    pub secret: String,
    /// Processes that held the value. A process given it both in its
    /// environment and in a file counts once here and once in each split.
    pub processes_held: u64,
    /// Processes given it in their environment.
    pub held_in_env: u64,
    /// Processes given it as an in-memory file.
    pub held_in_file: u64,
    /// Uses in which warrant substituted the value and no process of the
    /// agent held it (MCP server, HTTP proxy).
    pub uses_without_exposure: u64,
    /// Times the value was redacted from a process's output.
    pub redactions: u64,
    /// Requests, grants and uses naming it that were denied or refused.
    pub denied: u64,
    /// Actors whose processes held it, sorted.
    pub actors: Vec<String>,
}

/// Exposure and grant activity of one actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorExposure {
    /// The actor's name, or a pseudo-actor (`user:NAME`, `grant:ID`).
    pub actor: String,
    /// Its processes that held at least one value.
    pub processes_held: u64,
    /// Its uses that never exposed a value (one per substitution).
    pub uses_without_exposure: u64,
    /// Values redacted from its processes' output.
    pub redactions: u64,
    /// Its requests and uses denied or refused, and failed approvals of
    /// its grants.
    pub denied: u64,
    /// Grants it asked for (and the policy allowed).
    pub grants_requested: u64,
    /// Approvals of its grants, automatic ones included.
    pub grants_approved: u64,
    /// Of those, approvals by the policy itself (`by: "policy"`).
    pub grants_auto_approved: u64,
    /// Its grants revoked.
    pub grants_revoked: u64,
    /// Its grants that expired.
    pub grants_expired: u64,
    /// Tasks started as it.
    pub tasks: u64,
    /// Secrets its processes held, sorted.
    pub secrets: Vec<String>,
}

impl Report {
    /// Counts the records at or after `since` (all of them for `None`).
    /// Grant lookups use every record, so a grant requested before `since`
    /// and used after it is still attributed to its actor.
    pub fn from_records(records: &[Record], since: Option<OffsetDateTime>) -> Report {
        let grants = Grants::from_records(records);
        let mut tally = Tally::default();
        let mut counted = 0;
        let mut undated = 0;
        for record in records {
            if let Some(since) = since {
                match OffsetDateTime::parse(&record.time, &Rfc3339) {
                    Ok(time) if time >= since => {}
                    Ok(_) => continue,
                    Err(_) => {
                        undated += 1;
                        continue;
                    }
                }
            }
            counted += 1;
            tally.record(record, &grants);
        }
        Report {
            since: since.map(|t| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())),
            records: counted,
            undated,
            unattributed_redactions: tally.unattributed,
            secrets: tally
                .secrets
                .into_values()
                .map(SecretExposure::finish)
                .collect(),
            actors: tally
                .actors
                .into_values()
                .map(ActorExposure::finish)
                .collect(),
        }
    }

    /// Plain-text tables for a terminal: one per secret, one per actor,
    /// columns aligned, each column explained under its table; `no activity
    /// since ...` when there is nothing to show.
    pub fn render_text(&self) -> String {
        let window = match &self.since {
            Some(since) => format!("since {since}"),
            None => "in the audit log".to_owned(),
        };
        let mut out = String::new();
        if self.secrets.is_empty() && self.actors.is_empty() {
            let _ = writeln!(out, "no activity {window}");
            self.render_notes(&mut out);
            return out;
        }
        let _ = writeln!(out, "Exposure {window} ({} records)", self.records);

        out.push_str("\nPer secret\n");
        if self.secrets.is_empty() {
            out.push_str("  (no secret was held, used, redacted or denied)\n");
        } else {
            out.push_str(&table(
                &SECRET_COLUMNS,
                self.secrets.iter().map(SecretExposure::row).collect(),
            ));
        }

        out.push_str("\nPer actor\n");
        if self.actors.is_empty() {
            out.push_str("  (no actor)\n");
        } else {
            out.push_str(&table(
                &ACTOR_COLUMNS,
                self.actors.iter().map(ActorExposure::row).collect(),
            ));
        }
        self.render_notes(&mut out);
        out
    }

    fn render_notes(&self, out: &mut String) {
        if self.unattributed_redactions > 0 {
            let _ = writeln!(
                out,
                "\n{} redactions in records of older versions could not be attributed to one secret",
                self.unattributed_redactions
            );
        }
        if self.undated > 0 {
            let _ = writeln!(
                out,
                "\n{} records left out: their time could not be read",
                self.undated
            );
        }
    }
}

/// Parses the start of a report window: an RFC 3339 time
/// (`2026-05-01T12:00:00Z`), a date (`2026-05-01`, midnight UTC) or an age
/// before `now` in minutes, hours, days or weeks (`30m`, `12h`, `7d`, `2w`).
pub fn parse_since(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    const EXPECTED: &str = "expected an RFC 3339 time (2026-05-01T12:00:00Z), a date (2026-05-01) or an age (30m, 12h, 7d, 2w)";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty time: {EXPECTED}"));
    }
    if let Some(age) = parse_age(text) {
        let since = age
            .and_then(|seconds| i64::try_from(seconds).ok())
            .and_then(|seconds| now.checked_sub(Duration::seconds(seconds)))
            .filter(|since| since.year() >= 1);
        return since.ok_or_else(|| format!("'{text}' reaches too far back"));
    }
    if is_date_shaped(text) {
        let date = Date::parse(text, format_description!("[year]-[month]-[day]"))
            .map_err(|e| format!("'{text}' is not a valid date ({e})"))?;
        return Ok(date.midnight().assume_utc());
    }
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| format!("'{text}' is not a time: {EXPECTED}"))
}

/// `Some(Some(seconds))` for an age (`7d`), `Some(None)` for an age that
/// overflows, `None` for anything else.
fn parse_age(text: &str) -> Option<Option<u64>> {
    let unit = text.chars().last()?;
    let scale: u64 = match unit {
        'm' => 60,
        'h' => 60 * 60,
        'd' => 24 * 60 * 60,
        'w' => 7 * 24 * 60 * 60,
        _ => return None,
    };
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale)),
    )
}

/// `NNNN-NN-NN`: a date, valid or not (a bad one gets a date's error).
fn is_date_shaped(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// What the log says about each grant: its actor and secrets.
struct Grants<'a> {
    by_id: HashMap<&'a str, Grant<'a>>,
}

#[derive(Clone, Copy)]
struct Grant<'a> {
    actor: &'a str,
    secrets: &'a [String],
}

impl<'a> Grants<'a> {
    /// Scans every record, in or out of the window. `grant_requested` is the
    /// authority; records naming both a grant and an actor fill in the actor
    /// of grants whose request is missing.
    fn from_records(records: &'a [Record]) -> Self {
        let mut by_id = HashMap::new();
        for record in records {
            let (grant, actor) = match &record.event {
                AnyEvent::Known(Event::GrantRequested {
                    grant,
                    actor,
                    secrets,
                    ..
                }) => {
                    let secrets = secrets.as_slice();
                    by_id.insert(grant.as_str(), Grant { actor, secrets });
                    continue;
                }
                AnyEvent::Known(
                    Event::GrantUsed { grant, actor, .. } | Event::UseRefused { grant, actor, .. },
                ) => (grant.as_str(), actor.as_str()),
                AnyEvent::Known(Event::Run {
                    grant: Some(grant),
                    actor: Some(actor),
                    ..
                }) => (grant.as_str(), actor.as_str()),
                AnyEvent::Unknown(fields) => {
                    match (str_field(fields, "grant"), str_field(fields, "actor")) {
                        (Some(grant), Some(actor)) => (grant, actor),
                        _ => continue,
                    }
                }
                AnyEvent::Known(_) => continue,
            };
            by_id.entry(grant).or_insert(Grant {
                actor,
                secrets: &[],
            });
        }
        Self { by_id }
    }

    /// The grant's actor, or `grant:ID` when the log does not say.
    fn actor(&self, grant: &str) -> String {
        self.by_id
            .get(grant)
            .map_or_else(|| format!("grant:{grant}"), |g| g.actor.to_owned())
    }

    /// The grant's secrets (none when the log does not say).
    fn secrets(&self, grant: &str) -> &'a [String] {
        self.by_id.get(grant).map_or(&[], |g| g.secrets)
    }

    /// Who a record acted for: its own `actor`, else its grant's, else the
    /// OS user who wrote it.
    fn resolve(&self, actor: Option<&str>, grant: Option<&str>, user: &str) -> String {
        match (actor, grant) {
            (Some(actor), _) => actor.to_owned(),
            (None, Some(grant)) => self.actor(grant),
            (None, None) => format!("user:{user}"),
        }
    }
}

/// The counts as they accumulate, keyed (and so sorted) by name.
#[derive(Default)]
struct Tally {
    secrets: BTreeMap<String, SecretExposure>,
    actors: BTreeMap<String, ActorExposure>,
    unattributed: u64,
}

impl Tally {
    fn secret(&mut self, name: &str) -> &mut SecretExposure {
        self.secrets
            .entry(name.to_owned())
            .or_insert_with(|| SecretExposure {
                secret: name.to_owned(),
                ..SecretExposure::default()
            })
    }

    fn actor(&mut self, name: &str) -> &mut ActorExposure {
        self.actors
            .entry(name.to_owned())
            .or_insert_with(|| ActorExposure {
                actor: name.to_owned(),
                ..ActorExposure::default()
            })
    }

    fn record(&mut self, record: &Record, grants: &Grants<'_>) {
        let event = match &record.event {
            AnyEvent::Known(
                event @ (Event::Substituted { .. } | Event::ProxySubstituted { .. }),
            ) => {
                if let Ok(Value::Object(fields)) = serde_json::to_value(event) {
                    self.substituted(&fields, grants, &record.user);
                }
                return;
            }
            AnyEvent::Known(event) => event,
            AnyEvent::Unknown(fields) => {
                if record.event.kind() == SUBSTITUTED {
                    self.substituted(fields, grants, &record.user);
                }
                return;
            }
        };
        // Exhaustive on purpose: a new kind of event must decide whether it
        // counts as exposure.
        match event {
            Event::Run {
                env_secrets,
                file_secrets,
                redactions,
                redactions_by,
                grant,
                actor,
                ..
            } => {
                let actor = grants.resolve(actor.as_deref(), grant.as_deref(), &record.user);
                if grant.is_none() {
                    self.held(&actor, env_secrets, file_secrets);
                }
                self.redactions(
                    &actor,
                    *redactions,
                    redactions_by,
                    env_secrets,
                    file_secrets,
                );
            }
            Event::GrantUsed {
                actor,
                env_secrets,
                file_secrets,
                ..
            } => self.held(actor, env_secrets, file_secrets),
            Event::GrantRequested { actor, .. } => self.actor(actor).grants_requested += 1,
            Event::RequestDenied { actor, secrets, .. } => self.denied(actor, secrets),
            Event::GrantDenied { grant, .. } => {
                self.denied(&grants.actor(grant), grants.secrets(grant));
            }
            Event::UseRefused { grant, actor, .. } => self.denied(actor, grants.secrets(grant)),
            Event::ApprovalRefused { grant, .. } => self.actor(&grants.actor(grant)).denied += 1,
            Event::GrantApproved { grant, by, .. } => {
                let actor = self.actor(&grants.actor(grant));
                actor.grants_approved += 1;
                if by == "policy" {
                    actor.grants_auto_approved += 1;
                }
            }
            Event::GrantRevoked { grant, .. } => {
                self.actor(&grants.actor(grant)).grants_revoked += 1
            }
            Event::GrantExpired { grant, .. } => {
                self.actor(&grants.actor(grant)).grants_expired += 1
            }
            Event::TaskStarted { actor, .. } => self.actor(actor).tasks += 1,
            // A refused attempt to send a value where it may not go.
            Event::ProxyBlocked {
                secrets,
                grant,
                actor,
                ..
            } => {
                let actor = grants.resolve(actor.as_deref(), grant.as_deref(), &record.user);
                self.denied(&actor, secrets);
            }
            Event::Init { .. }
            | Event::SecretSet { .. }
            | Event::SecretRemoved { .. }
            | Event::SecretsImported { .. }
            | Event::PolicyChanged { .. }
            | Event::PolicyAccepted { .. }
            | Event::SecurityKeyAdded { .. }
            // Counted above, before this match.
            | Event::Substituted { .. }
            | Event::ProxySubstituted { .. }
            // The proxy holds the values, never a process of the agent's;
            // each use is a `substituted` record.
            | Event::ProxyLease { .. }
            // The credential reaches a process through a use, counted there.
            | Event::CredentialIssued { .. }
            | Event::CredentialRevoked { .. }
            | Event::SecretsListed { .. }
            | Event::GrantChecked { .. }
            | Event::PeerRefused { .. }
            | Event::DaemonStarted { .. }
            | Event::DaemonStopped {}
            | Event::TaskEnded { .. }
            | Event::ApproverSet { .. }
            | Event::GuardBlocked { .. } => {}
        }
    }

    /// One process of `actor` held these secrets.
    fn held(&mut self, actor: &str, env: &[String], file: &[String]) {
        let secrets = distinct(env.iter().chain(file));
        if secrets.is_empty() {
            return;
        }
        for &name in &secrets {
            let secret = self.secret(name);
            secret.processes_held += 1;
            secret.held_in_env += u64::from(env.iter().any(|s| s == name));
            secret.held_in_file += u64::from(file.iter().any(|s| s == name));
            secret.actors.push(actor.to_owned());
        }
        let actor = self.actor(actor);
        actor.processes_held += 1;
        actor.secrets.extend(secrets.into_iter().map(str::to_owned));
    }

    /// Redactions of one run: per secret from `by`; from the total when an
    /// older record has no `by` and one secret was injected; unattributed
    /// otherwise (and for any part of the total `by` does not explain).
    fn redactions(
        &mut self,
        actor: &str,
        total: u64,
        by: &BTreeMap<String, u64>,
        env: &[String],
        file: &[String],
    ) {
        let attributed: u64 = by.values().fold(0, |sum, n| sum.saturating_add(*n));
        if total.max(attributed) == 0 {
            return;
        }
        self.actor(actor).redactions += total.max(attributed);
        for (name, &count) in by {
            if count > 0 {
                self.secret(name).redactions += count;
            }
        }
        let rest = total.saturating_sub(attributed);
        if rest == 0 {
            return;
        }
        match distinct(env.iter().chain(file)).as_slice() {
            [only] if by.is_empty() => self.secret(only).redactions += rest,
            _ => self.unattributed += rest,
        }
    }

    /// One denied request or use of `actor` naming these secrets.
    fn denied(&mut self, actor: &str, secrets: &[String]) {
        self.actor(actor).denied += 1;
        for name in distinct(secrets) {
            self.secret(name).denied += 1;
        }
    }

    /// A `substituted` record of a later version: one use by its actor, one
    /// per secret it names, none of them exposed.
    fn substituted(&mut self, fields: &Map<String, Value>, grants: &Grants<'_>, user: &str) {
        let actor = grants.resolve(str_field(fields, "actor"), str_field(fields, "grant"), user);
        self.actor(&actor).uses_without_exposure += 1;
        let mut names: Vec<&str> = match fields.get("secrets") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(one)) => vec![one.as_str()],
            _ => Vec::new(),
        };
        names.extend(str_field(fields, "secret"));
        names.retain(|name| !name.is_empty());
        names.sort_unstable();
        names.dedup();
        for name in names {
            self.secret(name).uses_without_exposure += 1;
        }
    }
}

/// A string field of a raw record.
fn str_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

/// The names, each once, sorted.
fn distinct<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<&'a str> {
    let mut names: Vec<&str> = names.into_iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    names
}

impl SecretExposure {
    fn finish(mut self) -> Self {
        self.actors.sort_unstable();
        self.actors.dedup();
        self
    }

    fn row(&self) -> Vec<String> {
        vec![
            printable(&self.secret),
            self.processes_held.to_string(),
            self.held_in_env.to_string(),
            self.held_in_file.to_string(),
            self.uses_without_exposure.to_string(),
            self.redactions.to_string(),
            self.denied.to_string(),
            list(&self.actors),
        ]
    }
}

impl ActorExposure {
    fn finish(mut self) -> Self {
        self.secrets.sort_unstable();
        self.secrets.dedup();
        self
    }

    fn row(&self) -> Vec<String> {
        vec![
            printable(&self.actor),
            self.processes_held.to_string(),
            self.uses_without_exposure.to_string(),
            self.redactions.to_string(),
            self.denied.to_string(),
            self.grants_requested.to_string(),
            self.grants_approved.to_string(),
            self.grants_auto_approved.to_string(),
            self.grants_revoked.to_string(),
            self.grants_expired.to_string(),
            self.tasks.to_string(),
            list(&self.secrets),
        ]
    }
}

/// A column: its header, whether it holds numbers (right-aligned), and the
/// line explaining it under the table.
struct Column {
    header: &'static str,
    numeric: bool,
    meaning: &'static str,
}

const fn text(header: &'static str, meaning: &'static str) -> Column {
    Column {
        header,
        numeric: false,
        meaning,
    }
}

const fn number(header: &'static str, meaning: &'static str) -> Column {
    Column {
        header,
        numeric: true,
        meaning,
    }
}

const SECRET_COLUMNS: [Column; 8] = [
    text("SECRET", "the secret's name"),
    number(
        "HELD",
        "processes that held the value (given both ways: counted once)",
    ),
    number("ENV", "processes given it in their environment"),
    number("FILE", "processes given it as an in-memory file"),
    number(
        "UNEXPOSED",
        "uses that never exposed it to a process (MCP server, HTTP proxy)",
    ),
    number("REDACTED", "times it was redacted from a process's output"),
    number(
        "DENIED",
        "requests, grants and uses naming it that were denied or refused",
    ),
    text("HELD BY", "actors whose processes held it"),
];

const ACTOR_COLUMNS: [Column; 12] = [
    text(
        "ACTOR",
        "the actor (user:NAME: a direct run by that OS user; grant:ID: a grant whose request is not in the log)",
    ),
    number("HELD", "its processes that held at least one value"),
    number(
        "UNEXPOSED",
        "its uses that never exposed a value (MCP server, HTTP proxy)",
    ),
    number("REDACTED", "values redacted from its processes' output"),
    number(
        "DENIED",
        "its requests and uses denied or refused, and failed approvals of its grants",
    ),
    number("REQUESTED", "grants it asked for"),
    number(
        "APPROVED",
        "approvals of its grants, automatic ones included",
    ),
    number("AUTO", "of those, approved by the policy itself"),
    number("REVOKED", "its grants revoked"),
    number("EXPIRED", "its grants that expired"),
    number("TASKS", "tasks started as it"),
    text("SECRETS", "secrets its processes held"),
];

/// Aligned rows under a header, then one line per column saying what it
/// means. Names are left-aligned, numbers right-aligned.
fn table(columns: &[Column], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.header.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let headers = columns.iter().map(|c| c.header.to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(headers).chain(rows) {
        let mut line = String::new();
        for ((column, width), cell) in columns.iter().zip(&widths).zip(&row) {
            if !line.is_empty() {
                line.push_str("  ");
            }
            let pad = width - cell.chars().count();
            if column.numeric {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    let legend = columns.iter().map(|c| c.header.len()).max().unwrap_or(0);
    for column in columns {
        let _ = writeln!(out, "  {:<legend$}  {}", column.header, column.meaning);
    }
    out
}

/// Names as a comma-separated list, `-` for none.
fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "-".to_owned();
    }
    names
        .iter()
        .map(|n| printable(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name safe to print on a terminal: names come from the log, which a
/// later version (or an editor) may fill with control characters.
fn printable(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_their_limits() {
        assert_eq!(parse_age("15m"), Some(Some(900)));
        assert_eq!(parse_age("2w"), Some(Some(1_209_600)));
        assert_eq!(parse_age("99999999999999999999d"), Some(None));
        assert_eq!(parse_age("m"), None);
        assert_eq!(parse_age("1y"), None);
        assert_eq!(parse_age("-1h"), None);
        assert_eq!(parse_age("1.5h"), None);
    }

    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        assert_eq!(printable("db/dev"), "db/dev");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(list(&[]), "-");
    }

    #[test]
    fn tables_align_numbers_right_and_names_left() {
        let columns = [text("NAME", "n"), number("N", "count")];
        let rendered = table(
            &columns,
            vec![
                vec!["a".into(), "7".into()],
                vec!["long-name".into(), "123".into()],
            ],
        );
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines[0], "NAME         N");
        assert_eq!(lines[1], "a            7");
        assert_eq!(lines[2], "long-name  123");
        assert_eq!(lines[4], "  NAME  n");
        assert_eq!(lines[5], "  N     count");
    }

    #[test]
    fn proxy_uses_are_unexposed_and_blocks_are_denials() {
        let record = |seq: u64, event: Event| Record {
            seq,
            time: "2026-05-01T12:00:00Z".into(),
            user: "ana".into(),
            pid: 1,
            event: event.into(),
            prev: String::new(),
            hash: String::new(),
        };
        let records = [
            record(
                1,
                Event::ProxySubstituted {
                    secrets: vec!["api/token".into()],
                    host: "api.example.test".into(),
                    method: "GET".into(),
                    scheme: None,
                    port: None,
                    path: None,
                },
            ),
            record(
                2,
                Event::ProxyBlocked {
                    host: "evil.test".into(),
                    method: "POST".into(),
                    path: "/".into(),
                    secrets: vec!["api/token".into()],
                    reason: "exfiltration attempt".into(),
                    grant: None,
                    actor: None,
                },
            ),
        ];
        let report = Report::from_records(&records, None);
        let secret = &report.secrets[0];
        assert_eq!(secret.secret, "api/token");
        assert_eq!(
            (
                secret.processes_held,
                secret.uses_without_exposure,
                secret.denied
            ),
            (0, 1, 1)
        );
        assert_eq!(report.actors[0].actor, "user:ana");
        assert_eq!(report.actors[0].denied, 1);
    }
}
