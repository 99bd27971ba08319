//! Grant throughput in team mode: one daemon, then two, on one PostgreSQL.
//!
//! `cargo bench -p warrant-cli --bench team_grants` starts a throwaway
//! PostgreSQL cluster (`warrant_testkit::postgres`, so the server binaries
//! must be installed: `scripts/test.sh` does it) and three daemons in this
//! process, each on its own fresh home: one alone on database `one`, two
//! sharing database `two`. WARRANT_BENCH_CLIENTS clients (50) each run
//! WARRANT_BENCH_CYCLES cycles (20) of request → use → revoke, first all
//! against the lone daemon, then spread over the pair. Reports cycles/s
//! and the p50/p99 latency of a cycle and of each step.
//!
//! Every operation is one transaction holding the team lock, so the pair
//! does not double throughput: it buys availability, not speed.

#![allow(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use warrant_broker::Client;
use warrant_broker::protocol::{GrantRequest, RunResult, UseRequest};
use warrant_broker::server::{self, ServeOptions, StateLocation};
use warrant_secret::SecretValue;
use warrant_store::{LocalStore, Unlock};
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

mod support;
use support::{BenchHome, env_or, ms, percentile};

const POLICY: &str = r#"
[actors.bot]
kind = "agent"

[[rules]]
actors   = ["bot"]
secrets  = ["db/dev/url"]
commands = ["true"]
max_ttl  = "1h"
approval = "auto"
"#;

fn main() {
    let clients = env_or("WARRANT_BENCH_CLIENTS", 50);
    let cycles = env_or("WARRANT_BENCH_CYCLES", 20);
    let cluster = Cluster::start();
    cluster.create_database("one");
    cluster.create_database("two");
    let dsn = |db: &str| {
        let dsn = cluster.dsn_for(ADMIN_USER, cluster.admin_password().expose_secret(), db);
        SecretValue::from(dsn.expose_secret().to_owned())
    };
    let homes: Vec<BenchHome> = (0..3).map(|_| BenchHome::new(POLICY)).collect();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let daemons: Vec<_> = homes
        .iter()
        .zip(["one", "two", "two"])
        .map(|(bench, db)| {
            let options = options(&bench.home, &bench.policy(), dsn(db));
            let ready = ready_tx.clone();
            std::thread::spawn(move || {
                server::serve(options, |_| ready.send(()).unwrap()).expect("daemon");
            })
        })
        .collect();
    for _ in 0..daemons.len() {
        ready_rx.recv().unwrap();
    }
    println!(
        "warrant team-mode grant benchmark: {clients} clients x {cycles} cycles of request -> use -> revoke, PostgreSQL on 127.0.0.1 (fsync off)"
    );
    let one = [homes[0].home.clone()];
    let two = [homes[1].home.clone(), homes[2].home.clone()];
    run("one daemon ", &one, clients, cycles);
    run("two daemons", &two, clients, cycles);
    // The daemons stop on SIGTERM, as in production (all three: one process).
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
        .unwrap();
    for daemon in daemons {
        daemon.join().unwrap();
    }
}

fn options(home: &Path, policy: &Path, dsn: SecretValue) -> ServeOptions {
    let store = LocalStore::open(home, Unlock::KeyFile).expect("open store");
    ServeOptions {
        home: home.to_owned(),
        policy: Some(policy.to_owned()),
        store: Arc::new(warrant_dynamic::stores::Stores::local_only(Arc::new(store))),
        insecure_fast_kdf: true,
        extensions: Vec::new(),
        state: StateLocation::Team(dsn),
        egress: Default::default(),
    }
}

/// Latencies of one client's cycles: whole cycle, request, use, revoke.
type Samples = [Vec<Duration>; 4];

fn run(label: &str, homes: &[PathBuf], clients: usize, cycles: usize) {
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            // Client i talks to daemon i mod n (a load balancer's round robin).
            let home = homes[i % homes.len()].clone();
            std::thread::spawn(move || client(&home, cycles))
        })
        .collect();
    let mut all: Samples = Default::default();
    for w in workers {
        for (into, from) in all.iter_mut().zip(w.join().unwrap()) {
            into.extend(from);
        }
    }
    let wall = start.elapsed();
    let [cycle, request, used, revoke] = &mut all;
    println!(
        "{label}: {} cycles in {:.2} s = {:.0} cycles/s ({:.0} operations/s)",
        cycle.len(),
        wall.as_secs_f64(),
        cycle.len() as f64 / wall.as_secs_f64(),
        4.0 * cycle.len() as f64 / wall.as_secs_f64(),
    );
    for (name, samples) in [
        ("cycle", cycle),
        ("request", request),
        ("use", used),
        ("revoke", revoke),
    ] {
        println!(
            "   {name:<8} p50 {}  p99 {}",
            ms(percentile(samples, 50.0)),
            ms(percentile(samples, 99.0))
        );
    }
}

fn client(home: &Path, cycles: usize) -> Samples {
    let mut samples: Samples = Default::default();
    for _ in 0..cycles {
        let begin = Instant::now();
        let grant = Client::connect(home)
            .unwrap()
            .request(GrantRequest {
                secrets: vec!["db/dev/url".into()],
                reason: "bench".into(),
                ttl_ms: 600_000,
                commands: vec![],
                hosts: vec![],
                actor: Some("bot".into()),
            })
            .expect("request");
        let requested = Instant::now();
        let (session, _, values) = Client::connect(home)
            .unwrap()
            .use_grant(UseRequest {
                grant: grant.id.clone(),
                program: "true".into(),
                resolved: Some("/usr/bin/true".into()),
                secrets: vec!["db/dev/url".into()],
                file_secrets: vec![],
            })
            .expect("use");
        assert_eq!(values.len(), 1);
        session.finished(RunResult::default()).expect("finished");
        let used = Instant::now();
        Client::connect(home)
            .unwrap()
            .revoke(&grant.id, None)
            .expect("revoke");
        let end = Instant::now();
        samples[0].push(end - begin);
        samples[1].push(requested - begin);
        samples[2].push(used - requested);
        samples[3].push(end - used);
    }
    samples
}
