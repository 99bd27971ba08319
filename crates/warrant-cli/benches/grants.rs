//! Grant checks under load, and the daemon's memory with many grants.
//!
//! `cargo bench -p warrant-cli --bench grants` runs three parts on a fresh
//! home with the real store, audit log and state database:
//!
//! 1. 50 clients (WARRANT_BENCH_CLIENTS) each do WARRANT_BENCH_CYCLES cycles
//!    of request → use → revoke against a daemon running in this process
//!    (the use path hands values only to the daemon's own executable, which
//!    this process then is). Reports grant checks per second and the p50/p99
//!    latency of a use, the round trip `warrant run --grant` makes before it
//!    starts its command.
//! 2. The same clients run the real binary: `warrant run --grant G -- true`
//!    against `warrant run -- true` (no grant, no values), alternating, so
//!    the difference is what the grant check adds to `warrant run`.
//! 3. A real `warrant serve` takes WARRANT_BENCH_GRANTS (100,000) grants,
//!    all left active; reports its resident memory before and after.

#![allow(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use warrant_broker::Client;
use warrant_broker::protocol::{GrantRequest, RunResult, UseRequest};
use warrant_broker::server::{self, ServeOptions};
use warrant_store::{LocalStore, Unlock};

mod support;
use support::{BenchHome, env_or, ms, percentile};

const POLICY: &str = r#"
[actors.bot]
kind = "agent"

[[rules]]
actors   = ["bot"]
secrets  = ["db/dev/url"]
commands = ["true", "sh"]
max_ttl  = "1h"
approval = "auto"
"#;

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let clients = env_or("WARRANT_BENCH_CLIENTS", 50);
    let cycles = env_or("WARRANT_BENCH_CYCLES", 40);
    let grants = env_or("WARRANT_BENCH_GRANTS", 100_000);
    let bench = BenchHome::new(POLICY);
    let (bin, home, policy) = (bench.bin.clone(), bench.home.clone(), bench.policy());
    println!("warrant grant benchmark: {clients} clients, {cycles} cycles each");
    in_process(&home, &policy, clients, cycles);
    let daemon = bench.serve();
    let pace = Duration::from_millis(env_or("WARRANT_BENCH_PACE_MS", 2000) as u64);
    through_binary(&bin, &home, clients, cycles.min(10), pace);
    through_binary(&bin, &home, clients, cycles.min(5), Duration::ZERO);
    memory(&home, daemon.pid(), grants);
}

fn in_process(home: &Path, policy: &Path, clients: usize, cycles: usize) {
    let store = LocalStore::open(home, Unlock::KeyFile).expect("open store");
    let options = ServeOptions {
        home: home.to_owned(),
        policy: Some(policy.to_owned()),
        store: Arc::new(warrant_dynamic::stores::Stores::local_only(Arc::new(store))),
        insecure_fast_kdf: true,
        extensions: Vec::new(),
        state: Default::default(),
        egress: Default::default(),
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let daemon = std::thread::spawn(move || {
        server::serve(options, |_| ready_tx.send(()).unwrap()).expect("daemon");
    });
    ready_rx.recv().unwrap();

    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let home = home.to_owned();
            std::thread::spawn(move || {
                let mut uses = Vec::with_capacity(cycles);
                let mut requests = Vec::with_capacity(cycles);
                for _ in 0..cycles {
                    let t = Instant::now();
                    let grant = Client::connect(&home)
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
                    requests.push(t.elapsed());
                    let t = Instant::now();
                    let (session, _, values) = Client::connect(&home)
                        .unwrap()
                        .use_grant(UseRequest {
                            grant: grant.id.clone(),
                            program: "true".into(),
                            resolved: Some("/usr/bin/true".into()),
                            secrets: vec!["db/dev/url".into()],
                            file_secrets: vec![],
                        })
                        .expect("use");
                    uses.push(t.elapsed());
                    assert_eq!(values.len(), 1);
                    session.finished(RunResult::default()).expect("finished");
                    Client::connect(&home)
                        .unwrap()
                        .revoke(&grant.id, None)
                        .expect("revoke");
                }
                (uses, requests)
            })
        })
        .collect();
    let (mut uses, mut requests) = (Vec::new(), Vec::new());
    for w in workers {
        let (u, r) = w.join().unwrap();
        uses.extend(u);
        requests.extend(r);
    }
    let wall = start.elapsed();
    println!(
        "1. in-process daemon: {} grant checks in {:.2} s = {:.0} checks/s ({:.0} full request+use+revoke cycles/s)",
        uses.len(),
        wall.as_secs_f64(),
        uses.len() as f64 / wall.as_secs_f64(),
        uses.len() as f64 / wall.as_secs_f64(),
    );
    println!(
        "   use (grant check + values): p50 {}  p99 {}  max {}",
        ms(percentile(&mut uses, 50.0)),
        ms(percentile(&mut uses, 99.0)),
        ms(percentile(&mut uses, 100.0))
    );
    println!(
        "   request (auto-approved):    p50 {}  p99 {}",
        ms(percentile(&mut requests, 50.0)),
        ms(percentile(&mut requests, 99.0))
    );
    // The daemon stops on SIGTERM, as in production.
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::TERM)
        .unwrap();
    daemon.join().unwrap();
}

fn through_binary(bin: &Path, home: &Path, clients: usize, cycles: usize, pace: Duration) {
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let (bin, home) = (bin.to_owned(), home.to_owned());
            std::thread::spawn(move || {
                // Agents run a command every few seconds, not back to back:
                // each client waits up to `pace` (spread by its index) first
                // and between cycles. `pace` 0 is the saturated case.
                let spread =
                    |n: usize| pace.mul_f64(((i * 7919 + n * 104_729) % 1000) as f64 / 1000.0);
                let warrant = |args: &[&str]| {
                    let mut cmd = Command::new(&bin);
                    cmd.args(args)
                        .env("WARRANT_HOME", &home)
                        .env("WARRANT_TIMING", "1")
                        .stdin(Stdio::null());
                    cmd
                };
                let (mut checks, mut granted, mut plain) = (Vec::new(), Vec::new(), Vec::new());
                for n in 0..cycles {
                    std::thread::sleep(spread(n));
                    let out = warrant(&[
                        "request",
                        "--actor",
                        "bot",
                        "-s",
                        "db/dev/url",
                        "--reason",
                        "bench",
                        "--ttl",
                        "10m",
                        "--json",
                    ])
                    .output()
                    .unwrap();
                    assert!(out.status.success(), "request failed");
                    let grant: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    let id = grant["id"].as_str().unwrap().to_owned();

                    let t = Instant::now();
                    let out = warrant(&[
                        "run",
                        "--no-tty",
                        "--grant",
                        &id,
                        "-e",
                        "X=warrant://db/dev/url",
                        "--",
                        "true",
                    ])
                    .output()
                    .unwrap();
                    granted.push(t.elapsed());
                    assert!(out.status.success(), "granted run failed");
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let us: u64 = stderr
                        .lines()
                        .find_map(|l| l.strip_prefix("warrant: timing: grant check "))
                        .and_then(|l| l.trim_end_matches(" us").parse().ok())
                        .expect("timing line");
                    checks.push(Duration::from_micros(us));

                    let t = Instant::now();
                    let ok = warrant(&["run", "--no-tty", "--", "true"])
                        .status()
                        .unwrap()
                        .success();
                    plain.push(t.elapsed());
                    assert!(ok, "plain run failed");

                    let ok = warrant(&["revoke", &id])
                        .stdout(Stdio::null())
                        .status()
                        .unwrap()
                        .success();
                    assert!(ok, "revoke failed");
                }
                (checks, granted, plain)
            })
        })
        .collect();
    let (mut checks, mut granted, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    for w in workers {
        let (c, g, p) = w.join().unwrap();
        checks.extend(c);
        granted.extend(g);
        plain.extend(p);
    }
    println!(
        "2. real binary, {clients} clients × {cycles} cycles of request, run --grant, run (no grant), revoke, {}:",
        if pace.is_zero() {
            "back to back (the machine saturated by process starts)".to_owned()
        } else {
            format!(
                "each client pausing up to {} ms between cycles",
                pace.as_millis()
            )
        }
    );
    println!(
        "   grant check inside `warrant run --grant` (connect, check, values): p50 {}  p99 {}  max {}",
        ms(percentile(&mut checks, 50.0)),
        ms(percentile(&mut checks, 99.0)),
        ms(percentile(&mut checks, 100.0))
    );
    let (g50, g99) = (
        percentile(&mut granted, 50.0),
        percentile(&mut granted, 99.0),
    );
    let (p50, p99) = (percentile(&mut plain, 50.0), percentile(&mut plain, 99.0));
    println!(
        "   whole process: `warrant run --grant -- true` p50 {} p99 {}; `warrant run -- true` p50 {} p99 {} (ratio p50 {:.2})",
        ms(g50),
        ms(g99),
        ms(p50),
        ms(p99),
        g50.as_secs_f64() / p50.as_secs_f64()
    );
}

fn memory(home: &Path, pid: u32, grants: usize) {
    let before = rss_kib(pid);
    let start = Instant::now();
    let threads = 8;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let home = home.to_owned();
            std::thread::spawn(move || {
                let mut client = Client::connect(&home).unwrap();
                for _ in (t..grants).step_by(threads) {
                    client
                        .request(GrantRequest {
                            secrets: vec!["db/dev/url".into()],
                            reason: "memory".into(),
                            ttl_ms: 3_600_000,
                            commands: vec![],
                            hosts: vec![],
                            actor: Some("bot".into()),
                        })
                        .expect("request");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let after = rss_kib(pid);
    println!(
        "3. real daemon: {grants} active grants made in {:.1} s ({:.0}/s); resident memory {:.1} MiB before, {:.1} MiB after ({:.0} bytes per grant)",
        start.elapsed().as_secs_f64(),
        grants as f64 / start.elapsed().as_secs_f64(),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before) * 1024) as f64 / grants as f64
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}
