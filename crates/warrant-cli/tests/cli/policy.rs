//! The policy: lint, explain, malformed files, and changes while the
//! daemon runs.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::{APPROVER, Home, POLICY, Ran, fake_value, line_of, wait_child};

/// `POLICY` with `from` replaced by `to` (which must change it).
fn edited(from: &str, to: &str) -> String {
    assert!(POLICY.contains(from), "{from:?} is not in POLICY");
    POLICY.replacen(from, to, 1)
}

/// `warrant serve` that must fail: its result, or a panic if it serves.
fn serve_fails(home: &Home, args: &[&str]) -> Ran {
    let mut child = home
        .std_cmd()
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status =
        wait_child(&mut child, Duration::from_secs(3)).expect("warrant serve kept running");
    let output = child.wait_with_output().unwrap();
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The first rule's line in `POLICY` (codex's).
fn codex_rule_line() -> usize {
    line_of(POLICY, "[[rules]]", 0)
}

#[test]
fn check_passes_the_shared_policy_with_warnings_only() {
    let home = Home::with_approver();
    home.set("db/dev/url", &fake_value("db"));
    let path = home.write_policy(POLICY);
    let ran = home.run(&["policy", "check"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.contains("3 rule(s), 3 actor(s); 0 error(s)"),
        "{ran:?}"
    );
    // ana's rule names no commands.
    let ana = line_of(POLICY, "[[rules]]", 2);
    assert!(
        ran.stdout.contains(&format!(
            "{}:{ana}: warning: rule has no commands",
            path.display()
        )),
        "{ran:?}"
    );
    // api/token is not in this store.
    assert!(
        ran.stdout
            .contains("\"api/token\" matches no secret in the store"),
        "{ran:?}"
    );

    let json = home.json(&["policy", "check"]);
    assert_eq!(json["store_checked"], true);
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] == "warning")
    );
}

#[test]
fn check_fails_on_a_rule_that_auto_approves_every_secret() {
    let home = Home::with_approver();
    let broad = "[actors.a]\nkind = \"agent\"\n\n# everything, no questions\n[[rules]]\nactors = [\"a\"]\nsecrets = [\"**\"]\ncommands = [\"cargo\"]\nmax_ttl = \"10m\"\napproval = \"auto\"\n";
    let path = home.write_policy(broad);
    let line = line_of(broad, "[[rules]]", 0);
    let ran = home.run(&["policy", "check"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stdout.contains(&format!(
            "{}:{line}: error: secret pattern \"**\"",
            path.display()
        )),
        "{ran:?}"
    );
    let json = home.run(&["policy", "check", "--json"]);
    assert_eq!(json.code, 1);
    let json = json.json();
    let errors: Vec<_> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{json:#}");
    assert_eq!(errors[0]["line"], line);

    // The same rule with approval required is a warning, not an error.
    home.write_policy(&broad.replace("\"auto\"", "\"required\""));
    let ran = home.run(&["policy", "check"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .contains("warning: secret pattern \"**\" matches every secret"),
        "{ran:?}"
    );
}

#[test]
fn a_malformed_policy_is_an_error_naming_file_line_and_column() {
    let home = Home::with_approver();
    let text = edited("approval = \"required\"", "approval = \"maybe\"");
    let path = home.write_policy(&text);
    let line = line_of(&text, "approval = \"maybe\"", 0);
    let column = text.lines().nth(line - 1).unwrap().find('"').unwrap() + 1;
    let at = format!("{}:{line}:{column}", path.display());

    let served = serve_fails(&home, &[]);
    assert_ne!(served.code, 0);
    assert!(served.stderr.contains(&at), "expected {at} in: {served:?}");
    assert!(served.stderr.contains("maybe"), "{served:?}");
    assert!(!home.path().join("warrant.sock").exists());

    let checked = home.run(&["policy", "check"]);
    assert_ne!(checked.code, 0);
    assert!(
        checked.stderr.contains(&at),
        "expected {at} in: {checked:?}"
    );
    let explained = home.run(&[
        "policy",
        "explain",
        "--actor",
        "codex",
        "--secret",
        "db/dev/url",
    ]);
    assert_ne!(explained.code, 0);
    assert!(explained.stderr.contains(&at), "{explained:?}");

    // An explicit --policy is reported by its own name.
    let other = home.scratch().join("other.toml");
    std::fs::write(
        &other,
        "[[rules]]\nactors = [\"ghost\"]\nsecrets = [\"x\"]\nmax_ttl = \"1m\"\n",
    )
    .unwrap();
    let served = serve_fails(&home, &["--policy", other.to_str().unwrap()]);
    assert!(
        served.stderr.contains(other.to_str().unwrap()),
        "{served:?}"
    );
}

#[test]
fn explain_says_which_rule_denies_and_why() {
    let home = Home::empty();
    home.write_policy(POLICY);
    let line = codex_rule_line();
    let ran = home.run(&[
        "policy",
        "explain",
        "--actor",
        "codex",
        "--secret",
        "db/dev/url",
        "--command",
        "ls",
    ]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stdout.starts_with("DENIED"), "{ran:?}");
    assert!(
        ran.stdout.contains(&format!("rule at line {line}")),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("`ls`"), "{ran:?}");

    let ran = home.run(&[
        "policy",
        "explain",
        "--actor",
        "codex",
        "--secret",
        "db/dev/url",
        "--command",
        "sh",
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .starts_with(&format!("ALLOWED: rule at line {line}")),
        "{ran:?}"
    );

    let json = home.run(&[
        "policy",
        "explain",
        "--actor",
        "codex",
        "--secret",
        "api/token",
        "--json",
    ]);
    assert_eq!(json.code, 3, "{json:?}");
    let json = json.json();
    assert_eq!(json["allowed"], false);
    assert!(json["rule"].is_null());
    assert_eq!(json["steps"].as_array().unwrap().len(), 3);
    assert_eq!(json["steps"][0]["line"], line);
    assert_eq!(json["steps"][0]["matched"], false);
}

#[test]
fn an_edit_while_the_daemon_runs_is_audited_and_applied() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (_, status) = home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(status, "active");
    let before = home.json(&["status"])["policy"]["hash"].clone();

    // bot's rule goes.
    let bot_rule = &POLICY[POLICY.find("[[rules]]\nactors   = [\"bot\"]").unwrap()
        ..POLICY.find("[[rules]]\nactors   = [\"ana\"]").unwrap()];
    home.write_policy(&POLICY.replace(bot_rule, ""));
    let denied = home.request_raw("bot", &["db/dev/url"], "5m", &[]);
    assert_eq!(denied.code, 3, "{denied:?}");
    assert!(denied.stderr.contains("db/dev/url"), "{denied:?}");

    let changes = home.audit_events("policy_changed");
    assert_eq!(
        changes.len(),
        2,
        "the start and the edit: {}",
        home.audit_text()
    );
    assert_eq!(changes[1]["previous"], before);
    let after = home.json(&["status"])["policy"]["hash"].clone();
    assert_eq!(changes[1]["current"], after);
    assert_ne!(before, after);
    assert_eq!(home.audit_events("request_denied").len(), 1);
}

#[test]
fn an_unaccepted_change_needs_approval_until_an_approver_accepts_it() {
    let (home, _value, _daemon) = Home::with_daemon();
    home.write_policy(&edited(
        "max_ttl  = \"30m\"",
        "max_ttl  = \"20m\"  # shorter",
    ));
    let (id, status) = home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(
        status, "pending",
        "auto approval of a changed, unaccepted policy"
    );
    let policy = &home.json(&["status"])["policy"];
    assert_eq!(policy["accepted"], false, "{policy:#}");
    let text = home.run(&["status"]);
    assert!(text.stdout.contains("not accepted"), "{text:?}");

    let wrong = home.run_stdin(&["policy", "accept"], "not-the-approver\n");
    assert_eq!(wrong.code, 3, "{wrong:?}");
    assert_eq!(home.json(&["status"])["policy"]["accepted"], false);
    std::thread::sleep(Duration::from_millis(1100));

    let accepted = home.run_stdin(&["policy", "accept", "--json"], &format!("{APPROVER}\n"));
    assert_eq!(accepted.code, 0, "{accepted:?}");
    let view = accepted.json();
    assert_eq!(view["accepted"], true);
    assert_eq!(home.json(&["status"])["policy"]["accepted"], true);
    let (_, status) = home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(status, "active");
    // The grant asked for before acceptance still waits for a person.
    assert_eq!(home.grant(&id)["status"], "pending");

    let accepts = home.audit_events("policy_accepted");
    assert_eq!(
        accepts.len(),
        2,
        "the start's and the approver's: {}",
        home.audit_text()
    );
    assert_eq!(accepts[1]["policy"], view["hash"]);
    assert_ne!(accepts[1]["by"], "daemon start");
}

#[test]
fn a_policy_changed_while_the_daemon_was_down_is_not_accepted_at_restart() {
    let (home, _value, mut daemon) = Home::with_daemon();
    daemon.stop();
    home.write_policy(&edited("max_ttl  = \"10m\"", "max_ttl  = \"9m\""));
    let _daemon = home.serve();
    let (_, status) = home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(status, "pending");
    assert_eq!(
        home.audit_events("policy_changed").len(),
        2,
        "{}",
        home.audit_text()
    );
}

#[test]
fn a_changed_policy_that_does_not_parse_fails_closed() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (active, _) = home.request("bot", &["db/dev/url"], &[]);
    let text = edited("approval = \"auto\"", "approval = \"sometimes\"");
    let path = home.write_policy(&text);
    let line = line_of(&text, "approval = \"sometimes\"", 0);

    let ran = home.request_raw("bot", &["db/dev/url"], "5m", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr.contains(&format!("{}:{line}:", path.display())),
        "{ran:?}"
    );
    assert!(ran.stderr.contains("sometimes"), "{ran:?}");
    // ana's rule is untouched by the edit, and still nothing is granted.
    let ana = home.request_raw("ana", &["db/dev/url"], "5m", &[]);
    assert_eq!(ana.code, 3, "{ana:?}");
    let status = home.json(&["status"]);
    assert!(
        status["policy"]["error"]
            .as_str()
            .unwrap()
            .contains("sometimes"),
        "{status:#}"
    );
    let text = home.run(&["status"]);
    assert!(text.stdout.contains("UNUSABLE"), "{text:?}");
    assert_eq!(home.json(&["grants"]).as_array().unwrap().len(), 1);

    // Fixed (back to the accepted version): grants flow again, automatically.
    home.write_policy(POLICY);
    let (_, status) = home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(status, "active");
    assert_eq!(home.grant(&active)["status"], "active");
}

#[test]
fn a_removed_policy_grants_nothing() {
    let (home, _value, _daemon) = Home::with_daemon();
    std::fs::remove_file(home.scratch().join("warrant.toml")).unwrap();
    let ran = home.request_raw("bot", &["db/dev/url"], "5m", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(ran.stderr.contains("warrant.toml"), "{ran:?}");
    assert!(
        home.json(&["grants", "--all"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// The daemon notices an edit by the file's mtime, size and inode. An edit
/// that keeps all three (same length, written in place, mtime restored as
/// `cp -p`, `rsync -t --inplace` or a second write within one clock tick
/// leave it) is never seen, and the old policy stays in force.
#[test]
fn an_edit_that_keeps_size_and_mtime_is_still_applied() {
    let (home, _value, _daemon) = Home::with_daemon();
    let path = home.scratch().join("warrant.toml");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    // bot may no longer use db/dev/*: same length, same inode.
    let narrowed = edited(
        "secrets  = [\"db/dev/*\", \"api/token\"]",
        "secrets  = [\"db/xyz/*\", \"api/token\"]",
    );
    assert_eq!(narrowed.len(), POLICY.len());
    std::fs::write(&path, &narrowed).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let ran = home.request_raw("bot", &["db/dev/url"], "5m", &[]);
    assert_eq!(ran.code, 3, "the narrowed policy was not applied: {ran:?}");
}

/// An agent edits `warrant.toml` to weaken it (a security key no longer
/// needed, a longer life, no use limit, any command, a secret more, plain
/// HTTP and a host of its own): until an approver accepts the edit, every
/// grant is held to the accepted version as well.
#[test]
fn an_unaccepted_edit_is_never_weaker_than_the_accepted_policy() {
    let home = Home::with_approver();
    home.set("api/token", &crate::harness::fake_value("api"));
    home.set("db/prod/url", &crate::harness::fake_value("db"));
    let strict = r#"
[actors.bot]
kind = "agent"

[[rules]]
actors   = ["bot"]
secrets  = ["api/token"]
commands = ["curl"]
hosts    = ["api.example.test"]
max_ttl  = "10m"
max_uses = 3
approval = "hardware_key"
"#;
    home.write_policy(strict);
    let _daemon = home.serve();
    let weakened = r#"
[actors.bot]
kind = "agent"

[[rules]]
actors   = ["bot"]
secrets  = ["api/token", "db/prod/url"]
hosts    = ["api.example.test", "evil.example.test"]
allow_http = true
substitute_in = ["body"]
max_ttl  = "2h"
approval = "auto"
"#;
    home.write_policy(weakened);

    let asked = home.json(&[
        "request",
        "--actor",
        "bot",
        "--reason",
        "tests",
        "--ttl",
        "1h",
        "--secret",
        "api/token",
    ]);
    assert_eq!(
        asked["status"], "pending",
        "auto approval from an unaccepted edit"
    );
    let id = asked["id"].as_str().unwrap().to_owned();
    let grant = home.grant(&id);
    assert_eq!(grant["hardware_key"], true, "{grant:#}");
    assert_eq!(grant["ttl_secs"], 600, "{grant:#}");
    assert_eq!(grant["max_uses"], 3, "{grant:#}");
    assert_eq!(
        grant["secret_hosts"]["api/token"],
        serde_json::json!(["api.example.test"]),
        "{grant:#}"
    );
    // The passphrase alone does not approve what needs a security key.
    let approve = home.run_stdin(&["approve", &id], &format!("{APPROVER}\n"));
    assert_ne!(approve.code, 0, "{approve:?}");
    assert_eq!(home.grant(&id)["status"], "pending");

    // A secret only the edit allows is denied, saying why.
    let denied = home.request_raw("bot", &["db/prod/url"], "5m", &[]);
    assert_eq!(denied.code, 3, "{denied:?}");
    assert!(denied.stderr.contains("not accepted yet"), "{denied:?}");
    assert!(
        denied.stderr.contains("warrant policy accept"),
        "{denied:?}"
    );

    // Once accepted, the edit applies as written.
    std::thread::sleep(Duration::from_millis(1100));
    let accepted = home.run_stdin(&["policy", "accept"], &format!("{APPROVER}\n"));
    assert_eq!(accepted.code, 0, "{accepted:?}");
    let (_, status) = home.request("bot", &["db/prod/url"], &[]);
    assert_eq!(status, "active");
}
