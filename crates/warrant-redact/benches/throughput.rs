//! Throughput of a redacting stream over 16 MiB of log text, next to a plain
//! copy of the same bytes, with 1, 100 and 1,000 registered values.
//!
//! `cargo bench -p warrant-redact` (about a minute once built). The input is
//! pushed in 64 KiB chunks, the size of a pipe read; with 100 values also in
//! 4 KiB chunks, the size of a terminal read. Two more cases show the cost of
//! short values, which shrink the sampling step (see `filter.rs`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warrant_redact::{Redactor, RedactorBuilder};

const INPUT_LEN: usize = 16 << 20;
const CHUNK: usize = 64 << 10;
const PTY_CHUNK: usize = 4 << 10;

/// A small deterministic generator (xorshift64*), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// `n` values of 40 random alphanumeric bytes.
fn values(n: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| (0..40).map(|_| ALNUM[rng.below(ALNUM.len())]).collect())
        .collect()
}

/// Log lines: timestamps, levels, paths, hex ids, JSON bits, and now and then
/// one of `secrets`, raw or base64-encoded.
fn log_text(secrets: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    use std::io::Write;
    let levels = ["INFO", "DEBUG", "WARN", "ERROR", "TRACE"];
    let words = [
        "request",
        "served",
        "connection",
        "established",
        "retrying",
        "cache",
        "miss",
        "hit",
        "user",
        "session",
        "expired",
        "database",
        "query",
        "took",
        "migrating",
        "schema",
        "worker",
        "started",
        "shutdown",
        "complete",
        "upstream",
        "timeout",
        "payload",
        "ok",
    ];
    let paths = [
        "/api/v1/users",
        "/healthz",
        "/api/v2/orders/search",
        "/static/app.js",
        "/login",
    ];
    let mut out = Vec::with_capacity(INPUT_LEN + 4096);
    let mut line = 0u64;
    while out.len() < INPUT_LEN {
        line += 1;
        let (h, m, s) = (line / 3_600_000 % 24, line / 60_000 % 60, line / 1000 % 60);
        write!(
            out,
            "2025-06-01T{h:02}:{m:02}:{s:02}.{:03}Z {:5} ",
            line % 1000,
            rng.pick(&levels)
        )
        .unwrap();
        match rng.below(4) {
            0 => {
                let id = (rng.next(), rng.next());
                write!(
                    out,
                    "{} {} status={} duration={}ms request_id={:016x}{:016x}",
                    rng.pick(&["GET", "POST", "PUT"]),
                    rng.pick(&paths),
                    [200, 201, 404, 500][rng.below(4)],
                    rng.below(2000),
                    id.0,
                    id.1
                )
                .unwrap();
            }
            1 => {
                write!(
                    out,
                    "{{\"event\":\"{}\",\"user\":{},\"ok\":true,\"tags\":[\"{}\",\"{}\"]}}",
                    rng.pick(&words),
                    rng.below(100_000),
                    rng.pick(&words),
                    rng.pick(&words)
                )
                .unwrap();
            }
            _ => {
                for i in 0..6 + rng.below(10) {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(rng.pick(&words).as_bytes());
                }
            }
        }
        // About one line in 500 leaks a secret.
        if rng.below(500) == 0 {
            let secret = &secrets[rng.below(secrets.len())];
            out.extend_from_slice(b" token=");
            out.extend_from_slice(secret);
        }
        out.push(b'\n');
    }
    out.truncate(INPUT_LEN);
    out
}

fn redactor(values: &[Vec<u8>]) -> Redactor {
    let mut b = RedactorBuilder::new();
    for (i, v) in values.iter().enumerate() {
        b.add(&format!("secret/{i}"), v);
    }
    b.build().unwrap()
}

fn throughput(c: &mut Criterion) {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let all = values(1000, &mut rng);
    let input = log_text(&all[..100], &mut rng);
    let mut group = c.benchmark_group("16MiB");
    group
        .throughput(Throughput::Bytes(input.len() as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let mut out = Vec::with_capacity(input.len() + (1 << 20));
    group.bench_function("copy", |b| {
        b.iter(|| {
            out.clear();
            for chunk in input.chunks(CHUNK) {
                out.extend_from_slice(black_box(chunk));
            }
            black_box(out.len())
        })
    });
    // One 8-byte value among 100 sets the sampling step for all.
    let mut with_short = all[..100].to_vec();
    with_short.push(b"Zq8vK2pX".to_vec());
    let all_short: Vec<Vec<u8>> = all[..100].iter().map(|v| v[..8].to_vec()).collect();
    let cases: [(&str, &[Vec<u8>]); 5] = [
        ("1", &all[..1]),
        ("100", &all[..100]),
        ("1000", &all[..1000]),
        ("100+one_8_byte", &with_short),
        ("100_of_8_bytes", &all_short),
    ];
    for (n, values) in cases {
        let started = Instant::now();
        let r = redactor(values);
        let built = started.elapsed();
        let leaked = r.redact(&input).1;
        eprintln!(
            "{n} values: {} patterns, built in {built:.1?}, {leaked} redactions in the input; {}",
            r.pattern_count(),
            r.describe()
        );
        // Pipe-sized reads, and for 100 values also terminal-sized ones.
        let chunk_sizes: &[usize] = if n == "100" {
            &[CHUNK, PTY_CHUNK]
        } else {
            &[CHUNK]
        };
        for &chunk_size in chunk_sizes {
            let id = match chunk_size {
                CHUNK => format!("stream/{n}"),
                _ => format!("stream/{n}/{}KiB-pushes", chunk_size >> 10),
            };
            group.bench_function(id, |b| {
                b.iter(|| {
                    out.clear();
                    let mut s = r.stream();
                    for chunk in input.chunks(chunk_size) {
                        s.push(black_box(chunk), &mut out);
                    }
                    s.finish(&mut out);
                    black_box(out.len())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
