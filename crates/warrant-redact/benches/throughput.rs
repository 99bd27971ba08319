//! Throughput of a redacting stream over 16 MiB of log text, next to a plain
//! copy of the same bytes, with 1, 100 and 1,000 registered values.
//!
//! `cargo bench -p warrant-redact` (about two minutes once built). The input
//! is pushed in 64 KiB chunks, the size of a pipe read; with 100 values also
//! in 4 KiB chunks, the size of a terminal read. Two more cases show the cost
//! of short values, which shrink the sampling step (see `filter.rs`), and one
//! the cost of the opt-in quoted-printable escapes.
//!
//! The `code/*` cases are 100 values (40 random bytes each, every form) over
//! source-code-like text, without values (`code/clean`) and with one line in
//! 200 carrying a value in one of its forms (`code/sprinkled`); `code/copy`
//! and `code/pipe` (64 KiB through a Unix socket pair and back, what a bare
//! pipe costs) are the baselines of the same run. The ratio printed at the
//! end divides the copy's time by each stream's time.

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

/// Source-code-like lines (Rust, shell, JSON, URLs, format strings), and
/// with `sprinkle` one line in 200 carrying a value in one of its forms.
fn code_text(secrets: &[Vec<u8>], sprinkle: bool, rng: &mut Rng) -> Vec<u8> {
    use base64::Engine as _;
    let lines = [
        "    let result = client.get(&url).header(\"Accept\", \"application/json\").send()?;",
        "    if value.len() > MAX_LEN && !flags.contains(Flag::Force) {",
        "        return Err(Error::TooLong { len: value.len(), max: MAX_LEN });",
        "    }",
        "// SAFETY: the pointer is valid for `len` bytes and aligned (checked above).",
        "    println!(\"{:>8} {:5.1}% {}\", count, 100.0 * hits as f64 / total as f64, name);",
        "curl -s -H 'Content-Type: application/json' \"https://api.example.test/v1/items?page=2&per_page=50&q=a%20b\"",
        "    for (i, item) in items.iter().enumerate().filter(|(_, x)| x.enabled) {",
        "        map.insert(key.to_owned(), Entry { id: i as u64, tags: vec![], weight: 0.5 });",
        "{\"id\": 4211, \"name\": \"widget\", \"price\": 12.5, \"tags\": [\"a&b\", \"<x>\"], \"ok\": true}",
        "    x = (a << 3) | (b >> 5) ^ 0x1f; y = x == 0 ? 1 : x % 7;",
        "#[derive(Debug, Clone, PartialEq, Eq, Hash)]",
        "pub struct Config { pub name: String, pub retries: u32, pub timeout_ms: u64 }",
        "    echo \"done: $count files in ${elapsed}s\" >&2",
        "",
    ];
    let mut out = Vec::with_capacity(INPUT_LEN + 4096);
    while out.len() < INPUT_LEN {
        out.extend_from_slice(lines[rng.below(lines.len())].as_bytes());
        if sprinkle && rng.below(200) == 0 {
            let secret = &secrets[rng.below(secrets.len())];
            out.extend_from_slice(b" // ");
            match rng.below(6) {
                0 => out.extend_from_slice(secret),
                1 => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
                    for (i, chunk) in b64.as_bytes().chunks(20).enumerate() {
                        if i > 0 {
                            out.push(b'\n');
                        }
                        out.extend_from_slice(chunk);
                    }
                }
                2 => out.extend_from_slice(&secret[5..25]),
                3 => out.extend_from_slice(hex::encode(secret).as_bytes()),
                4 => {
                    for &b in secret {
                        out.extend_from_slice(format!("%{b:02x}").as_bytes());
                    }
                }
                _ => {
                    for &b in secret {
                        out.extend_from_slice(format!("&#{b};").as_bytes());
                    }
                }
            }
        }
        out.push(b'\n');
    }
    out.truncate(INPUT_LEN);
    out
}

fn redactor(values: &[Vec<u8>]) -> Redactor {
    redactor_with(values, false)
}

/// With `quoted_printable`, the opt-in `=XX` escapes too.
fn redactor_with(values: &[Vec<u8>], quoted_printable: bool) -> Redactor {
    let mut b = RedactorBuilder::new();
    b.quoted_printable(quoted_printable);
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
    let cases: [(&str, &[Vec<u8>]); 6] = [
        ("1", &all[..1]),
        ("100", &all[..100]),
        ("100+quoted_printable", &all[..100]),
        ("1000", &all[..1000]),
        ("100+one_8_byte", &with_short),
        ("100_of_8_bytes", &all_short),
    ];
    for (n, values) in cases {
        let started = Instant::now();
        let r = redactor_with(values, n.ends_with("quoted_printable"));
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

/// 100 values and every form over source-code-like text, with the copy and
/// a pipe-like pass-through measured in the same run.
fn code(c: &mut Criterion) {
    use std::io::{Read, Write};
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let secrets = values(100, &mut rng);
    let clean = code_text(&secrets, false, &mut rng);
    let sprinkled = code_text(&secrets, true, &mut rng);
    let r = redactor(&secrets);
    eprintln!(
        "code: {} patterns; {} redactions in code/sprinkled; {}",
        r.pattern_count(),
        r.redact(&sprinkled).1,
        r.describe()
    );
    let mut group = c.benchmark_group("code");
    group
        .throughput(Throughput::Bytes(clean.len() as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut out = Vec::with_capacity(INPUT_LEN + (1 << 20));
    let mut times = Vec::new();
    let mut timed =
        |name: &str, group: &mut criterion::BenchmarkGroup<'_, _>, f: &mut dyn FnMut()| {
            let started = Instant::now();
            let rounds = 20;
            for _ in 0..rounds {
                f();
            }
            times.push((name.to_owned(), started.elapsed() / rounds));
            group.bench_function(name, |b| b.iter(&mut *f));
        };
    timed("copy", &mut group, &mut || {
        out.clear();
        for chunk in clean.chunks(CHUNK) {
            out.extend_from_slice(black_box(chunk));
        }
        black_box(out.len());
    });
    let (mut tx, mut rx) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut buf = vec![0u8; CHUNK];
    timed("pipe", &mut group, &mut || {
        out.clear();
        for chunk in clean.chunks(CHUNK) {
            tx.write_all(chunk).unwrap();
            let mut got = 0;
            while got < chunk.len() {
                let n = rx.read(&mut buf[..chunk.len() - got]).unwrap();
                out.extend_from_slice(&buf[..n]);
                got += n;
            }
        }
        black_box(out.len());
    });
    for (name, input) in [("clean", &clean), ("sprinkled", &sprinkled)] {
        timed(name, &mut group, &mut || {
            out.clear();
            let mut s = r.stream();
            for chunk in input.chunks(CHUNK) {
                s.push(black_box(chunk), &mut out);
            }
            s.finish(&mut out);
            black_box(out.len());
        });
    }
    group.finish();
    let base = |n: &str| {
        times
            .iter()
            .find(|t| t.0 == n)
            .map(|t| t.1.as_secs_f64())
            .unwrap()
    };
    for (name, t) in &times {
        let t = t.as_secs_f64();
        eprintln!(
            "code/{name}: {:.2} GiB/s, {:.2}x the copy, {:.2}x the pipe",
            INPUT_LEN as f64 / t / f64::from(1 << 30),
            base("copy") / t,
            base("pipe") / t
        );
    }
}

criterion_group!(benches, throughput, code);
criterion_main!(benches);
