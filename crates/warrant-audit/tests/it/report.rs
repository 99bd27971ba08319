//! The exposure report, computed from real logs: each counter, grant lookups
//! across `since`, records of older and of later versions, the text tables.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;
use warrant_audit::report::{ActorExposure, Report, SecretExposure, parse_since};
use warrant_audit::{AuditLog, Event, Record};

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

fn requested(grant: &str, actor: &str, secrets: &[&str]) -> Event {
    Event::GrantRequested {
        grant: grant.into(),
        actor: actor.into(),
        task: None,
        secrets: names(secrets),
        commands: vec![],
        hosts: vec![],
        ttl_secs: 900,
        max_uses: None,
        reason: "run the migration tests".into(),
        status: "pending".into(),
        rules: vec![3],
        policy: "0".repeat(64),
    }
}

fn used(grant: &str, actor: &str, env: &[&str], file: &[&str]) -> Event {
    Event::GrantUsed {
        grant: grant.into(),
        actor: actor.into(),
        command: "cargo".into(),
        use_number: 1,
        env_secrets: names(env),
        file_secrets: names(file),
    }
}

/// A `run` record: direct when `grant` is `None`.
fn run(
    grant: Option<(&str, &str)>,
    env: &[&str],
    file: &[&str],
    redactions: u64,
    by: &[(&str, u64)],
) -> Event {
    Event::Run {
        command: "cargo".into(),
        child_pid: Some(4242),
        env_secrets: names(env),
        file_secrets: names(file),
        exit_code: Some(0),
        signal: None,
        redactions,
        redactions_by: by.iter().map(|&(n, c)| (n.to_owned(), c)).collect(),
        grant: grant.map(|(g, _)| g.to_owned()),
        actor: grant.map(|(_, a)| a.to_owned()),
    }
}

fn approved(grant: &str, by: &str) -> Event {
    Event::GrantApproved {
        grant: grant.into(),
        by: by.into(),
        ttl_secs: 900,
        max_uses: None,
    }
}

/// A log under a fresh home holding `events`, and its records.
fn log_of(events: Vec<Event>) -> (tempfile::TempDir, AuditLog, Vec<Record>) {
    let home = tempfile::tempdir().unwrap();
    let log = AuditLog::new(home.path());
    for event in events {
        log.append(event).unwrap();
    }
    let records = log.records().unwrap();
    (home, log, records)
}

fn report_of(events: Vec<Event>) -> (Report, String) {
    let (_home, _log, records) = log_of(events);
    let user = records[0].user.clone();
    (Report::from_records(&records, None), user)
}

fn secret<'a>(report: &'a Report, name: &str) -> &'a SecretExposure {
    report
        .secrets
        .iter()
        .find(|s| s.secret == name)
        .unwrap_or_else(|| panic!("no row for secret {name}: {report:#?}"))
}

fn actor<'a>(report: &'a Report, name: &str) -> &'a ActorExposure {
    report
        .actors
        .iter()
        .find(|a| a.actor == name)
        .unwrap_or_else(|| panic!("no row for actor {name}: {report:#?}"))
}

/// Appends a record of a kind this version does not know, chained and with
/// `audit.head` updated as a later version would write it.
fn append_raw(log: &AuditLog, event: Value) {
    let records = log.records().unwrap();
    let last = records.last();
    let Value::Object(mut fields) = event else {
        panic!("an event is an object");
    };
    let seq = last.map_or(1, |r| r.seq + 1);
    fields.insert("seq".into(), seq.into());
    fields.insert("time".into(), "2026-05-01T12:00:00.000Z".into());
    fields.insert("user".into(), "ana".into());
    fields.insert("pid".into(), 4242.into());
    let prev = last.map_or_else(|| "0".repeat(64), |r| r.hash.clone());
    fields.insert("prev".into(), prev.into());
    let hash = hex::encode(Sha256::digest(serde_json::to_string(&fields).unwrap()));
    fields.insert("hash".into(), hash.clone().into());
    let mut file = OpenOptions::new().append(true).open(log.path()).unwrap();
    writeln!(file, "{}", Value::Object(fields)).unwrap();
    fs::write(
        log.head_path(),
        format!("{{\"seq\":{seq},\"hash\":\"{hash}\"}}\n"),
    )
    .unwrap();
}

fn unknown(fields: Value) -> Record {
    let Value::Object(mut fields) = fields else {
        panic!("an event is an object");
    };
    for (key, value) in [
        ("seq", json!(1)),
        ("time", json!("2026-05-01T12:00:00Z")),
        ("user", json!("ana")),
        ("pid", json!(1)),
        ("prev", json!("0".repeat(64))),
        ("hash", json!("h")),
    ] {
        fields.insert(key.into(), value);
    }
    serde_json::from_value(Value::Object(fields)).unwrap()
}

#[test]
fn grant_uses_count_processes_per_secret_and_per_actor() {
    let (report, _) = report_of(vec![
        requested("g1", "claude", &["db/dev/url", "gh/token"]),
        used("g1", "claude", &["db/dev/url"], &["gh/token"]),
        used("g1", "claude", &["db/dev/url", "gh/token"], &["gh/token"]),
        requested("g2", "codex", &["db/dev/url"]),
        used("g2", "codex", &[], &["db/dev/url"]),
        // A use delivering nothing exposes nothing.
        used("g2", "codex", &[], &[]),
    ]);
    assert_eq!(report.records, 6);
    let names: Vec<_> = report.secrets.iter().map(|s| s.secret.as_str()).collect();
    assert_eq!(names, ["db/dev/url", "gh/token"]);

    let db = secret(&report, "db/dev/url");
    assert_eq!(
        (db.processes_held, db.held_in_env, db.held_in_file),
        (3, 2, 1)
    );
    assert_eq!(db.actors, ["claude", "codex"]);
    // Given both ways to one process: one process, once in each split.
    let gh = secret(&report, "gh/token");
    assert_eq!(
        (gh.processes_held, gh.held_in_env, gh.held_in_file),
        (2, 1, 2)
    );
    assert_eq!(gh.actors, ["claude"]);

    let claude = actor(&report, "claude");
    assert_eq!(claude.processes_held, 2);
    assert_eq!(claude.secrets, ["db/dev/url", "gh/token"]);
    assert_eq!(claude.grants_requested, 1);
    let codex = actor(&report, "codex");
    assert_eq!(codex.processes_held, 1);
    assert_eq!(codex.secrets, ["db/dev/url"]);
}

#[test]
fn direct_runs_expose_as_the_user_and_granted_runs_only_redact() {
    let (report, user) = report_of(vec![
        run(None, &["db/dev/url"], &["tls/key"], 2, &[("db/dev/url", 2)]),
        // No secrets: nothing held, and no row for it.
        run(None, &[], &[], 0, &[]),
        requested("g1", "claude", &["db/dev/url"]),
        used("g1", "claude", &["db/dev/url"], &[]),
        run(
            Some(("g1", "claude")),
            &["db/dev/url"],
            &[],
            5,
            &[("db/dev/url", 5)],
        ),
    ]);
    let direct = format!("user:{user}");
    let db = secret(&report, "db/dev/url");
    assert_eq!(
        db.processes_held, 2,
        "the granted run is counted by grant_used"
    );
    assert_eq!(db.held_in_env, 2);
    assert_eq!(db.redactions, 7);
    assert_eq!(db.actors, ["claude".to_owned(), direct.clone()]);
    let tls = secret(&report, "tls/key");
    assert_eq!((tls.processes_held, tls.held_in_file), (1, 1));

    let by_user = actor(&report, &direct);
    assert_eq!(by_user.processes_held, 1);
    assert_eq!(by_user.redactions, 2);
    assert_eq!(by_user.secrets, ["db/dev/url", "tls/key"]);
    let claude = actor(&report, "claude");
    assert_eq!((claude.processes_held, claude.redactions), (1, 5));
    assert_eq!(report.actors.len(), 2);
}

#[test]
fn granted_run_without_actor_is_attributed_through_its_grant() {
    let (report, _) = report_of(vec![
        requested("g1", "claude", &["db/dev/url"]),
        Event::Run {
            command: "psql".into(),
            child_pid: None,
            env_secrets: names(&["db/dev/url"]),
            file_secrets: vec![],
            exit_code: Some(0),
            signal: None,
            redactions: 1,
            redactions_by: BTreeMap::new(),
            grant: Some("g1".into()),
            actor: None,
        },
    ]);
    assert_eq!(actor(&report, "claude").redactions, 1);
    assert_eq!(actor(&report, "claude").processes_held, 0);
    assert_eq!(secret(&report, "db/dev/url").redactions, 1);
    assert_eq!(secret(&report, "db/dev/url").processes_held, 0);
}

#[test]
fn older_run_records_attribute_redactions_when_they_can() {
    let (report, user) = report_of(vec![
        // Older version, one secret: the total is that secret's.
        run(None, &["db/dev/url"], &[], 3, &[]),
        // Older version, two secrets: nobody can say whose.
        run(None, &["db/dev/url"], &["gh/token"], 4, &[]),
        // The same secret twice is still one secret.
        run(None, &["gh/token"], &["gh/token"], 1, &[]),
        // Per-secret counts that explain only part of the total.
        run(None, &["a", "b"], &[], 3, &[("a", 1), ("b", 0)]),
    ]);
    assert_eq!(secret(&report, "db/dev/url").redactions, 3);
    assert_eq!(secret(&report, "gh/token").redactions, 1);
    assert_eq!(secret(&report, "a").redactions, 1);
    assert_eq!(secret(&report, "b").redactions, 0);
    assert_eq!(report.unattributed_redactions, 4 + 2);
    assert_eq!(actor(&report, &format!("user:{user}")).redactions, 11);
    let text = report.render_text();
    assert!(
        text.contains("6 redactions in records of older versions could not be attributed"),
        "{text}"
    );
}

#[test]
fn denials_count_per_secret_and_per_actor() {
    let (report, _) = report_of(vec![
        Event::RequestDenied {
            actor: "codex".into(),
            task: None,
            secrets: names(&["prod/db", "gh/token"]),
            reason: "no rule allows prod/db".into(),
        },
        requested("g1", "claude", &["gh/token"]),
        Event::ApprovalRefused {
            grant: "g1".into(),
            by: "ana".into(),
            reason: "wrong passphrase".into(),
        },
        Event::GrantDenied {
            grant: "g1".into(),
            by: "ana".into(),
            reason: None,
        },
        Event::UseRefused {
            grant: "g1".into(),
            actor: "claude".into(),
            command: "curl".into(),
            reason: "grant is denied".into(),
        },
        // A grant whose request is not in the log (rotated away).
        Event::GrantDenied {
            grant: "g0".into(),
            by: "ana".into(),
            reason: Some("too broad".into()),
        },
    ]);
    assert_eq!(secret(&report, "prod/db").denied, 1);
    assert_eq!(secret(&report, "gh/token").denied, 3);
    assert_eq!(secret(&report, "gh/token").processes_held, 0);
    assert!(secret(&report, "gh/token").actors.is_empty());
    assert_eq!(actor(&report, "codex").denied, 1);
    assert_eq!(actor(&report, "claude").denied, 3);
    assert_eq!(actor(&report, "grant:g0").denied, 1);
}

#[test]
fn grant_lifecycle_and_tasks_per_actor() {
    let (report, _) = report_of(vec![
        Event::TaskStarted {
            task: "t1".into(),
            actor: "claude".into(),
            command: "claude".into(),
            reason: "fix the migration".into(),
            root_pid: 4242,
            sandbox: "landlock".into(),
            proxy_only: false,
        },
        requested("g1", "claude", &["db/dev/url"]),
        approved("g1", "policy"),
        requested("g2", "claude", &["gh/token"]),
        approved("g2", "ana"),
        Event::GrantExpired {
            grant: "g1".into(),
            processes_ended: 0,
        },
        Event::GrantRevoked {
            grant: "g2".into(),
            by: "task".into(),
            reason: "task ended".into(),
            processes_ended: 1,
        },
        Event::TaskEnded {
            task: "t1".into(),
            exit_code: Some(0),
            grants_revoked: 1,
            processes_ended: 1,
        },
        Event::SecretSet {
            name: "db/dev/url".into(),
        },
    ]);
    let claude = actor(&report, "claude");
    assert_eq!(claude.tasks, 1);
    assert_eq!(claude.grants_requested, 2);
    assert_eq!(claude.grants_approved, 2);
    assert_eq!(claude.grants_auto_approved, 1);
    assert_eq!(claude.grants_expired, 1);
    assert_eq!(claude.grants_revoked, 1);
    assert_eq!(claude.processes_held, 0);
    assert_eq!(report.actors.len(), 1);
    // Requested, stored, never held: no exposure row.
    assert!(report.secrets.is_empty());
    assert_eq!(report.records, 9);
}

#[test]
fn since_counts_the_window_but_looks_grants_up_in_the_whole_log() {
    let (_home, _log, mut records) = log_of(vec![
        requested("g1", "claude", &["db/dev/url"]),
        used("g1", "claude", &["db/dev/url"], &[]),
        approved("g1", "ana"),
        Event::GrantDenied {
            grant: "g1".into(),
            by: "ana".into(),
            reason: None,
        },
        used("g1", "claude", &["db/dev/url"], &[]),
        run(None, &["gh/token"], &[], 0, &[]),
    ]);
    let times = [
        "2026-04-30T09:00:00.000Z",
        "2026-04-30T09:01:00.000Z",
        "2026-05-01T00:00:00Z",
        "2026-05-01T02:00:00+02:00",
        "2026-05-02T08:00:00.500Z",
        "not a time",
    ];
    for (record, time) in records.iter_mut().zip(times) {
        record.time = time.into();
    }
    let since = datetime!(2026-05-01 0:00 UTC);
    let report = Report::from_records(&records, Some(since));
    assert_eq!(report.since.as_deref(), Some("2026-05-01T00:00:00Z"));
    // At the boundary counts; 02:00+02:00 is the boundary too.
    assert_eq!(report.records, 3);
    assert_eq!(report.undated, 1);

    let claude = actor(&report, "claude");
    assert_eq!(claude.grants_requested, 0, "requested before the window");
    assert_eq!(
        claude.grants_approved, 1,
        "found through g1's earlier request"
    );
    assert_eq!(claude.denied, 1);
    assert_eq!(claude.processes_held, 1);
    let db = secret(&report, "db/dev/url");
    assert_eq!((db.processes_held, db.denied), (1, 1));
    assert!(report.secrets.iter().all(|s| s.secret != "gh/token"));
    assert!(report.render_text().contains("1 records left out"));

    // Without `since` every record counts, dated or not.
    let all = Report::from_records(&records, None);
    assert_eq!((all.records, all.undated), (6, 0));
    assert_eq!(secret(&all, "db/dev/url").processes_held, 2);
}

#[test]
fn substituted_records_of_later_versions_count_as_uses_without_exposure() {
    let (_home, log, _) = log_of(vec![
        requested("g1", "claude", &["gh/token"]),
        used("g1", "claude", &["gh/token"], &[]),
    ]);
    append_raw(
        &log,
        json!({"event": "substituted", "actor": "claude", "grant": "g1",
               "secrets": ["gh/token", "npm/token", "gh/token", 7, ""], "host": "api.github.com"}),
    );
    append_raw(
        &log,
        json!({"event": "substituted", "grant": "g1", "secret": "gh/token", "via": "mcp"}),
    );
    append_raw(&log, json!({"event": "substituted", "secret": "npm/token"}));
    append_raw(
        &log,
        json!({"event": "grant_escalated", "grant": "g1", "secrets": ["prod/db"]}),
    );
    // A later version's records chain like any other; this one appends on.
    log.append(used("g1", "claude", &["gh/token"], &[]))
        .unwrap();
    assert_eq!(log.verify().unwrap().records, 7);

    let report = Report::from_records(&log.records().unwrap(), None);
    assert_eq!(report.records, 7);
    let gh = secret(&report, "gh/token");
    assert_eq!(gh.uses_without_exposure, 2);
    assert_eq!(gh.processes_held, 2);
    let npm = secret(&report, "npm/token");
    assert_eq!((npm.uses_without_exposure, npm.processes_held), (2, 0));
    assert!(npm.actors.is_empty(), "a substitution is no holding");
    assert!(report.secrets.iter().all(|s| s.secret != "prod/db"));

    let claude = actor(&report, "claude");
    assert_eq!(claude.uses_without_exposure, 2);
    assert_eq!(claude.secrets, ["gh/token"]);
    assert_eq!(actor(&report, "user:ana").uses_without_exposure, 1);
}

#[test]
fn substituted_records_in_odd_shapes_are_counted_once_or_not_at_all() {
    let records = vec![
        unknown(json!({"event": "substituted", "actor": "codex", "secrets": "one/name"})),
        unknown(json!({"event": "substituted", "actor": "codex", "secrets": {"not": "names"}})),
        unknown(json!({"event": "substituted", "actor": "codex",
                       "secret": "one/name", "secrets": ["one/name", "two/name"]})),
        unknown(json!({"event": "substituted", "actor": 3, "secret": ["x"]})),
        unknown(json!({"no_event": true})),
    ];
    let report = Report::from_records(&records, None);
    assert_eq!(report.records, 5);
    assert_eq!(actor(&report, "codex").uses_without_exposure, 3);
    assert_eq!(actor(&report, "user:ana").uses_without_exposure, 1);
    assert_eq!(secret(&report, "one/name").uses_without_exposure, 2);
    assert_eq!(secret(&report, "two/name").uses_without_exposure, 1);
    assert_eq!(report.secrets.len(), 2);
}

#[test]
fn parse_since_accepts_times_dates_and_ages() {
    let now = datetime!(2026-05-10 12:30:00 UTC);
    let ok = |text: &str| parse_since(text, now).unwrap();
    assert_eq!(ok("2026-05-01T12:00:00Z"), datetime!(2026-05-01 12:00 UTC));
    assert_eq!(
        ok("2026-05-01T12:00:00.250+02:00"),
        datetime!(2026-05-01 10:00:00.250 UTC)
    );
    assert_eq!(ok("2026-05-01"), datetime!(2026-05-01 0:00 UTC));
    assert_eq!(ok("30m"), datetime!(2026-05-10 12:00 UTC));
    assert_eq!(ok("12h"), datetime!(2026-05-10 0:30 UTC));
    assert_eq!(ok("7d"), datetime!(2026-05-03 12:30 UTC));
    assert_eq!(ok("2w"), datetime!(2026-04-26 12:30 UTC));
    assert_eq!(ok("0m"), now);
    assert_eq!(ok(" 7d\n"), datetime!(2026-05-03 12:30 UTC));
}

#[test]
fn parse_since_refuses_everything_else() {
    let now = OffsetDateTime::now_utc();
    let err = |text: &str| parse_since(text, now).unwrap_err();
    assert!(err("").starts_with("empty time"));
    for bad in [
        "7",
        "d",
        "7y",
        "30M",
        "-1d",
        "1.5h",
        "7 d",
        "yesterday",
        "2026-5-1",
        "12:00",
    ] {
        let message = err(bad);
        assert!(
            message.contains("is not a time: expected"),
            "{bad}: {message}"
        );
        assert!(message.contains(bad.trim()), "{message}");
    }
    assert!(err("2026-13-01").contains("is not a valid date"));
    assert!(err("2026-02-30").contains("is not a valid date"));
    assert!(err("99999999999999999999w").contains("too far back"));
    assert!(err("10000000w").contains("too far back"));
}

#[test]
fn text_tables_have_a_row_per_name_aligned_and_explained() {
    let (report, user) = report_of(vec![
        requested("g1", "claude", &["db/dev/url"]),
        approved("g1", "policy"),
        used("g1", "claude", &["db/dev/url"], &[]),
        run(
            Some(("g1", "claude")),
            &["db/dev/url"],
            &[],
            12,
            &[("db/dev/url", 12)],
        ),
        run(None, &[], &["tls/key"], 0, &[]),
    ]);
    let text = report.render_text();
    let direct = format!("user:{user}");
    let pad = " ".repeat(direct.len() - "claude".len());
    let expected_secrets = format!(
        "SECRET      HELD  ENV  FILE  UNEXPOSED  REDACTED  DENIED  HELD BY\n\
         db/dev/url     1    1     0          0        12       0  claude\n\
         tls/key        1    0     1          0         0       0  {direct}\n"
    );
    assert!(
        text.starts_with("Exposure in the audit log (5 records)\n"),
        "{text}"
    );
    assert!(text.contains(&expected_secrets), "{text}");
    let expected_actors = format!(
        "ACTOR{head}  HELD  UNEXPOSED  REDACTED  DENIED  REQUESTED  APPROVED  AUTO  REVOKED  EXPIRED  TASKS  SECRETS\n\
         claude{pad}     1          0        12       0          1         1     1        0        0      0  db/dev/url\n\
         {direct}     1          0         0       0          0         0     0        0        0      0  tls/key\n",
        head = " ".repeat(direct.len() - "ACTOR".len()),
    );
    assert!(text.contains(&expected_actors), "{text}");
    for line in [
        "  HELD       processes that held the value",
        "  UNEXPOSED  uses that never exposed it",
        "  HELD BY    actors whose processes held it",
        "  AUTO       of those, approved by the policy itself",
        "  SECRETS    secrets its processes held",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("could not be attributed"));
    assert!(text.lines().all(|l| l == l.trim_end()));
}

#[test]
fn text_says_when_there_is_no_activity() {
    let report = Report::from_records(&[], Some(datetime!(2026-05-01 0:00 UTC)));
    assert_eq!(
        report.render_text(),
        "no activity since 2026-05-01T00:00:00Z\n"
    );
    let (report, _) = report_of(vec![Event::SecretSet {
        name: "db/dev/url".into(),
    }]);
    assert_eq!(report.records, 1);
    assert_eq!(report.render_text(), "no activity in the audit log\n");
}

#[test]
fn names_with_control_characters_are_escaped_in_text() {
    let records = vec![unknown(json!({
        "event": "substituted", "actor": "evil\u{1b}[2J", "secret": "x\ny"
    }))];
    let text = Report::from_records(&records, None).render_text();
    assert!(!text.contains('\u{1b}'));
    assert!(text.contains("evil\\u{1b}[2J"), "{text}");
    assert!(text.contains("x\\ny"), "{text}");
}

#[test]
fn json_report_round_trips_with_every_counter() {
    let (report, _) = report_of(vec![
        requested("g1", "claude", &["db/dev/url"]),
        used("g1", "claude", &["db/dev/url"], &[]),
    ]);
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["since"], Value::Null);
    assert_eq!(value["records"], 2);
    assert_eq!(value["unattributed_redactions"], 0);
    let secret: &Map<String, Value> = value["secrets"][0].as_object().unwrap();
    let keys: Vec<_> = secret.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "actors",
            "denied",
            "held_in_env",
            "held_in_file",
            "processes_held",
            "redactions",
            "secret",
            "uses_without_exposure",
        ]
    );
    assert_eq!(value["actors"][0]["actor"], "claude");
    assert_eq!(value["actors"][0]["secrets"], json!(["db/dev/url"]));
    assert_eq!(value["actors"][0]["grants_auto_approved"], 0);
    let back: Report = serde_json::from_value(value).unwrap();
    assert_eq!(back, report);
}
