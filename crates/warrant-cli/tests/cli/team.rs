//! Team mode end to end: two `warrant serve --state postgres://...` daemons
//! on two homes share one database (a real PostgreSQL cluster).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

use crate::harness::{APPROVER, Daemon, Home, Ran, wait_until};

/// `codex` needs approval, `bot` does not; both for a few seconds.
const POLICY: &str = r#"
[actors.codex]
kind = "agent"

[actors.bot]
kind = "agent"

[[rules]]
actors   = ["codex"]
secrets  = ["db/dev/*"]
commands = ["sh"]
max_ttl  = "1m"
approval = "required"

[[rules]]
actors   = ["bot"]
secrets  = ["db/dev/*"]
commands = ["sh"]
max_ttl  = "1m"
approval = "auto"
"#;

/// A database for the team state and how to reach it without a password
/// in argv.
struct TeamDb {
    cluster: Cluster,
    dsn: String,
    password_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TeamDb {
    fn new() -> Self {
        let cluster = Cluster::start();
        cluster.create_database("team");
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("state-password");
        std::fs::write(
            &password_file,
            format!("{}\n", cluster.admin_password().expose_secret()),
        )
        .unwrap();
        let dsn = format!("postgres://{ADMIN_USER}@127.0.0.1:{}/team", cluster.port());
        Self {
            cluster,
            dsn,
            password_file,
            _dir: dir,
        }
    }

    fn password(&self) -> String {
        self.cluster.admin_password().expose_secret().to_owned()
    }

    /// `warrant <args>` on `home` in team mode (for `warrant audit`).
    fn run(&self, home: &Home, args: &[&str]) -> Ran {
        let output = home
            .std_cmd()
            .args(args)
            .env("WARRANT_STATE", &self.dsn)
            .env("WARRANT_STATE_PASSWORD_FILE", &self.password_file)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts `warrant serve --state` on `home`; returns once it answers.
    fn serve(&self, home: &Home) -> Daemon {
        let child = home
            .std_cmd()
            .args(["serve", "--no-ui", "--state", &self.dsn])
            .arg("--state-password-file")
            .arg(&self.password_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let daemon = Daemon { child: Some(child) };
        let up = wait_until(Duration::from_secs(15), || home.run(&["status"]).code == 0);
        assert!(up, "the team daemon did not answer");
        daemon
    }

    /// Every record of the shared chain.
    fn records(&self, home: &Home) -> Vec<serde_json::Value> {
        let ran = self.run(home, &["audit", "--json"]);
        assert_eq!(ran.code, 0, "{ran:?}");
        ran.json().as_array().unwrap().clone()
    }
}

fn team_home() -> Home {
    let home = Home::with_approver();
    home.write_policy(POLICY);
    // Each machine has its own store (a team would name an OpenBao one).
    home.set("db/dev/url", "postgres://app:fake-team-value@db/app");
    home
}

/// What a client was told succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Acked {
    Requested(String),
    Approved(String),
    Revoked(String),
}

/// Runs `args` through daemon `pick` (or the other one when it is down).
fn through(
    homes: &[Home; 2],
    alive: &[AtomicUsize; 2],
    pick: usize,
    args: &[&str],
    stdin: &str,
) -> Option<Ran> {
    for home in [pick, 1 - pick] {
        if alive[home].load(Ordering::SeqCst) == 0 {
            continue;
        }
        let ran = homes[home].run_stdin(args, stdin);
        if ran.code == 0 || !ran.stderr.contains("no warrant daemon is running") {
            return Some(ran);
        }
    }
    None
}

/// Cheap randomness for the clients (no value depends on it).
fn random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Ten grants, each approved by five clients at once through both daemons:
/// exactly one approval of each is acknowledged. Returns what was.
fn approve_at_once(homes: &[Home; 2]) -> Vec<Acked> {
    let ids: Vec<String> = (0..10)
        .map(|i| {
            let args = [
                "request",
                "--actor",
                "codex",
                "--reason",
                "contested",
                "--ttl",
                "2s",
                "--secret",
                "db/dev/url",
                "--json",
            ];
            homes[i % 2].run(&args).id()
        })
        .collect();
    let start = std::sync::Barrier::new(50);
    let acked = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for client in 0..50 {
            let (ids, start, acked) = (&ids, &start, &acked);
            scope.spawn(move || {
                let id = &ids[client % 10];
                start.wait();
                // Grant k: clients k, k+10, ... alternate between the daemons.
                let ran =
                    homes[(client / 10) % 2].run_stdin(&["approve", id], &format!("{APPROVER}\n"));
                if ran.code == 0 {
                    acked.lock().unwrap().push(id.clone());
                } else {
                    assert!(
                        ran.stderr.contains("not pending")
                            || ran.stderr.contains("no longer pending"),
                        "{ran:?}"
                    );
                }
            });
        }
    });
    let mut acked = acked.into_inner().unwrap();
    acked.sort();
    let mut once = ids.clone();
    once.sort();
    assert_eq!(acked, once, "each grant approved exactly once");
    ids.iter()
        .flat_map(|id| [Acked::Requested(id.clone()), Acked::Approved(id.clone())])
        .collect()
}

#[test]
fn two_daemons_fifty_clients_one_chain_and_a_killed_daemon_loses_nothing() {
    let db = TeamDb::new();
    let homes = [team_home(), team_home()];
    let mut daemons = [db.serve(&homes[0]), db.serve(&homes[1])];
    let contested = approve_at_once(&homes);
    let alive = [AtomicUsize::new(1), AtomicUsize::new(1)];
    let pending: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let acked: Mutex<Vec<Acked>> = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    let (clients, rounds) = (50, 5);
    std::thread::scope(|scope| {
        for client in 0..clients {
            let (homes, alive, pending, acked, done) = (&homes, &alive, &pending, &acked, &done);
            scope.spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ ((client as u64 + 1) * 0x1000_0001);
                for _ in 0..rounds {
                    let pick = (random(&mut seed) % 2) as usize;
                    let ttl = format!("{}s", 2 + random(&mut seed) % 3);
                    match random(&mut seed) % 4 {
                        // A grant that needs approval: approved (maybe by
                        // several clients at once), revoked, or left to expire.
                        0 | 1 => {
                            let args = [
                                "request",
                                "--actor",
                                "codex",
                                "--reason",
                                "team",
                                "--ttl",
                                &ttl,
                                "--secret",
                                "db/dev/url",
                                "--json",
                            ];
                            let ran = through(homes, alive, pick, &args, "");
                            if let Some(ran) = ran
                                && ran.code == 0
                            {
                                let id = ran.id();
                                acked.lock().unwrap().push(Acked::Requested(id.clone()));
                                pending.lock().unwrap().push(id);
                            }
                        }
                        2 => {
                            let id = {
                                let p = pending.lock().unwrap();
                                (!p.is_empty())
                                    .then(|| p[random(&mut seed) as usize % p.len()].clone())
                            };
                            if let Some(id) = id {
                                let input = format!("{APPROVER}\n");
                                if let Some(ran) =
                                    through(homes, alive, pick, &["approve", &id], &input)
                                    && ran.code == 0
                                {
                                    acked.lock().unwrap().push(Acked::Approved(id));
                                }
                            }
                        }
                        _ => {
                            let id = {
                                let p = pending.lock().unwrap();
                                (!p.is_empty())
                                    .then(|| p[random(&mut seed) as usize % p.len()].clone())
                            };
                            if let Some(id) = id
                                && let Some(ran) = through(homes, alive, pick, &["revoke", &id], "")
                                && ran.code == 0
                            {
                                acked.lock().unwrap().push(Acked::Revoked(id));
                            }
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        // Mid-run, daemon 1 dies without a word.
        let half = clients * rounds / 2;
        assert!(wait_until(Duration::from_secs(120), || done
            .load(Ordering::SeqCst)
            >= half));
        alive[1].store(0, Ordering::SeqCst);
        daemons[1].kill();
    });
    let mut acked = acked.into_inner().unwrap();
    acked.extend(contested);
    let requested: HashSet<String> = acked
        .iter()
        .filter_map(|a| match a {
            Acked::Requested(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert!(
        requested.len() >= 20,
        "too few grants to tell: {}",
        requested.len()
    );

    // The survivor keeps serving: it ends what was never approved (a
    // pending grant waits an hour), and expires the rest (once).
    let survivor = &homes[0];
    let live = survivor.run(&["grants", "--json"]);
    assert_eq!(live.code, 0, "{live:?}");
    for grant in live.json().as_array().unwrap() {
        if grant["status"] == "pending" {
            let id = grant["id"].as_str().unwrap();
            let ran = survivor.run(&["deny", id]);
            assert_eq!(ran.code, 0, "{ran:?}");
        }
    }
    let started = Instant::now();
    let all_ended = wait_until(Duration::from_secs(30), || {
        let ran = survivor.run(&["grants", "--json"]);
        ran.code == 0 && ran.json().as_array().is_some_and(Vec::is_empty)
    });
    if !all_ended {
        let live = survivor.run(&["grants", "--json"]);
        panic!(
            "grants still live {:?} after the run: {live:?}\n{}",
            started.elapsed(),
            daemons[0].stop()
        );
    }

    let records = db.records(survivor);
    let mut per_grant: HashMap<(String, String), usize> = HashMap::new();
    for record in &records {
        if let Some(grant) = record["grant"].as_str() {
            let event = record["event"].as_str().unwrap().to_owned();
            *per_grant.entry((grant.to_owned(), event)).or_default() += 1;
        }
    }
    let count = |id: &str, event: &str| {
        per_grant
            .get(&(id.to_owned(), event.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    let mut approvals = 0;
    for id in &requested {
        assert_eq!(count(id, "grant_requested"), 1, "{id}");
        assert!(count(id, "grant_approved") <= 1, "{id} approved twice");
        approvals += count(id, "grant_approved");
        let ends =
            count(id, "grant_expired") + count(id, "grant_revoked") + count(id, "grant_denied");
        assert_eq!(ends, 1, "{id} ended {ends} times");
    }
    // Whatever a client was told is in the chain.
    for a in &acked {
        match a {
            Acked::Requested(_) => {}
            Acked::Approved(id) => assert_eq!(count(id, "grant_approved"), 1, "{id}"),
            Acked::Revoked(id) => assert_eq!(count(id, "grant_revoked"), 1, "{id}"),
        }
    }
    let acked_approvals = acked
        .iter()
        .filter(|a| matches!(a, Acked::Approved(_)))
        .count();
    assert!(acked_approvals > 0 && approvals >= acked_approvals);
    let expiries: usize = requested.iter().map(|id| count(id, "grant_expired")).sum();
    assert!(
        expiries > 0,
        "nothing expired: the test proves nothing about expiry"
    );
    eprintln!(
        "team: {} grants, {approvals} approved ({} approvals acknowledged), {expiries} expired, {} records",
        requested.len(),
        acked_approvals,
        records.len()
    );

    // ... and in the state, as either daemon reads it.
    let ran = survivor.run(&["grants", "--all", "--json"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let state: HashMap<String, String> = ran
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_owned(),
                g["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for id in &requested {
        let status = state.get(id).map(String::as_str);
        let want = if count(id, "grant_revoked") == 1 {
            "revoked"
        } else if count(id, "grant_denied") == 1 {
            "denied"
        } else {
            "expired"
        };
        assert_eq!(status, Some(want), "{id}");
    }

    // One chain, verified where it lives.
    let ran = db.run(survivor, &["audit", "verify", "--json"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()["records"].as_u64(), Some(records.len() as u64));

    // The killed daemon comes back on the same shared state.
    daemons[1] = db.serve(&homes[1]);
    let ran = homes[1].run(&["grants", "--all", "--json"]);
    assert_eq!(ran.json().as_array().unwrap().len(), state.len());

    // A daemon whose connection is cut (server restart, network) answers
    // an error at worst, then reconnects and carries on.
    db.cluster.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name LIKE 'warrant %'",
    );
    let args = [
        "request",
        "--actor",
        "bot",
        "--reason",
        "after",
        "--ttl",
        "1m",
        "--secret",
        "db/dev/url",
        "--json",
    ];
    let mut tries = Vec::new();
    let served = wait_until(Duration::from_secs(10), || {
        let ran = survivor.run(&args);
        let ok = ran.code == 0;
        tries.push(ran);
        ok
    });
    assert!(served, "{tries:?}");
    assert!(
        tries.len() <= 2,
        "more than one failure after a cut connection: {tries:?}"
    );
    assert!(!tries.iter().any(|t| t.all().contains(&db.password())));

    // The home's own log holds local events only, and says where the rest is.
    let ran = survivor.run(&["audit", "verify"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stderr.contains(&format!("--state {}", db.dsn)),
        "{ran:?}"
    );

    // Nothing shows the password: the daemons' output, the chain.
    let password = db.password();
    let text: String = daemons.iter_mut().map(Daemon::stop).collect();
    assert!(!text.contains(&password));
    assert!(!serde_json::to_string(&records).unwrap().contains(&password));
}

#[test]
fn the_password_stays_out_of_argv_and_errors() {
    let db = TeamDb::new();
    let home = team_home();
    let password = db.password();
    // In the connection string: refused before anything connects.
    let with = format!(
        "postgres://{ADMIN_USER}:{password}@127.0.0.1:{}/team",
        db.cluster.port()
    );
    let ran = home.run(&["serve", "--no-ui", "--state", &with]);
    assert_ne!(ran.code, 0);
    assert!(ran.stderr.contains("holds a password"), "{ran:?}");
    assert!(!ran.all().contains(&password));
    // A wrong one: the error names the login, not the password tried.
    let wrong = home.scratch().join("wrong");
    std::fs::write(&wrong, "not-the-password-0xdeadbeef\n").unwrap();
    let ran = home.run(&[
        "audit",
        "verify",
        "--state",
        &db.dsn,
        "--state-password-file",
        wrong.to_str().unwrap(),
    ]);
    assert_ne!(ran.code, 0);
    assert!(
        !ran.all().contains("not-the-password-0xdeadbeef"),
        "{ran:?}"
    );
    assert!(!ran.all().contains(&password));
    // The right one, through the environment.
    let output = home
        .std_cmd()
        .args(["audit", "verify", "--state", &db.dsn])
        .env("WARRANT_STATE_PASSWORD", &password)
        .output()
        .unwrap();
    let ran = Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(!ran.all().contains(&password));
}
