//! The cost of building a redactor, which the proxy and the MCP server do
//! once per session or call: time and resident memory for N (default 100)
//! values of 40 random alphanumeric bytes (every form and piece).
//!
//! `cargo run --release -p warrant-redact --example build_cost -- 100`
//! (one count per run, so that each starts in a fresh process).

use std::time::Instant;

use warrant_redact::RedactorBuilder;

/// Resident set size in bytes (Linux; 0 elsewhere).
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[expect(clippy::print_stdout, reason = "an example reports on stdout")]
fn main() {
    let mut state = 0x5eed_1234_abcd_0001_u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let values: Vec<Vec<u8>> = (0..1000)
        .map(|_| {
            (0..40)
                .map(|_| ALNUM[(next() % ALNUM.len() as u64) as usize])
                .collect()
        })
        .collect();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100)
        .min(values.len());
    {
        let mut builder = RedactorBuilder::new();
        for (i, v) in values[..n].iter().enumerate() {
            builder.add(&format!("secret/{i}"), v);
        }
        // Memory first, before other builds leave freed pages behind
        // (resident size counts pages touched, so this is what a first
        // build in a fresh process adds); then the best of five builds.
        let before = rss();
        let r = builder.build().unwrap();
        let after = rss();
        let mut best = f64::MAX;
        for _ in 0..5 {
            let started = Instant::now();
            let other = builder.build().unwrap();
            best = best.min(started.elapsed().as_secs_f64());
            drop(other);
        }
        let first_use = Instant::now();
        let _ = r.redact(b"warm up: nothing to see here, a line of text\n");
        let first_use = first_use.elapsed();
        let after_use = rss();
        println!(
            "{n} values: {} patterns, build {:.2} ms, resident +{:.1} MiB after build, \
             +{:.1} MiB after first use ({first_use:.1?}); {}",
            r.pattern_count(),
            best * 1e3,
            after.saturating_sub(before) as f64 / f64::from(1 << 20),
            after_use.saturating_sub(before) as f64 / f64::from(1 << 20),
            r.describe()
        );
    }
}
