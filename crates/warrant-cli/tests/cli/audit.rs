use predicates::prelude::*;

use crate::harness::{Home, contains, fake_value, run_sh};

fn home_with_history() -> (Home, String) {
    let home = Home::new();
    let value = fake_value("audited");
    home.set("svc/key", &value);
    let (code, _, _) = run_sh(
        &home,
        &["-e", "K=warrant://svc/key"],
        "echo $K; echo $K >&2; exit 4",
    );
    assert_eq!(code, 4);
    (home, value)
}

#[test]
fn runs_are_recorded_without_values() {
    let (home, value) = home_with_history();
    let out = home.cmd().args(["audit", "--json"]).output().unwrap();
    assert!(out.status.success());
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["event"] == "run")
        .expect("a run record");
    assert_eq!(run["command"], "sh");
    assert_eq!(run["env_secrets"], serde_json::json!(["svc/key"]));
    assert_eq!(run["exit_code"], 4);
    assert_eq!(run["redactions"], 2);
    assert!(run["child_pid"].as_u64().unwrap() > 0);
    assert!(run["pid"].as_u64().unwrap() > 0);
    assert!(run["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(!contains(home.audit_text().as_bytes(), value.as_bytes()));
    // Every line is JSON, for jq.
    for line in home.audit_text().lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    home.cmd()
        .arg("audit")
        .assert()
        .success()
        .stdout(predicate::str::contains("run"));
}

#[test]
fn verify_passes_on_an_untouched_log() {
    let (home, _) = home_with_history();
    home.cmd()
        .args(["audit", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("intact"));
    let out = home
        .cmd()
        .args(["audit", "verify", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert!(json["records"].as_u64().unwrap() >= 3);
}

fn tamper(home: &Home, edit: impl FnOnce(&mut Vec<String>)) {
    let path = home.path().join("audit.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    edit(&mut lines);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

fn broken_line(home: &Home) -> u64 {
    let out = home
        .cmd()
        .args(["audit", "verify", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "verify must fail");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    json["line"].as_u64().unwrap()
}

#[test]
fn an_altered_record_is_detected() {
    let (home, _) = home_with_history();
    tamper(&home, |lines| {
        let run = lines.iter_mut().find(|l| l.contains("\"run\"")).unwrap();
        *run = run.replace("\"exit_code\":4", "\"exit_code\":0");
    });
    assert_eq!(broken_line(&home), 3);
    home.cmd()
        .args(["audit", "verify"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("line 3"));
}

#[test]
fn a_removed_record_is_detected() {
    let (home, _) = home_with_history();
    tamper(&home, |lines| {
        lines.remove(1);
    });
    assert_eq!(broken_line(&home), 2);
}

#[test]
fn reordered_records_are_detected() {
    let (home, _) = home_with_history();
    tamper(&home, |lines| lines.swap(0, 1));
    assert_eq!(broken_line(&home), 1);
}

/// Cutting records off the end and emptying `audit.head` (what a crash
/// while writing the head also leaves): the chain is intact, but verify
/// says the end cannot be vouched for and fails.
#[test]
fn cut_records_with_an_emptied_head_are_not_vouched_for() {
    let (home, _) = home_with_history();
    let total = std::fs::read_to_string(home.path().join("audit.jsonl"))
        .unwrap()
        .lines()
        .count();
    tamper(&home, |lines| {
        lines.pop();
    });
    std::fs::write(home.path().join("audit.head"), "").unwrap();
    let out = home
        .cmd()
        .args(["audit", "verify", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "verify must not pass");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false, "{json}");
    assert_eq!(json["records"], total as u64 - 1, "{json}");
    assert_eq!(json["vouched"], 0, "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("audit.head is empty"),
        "{json}"
    );
    home.cmd()
        .args(["audit", "verify"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot be vouched for"));
    // The next record rewrites the head: from then on the log is vouched
    // for again (what was cut before it stays undetectable).
    home.cmd().args(["run", "--", "true"]).assert().success();
    home.cmd().args(["audit", "verify"]).assert().success();
}

#[test]
fn a_removed_last_record_is_detected() {
    let (home, _) = home_with_history();
    tamper(&home, |lines| {
        lines.pop();
    });
    broken_line(&home);
}

#[test]
fn a_run_that_cannot_be_recorded_does_not_start() {
    let (home, _) = home_with_history();
    tamper(&home, |lines| {
        lines.pop();
    });
    let marker = home.scratch().join("ran");
    let (code, _, err) = run_sh(&home, &[], &format!("touch {}", marker.display()));
    assert_eq!(code, 125);
    assert!(err.contains("audit") && err.contains("hint:"), "{err}");
    assert!(!marker.exists());
}
