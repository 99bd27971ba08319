//! `warrant scan` against the secret scanners a user would pick instead
//! (Kingfisher, gitleaks, Betterleaks, ripsecrets, detect-secrets), on one
//! corpus in one run: wall time, throughput, peak memory and recall on
//! planted tokens.
//!
//! `scripts/scan-peers.sh` installs the peers into `target/scan-peers/`;
//! then `cargo bench -p warrant-cli --bench scan_peers`.
//!
//! The corpus (`target/scan-corpus/`, built once and reused while its
//! settings and [`corpus::CORPUS_VERSION`] stay the same) is source copied from
//! `~/.cargo/registry/src/*/`, with tokens of well-known formats planted at
//! random places: mid-line and at line starts in existing files, in new files
//! (some of them dotfiles like `.env`) and in a multi-megabyte file with no
//! newline, some straddling 64 KiB / 1 MiB / 4 MiB boundaries. Token values
//! come from a seeded generator at run time; the ground truth is written to
//! `target/scan-corpus/planted.json`. Ignore lists and scanner settings
//! (`.gitignore`, `.gitleaks.toml`, ...) are left out of the copy so that
//! every tool sees the same files.
//!
//! A finding counts for a planted token when it is in the same file and its
//! bytes overlap the planted text (the token and its `KEY=` context). Where
//! a tool gives only a line, the finding is placed by its secret text (or,
//! for detect-secrets, the SHA-1 of the secret); a line-only finding on a
//! line holding several planted tokens credits none of them. Each planted
//! token is credited once; findings that overlap no planted text are
//! reported as "other findings" (the corpus has real test keys too, so these
//! are not all false positives).
//!
//! Settings (environment):
//! - `SCAN_CORPUS_MB` (default 300): corpus size;
//! - `SCAN_PLANTED` (default 200), `SCAN_SEED`: the planted tokens;
//! - `SCAN_BENCH_TOOLS`: comma-separated subset of the tools to run;
//! - `SCAN_BENCH_TIMEOUT` (seconds, default 1800): a tool still running is
//!   killed and reported as timed out;
//! - `SCAN_BENCH_RUNS` (default 3): timed runs per tool, the fastest kept
//!   (a tool taking over a minute runs once);
//! - `WARRANT_BIN`: the warrant binary (default: the one cargo built for
//!   this bench, `target/release/warrant`);
//! - `SCAN_BENCH_HUGE=1`: also scan a 1 GiB single-line file with warrant
//!   (peers too with `SCAN_BENCH_HUGE_PEERS=1`) and report peak memory.
//!
//! Prints a Markdown report and writes it to `target/scan-bench.md`.
//!
//! The modules, in the order a run uses them: [`settings`] (the environment
//! above), [`corpus`] (build or reuse the corpus) with [`rng`], [`tokens`],
//! [`plant`], [`one_line`] and [`truth`] (the ground truth); [`tools`] (the
//! scanners and their command lines), [`measure`] (timed runs), [`parse`]
//! (each tool's report), [`matching`] (findings against planted tokens);
//! [`report`] and [`huge`] (the Markdown tables); [`checksum`] (CRC32 and
//! SHA-1 for the token formats and detect-secrets' hashes).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::print_stderr, reason = "progress goes to stderr")]

mod checksum;
mod corpus;
mod huge;
mod matching;
mod measure;
mod one_line;
mod parse;
mod plant;
mod report;
mod rng;
mod settings;
mod tokens;
mod tools;
mod truth;

use std::fs;
use std::path::{Path, PathBuf};

use checksum::{crc32, sha1_hex};
use corpus::{Corpus, warm_page_cache};
use measure::make_warmup_dir;
use settings::Settings;
use tools::Tool;

fn main() {
    assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let settings = Settings::from_env();
    let corpus = Corpus::open_or_build(&target.join("scan-corpus"), &settings);
    eprintln!(
        "corpus: {} files, {:.1} MB, {} planted tokens",
        corpus.files,
        corpus.bytes as f64 / 1e6,
        corpus.planted.len()
    );
    let work = target.join("scan-bench");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    let warmup = make_warmup_dir(&work);

    let tools = Tool::all(&root, &target, &settings);
    eprintln!("warming the page cache");
    let read = warm_page_cache(&corpus.tree);
    assert_eq!(read, corpus.bytes, "the corpus changed since it was built");

    let mut rows = Vec::new();
    for tool in &tools {
        eprintln!("{}: {}", tool.name, tool.version);
        rows.push(tool.measure(&corpus, &work, &warmup, &settings));
    }
    let mut report = report::corpus_report(&corpus, &settings);
    report.push_str(&report::results_report(&corpus, &tools, &rows, &work));
    if std::env::var("SCAN_BENCH_HUGE").is_ok_and(|v| v == "1") {
        let peers = std::env::var("SCAN_BENCH_HUGE_PEERS").is_ok_and(|v| v == "1");
        report.push_str(&huge::huge_report(
            &target, &tools, &work, &warmup, &settings, peers,
        ));
    }
    println!("{report}");
    let out = target.join("scan-bench.md");
    fs::write(&out, &report).unwrap();
    eprintln!("written to {}", out.display());
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}
