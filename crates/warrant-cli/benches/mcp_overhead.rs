//! What the MCP server's `run_command` adds over `warrant run --grant`, for
//! a trivial command, in the same run.
//!
//! `cargo bench -p warrant-cli --bench mcp_overhead` starts a real daemon,
//! takes one auto-approved grant, then times WARRANT_BENCH_RUNS (200) runs
//! of `true` each way: as a `warrant run --grant` process, and as a
//! `tools/call run_command` on one long-lived `warrant mcp` (JSON-RPC over
//! its stdio, as a client would speak it).

#![allow(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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
    let runs = env_or("WARRANT_BENCH_RUNS", 200);
    let bench = BenchHome::new(POLICY);
    let warrant = |args: &[&str]| bench.warrant(args);
    let daemon = bench.serve();
    let out = warrant(&[
        "request",
        "--actor",
        "bot",
        "-s",
        "db/dev/url",
        "--reason",
        "bench",
        "--ttl",
        "1h",
        "--json",
    ])
    .output()
    .unwrap();
    let grant: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = grant["id"].as_str().unwrap().to_owned();

    // 1. `warrant run --grant -- true`, a process each time.
    let mut cli = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let ok = warrant(&[
            "run",
            "--no-tty",
            "--grant",
            &id,
            "-e",
            "X=warrant://db/dev/url",
            "--",
            "true",
        ])
        .status()
        .unwrap()
        .success();
        cli.push(t.elapsed());
        assert!(ok);
    }

    // 2. `run_command` on one MCP server.
    let mut server = warrant(&["mcp", "--actor", "bot"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut to = server.stdin.take().unwrap();
    let mut from = BufReader::new(server.stdout.take().unwrap());
    let mut send = |value: Value| {
        let mut line = serde_json::to_vec(&value).unwrap();
        line.push(b'\n');
        to.write_all(&line).unwrap();
        to.flush().unwrap();
    };
    let mut answer = |id: u64| -> Value {
        loop {
            let mut line = String::new();
            assert!(from.read_line(&mut line).unwrap() > 0, "the server closed");
            let value: Value = serde_json::from_str(&line).unwrap();
            if value["id"] == id {
                return value;
            }
        }
    };
    send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}}),
    );
    answer(0);
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let mut mcp = Vec::with_capacity(runs);
    for n in 1..=runs as u64 {
        let t = Instant::now();
        send(
            json!({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {
            "name": "run_command",
            "arguments": {"grant_id": id, "argv": ["true"], "env": {"X": "warrant://db/dev/url"}}}}),
        );
        let reply = answer(n);
        mcp.push(t.elapsed());
        assert_eq!(
            reply["result"]["structuredContent"]["exit_code"], 0,
            "run_command failed: {reply}"
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    drop(daemon);

    let (c50, c99) = (percentile(&mut cli, 50.0), percentile(&mut cli, 99.0));
    let (m50, m99) = (percentile(&mut mcp, 50.0), percentile(&mut mcp, 99.0));
    println!("mcp_overhead: {runs} runs of `true` under one grant");
    println!(
        "  warrant run --grant (a process each): p50 {} p99 {}",
        ms(c50),
        ms(c99)
    );
    println!(
        "  MCP run_command (one server):         p50 {} p99 {}",
        ms(m50),
        ms(m99)
    );
    println!(
        "  run_command adds over warrant run --grant: p50 {} (ratio {:.2})",
        signed_ms(m50, c50),
        m50.as_secs_f64() / c50.as_secs_f64()
    );
}

fn signed_ms(a: Duration, b: Duration) -> String {
    format!("{:+.2} ms", (a.as_secs_f64() - b.as_secs_f64()) * 1000.0)
}
