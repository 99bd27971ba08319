//! Grants through the real binary and a real daemon.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{APPROVER, Home, POLICY, Ran, contains, fake_value, wait_child, wait_until};

/// The refusal must not have run the command, nor printed the value.
fn assert_refused(ran: &(i32, String, String), value: &str, why: &str) {
    let (code, out, err) = ran;
    assert_ne!(*code, 0, "the use was not refused: {out}{err}");
    assert!(out.is_empty(), "the command ran: {out}");
    assert!(err.contains(why), "expected {why:?} in: {err}");
    assert!(!err.contains(value) && !out.contains(value));
}

/// A codex grant (needs approval), approved.
fn approved_codex(home: &Home) -> String {
    let (id, status) = home.request("codex", &["db/dev/url"], &[]);
    assert_eq!(status, "pending");
    home.approve(&id);
    id
}

const USE_DB: &[&str] = &["-e", "DB=warrant://db/dev/url"];

#[test]
fn pending_grant_cannot_be_used_until_approved() {
    let home = Home::with_approver();
    let value = fake_value("db");
    home.set("db/dev/url", &value);
    home.write_policy(POLICY);
    let _daemon = home.serve();

    let (id, status) = home.request("codex", &["db/dev/url"], &[]);
    assert_eq!(status, "pending");
    let (code, out, err) = home.run_granted(&id, &["-e", "DB=warrant://db/dev/url"], "echo $DB");
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("pending approval"), "{err}");

    home.approve(&id);
    let (code, out, _) = home.run_granted(
        &id,
        &["-e", "DB=warrant://db/dev/url"],
        "echo $DB; echo $DB | wc -c",
    );
    assert_eq!(code, 0);
    assert!(out.contains("<redacted:db/dev/url>"), "{out}");
    assert!(
        out.contains(&format!("{}", value.len() + 1)),
        "the child held the real value: {out}"
    );
    assert!(!contains(out.as_bytes(), value.as_bytes()));
    assert!(
        !contains(&home.all_bytes(), value.as_bytes()),
        "a value reached the disk"
    );
    let audit = home.audit_text();
    assert!(audit.contains("\"event\":\"grant_used\""));
    assert!(!audit.contains(&value));
}

#[test]
fn denied_grant_cannot_be_used_or_approved_later() {
    let (home, value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("codex", &["db/dev/url"], &[]);

    let denied = home.run(&["deny", &id, "--reason", "not for this task", "--json"]);
    assert_eq!(denied.code, 0, "{denied:?}");
    let view = denied.json();
    assert_eq!(view["status"], "denied");
    assert_eq!(view["remaining_secs"], 0);

    assert_refused(&home.run_granted(&id, USE_DB, "echo $DB"), &value, "denied");
    let late = home.approve_with(&id, APPROVER, &[]);
    assert_ne!(late.code, 0, "a denied grant was approved: {late:?}");
    assert_eq!(home.grant(&id)["status"], "denied");

    let denials = home.audit_events("grant_denied");
    assert_eq!(denials.len(), 1);
    assert_eq!(denials[0]["grant"], id.as_str());
    assert_eq!(denials[0]["reason"], "not for this task");
    assert_eq!(home.audit_events("use_refused").len(), 1);
    assert!(home.audit_events("grant_used").is_empty());
}

#[test]
fn revoked_grant_cannot_be_used() {
    let (home, value, _daemon) = Home::with_daemon();
    let id = approved_codex(&home);
    let (code, out, _) = home.run_granted(&id, USE_DB, "echo $DB");
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "<redacted:db/dev/url>");

    let revoked = home.run(&["revoke", &id]);
    assert_eq!(revoked.code, 0, "{revoked:?}");
    assert_eq!(revoked.stdout.trim(), format!("{id} revoked"));

    assert_refused(
        &home.run_granted(&id, USE_DB, "echo $DB"),
        &value,
        "revoked",
    );
    assert_eq!(home.grant(&id)["status"], "revoked");
    assert_eq!(home.grant(&id)["uses"], 1, "the refused use was counted");
    let revocations = home.audit_events("grant_revoked");
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0]["grant"], id.as_str());
    // Revoking twice is an error, not a silent success.
    assert_ne!(home.run(&["revoke", &id]).code, 0);
}

#[test]
fn expired_grant_cannot_be_used() {
    let (home, value, _daemon) = Home::with_daemon();
    let asked = home.request_raw("codex", &["db/dev/url"], "1s", &["--json"]);
    assert_eq!(asked.code, 0, "{asked:?}");
    let id = asked.id();
    home.approve(&id);
    let (code, _, _) = home.run_granted(&id, USE_DB, "true");
    assert_eq!(code, 0, "usable while its second lasts");

    std::thread::sleep(Duration::from_millis(1500));
    assert_refused(
        &home.run_granted(&id, USE_DB, "echo $DB"),
        &value,
        "expired",
    );
    assert!(
        wait_until(Duration::from_secs(2), || home.grant(&id)["status"]
            == "expired"),
        "{:#}",
        home.grant(&id)
    );
    let active = home.json(&["grants"]);
    assert!(
        !active
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["id"] == id.as_str()),
        "an expired grant is listed as live: {active:#}"
    );
    let expiries = home.audit_events("grant_expired");
    assert_eq!(expiries.len(), 1, "{}", home.audit_text());
    assert_eq!(expiries[0]["grant"], id.as_str());
}

#[test]
fn approving_with_a_shorter_ttl_shortens_the_grant() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("codex", &["db/dev/url"], &[]);
    let approved = home.approve_with(&id, APPROVER, &["--ttl", "1s", "--json"]);
    assert_eq!(approved.code, 0, "{approved:?}");
    let view = approved.json();
    assert_eq!(view["status"], "active");
    assert_eq!(view["ttl_secs"], 1, "{view:#}");
    assert!(view["remaining_secs"].as_u64().unwrap() <= 1, "{view:#}");
    assert_eq!(home.audit_events("grant_approved")[0]["ttl_secs"], 1);

    assert!(
        wait_until(Duration::from_secs(3), || home.grant(&id)["status"]
            == "expired"),
        "the 5m grant approved for 1s did not expire"
    );
    let (code, _, err) = home.run_granted(&id, USE_DB, "true");
    assert_ne!(code, 0);
    assert!(err.contains("expired"), "{err}");
}

/// `--uses` approves fewer uses than asked; the record says how many.
#[test]
fn approving_with_fewer_uses_limits_the_grant_and_is_recorded() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("codex", &["db/dev/url"], &[]);
    let approved = home.approve_with(&id, APPROVER, &["--uses", "1", "--json"]);
    assert_eq!(approved.code, 0, "{approved:?}");
    assert_eq!(approved.json()["max_uses"], 1);
    assert_eq!(home.audit_events("grant_approved")[0]["max_uses"], 1);
    assert_eq!(home.run_granted(&id, USE_DB, "true").0, 0);
    let (code, _, err) = home.run_granted(&id, USE_DB, "true");
    assert_ne!(code, 0);
    assert!(err.contains("used up"), "{err}");
}

#[test]
fn approving_cannot_lengthen_a_grant() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("codex", &["db/dev/url"], &[]);
    let approved = home.approve_with(&id, APPROVER, &["--ttl", "2h", "--json"]);
    assert_eq!(approved.code, 0, "{approved:?}");
    let view = approved.json();
    assert_eq!(view["ttl_secs"], 300, "asked for 5m: {view:#}");
}

#[test]
fn a_command_outside_the_scope_is_refused_and_audited() {
    let (home, value, _daemon) = Home::with_daemon();
    let id = approved_codex(&home);
    let ran = home.run_granted_command(&id, USE_DB, &["ls"]);
    assert_refused(
        &(ran.code, ran.stdout, ran.stderr.clone()),
        &value,
        "outside",
    );
    assert!(
        ran.stderr.contains("sh | cat | env"),
        "the hint names the scope: {}",
        ran.stderr
    );
    assert_eq!(home.grant(&id)["uses"], 0, "a refused use was counted");

    let refusals = home.audit_events("use_refused");
    assert_eq!(refusals.len(), 1, "{}", home.audit_text());
    assert_eq!(refusals[0]["grant"], id.as_str());
    assert_eq!(refusals[0]["command"], "ls");
    assert_eq!(refusals[0]["actor"], "codex");
    assert!(home.audit_events("grant_used").is_empty());
}

#[test]
fn a_secret_the_grant_does_not_hold_is_refused() {
    let (home, value, _daemon) = Home::with_daemon();
    let other = fake_value("other");
    home.set("db/dev/other", &other);
    let id = approved_codex(&home);

    let ran = home.run_granted(&id, &["-e", "X=warrant://db/dev/other"], "echo $X");
    assert_refused(&ran, &other, "does not cover db/dev/other");
    // Asking for one covered and one uncovered secret gives neither.
    let ran = home.run_granted(
        &id,
        &[
            "-e",
            "DB=warrant://db/dev/url",
            "-e",
            "X=warrant://db/dev/other",
        ],
        "echo $DB $X",
    );
    assert_refused(&ran, &value, "does not cover db/dev/other");
    assert_eq!(home.grant(&id)["uses"], 0);
    assert_eq!(home.audit_events("use_refused").len(), 2);
}

#[test]
fn the_use_after_max_uses_is_refused() {
    let (home, value, _daemon) = Home::with_daemon();
    let id = approved_codex(&home);
    assert_eq!(home.grant(&id)["max_uses"], 3);
    for n in 1..=3 {
        let (code, out, err) = home.run_granted(&id, USE_DB, "echo $DB");
        assert_eq!(code, 0, "use {n}: {err}");
        assert_eq!(out.trim(), "<redacted:db/dev/url>");
        assert_eq!(home.grant(&id)["uses"], n);
    }
    assert_refused(
        &home.run_granted(&id, USE_DB, "echo $DB"),
        &value,
        "used up",
    );
    assert_eq!(home.grant(&id)["uses"], 3);
    let numbers: Vec<_> = home
        .audit_events("grant_used")
        .iter()
        .map(|r| r["use_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
}

#[test]
fn a_wrong_passphrase_does_not_approve_and_locks_approval_for_a_while() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("codex", &["db/dev/url"], &[]);

    let wrong = home.approve_with(&id, "not-the-approver-passphrase", &[]);
    let failed_at = Instant::now();
    assert_eq!(wrong.code, 3, "{wrong:?}");
    assert!(
        wrong.stderr.contains("wrong approver passphrase"),
        "{wrong:?}"
    );
    assert_eq!(home.grant(&id)["status"], "pending");
    let refused = home.audit_events("approval_refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["grant"], id.as_str());
    assert!(!home.audit_text().contains("not-the-approver-passphrase"));

    // The right passphrase right after is refused too, until the lockout
    // (1 s after a first failure) passes.
    let throttled = home.approve_with(&id, APPROVER, &[]);
    assert_eq!(throttled.code, 3, "{throttled:?}");
    assert!(throttled.stderr.contains("locked"), "{throttled:?}");
    assert_eq!(home.grant(&id)["status"], "pending");

    let mut approved = None;
    assert!(wait_until(Duration::from_secs(3), || {
        let ran = home.approve_with(&id, APPROVER, &[]);
        let ok = ran.code == 0;
        if ok {
            approved = Some(failed_at.elapsed());
        } else {
            assert_eq!(ran.code, 3, "{ran:?}");
        }
        ok
    }));
    assert!(
        approved.unwrap() >= Duration::from_millis(700),
        "approved {:?} after a wrong passphrase",
        approved.unwrap()
    );
    assert_eq!(home.grant(&id)["status"], "active");
}

#[test]
fn auto_approval_makes_a_grant_active_at_once() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, status) = home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(status, "active");
    let view = home.grant(&id);
    assert_eq!(view["approved_by"], "policy");
    let (code, out, err) = home.run_granted(&id, USE_DB, "echo $DB");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "<redacted:db/dev/url>");
    let approvals = home.audit_events("grant_approved");
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["by"], "policy");
    assert_eq!(home.audit_events("grant_requested")[0]["status"], "active");
}

#[test]
fn a_request_the_policy_denies_exits_3_and_is_audited() {
    let (home, _value, _daemon) = Home::with_daemon();
    home.set("api/token", &fake_value("api"));
    let ran = home.request_raw("codex", &["api/token"], "5m", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stdout.is_empty(), "{ran:?}");
    assert!(
        ran.stderr.contains("api/token"),
        "the message names the secret: {ran:?}"
    );
    assert!(ran.stderr.contains("codex"), "{ran:?}");
    let denied = home.audit_events("request_denied");
    assert_eq!(denied.len(), 1, "{}", home.audit_text());
    assert_eq!(denied[0]["actor"], "codex");
    assert_eq!(denied[0]["secrets"], serde_json::json!(["api/token"]));
    assert!(home.audit_events("grant_requested").is_empty());
    assert!(
        home.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    // An actor the policy does not name is denied the same way.
    let stranger = home.request_raw("mallory", &["db/dev/url"], "5m", &[]);
    assert_eq!(stranger.code, 3, "{stranger:?}");
    assert!(stranger.stderr.contains("mallory"), "{stranger:?}");
}

#[test]
fn a_request_for_a_secret_not_in_the_store_is_refused() {
    let (home, _value, _daemon) = Home::with_daemon();
    // ana's rule allows db/**, but there is no db/prod/url.
    let ran = home.request_raw("ana", &["db/prod/url"], "5m", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr.contains("no secret named db/prod/url"),
        "{ran:?}"
    );
    assert_eq!(home.audit_events("request_denied").len(), 1);
    assert!(
        home.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn json_output_of_request_grants_and_approve() {
    let (home, _value, _daemon) = Home::with_daemon();
    let asked = home.request_raw("codex", &["db/dev/url"], "10m", &["--json"]);
    assert_eq!(asked.code, 0, "{asked:?}");
    let grant = asked.json();
    let id = grant["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("g_") && id.len() == 12, "{id}");
    assert_eq!(grant["status"], "pending");
    assert_eq!(grant["actor"], "codex");
    assert_eq!(grant["secrets"], serde_json::json!(["db/dev/url"]));
    assert_eq!(grant["ttl_secs"], 600);
    assert_eq!(grant["uses"], 0);
    assert_eq!(grant["max_uses"], 3);
    assert_eq!(grant["reason"], "tests");
    assert!(grant["approved_by"].is_null());
    assert_eq!(grant["commands"], serde_json::json!([["sh", "cat", "env"]]));
    assert_eq!(grant["policy"].as_str().unwrap().len(), 64);
    assert!(grant["remaining_secs"].as_u64().unwrap() > 0);

    let text = home.request_raw("codex", &["db/dev/url"], "10m", &[]);
    let words: Vec<&str> = text.stdout.split_whitespace().collect();
    assert_eq!(words.len(), 2, "{text:?}");
    assert!(
        words[0].starts_with("g_") && words[1] == "pending",
        "{text:?}"
    );

    let listed = home.json(&["grants"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], id.as_str(), "oldest first");
    assert!(listed.iter().all(|g| g["status"] == "pending"));

    let approved = home.approve_with(&id, APPROVER, &["--json"]);
    assert_eq!(approved.code, 0, "{approved:?}");
    let view = approved.json();
    assert_eq!(view["id"], id.as_str());
    assert_eq!(view["status"], "active");
    assert!(view["approved_by"].is_string(), "{view:#}");
    let left = view["remaining_secs"].as_u64().unwrap();
    assert!((590..=600).contains(&left), "{left}");

    // Ended grants show only with --all.
    let denied = home.run(&["deny", words[0]]);
    assert_eq!(denied.code, 0, "{denied:?}");
    assert_eq!(home.json(&["grants"]).as_array().unwrap().len(), 1);
    let all = home.json(&["grants", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let table = home.run(&["grants", "--all"]);
    assert!(table.stdout.starts_with("ID"), "{table:?}");
    assert!(
        table.stdout.contains("denied") && table.stdout.contains("active"),
        "{table:?}"
    );
}

#[test]
fn revoking_a_grant_ends_a_process_running_under_it() {
    let (home, value, _daemon) = Home::with_daemon();
    // bot's rule: auto approval, grace 1s.
    let (id, _) = home.request("bot", &["db/dev/url"], &[]);
    let marker = home.scratch().join("started");
    let script = format!("touch {}; sleep 30", marker.display());
    let mut child = home
        .granted_cmd(&id, USE_DB, &script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        crate::harness::wait_for(&marker),
        "the granted child never started"
    );
    assert!(
        wait_until(Duration::from_secs(3), || home.grant(&id)["processes"] == 1),
        "the daemon never registered the process: {:#}",
        home.grant(&id)
    );

    let revoked_at = Instant::now();
    let revoked = home.run(&["revoke", &id, "--reason", "done"]);
    assert_eq!(revoked.code, 0, "{revoked:?}");
    // grace 1s, plus a second.
    let status = wait_child(&mut child, Duration::from_secs(2));
    let took = revoked_at.elapsed();
    let status = status.unwrap_or_else(|| panic!("still running {took:?} after the revocation"));
    assert_eq!(status.code(), Some(143), "SIGTERM ends it: {status:?}");
    let output = child.wait_with_output().unwrap();
    assert!(!contains(&output.stdout, value.as_bytes()));
    assert!(!contains(&output.stderr, value.as_bytes()));

    let revocations = home.audit_events("grant_revoked");
    assert_eq!(revocations[0]["processes_ended"], 1);
    assert_eq!(revocations[0]["reason"], "done");
    assert!(
        wait_until(Duration::from_secs(2), || home
            .audit_events("run")
            .first()
            .is_some_and(|r| r["signal"] == 15)),
        "{}",
        home.audit_text()
    );
}

#[test]
fn a_grant_of_one_actor_cannot_be_used_in_another_actors_task() {
    let (home, value, _daemon) = Home::with_daemon();
    let id = approved_codex(&home);
    let result = home.scratch().join("result");
    let script = format!(
        "warrant run --grant {id} --no-tty -e DB=warrant://db/dev/url -- sh -c 'echo $DB' \
         > {r}.out 2> {r}.err; echo $? > {r}",
        r = result.display()
    );
    let task = home.task(&["--actor", "bot"], &script);
    assert_eq!(task.code, 0, "{task:?}");
    let code = std::fs::read_to_string(&result).unwrap();
    let out = std::fs::read_to_string(result.with_extension("out")).unwrap();
    let err = std::fs::read_to_string(result.with_extension("err")).unwrap();
    assert_refused(
        &(code.trim().parse().unwrap(), out, err.clone()),
        &value,
        "is not for task",
    );
    assert_eq!(home.grant(&id)["uses"], 0);
    let refusals = home.audit_events("use_refused");
    assert_eq!(refusals.len(), 1, "{}", home.audit_text());

    // Outside any task, the grant still works: the refusal was the task's.
    let (code, _, err) = home.run_granted(&id, USE_DB, "true");
    assert_eq!(code, 0, "{err}");
}

#[test]
fn run_with_a_grant_and_no_references_names_the_grants_secrets() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("bot", &["db/dev/url"], &[]);
    let (code, out, err) = home.run_granted(&id, &[], "echo ran");
    assert_eq!(code, 125, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("nothing to inject"), "{err}");
    assert!(
        err.contains(&format!("grant {id} covers: db/dev/url")),
        "{err}"
    );
    assert_eq!(home.grant(&id)["uses"], 0);
}

#[test]
fn file_delivery_works_under_a_grant() {
    let (home, value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("bot", &["db/dev/url"], &[]);
    let (code, out, err) = home.run_granted(
        &id,
        &["--file", "DBF=warrant://db/dev/url"],
        "case $DBF in /proc/*) echo in-memory;; *) echo on-disk: $DBF;; esac; cat \"$DBF\"; echo; wc -c < \"$DBF\"",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "in-memory", "{out}");
    assert_eq!(lines[1], "<redacted:db/dev/url>", "{out}");
    assert_eq!(
        lines[2].trim(),
        value.len().to_string(),
        "the file held the value: {out}"
    );
    let used = home.audit_events("grant_used");
    assert_eq!(used[0]["file_secrets"], serde_json::json!(["db/dev/url"]));
    assert_eq!(used[0]["env_secrets"], serde_json::json!([]));
    assert!(!contains(&home.all_bytes(), value.as_bytes()));
}

#[test]
fn values_never_reach_the_audit_log_the_state_or_any_output() {
    let (home, value, mut daemon) = Home::with_daemon();
    let token = fake_value("api");
    home.set("api/token", &token);
    let mut seen: Vec<Ran> = Vec::new();

    let pending = home.request_raw("codex", &["db/dev/url"], "5m", &["--json"]);
    let id = pending.id();
    seen.push(pending);
    seen.push(home.approve_with(&id, "a-wrong-passphrase", &[]));
    std::thread::sleep(Duration::from_millis(1100));
    seen.push(home.approve_with(&id, APPROVER, &["--json"]));
    let (c, o, e) = home.run_granted(&id, USE_DB, "echo $DB; printf %s \"$DB\" | base64; env");
    assert_eq!(c, 0, "{e}");
    seen.push(Ran {
        code: c,
        stdout: o,
        stderr: e,
    });
    let (c, o, e) = home.run_granted(&id, &["--file", "F=warrant://db/dev/url"], "cat $F");
    seen.push(Ran {
        code: c,
        stdout: o,
        stderr: e,
    });
    let (c, o, e) = home.run_granted(&id, &["-e", "T=warrant://api/token"], "echo $T");
    assert_ne!(c, 0);
    seen.push(Ran {
        code: c,
        stdout: o,
        stderr: e,
    });
    let auto = home.request_raw("bot", &["db/dev/url", "api/token"], "5m", &["--json"]);
    let auto_id = auto.id();
    seen.push(auto);
    let (c, o, e) = home.run_granted(
        &auto_id,
        &[
            "-e",
            "T=warrant://api/token",
            "-e",
            "DB=warrant://db/dev/url",
        ],
        "echo $T $DB >&2",
    );
    assert_eq!(c, 0, "{e}");
    seen.push(Ran {
        code: c,
        stdout: o,
        stderr: e,
    });
    seen.push(home.request_raw("codex", &["api/token"], "5m", &[]));
    seen.push(home.run(&["grants", "--all", "--json"]));
    seen.push(home.run(&["grants", "--all"]));
    seen.push(home.run(&["status", "--json"]));
    seen.push(home.run(&["revoke", &id, "--json"]));
    seen.push(home.run(&["revoke", &auto_id]));
    seen.push(home.run(&["audit"]));
    seen.push(home.run(&["audit", "--json"]));
    seen.push(home.run(&["report", "--json"]));
    let stopped = daemon.stop();
    seen.push(Ran {
        code: 0,
        stdout: String::new(),
        stderr: stopped,
    });

    for ran in &seen {
        for secret in [&value, &token] {
            assert!(
                !ran.all().contains(secret.as_str()),
                "a value was printed: {ran:?}"
            );
        }
    }
    let disk = home.all_bytes();
    for secret in [&value, &token] {
        assert!(
            !contains(&disk, secret.as_bytes()),
            "a value reached the disk"
        );
        assert!(!home.audit_text().contains(secret.as_str()));
    }
    let state = std::fs::read(home.path().join("state.redb")).unwrap();
    assert!(
        contains(&state, id.as_bytes()),
        "the state file holds the grants"
    );
    assert!(!contains(&state, value.as_bytes()) && !contains(&state, token.as_bytes()));
    // The runs really held the values (so the checks above mean something).
    assert_eq!(home.audit_events("grant_used").len(), 3);
}

/// Starts `sleep 30` under `id` in the background and waits until the
/// daemon has registered it; returns the `warrant run` child.
fn sleeping_under(home: &Home, id: &str, name: &str) -> std::process::Child {
    let marker = home.scratch().join(name);
    let script = format!("touch {}; sleep 30", marker.display());
    let child = home
        .granted_cmd(id, USE_DB, &script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        crate::harness::wait_for(&marker),
        "the granted child never started"
    );
    assert!(
        wait_until(Duration::from_secs(3), || home.grant(id)["processes"] == 1),
        "the daemon never registered the process: {:#}",
        home.grant(id)
    );
    child
}

#[test]
fn expiry_ends_a_process_running_under_the_grant() {
    let (home, _value, _daemon) = Home::with_daemon();
    let asked = home.request_raw("bot", &["db/dev/url"], "1s", &["--json"]);
    let id = asked.id();
    let mut child = sleeping_under(&home, &id, "started");
    // ttl 1 s, grace 1 s, and a second to spare.
    let status = wait_child(&mut child, Duration::from_secs(3)).expect("it outlived its grant");
    assert_eq!(status.code(), Some(143), "{status:?}");
    let expired = home.audit_events("grant_expired");
    assert_eq!(expired.len(), 1, "{}", home.audit_text());
    assert_eq!(expired[0]["processes_ended"], 1);
}

#[test]
fn on_expiry_finish_lets_a_running_process_finish() {
    let home = Home::with_approver();
    home.set("db/dev/url", &fake_value("db"));
    home.write_policy(&POLICY.replacen(
        "approval = \"auto\"",
        "approval = \"auto\"\non_expiry = \"finish\"",
        1,
    ));
    let _daemon = home.serve();
    let asked = home.request_raw("bot", &["db/dev/url"], "1s", &["--json"]);
    let id = asked.id();
    let mut child = home
        .granted_cmd(&id, USE_DB, "sleep 1.8; echo finished")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(
        Duration::from_secs(2),
        || home.grant(&id)["status"] == "expired"
    ));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process was ended at expiry"
    );
    let status = wait_child(&mut child, Duration::from_secs(3)).expect("it did not finish");
    assert!(status.success(), "{status:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(out.trim(), "finished");
    assert_eq!(home.audit_events("grant_expired")[0]["processes_ended"], 0);
    // New uses are refused all the same.
    let (code, _, err) = home.run_granted(&id, USE_DB, "true");
    assert_ne!(code, 0);
    assert!(err.contains("expired"), "{err}");
}

#[test]
fn request_wait_returns_once_the_grant_is_approved() {
    let (home, _value, _daemon) = Home::with_daemon();
    let waiting = home
        .std_cmd()
        .args([
            "request",
            "--actor",
            "codex",
            "--secret",
            "db/dev/url",
            "--reason",
            "w",
        ])
        .args(["--ttl", "5m", "--wait", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut id = None;
    assert!(wait_until(Duration::from_secs(3), || {
        id = home
            .json(&["grants"])
            .as_array()
            .unwrap()
            .first()
            .map(|g| g["id"].clone());
        id.is_some()
    }));
    let id = id.unwrap().as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(200));
    let mut waiting = waiting;
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "--wait returned while pending"
    );
    home.approve(&id);
    let status = wait_child(&mut waiting, Duration::from_secs(3)).expect("--wait kept waiting");
    assert!(status.success());
    let output = waiting.wait_with_output().unwrap();
    let view: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(view["id"], id.as_str());
    assert_eq!(view["status"], "active");
}

#[test]
fn a_request_can_narrow_the_policy_but_not_widen_it() {
    let (home, value, _daemon) = Home::with_daemon();
    // Narrower commands than the rule: only cat.
    let (id, _) = home.request("bot", &["db/dev/url"], &["--command", "sh"]);
    assert_eq!(home.grant(&id)["commands"], serde_json::json!([["sh"]]));
    let asked = home.request_raw(
        "codex",
        &["db/dev/url"],
        "5m",
        &["--command", "cat", "--json"],
    );
    let narrow = &asked.id();
    home.approve(narrow);
    assert_refused(
        &home.run_granted(narrow, USE_DB, "echo $DB"),
        &value,
        "outside",
    );
    let cat = home.run_granted_command(
        narrow,
        &["--file", "F=warrant://db/dev/url"],
        &["cat", "/dev/null"],
    );
    assert_eq!(cat.code, 0, "{cat:?}");

    // Wider than the rule: denied.
    let ls = home.request_raw("codex", &["db/dev/url"], "5m", &["--command", "ls"]);
    assert_eq!(ls.code, 3, "{ls:?}");
    assert!(ls.stderr.contains("ls"), "{ls:?}");
    let host = home.request_raw("bot", &["db/dev/url"], "5m", &["--host", "api.github.com"]);
    assert_eq!(host.code, 3, "{host:?}");
    // A longer ttl is capped at the rule's max_ttl (30m).
    let long = home.request_raw("codex", &["db/dev/url"], "2h", &["--json"]);
    assert_eq!(long.code, 0, "{long:?}");
    let long = long.json();
    assert_eq!(long["ttl_secs"], 1800);
}
