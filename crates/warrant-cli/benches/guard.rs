//! What one `warrant guard` call costs an agent, process start included:
//! the hook runs before every prompt and tool call, so it has to stay well
//! under 50 ms.
//!
//! `cargo bench -p warrant-cli --bench guard` times WARRANT_BENCH_RUNS
//! (200) calls of each kind against a key-file store holding one secret
//! (so the store's values are checked too): a clean Claude Code prompt, a
//! prompt carrying the stored value (blocked), a Bash tool call with 64 KiB
//! of input, and an event warrant does not guard (no scan at all).
//! `hyperfine` gives the same figure from outside; see `docs/guard.md`.

#![allow(clippy::print_stdout, reason = "a benchmark prints its report")]

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

mod support;
use support::{BenchHome, env_or, ms, percentile};

fn main() {
    let runs = env_or("WARRANT_BENCH_RUNS", 200);
    let bench = BenchHome::new("");
    let big = "echo the quick brown fox jumps over the lazy dog\n".repeat(64 * 1024 / 48);
    let cases = [
        (
            "clean prompt (UserPromptSubmit)",
            json!({"session_id": "s", "cwd": "/p", "hook_event_name": "UserPromptSubmit",
                   "prompt": "Write a function to calculate the factorial of a number"}),
            0,
        ),
        (
            "prompt with a stored value (blocked)",
            json!({"session_id": "s", "cwd": "/p", "hook_event_name": "UserPromptSubmit",
                   "prompt": "connect with fake-bench-value-0123456789 please"}),
            2,
        ),
        (
            "Bash call, 64 KiB of input (PreToolUse)",
            json!({"session_id": "s", "cwd": "/p", "hook_event_name": "PreToolUse",
                   "tool_name": "Bash", "tool_input": {"command": big}}),
            0,
        ),
        (
            "unguarded event (Stop)",
            json!({"session_id": "s", "cwd": "/p", "hook_event_name": "Stop",
                   "last_assistant_message": "done"}),
            0,
        ),
    ];
    println!("warrant guard, {runs} calls each (process start included):");
    for (label, payload, expect) in cases {
        let payload = serde_json::to_vec(&payload).unwrap();
        let mut samples: Vec<Duration> = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let mut child = bench
                .warrant(&["guard", "--client", "claude-code"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&payload).unwrap();
            let status = child.wait().unwrap();
            samples.push(t.elapsed());
            assert_eq!(status.code(), Some(expect), "{label}");
        }
        let mean = samples.iter().sum::<Duration>() / runs.max(1) as u32;
        println!(
            "  {label:42} mean {}  p50 {}  p95 {}  max {}",
            ms(mean),
            ms(percentile(&mut samples, 50.0)),
            ms(percentile(&mut samples, 95.0)),
            ms(percentile(&mut samples, 100.0)),
        );
    }
}
