//! Appends, verification and every kind of tampering the chain must catch.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use warrant_audit::{AnyEvent, AuditLog, Error, Event};

fn set(name: &str) -> Event {
    Event::SecretSet { name: name.into() }
}

fn run_event() -> Event {
    Event::Run {
        command: "cargo".into(),
        child_pid: Some(4242),
        env_secrets: vec!["db/dev/url".into()],
        file_secrets: vec![],
        exit_code: Some(0),
        signal: None,
        redactions: 3,
        redactions_by: Default::default(),
        grant: None,
        actor: None,
    }
}

/// A log of `n` records under a fresh home.
fn log_of(n: usize) -> (tempfile::TempDir, AuditLog) {
    let home = tempfile::tempdir().unwrap();
    let log = AuditLog::new(home.path());
    for i in 0..n {
        log.append(set(&format!("s{i}"))).unwrap();
    }
    (home, log)
}

fn lines(log: &AuditLog) -> Vec<String> {
    fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(log: &AuditLog, lines: &[String]) {
    fs::write(
        log.path(),
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

/// The spec, computed independently: SHA-256 of the record without `hash`,
/// as compact JSON with sorted keys (`serde_json::Map` sorts them).
fn spec_hash(fields: &Map<String, Value>) -> String {
    let mut fields = fields.clone();
    fields.remove("hash");
    let text = serde_json::to_string(&fields).unwrap();
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn broken(result: Result<impl std::fmt::Debug, Error>) -> (u64, String) {
    match result {
        Err(Error::Broken { line, reason, .. }) => (line, reason),
        other => panic!("expected Broken, got {other:?}"),
    }
}

#[test]
fn append_and_verify_round_trip() {
    let home = tempfile::tempdir().unwrap();
    let log = AuditLog::new(&home.path().join("new-home"));
    assert_eq!(log.verify().unwrap().records, 0);
    let events = vec![
        Event::Init {
            key: "key_file".into(),
        },
        set("db/dev/url"),
        Event::SecretsImported {
            file: ".env".into(),
            names: vec!["a".into(), "b".into()],
        },
        run_event(),
        Event::SecretRemoved { name: "a".into() },
    ];
    let mut last = None;
    for event in &events {
        last = Some(log.append(event.clone()).unwrap());
    }
    let last = last.unwrap();
    let verified = log.verify().unwrap();
    assert_eq!(verified.records, 5);
    assert_eq!(verified.head.as_deref(), Some(last.hash.as_str()));

    let records = log.records().unwrap();
    let read: Vec<_> = records.iter().map(|r| r.event.clone()).collect();
    let written: Vec<_> = events.into_iter().map(AnyEvent::Known).collect();
    assert_eq!(read, written);
    assert_eq!(records[4], last);
    assert_eq!(records[0].prev, "0".repeat(64));
    assert_eq!(records[0].pid, std::process::id());
    assert!(!records[0].user.is_empty());
    assert!(records[0].time.ends_with('Z'));

    // jq-friendly: flat objects, the event's fields at the top level.
    let mut prev = "0".repeat(64);
    for (i, line) in lines(&log).iter().enumerate() {
        let Value::Object(fields) = serde_json::from_str::<Value>(line).unwrap() else {
            panic!("line {i} is not an object");
        };
        assert_eq!(fields["seq"], i as u64 + 1);
        assert_eq!(fields["prev"], prev.as_str());
        assert_eq!(fields["hash"], spec_hash(&fields).as_str());
        prev = fields["hash"].as_str().unwrap().to_owned();
    }
    let run: Value = serde_json::from_str(&lines(&log)[3]).unwrap();
    assert_eq!(run["event"], "run");
    assert_eq!(run["redactions"], 3);

    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(log.path()), 0o600);
    assert_eq!(mode(&log.head_path()), 0o600);
    assert_eq!(mode(&home.path().join("new-home")), 0o700);
}

#[test]
fn altered_field_is_caught_at_its_line() {
    let (_home, log) = log_of(4);
    let mut all = lines(&log);
    let pid = format!("\"pid\":{}", std::process::id());
    all[2] = all[2].replace(&pid, "\"pid\":1");
    write_lines(&log, &all);
    assert_eq!(
        broken(log.verify()),
        (3, "record was altered (hash mismatch)".into())
    );
}

#[test]
fn removed_middle_record_is_caught() {
    let (_home, log) = log_of(4);
    let mut all = lines(&log);
    all.remove(1);
    write_lines(&log, &all);
    let (line, reason) = broken(log.verify());
    assert_eq!(line, 2);
    assert!(reason.contains("expected seq 2, found 3"), "{reason}");
}

#[test]
fn swapped_records_are_caught() {
    let (_home, log) = log_of(4);
    let mut all = lines(&log);
    all.swap(1, 2);
    write_lines(&log, &all);
    let (line, reason) = broken(log.verify());
    assert_eq!(line, 2);
    assert!(reason.contains("missing or reordered"), "{reason}");
}

#[test]
fn relinked_record_is_caught_by_prev() {
    let (_home, log) = log_of(3);
    let mut all = lines(&log);
    // Rewrite record 2 with a valid hash but a prev that is not record 1's.
    let mut fields: Map<String, Value> = serde_json::from_str(&all[1]).unwrap();
    fields.insert("prev".into(), "f".repeat(64).into());
    let hash = spec_hash(&fields);
    fields.insert("hash".into(), hash.into());
    all[1] = serde_json::to_string(&fields).unwrap();
    write_lines(&log, &all);
    assert_eq!(
        broken(log.verify()),
        (2, "prev hash does not match record 1".into())
    );
}

#[test]
fn removed_last_record_is_caught_by_the_head() {
    let (_home, log) = log_of(4);
    let mut all = lines(&log);
    all.pop();
    write_lines(&log, &all);
    let (line, reason) = broken(log.verify());
    assert_eq!(line, 3);
    assert!(
        reason.contains("log ends at seq 3 but audit.head says 4"),
        "{reason}"
    );
    // Appending would hide the cut: refused, and nothing is written.
    broken(log.append(set("x")));
    assert_eq!(lines(&log), all);
}

#[test]
fn emptied_log_and_missing_head_are_caught() {
    let (_home, log) = log_of(3);
    fs::write(log.path(), b"").unwrap();
    assert!(broken(log.verify()).1.contains("log is empty"));
    let (_home, log) = log_of(3);
    fs::remove_file(log.head_path()).unwrap();
    assert!(broken(log.verify()).1.contains("audit.head is missing"));
}

#[test]
fn a_crash_before_the_head_is_written_is_accepted_and_repaired() {
    let (_home, log) = log_of(2);
    let head_after_two = fs::read(log.head_path()).unwrap();
    log.append(set("third")).unwrap();
    fs::write(log.head_path(), head_after_two).unwrap();
    assert_eq!(log.verify().unwrap().records, 3);
    let fourth = log.append(set("fourth")).unwrap();
    assert_eq!(fourth.seq, 4);
    assert_eq!(log.verify().unwrap().head, Some(fourth.hash));
}

#[test]
fn two_crashes_before_the_head_in_a_row_still_chain_on() {
    let (_home, log) = log_of(2);
    let stale = fs::read(log.head_path()).unwrap();
    log.append(set("third")).unwrap();
    fs::write(log.head_path(), &stale).unwrap();
    // The next writer repairs the head before its own line, so dying again
    // right after that line leaves the head one behind, not two.
    log.append(set("fourth")).unwrap();
    let head_after_three = serde_json::to_vec(&serde_json::json!({
        "seq": 3,
        "hash": log.records().unwrap()[2].hash,
    }))
    .unwrap();
    fs::write(log.head_path(), head_after_three).unwrap();
    assert_eq!(log.verify().unwrap().records, 4);
    assert_eq!(log.append(set("fifth")).unwrap().seq, 5);
    assert_eq!(log.verify().unwrap().records, 5);
}

#[test]
fn unparsable_and_cut_lines_are_caught() {
    let (_home, log) = log_of(3);
    let mut all = lines(&log);
    all[1] = "{\"seq\": 2, oops".into();
    write_lines(&log, &all);
    let (line, reason) = broken(log.verify());
    assert_eq!(line, 2);
    assert!(reason.starts_with("unparsable JSON"), "{reason}");
    assert_eq!(broken(log.records()).0, 2);

    let (_home, log) = log_of(3);
    let text = fs::read_to_string(log.path()).unwrap();
    fs::write(log.path(), &text[..text.len() - 10]).unwrap();
    let (line, reason) = broken(log.verify());
    assert_eq!(line, 3);
    assert!(reason.contains("incomplete"), "{reason}");
    assert_eq!(broken(log.append(set("x"))).0, 3);
}

#[test]
fn unknown_event_kinds_verify_and_chain_on() {
    let (_home, log) = log_of(2);
    let mut all = lines(&log);
    // What a later version might write: a kind and fields this one lacks.
    let mut fields: Map<String, Value> = serde_json::from_str(&all[1]).unwrap();
    fields.remove("name");
    fields.insert("event".into(), "grant_approved".into());
    fields.insert("grant".into(), "g-17".into());
    fields.insert(
        "scope".into(),
        serde_json::json!({"hosts": ["api.example"], "ttl": 900}),
    );
    let hash = spec_hash(&fields);
    fields.insert("hash".into(), hash.into());
    all[1] = serde_json::to_string(&fields).unwrap();
    write_lines(&log, &all);
    fs::write(
        log.head_path(),
        serde_json::to_vec(&serde_json::json!({"seq": 2, "hash": fields["hash"]})).unwrap(),
    )
    .unwrap();

    assert_eq!(log.verify().unwrap().records, 2);
    log.append(set("after")).unwrap();
    assert_eq!(log.verify().unwrap().records, 3);
    let records = log.records().unwrap();
    assert_eq!(records[1].event.kind(), "grant_approved");
    let AnyEvent::Unknown(unknown) = &records[1].event else {
        panic!("expected an unknown kind");
    };
    assert_eq!(unknown["scope"]["ttl"], 900);
    assert_eq!(records[2].event, AnyEvent::Known(set("after")));
}

#[test]
fn concurrent_appends_keep_the_chain() {
    let home = tempfile::tempdir().unwrap();
    let home = Arc::new(home.path().to_owned());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let home = Arc::clone(&home);
            std::thread::spawn(move || {
                let log = AuditLog::new(&home);
                for i in 0..25 {
                    log.append(set(&format!("t{t}/s{i}"))).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let log = AuditLog::new(&home);
    assert_eq!(log.verify().unwrap().records, 100);
    assert_eq!(log.records().unwrap().len(), 100);
}

#[test]
fn a_batch_chains_like_single_appends() {
    let (_home, log) = log_of(2);
    let records = log
        .append_all(vec![set("a/1"), run_event(), set("a/2")])
        .unwrap();
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(records[1].prev, records[0].hash);
    assert_eq!(log.append(set("a/3")).unwrap().prev, records[2].hash);
    let verified = log.verify().unwrap();
    assert_eq!(verified.records, 6);
    assert!(log.append_all(vec![]).unwrap().is_empty());
}

#[test]
fn a_head_left_behind_by_a_crash_mid_batch_is_repaired_but_a_wrong_one_is_not() {
    let (home, log) = log_of(2);
    let old_head = std::fs::read(log.head_path()).unwrap();
    log.append_all(vec![set("b/1"), set("b/2"), set("b/3")])
        .unwrap();
    // The crash: the batch's lines are on disk, the head still names seq 2.
    std::fs::write(log.head_path(), &old_head).unwrap();
    assert_eq!(log.verify().unwrap().records, 5);
    log.check_appendable().unwrap();
    assert_eq!(log.append(set("b/4")).unwrap().seq, 6);
    assert_eq!(log.verify().unwrap().records, 6);

    // A head that names no record the log has is still damage.
    let forged = String::from_utf8(old_head)
        .unwrap()
        .replace(|c: char| c.is_ascii_hexdigit() && c != '2', "0");
    std::fs::write(log.head_path(), forged).unwrap();
    assert!(matches!(log.verify(), Err(Error::Broken { .. })));
    assert!(log.append(set("b/5")).is_err());
    drop(home);
}

#[test]
fn an_empty_head_left_by_a_crash_is_repaired_but_a_missing_one_is_damage() {
    let (_home, log) = log_of(3);
    // Head writes are not synced: a crash may leave the file empty.
    std::fs::write(log.head_path(), b"").unwrap();
    assert_eq!(log.verify().unwrap().records, 3);
    let record = log.append(set("c/1")).unwrap();
    assert_eq!(record.seq, 4);
    assert!(!std::fs::read(log.head_path()).unwrap().is_empty());
    assert_eq!(log.verify().unwrap().records, 4);

    std::fs::remove_file(log.head_path()).unwrap();
    assert!(matches!(log.verify(), Err(Error::Broken { .. })));
    assert!(log.append(set("c/2")).is_err());
}
