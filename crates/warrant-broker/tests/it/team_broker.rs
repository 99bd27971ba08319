//! The broker in team mode against a real PostgreSQL: starting from the
//! shared state, and absorbing what other daemons changed.

use std::sync::Arc;

use secrecy::ExposeSecret as _;
use warrant_broker::team::{Delta, TeamState};
use warrant_broker::{Broker, Grant, GrantProcess, GrantStatus, Task, now_ms};
use warrant_dynamic::stores::Stores;
use warrant_secret::SecretValue;
use warrant_store::{KeyProtection, LocalStore};
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

/// A process on another machine, with a pid that is not running here.
fn elsewhere() -> GrantProcess {
    GrantProcess {
        pid: 999_999_999,
        start_time: 7,
        host: "another-machine/0123abcd".into(),
    }
}

fn active(id: &str) -> Grant {
    let mut grant: Grant = serde_json::from_value(serde_json::json!({
        "id": id, "actor": "bot", "task": null, "secrets": ["db/dev/url"], "reason": "r",
        "command_scopes": [], "hosts": [], "secret_hosts": [], "ttl_ms": 600000,
        "max_uses": null, "uses": 0, "status": "active", "created_ms": 1,
        "approved_ms": 1, "approved_by": "ana", "expires_ms": now_ms() + 600_000,
        "ended_ms": null, "end_reason": null, "rules": [0], "policy_hash": "h",
        "terminate_on_expiry": true, "grace_ms": 1000, "processes": [],
        "hardware_key": false
    }))
    .unwrap();
    grant.processes.push(elsewhere());
    grant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_machines_grants_and_tasks_are_followed_never_touched() {
    let cluster = Cluster::start();
    cluster.create_database("team");
    let dsn = cluster.dsn_for(ADMIN_USER, cluster.admin_password().expose_secret(), "team");
    let dsn = SecretValue::from(dsn.expose_secret().to_owned());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let store = LocalStore::init(&home, KeyProtection::KeyFile).unwrap();
    let stores = Arc::new(Stores::local_only(Arc::new(store)));
    let mut team = TeamState::connect(&dsn, "test/1").await.unwrap();
    let (mut broker, endings, seen) = Broker::start_team(&home, stores, None, &mut team)
        .await
        .unwrap();
    assert!(endings.is_empty());
    // The start is in the chain (audit records move no state version).
    assert_eq!(team.verify_audit().await.unwrap().records, 1);
    assert!(broker.is_team());
    let mut ended = broker.subscribe_ended();

    // Another daemon's grant with a process on its machine, and its task.
    let task = Task {
        id: "t_remote".into(),
        actor: "bot".into(),
        reason: "r".into(),
        command: "codex".into(),
        root: elsewhere(),
        started_ms: 1,
        proxy_only: false,
    };
    let endings = broker.absorb(Delta {
        version: seen + 1,
        grants: vec![active("g_remote"), active("g_other")],
        tasks: vec![task],
        ..Delta::default()
    });
    assert!(endings.is_empty());
    assert!(broker.is_active("g_remote"));
    // This machine's tick neither prunes the process (its pid means
    // nothing here) nor ends the task as orphaned.
    let endings = broker.tick(now_ms()).unwrap();
    assert!(endings.iter().all(|e| e.processes.is_empty()));
    let batch = broker.take_batch();
    assert!(batch.is_none(), "nothing to record");

    // The other daemon revokes: listeners hear of it; its process is not
    // this daemon's to end.
    let mut revoked = active("g_remote");
    revoked.status = GrantStatus::Revoked;
    revoked.end_reason = Some("done".into());
    let endings = broker.absorb(Delta {
        version: seen + 2,
        grants: vec![revoked],
        removed_tasks: vec!["t_remote".into()],
        ..Delta::default()
    });
    assert!(endings.is_empty());
    assert!(!broker.is_active("g_remote"));
    assert_eq!(
        ended.try_recv().unwrap(),
        ("g_remote".into(), "done".into())
    );

    // A full snapshot without g_other: it ended while this daemon was
    // cut off.
    broker.absorb(Delta {
        version: seen + 9,
        full: true,
        ..Delta::default()
    });
    assert!(!broker.is_active("g_other"));
    assert_eq!(ended.try_recv().unwrap().0, "g_other");
}
