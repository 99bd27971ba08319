//! Team mode's storage against a real PostgreSQL: several daemons (each a
//! `TeamState`) sharing grants, tasks, credentials and one audit chain.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use tokio::sync::Mutex;
use warrant_audit::{AuditLog, Event, Record};
use warrant_broker::team::{Delta, Error, Op, TeamState};
use warrant_broker::{Change, Grant, GrantProcess, GrantStatus, Task};
use warrant_dynamic::stores::{CredentialKind, CredentialRecord};
use warrant_secret::SecretValue;
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

const DB: &str = "team";

fn cluster() -> Cluster {
    let cluster = Cluster::start();
    cluster.create_database(DB);
    cluster
}

fn dsn(cluster: &Cluster) -> SecretValue {
    let dsn = cluster.dsn_for(ADMIN_USER, cluster.admin_password().expose_secret(), DB);
    SecretValue::from(dsn.expose_secret().to_owned())
}

fn grant(id: &str, status: GrantStatus, expires_ms: u64) -> Grant {
    Grant {
        id: id.into(),
        actor: "codex".into(),
        task: None,
        secrets: vec!["db/dev/url".into()],
        reason: "tests".into(),
        command_scopes: vec![],
        hosts: vec![],
        secret_hosts: vec![],
        ttl_ms: 60_000,
        max_uses: None,
        uses: 0,
        status,
        created_ms: 1,
        approved_ms: None,
        approved_by: None,
        expires_ms,
        ended_ms: None,
        end_reason: None,
        rules: vec![1],
        policy_hash: "h".into(),
        terminate_on_expiry: true,
        grace_ms: 1000,
        processes: vec![],
        hardware_key: false,
        delivery: Vec::new(),
    }
}

fn task(id: &str) -> Task {
    Task {
        id: id.into(),
        actor: "codex".into(),
        reason: "r".into(),
        command: "codex".into(),
        root: GrantProcess {
            pid: 1,
            start_time: 2,
            host: String::new(),
        },
        started_ms: 3,
        proxy_only: false,
    }
}

fn credential(grant: &str) -> CredentialRecord {
    CredentialRecord {
        grant: grant.into(),
        store: "pg".into(),
        role: "reader".into(),
        kind: CredentialKind::Postgres,
        login: format!("warrant_{grant}_x"),
        expires_ms: 9,
    }
}

fn secret_set(name: String) -> Event {
    Event::SecretSet { name }
}

/// What a daemon holds in memory, kept up to date only through
/// `changes_since` and its own writes, as the broker will.
#[derive(Default)]
struct Mirror {
    version: u64,
    grants: BTreeMap<String, Grant>,
    tasks: BTreeSet<String>,
    credentials: BTreeSet<String>,
    meta: BTreeMap<String, String>,
    full_snapshots: usize,
}

impl Mirror {
    fn merge(&mut self, delta: Delta) {
        if delta.full {
            *self = Mirror {
                full_snapshots: self.full_snapshots + 1,
                ..Mirror::default()
            };
        }
        self.version = delta.version;
        for g in delta.grants {
            self.grants.insert(g.id.clone(), g);
        }
        self.tasks.extend(delta.tasks.into_iter().map(|t| t.id));
        for id in delta.removed_tasks {
            self.tasks.remove(&id);
        }
        for c in delta.credentials {
            self.credentials.insert(key(&c));
        }
        for k in delta.removed_credentials {
            self.credentials.remove(&k);
        }
        self.meta.extend(delta.meta);
    }

    fn own(&mut self, changes: &[Change], version: u64) {
        for change in changes {
            match change {
                Change::Grant(g) => _ = self.grants.insert(g.id.clone(), g.clone()),
                Change::Task(t) => _ = self.tasks.insert(t.id.clone()),
                Change::RemoveTask(id) => _ = self.tasks.remove(id),
                Change::Meta(k, v) => _ = self.meta.insert((*k).to_owned(), v.clone()),
                Change::Credential(c) => _ = self.credentials.insert(key(c)),
                Change::RemoveCredential(c) => _ = self.credentials.remove(&key(c)),
            }
        }
        self.version = version;
    }
}

fn key(c: &CredentialRecord) -> String {
    format!("{}/{}/{}/{}", c.grant, c.store, c.role, c.login)
}

type Daemon = Arc<Mutex<(TeamState, Mirror)>>;

async fn daemon(dsn: &SecretValue, id: &str) -> Daemon {
    let state = TeamState::connect(dsn, id).await.unwrap();
    Arc::new(Mutex::new((state, Mirror::default())))
}

/// One operation as the broker will run it: refresh, decide, write, commit.
async fn run_op(daemon: &Daemon, changes: Vec<Change>, events: Vec<Event>) {
    let mut guard = daemon.lock().await;
    let (state, mirror) = &mut *guard;
    let mut op = state.begin().await.unwrap();
    mirror.merge(op.changes_since(mirror.version).await.unwrap());
    op.apply(&changes).await.unwrap();
    op.append(events, "ana", 42).await.unwrap();
    let version = op.commit().await.unwrap();
    mirror.own(&changes, version);
}

async fn export(state: &mut TeamState) -> (Vec<String>, warrant_audit::Head) {
    let mut out = Vec::new();
    let head = state.export_audit(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    (text.lines().map(str::to_owned).collect(), head)
}

/// The export, written as a warrant home's log, passes the file verifier.
fn verify_as_log_file(lines: &[String], head: &warrant_audit::Head) -> u64 {
    let home = tempfile::tempdir().unwrap();
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(home.path().join("audit.jsonl"), text).unwrap();
    std::fs::write(home.path().join("audit.head"), head.to_file_bytes()).unwrap();
    AuditLog::new(home.path()).verify().unwrap().records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_creation_is_idempotent() {
    let cluster = cluster();
    let dsn = dsn(&cluster);
    let (a, b) = tokio::join!(TeamState::connect(&dsn, "a"), TeamState::connect(&dsn, "b"));
    let (a, b) = (a.unwrap(), b.unwrap());
    let c = TeamState::connect(&dsn, "c").await.unwrap();
    assert_eq!(
        cluster.sql_in(DB, "SELECT version FROM warrant.schema_version"),
        warrant_broker::team::SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        cluster.sql_in(DB, "SELECT version, tombstone_floor FROM warrant.state"),
        "0|0"
    );
    assert_eq!(
        cluster.sql_in(DB, "SELECT count(*) FROM warrant.audit_head"),
        "1"
    );
    drop((a, b, c));

    // A schema from a later warrant is refused, not written to.
    cluster.sql_in(
        DB,
        "INSERT INTO warrant.schema_version (version, applied_by) VALUES (99, 'future')",
    );
    let err = TeamState::connect(&dsn, "d").await.unwrap_err();
    assert!(
        matches!(err, Error::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_daemons_share_state_and_one_chain() {
    const TASKS: usize = 25;
    const ROUNDS: usize = 4;
    const EVENTS: usize = 2;
    let cluster = cluster();
    let dsn = dsn(&cluster);
    let daemons = [daemon(&dsn, "a").await, daemon(&dsn, "b").await];

    let mut clients = Vec::new();
    for (d, daemon) in daemons.iter().enumerate() {
        for t in 0..TASKS {
            let daemon = Arc::clone(daemon);
            clients.push(tokio::spawn(async move {
                for round in 0..ROUNDS {
                    let id = format!("g_{d}_{t}_{round}");
                    let mut changes = vec![
                        Change::Grant(grant(&id, GrantStatus::Active, 10)),
                        Change::Meta("last_policy", id.clone()),
                    ];
                    // Tasks and credentials come and go, so that removals
                    // travel between daemons too.
                    match round {
                        0 => changes.push(Change::Task(task(&format!("t_{d}_{t}")))),
                        1 => changes.push(Change::Credential(credential(&id))),
                        2 => changes.push(Change::RemoveCredential(credential(&format!(
                            "g_{d}_{t}_1"
                        )))),
                        _ if t % 2 == 0 => changes.push(Change::RemoveTask(format!("t_{d}_{t}"))),
                        _ => {}
                    }
                    let events = (0..EVENTS)
                        .map(|e| secret_set(format!("{id}/{e}")))
                        .collect();
                    run_op(&daemon, changes, events).await;
                }
            }));
        }
    }
    for client in clients {
        client.await.unwrap();
    }

    // Each daemon catches up with one more refresh and then holds what the
    // other wrote, removals included, without a second full snapshot.
    let all_grants: BTreeSet<String> = (0..2)
        .flat_map(|d| {
            (0..TASKS).flat_map(move |t| (0..ROUNDS).map(move |r| format!("g_{d}_{t}_{r}")))
        })
        .collect();
    let odd_tasks: BTreeSet<String> = (0..2)
        .flat_map(|d| {
            (0..TASKS)
                .filter(|t| t % 2 == 1)
                .map(move |t| format!("t_{d}_{t}"))
        })
        .collect();
    let mut versions = Vec::new();
    for daemon in &daemons {
        let mut guard = daemon.lock().await;
        let (state, mirror) = &mut *guard;
        let op = state.begin().await.unwrap();
        mirror.merge(op.changes_since(mirror.version).await.unwrap());
        versions.push(op.commit().await.unwrap());
        assert_eq!(
            mirror.grants.keys().cloned().collect::<BTreeSet<_>>(),
            all_grants
        );
        assert_eq!(mirror.tasks, odd_tasks);
        assert!(mirror.credentials.is_empty(), "{:?}", mirror.credentials);
        assert_eq!(mirror.meta.len(), 1);
        assert_eq!(mirror.full_snapshots, 1, "only the first refresh is full");
    }
    let ops = 2 * TASKS * ROUNDS;
    assert_eq!(versions, vec![ops as u64; 2], "one version per writing op");

    // One chain, seq 1..N without gaps, nothing lost, verified three ways.
    let mut guard = daemons[0].lock().await;
    let state = &mut guard.0;
    let (lines, head) = export(state).await;
    assert_eq!(lines.len(), ops * EVENTS);
    assert_eq!(head.seq, lines.len() as u64);
    let records: Vec<Record> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records
            .iter()
            .enumerate()
            .all(|(i, r)| r.seq == i as u64 + 1)
    );
    let names: BTreeSet<String> = records
        .iter()
        .map(|r| match r.event.known() {
            Some(Event::SecretSet { name }) => name.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names.len(), ops * EVENTS, "every event recorded once");
    let checked = warrant_audit::verify_lines("export", &lines).unwrap();
    assert_eq!(checked.head.as_deref(), Some(head.hash.as_str()));
    assert_eq!(verify_as_log_file(&lines, &head), head.seq);
    assert_eq!(state.verify_audit().await.unwrap().records, head.seq);

    // Tampering with one stored line is found in place.
    cluster.sql_in(
        DB,
        "UPDATE warrant.audit SET line = replace(line, '\"name\":\"', '\"name\":\"x') WHERE seq = 7",
    );
    let err = state.verify_audit().await.unwrap_err().to_string();
    assert!(err.contains("broken at record 7"), "{err}");
    assert!(err.contains("hash mismatch"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_grant_is_approved_once_and_expires_once() {
    const DAEMONS: usize = 10;
    const PER_DAEMON: usize = 5;
    const DUE: usize = 10;
    let cluster = cluster();
    let dsn = dsn(&cluster);
    let mut daemons = Vec::new();
    for d in 0..DAEMONS {
        daemons.push(daemon(&dsn, &format!("d{d}")).await);
    }
    let mut setup = vec![Change::Grant(grant(
        "g_pending",
        GrantStatus::Pending,
        u64::MAX / 4,
    ))];
    for i in 0..DUE {
        setup.push(Change::Grant(grant(
            &format!("g_due_{i}"),
            GrantStatus::Active,
            5,
        )));
    }
    run_op(&daemons[0], setup, vec![]).await;

    // 50 clients at once: approve the pending grant (only if it is still
    // pending when read under the lock), and sweep whatever is due.
    let mut clients = Vec::new();
    for daemon in &daemons {
        for c in 0..PER_DAEMON {
            let daemon = Arc::clone(daemon);
            clients.push(tokio::spawn(async move {
                let mut guard = daemon.lock().await;
                let (state, mirror) = &mut *guard;
                let mut op = state.begin().await.unwrap();
                mirror.merge(op.changes_since(mirror.version).await.unwrap());
                let mut changes = Vec::new();
                let mut events = Vec::new();
                let mut approved = false;
                if let Some(g) = op.grant("g_pending").await.unwrap()
                    && g.status == GrantStatus::Pending
                {
                    let mut g = g;
                    g.status = GrantStatus::Active;
                    g.approved_by = Some(format!("client {c}"));
                    events.push(Event::GrantApproved {
                        grant: g.id.clone(),
                        by: format!("client {c}"),
                        ttl_secs: 60,
                        max_uses: None,
                    });
                    changes.push(Change::Grant(g));
                    approved = true;
                }
                // The tick: expire, from memory, what is live and due.
                for g in mirror.grants.values() {
                    if g.status.is_live() && g.expires_ms <= 1000 {
                        let mut g = g.clone();
                        g.status = GrantStatus::Expired;
                        events.push(Event::GrantExpired {
                            grant: g.id.clone(),
                            processes_ended: 0,
                        });
                        changes.push(Change::Grant(g));
                    }
                }
                op.apply(&changes).await.unwrap();
                op.append(events, "ana", 42).await.unwrap();
                let version = op.commit().await.unwrap();
                mirror.own(&changes, version);
                approved
            }));
        }
    }
    let mut approvals = 0;
    for client in clients {
        approvals += usize::from(client.await.unwrap());
    }
    assert_eq!(approvals, 1, "exactly one client approved the grant");

    let mut guard = daemons[DAEMONS - 1].lock().await;
    let (lines, head) = export(&mut guard.0).await;
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Record>(l)
                .unwrap()
                .event
                .kind()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "grant_approved").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "grant_expired").count(), DUE);
    assert_eq!(verify_as_log_file(&lines, &head), (DUE + 1) as u64);
    assert_eq!(
        cluster.sql_in(
            DB,
            "SELECT status, count(*) FROM warrant.grants GROUP BY status ORDER BY status"
        ),
        format!("active|1\nexpired|{DUE}")
    );
}

fn advisory_locks(cluster: &Cluster) -> String {
    cluster.sql_in(
        DB,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
    )
}

async fn wait_until_unlocked(cluster: &Cluster) {
    for _ in 0..100 {
        if advisory_locks(cluster) == "0" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the team lock is still held");
}

fn row_counts(cluster: &Cluster) -> String {
    cluster.sql_in(
        DB,
        "SELECT (SELECT count(*) FROM warrant.grants), (SELECT count(*) FROM warrant.tasks), \
         (SELECT count(*) FROM warrant.audit), (SELECT seq FROM warrant.audit_head), \
         (SELECT version FROM warrant.state)",
    )
}

/// A grant, a task and a record, not committed.
async fn write(op: &mut Op<'_>) {
    let changes = vec![
        Change::Grant(grant("g_1", GrantStatus::Active, 10)),
        Change::Task(task("t_1")),
    ];
    op.apply(&changes).await.unwrap();
    op.append(vec![secret_set("x".into())], "ana", 1)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unfinished_op_leaves_nothing_and_frees_the_lock() {
    let cluster = cluster();
    let dsn = dsn(&cluster);
    let mut a = TeamState::connect(&dsn, "a").await.unwrap();
    let mut b = TeamState::connect(&dsn, "b").await.unwrap();
    // Dropped without a commit.
    {
        let mut op = a.begin().await.unwrap();
        write(&mut op).await;
        assert_eq!(advisory_locks(&cluster), "1");
    }
    wait_until_unlocked(&cluster).await;
    assert_eq!(row_counts(&cluster), "0|0|0|0|0");

    // The connection killed mid-transaction (as when the daemon dies).
    let pid = a.backend_pid();
    let mut op = a.begin().await.unwrap();
    write(&mut op).await;
    assert_eq!(
        cluster.sql_in(DB, &format!("SELECT pg_terminate_backend({pid})")),
        "t"
    );
    let err = op.commit().await.unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err}");
    wait_until_unlocked(&cluster).await;
    assert_eq!(row_counts(&cluster), "0|0|0|0|0");

    // Another daemon gets the lock at once; the first reconnects and goes on.
    let op = tokio::time::timeout(Duration::from_secs(5), b.begin())
        .await
        .expect("the lock is free")
        .unwrap();
    op.commit().await.unwrap();
    let mut op = a.begin().await.unwrap();
    write(&mut op).await;
    assert_eq!(op.commit().await.unwrap(), 1);
    assert_ne!(a.backend_pid(), pid, "a new session");
    assert_eq!(row_counts(&cluster), "1|1|1|1|1");
    assert_eq!(a.verify_audit().await.unwrap().records, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn errors_never_show_the_password() {
    let cluster = cluster();
    let password = cluster.admin_password().expose_secret().to_owned();
    let shown = |err: &Error| {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(&password), "{text}");
            assert!(!text.contains("wrong-pw-4711"), "{text}");
        }
        err.to_string()
    };

    let wrong = cluster.dsn_for(ADMIN_USER, "wrong-pw-4711", DB);
    let wrong = SecretValue::from(wrong.expose_secret().to_owned());
    let err = TeamState::connect(&wrong, "a").await.unwrap_err();
    assert!(shown(&err).contains("authentication failed"), "{err}");

    let unusable = format!("postgres://{ADMIN_USER}:{password}@db.example/{DB}?sslmode=prefer");
    let err = TeamState::connect(&SecretValue::from(unusable), "a")
        .await
        .unwrap_err();
    shown(&err);

    let closed = format!("postgres://{ADMIN_USER}:{password}@127.0.0.1:1/{DB}?connect_timeout=2");
    let err = TeamState::connect(&SecretValue::from(closed), "a")
        .await
        .unwrap_err();
    shown(&err);

    let dsn = dsn(&cluster);
    let mut state = TeamState::connect(&dsn, "a").await.unwrap();
    assert!(!format!("{state:?}").contains(&password));
    cluster.sql_in(DB, "DROP TABLE warrant.state CASCADE");
    let op = state.begin().await.unwrap();
    let err = op.changes_since(0).await.unwrap_err();
    assert!(shown(&err).contains("warrant.state"), "{err}");
}
