use std::path::Path;
use std::sync::Arc;

use warrant_audit::AuditLog;
use warrant_broker::protocol::{ErrorCode, GrantRequest, UseRequest};
use warrant_broker::{Broker, Caller, Verifier, now_ms};
use warrant_dynamic::stores::Stores;
use warrant_sandbox::proc;
use warrant_secret::{SecretName, SecretValue};
use warrant_store::{KeyProtection, LocalStore, SecretStore};

const POLICY: &str = r#"
[actors.codex]
kind = "agent"

[actors.bot]
kind = "agent"

[[rules]]
actors   = ["codex"]
secrets  = ["db/dev/*"]
commands = ["psql"]
hosts    = ["db.internal"]
max_ttl  = "30m"
approval = "required"
max_uses = 2

[[rules]]
actors   = ["codex"]
secrets  = ["github/token"]
commands = ["psql"]
hosts    = ["api.github.com"]
max_ttl  = "10m"
approval = "required"

[[rules]]
actors   = ["bot"]
secrets  = ["db/dev/*"]
max_ttl  = "5m"
approval = "auto"
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    home: std::path::PathBuf,
    policy: std::path::PathBuf,
    broker: Broker,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let store = LocalStore::init(&home, KeyProtection::KeyFile).unwrap();
    for name in ["db/dev/url", "github/token"] {
        let value = SecretValue::from(format!("fake-{name}-value-000000").into_bytes());
        store
            .set(&SecretName::new(name).unwrap(), &value, None)
            .unwrap();
    }
    Verifier::create(b"approver-passphrase", true)
        .unwrap()
        .save(&home)
        .unwrap();
    let policy = dir.path().join("warrant.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let (broker, _) = Broker::start(
        &home,
        Arc::new(Stores::local_only(Arc::new(store))),
        Some(policy.clone()),
    )
    .unwrap();
    Fixture {
        _dir: dir,
        home,
        policy,
        broker,
    }
}

fn me() -> Caller {
    Caller {
        uid: 0,
        pid: std::process::id(),
        ancestry: proc::ancestors(std::process::id()).unwrap(),
        user: "tester".into(),
    }
}

fn ask(actor: &str, secrets: &[&str], ttl_ms: u64) -> GrantRequest {
    GrantRequest {
        secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        reason: "tests".into(),
        ttl_ms,
        commands: vec![],
        hosts: vec![],
        actor: Some(actor.into()),
    }
}

fn use_of(grant: &str, program: &str, secrets: &[&str]) -> UseRequest {
    UseRequest {
        grant: grant.into(),
        program: program.into(),
        resolved: Some(format!("/usr/bin/{program}")),
        secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        file_secrets: vec![],
    }
}

/// Writes what is staged, as the daemon's writer does.
fn flush(broker: &mut Broker) {
    while let Some(mut batch) = broker.take_batch() {
        broker
            .journal()
            .expect("the embedded mode has a journal")
            .write(&mut batch, || {})
            .unwrap();
    }
}

fn audit_kinds(home: &Path) -> Vec<String> {
    AuditLog::new(home)
        .records()
        .unwrap()
        .iter()
        .map(|r| r.event.kind().to_owned())
        .collect()
}

#[test]
fn a_grant_needs_approval_scope_and_uses_left() {
    let mut f = fixture();
    let c = me();
    let g = f
        .broker
        .request(&c, ask("codex", &["db/dev/url"], 60_000))
        .unwrap()
        .unwrap();
    assert_eq!(g.status, "pending");
    let refused = f
        .broker
        .use_begin(&c, &use_of(&g.id, "psql", &["db/dev/url"]))
        .unwrap();
    assert_eq!(refused.unwrap_err().code, ErrorCode::NotActive);

    let verifier = f.broker.approve_check(&c, &g.id).unwrap().unwrap();
    assert!(verifier.verify(b"approver-passphrase").unwrap());
    let approved = f
        .broker
        .approve_finish(&c, &g.id, None, true)
        .unwrap()
        .unwrap();
    assert_eq!(approved.status, "active");
    assert_eq!(approved.approved_by.as_deref(), Some("tester"));

    let out_of_scope = f
        .broker
        .use_begin(&c, &use_of(&g.id, "curl", &["db/dev/url"]))
        .unwrap();
    assert_eq!(out_of_scope.unwrap_err().code, ErrorCode::OutOfScope);
    let not_covered = f
        .broker
        .use_begin(&c, &use_of(&g.id, "psql", &["github/token"]))
        .unwrap();
    assert_eq!(not_covered.unwrap_err().code, ErrorCode::OutOfScope);
    for n in 1..=2 {
        let reply = f
            .broker
            .use_begin(&c, &use_of(&g.id, "psql", &["db/dev/url"]))
            .unwrap()
            .unwrap();
        assert_eq!(reply.use_number, n);
    }
    let used_up = f
        .broker
        .use_begin(&c, &use_of(&g.id, "psql", &["db/dev/url"]))
        .unwrap();
    assert_eq!(used_up.unwrap_err().code, ErrorCode::NotActive);
    flush(&mut f.broker);
    let kinds = audit_kinds(&f.home);
    assert_eq!(kinds.iter().filter(|k| *k == "grant_used").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "use_refused").count(), 4);
}

#[test]
fn a_wrong_passphrase_locks_approval() {
    let mut f = fixture();
    let c = me();
    let g = f
        .broker
        .request(&c, ask("codex", &["db/dev/url"], 60_000))
        .unwrap()
        .unwrap();
    let refused = f.broker.approve_finish(&c, &g.id, None, false).unwrap();
    assert_eq!(refused.unwrap_err().code, ErrorCode::WrongPassphrase);
    let locked = f.broker.approve_check(&c, &g.id).unwrap();
    assert_eq!(locked.unwrap_err().code, ErrorCode::Throttled);
    assert_eq!(f.broker.show(&g.id).unwrap().unwrap().status, "pending");
}

#[test]
fn each_secret_keeps_its_own_rules_hosts() {
    let mut f = fixture();
    let c = me();
    let g = f
        .broker
        .request(&c, ask("codex", &["db/dev/url", "github/token"], 60_000))
        .unwrap()
        .unwrap();
    assert_eq!(g.hosts.len(), 2);
    assert_eq!(g.secret_hosts["db/dev/url"], ["db.internal"]);
    assert_eq!(g.secret_hosts["github/token"], ["api.github.com"]);
    // The lifetime asked for (1 min) is within both rules' caps.
    assert_eq!(g.ttl_secs, 60);
    let long = f
        .broker
        .request(&c, ask("codex", &["db/dev/url", "github/token"], 3_600_000))
        .unwrap()
        .unwrap();
    assert_eq!(
        long.ttl_secs, 600,
        "the github rule's 10m cap binds the whole grant"
    );
}

#[test]
fn expiry_ends_grants_and_restart_expires_what_passed() {
    let mut f = fixture();
    let c = me();
    let g = f
        .broker
        .request(&c, ask("bot", &["db/dev/url"], 50))
        .unwrap()
        .unwrap();
    assert_eq!(g.status, "active");
    flush(&mut f.broker);
    std::thread::sleep(std::time::Duration::from_millis(80));
    // Past its expiry, before any tick: a use is refused on the clock alone.
    let refused = f
        .broker
        .use_begin(&c, &use_of(&g.id, "psql", &["db/dev/url"]))
        .unwrap();
    assert_eq!(refused.unwrap_err().code, ErrorCode::NotActive);
    flush(&mut f.broker);

    // A restart (the state reopened) expires it and records that.
    let store = LocalStore::open(&f.home, warrant_store::Unlock::KeyFile).unwrap();
    let home = f.home.clone();
    let policy = f.policy.clone();
    drop(f.broker);
    let (mut broker, _) = Broker::start(
        &home,
        Arc::new(Stores::local_only(Arc::new(store))),
        Some(policy),
    )
    .unwrap();
    assert_eq!(broker.show(&g.id).unwrap().unwrap().status, "expired");
    flush(&mut broker);
    let records = AuditLog::new(&home).records().unwrap();
    let started = records
        .iter()
        .rev()
        .find(|r| r.event.kind() == "daemon_started")
        .unwrap();
    let fields = serde_json::to_value(&started.event).unwrap();
    assert_eq!(fields["expired"], 1);
    assert!(records.iter().any(|r| r.event.kind() == "grant_expired"));
    assert!(now_ms() > 0);
    drop(f._dir);
}

#[test]
fn a_changed_policy_needs_acceptance_before_auto_approval() {
    let mut f = fixture();
    let c = me();
    std::fs::write(
        &f.policy,
        POLICY.replace("max_ttl  = \"5m\"", "max_ttl  = \"4m\""),
    )
    .unwrap();
    let g = f
        .broker
        .request(&c, ask("bot", &["db/dev/url"], 60_000))
        .unwrap()
        .unwrap();
    assert_eq!(
        g.status, "pending",
        "auto approval must wait for acceptance"
    );
    f.broker.policy_accept(&c).unwrap().unwrap();
    let g = f
        .broker
        .request(&c, ask("bot", &["db/dev/url"], 60_000))
        .unwrap()
        .unwrap();
    assert_eq!(g.status, "active");
    flush(&mut f.broker);
    let kinds = audit_kinds(&f.home);
    assert!(kinds.contains(&"policy_changed".to_owned()));
    assert!(kinds.contains(&"policy_accepted".to_owned()));

    std::fs::write(&f.policy, "this is = not [ toml").unwrap();
    let denied = f
        .broker
        .request(&c, ask("bot", &["db/dev/url"], 60_000))
        .unwrap();
    let body = denied.unwrap_err();
    assert_eq!(body.code, ErrorCode::Denied);
    assert!(body.message.contains("warrant.toml:1:"), "{}", body.message);
}

#[test]
fn unknown_or_missing_secrets_and_actors_are_refused() {
    let mut f = fixture();
    let c = me();
    let denied = f
        .broker
        .request(&c, ask("codex", &["db/prod/url"], 60_000))
        .unwrap();
    assert_eq!(denied.unwrap_err().code, ErrorCode::Denied);
    let nobody = f
        .broker
        .request(&c, ask("mallory", &["db/dev/url"], 60_000))
        .unwrap();
    assert_eq!(nobody.unwrap_err().code, ErrorCode::Denied);
    let missing = f
        .broker
        .request(&c, ask("bot", &["db/dev/other"], 60_000))
        .unwrap();
    let body = missing.unwrap_err();
    assert!(
        body.message.contains("no secret named db/dev/other"),
        "{}",
        body.message
    );
    let mut anonymous = ask("bot", &["db/dev/url"], 60_000);
    anonymous.actor = None;
    assert_eq!(
        f.broker.request(&c, anonymous).unwrap().unwrap_err().code,
        ErrorCode::BadRequest
    );
}

#[test]
fn requests_are_bounded_in_size() {
    let mut f = fixture();
    let c = me();
    let mut long = ask("bot", &["db/dev/url"], 60_000);
    long.reason = "x".repeat(5000);
    assert_eq!(
        f.broker.request(&c, long).unwrap().unwrap_err().code,
        ErrorCode::BadRequest
    );
    let mut blank = ask("bot", &["db/dev/url"], 60_000);
    blank.reason = "  ".into();
    assert_eq!(
        f.broker.request(&c, blank).unwrap().unwrap_err().code,
        ErrorCode::BadRequest
    );
    let mut many = ask("bot", &["db/dev/url"], 60_000);
    many.hosts = (0..100).map(|i| format!("h{i}.example")).collect();
    assert_eq!(
        f.broker.request(&c, many).unwrap().unwrap_err().code,
        ErrorCode::BadRequest
    );
}

#[test]
fn an_actor_sees_only_the_secrets_it_could_be_granted_with_their_hosts() {
    let mut f = fixture();
    let c = me();
    let codex = f
        .broker
        .secrets_for(&c, Some("codex".into()))
        .unwrap()
        .unwrap();
    let names: Vec<&str> = codex.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db/dev/url", "github/token"]);
    assert_eq!(codex[0].hosts, ["db.internal"]);
    assert_eq!(codex[1].hosts, ["api.github.com"]);
    let bot = f
        .broker
        .secrets_for(&c, Some("bot".into()))
        .unwrap()
        .unwrap();
    assert_eq!(bot.len(), 1, "bot's rules cover db/dev/* only");
    assert!(bot[0].hosts.is_empty());
    let nobody = f
        .broker
        .secrets_for(&c, Some("mallory".into()))
        .unwrap()
        .unwrap();
    assert!(nobody.is_empty());
    assert!(f.broker.secrets_for(&c, None).unwrap().is_err());
}

#[test]
fn a_value_is_substituted_only_for_its_own_hosts() {
    use warrant_broker::protocol::SubstituteRequest;
    let mut f = fixture();
    let c = me();
    let g = f
        .broker
        .request(&c, ask("codex", &["db/dev/url", "github/token"], 60_000))
        .unwrap()
        .unwrap();
    f.broker
        .approve_finish(&c, &g.id, None, true)
        .unwrap()
        .unwrap();
    let sub = |secrets: &[&str], host: &str| SubstituteRequest {
        grant: g.id.clone(),
        secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        host: host.into(),
        method: "GET".into(),
        at: Some(warrant_broker::protocol::Destination::new(
            "https", 443, "/user",
        )),
    };
    let ok = f
        .broker
        .substitute_begin(&c, &sub(&["github/token"], "API.GitHub.com"))
        .unwrap();
    assert_eq!(ok.unwrap().names, ["github/token"]);
    // The github rule's host is not the database secret's.
    let refused = f
        .broker
        .substitute_begin(&c, &sub(&["db/dev/url"], "api.github.com"))
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::Forbidden);
    assert!(
        refused.message.contains("exfiltration attempt"),
        "{}",
        refused.message
    );
    let elsewhere = f
        .broker
        .substitute_begin(&c, &sub(&["github/token"], "evil.example"))
        .unwrap();
    assert!(elsewhere.is_err());
    flush(&mut f.broker);
    let kinds = audit_kinds(&f.home);
    assert_eq!(kinds.iter().filter(|k| *k == "substituted").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "use_refused").count(), 2);
    // Where it went, exactly: scheme, port and path beside the host.
    let log = std::fs::read_to_string(f.home.join("audit.jsonl")).unwrap();
    let substituted: serde_json::Value = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["event"] == "substituted")
        .unwrap();
    assert_eq!(substituted["host"], "api.github.com");
    assert_eq!(substituted["scheme"], "https");
    assert_eq!(substituted["port"], 443);
    assert_eq!(substituted["path"], "/user");
}
