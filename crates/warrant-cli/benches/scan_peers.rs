//! `warrant scan` against the secret scanners a user would pick instead
//! (Kingfisher, gitleaks, Betterleaks, ripsecrets, detect-secrets), on one
//! corpus in one run: wall time, throughput, peak memory and recall on
//! planted tokens.
//!
//! `scripts/scan-peers.sh` installs the peers into `target/scan-peers/`;
//! then `cargo bench -p warrant-cli --bench scan_peers`.
//!
//! The corpus (`target/scan-corpus/`, built once and reused while its
//! settings and [`CORPUS_VERSION`] stay the same) is source copied from
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

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::print_stderr, reason = "progress goes to stderr")]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Bump when the corpus layout or the planting changes.
const CORPUS_VERSION: u64 = 1;
const MIB: u64 = 1 << 20;
/// The single-line file: a little over 9 MiB, so the 8 MiB boundary is in.
const LONG_LINE_BYTES: u64 = 9 * MIB + 4321;
const BOUNDARIES: [u64; 6] = [64 << 10, 128 << 10, MIB, 2 * MIB, 4 * MIB, 8 * MIB];
/// Files the tools read as configuration or ignore lists: left out of the
/// copy so every tool sees the same files.
const IGNORE_FILES: [&str; 7] = [
    ".gitignore",
    ".ignore",
    ".secretsignore",
    ".gitleaksignore",
    ".gitleaks.toml",
    ".betterleaks.toml",
    ".secrets.baseline",
];
/// Existing files that tokens may be planted in.
const TEXT_EXTENSIONS: [&str; 16] = [
    "rs", "toml", "md", "txt", "py", "c", "h", "js", "json", "yml", "yaml", "sh", "html", "go",
    "cfg", "ini",
];

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
    let mut report = corpus_report(&corpus, &settings);
    report.push_str(&results_report(&corpus, &tools, &rows, &work));
    if std::env::var("SCAN_BENCH_HUGE").is_ok_and(|v| v == "1") {
        let peers = std::env::var("SCAN_BENCH_HUGE_PEERS").is_ok_and(|v| v == "1");
        report.push_str(&huge_report(
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

struct Settings {
    corpus_mb: u64,
    planted: usize,
    seed: u64,
    tools: Option<Vec<String>>,
    timeout: Duration,
    runs: usize,
}

impl Settings {
    fn from_env() -> Self {
        let num = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            corpus_mb: num("SCAN_CORPUS_MB", 300).max(12),
            planted: num("SCAN_PLANTED", 200).max(12) as usize,
            seed: num("SCAN_SEED", 0x5ca7_7e57),
            tools: std::env::var("SCAN_BENCH_TOOLS").ok().map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            timeout: Duration::from_secs(num("SCAN_BENCH_TIMEOUT", 1800)),
            runs: num("SCAN_BENCH_RUNS", 3).max(1) as usize,
        }
    }
}

// ---------------------------------------------------------------------------
// Token generators

/// SplitMix64: small, seeded, good enough to place and fill tokens.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        self.next() % n
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.index(i + 1));
        }
    }
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGITS: &[u8] = b"0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Format {
    GithubPat,
    Aws,
    SlackBot,
    StripeLive,
    OpenAi,
    Anthropic,
    GitlabPat,
    Npm,
    PrivateKey,
    Postgres,
    Password,
}

const FORMATS: [Format; 11] = [
    Format::GithubPat,
    Format::Aws,
    Format::SlackBot,
    Format::StripeLive,
    Format::OpenAi,
    Format::Anthropic,
    Format::GitlabPat,
    Format::Npm,
    Format::PrivateKey,
    Format::Postgres,
    Format::Password,
];

impl Format {
    fn id(self) -> &'static str {
        match self {
            Format::GithubPat => "github-pat",
            Format::Aws => "aws-key-pair",
            Format::SlackBot => "slack-bot",
            Format::StripeLive => "stripe-live",
            Format::OpenAi => "openai",
            Format::Anthropic => "anthropic",
            Format::GitlabPat => "gitlab-pat",
            Format::Npm => "npm",
            Format::PrivateKey => "private-key",
            Format::Postgres => "postgres-url",
            Format::Password => "password",
        }
    }

    fn from_id(id: &str) -> Format {
        *FORMATS.iter().find(|f| f.id() == id).unwrap()
    }

    /// The variable name a token of this format is usually kept under.
    fn key(self) -> &'static str {
        match self {
            Format::GithubPat => "GITHUB_TOKEN",
            Format::Aws => "AWS_ACCESS_KEY_ID",
            Format::SlackBot => "SLACK_BOT_TOKEN",
            Format::StripeLive => "STRIPE_SECRET_KEY",
            Format::OpenAi => "OPENAI_API_KEY",
            Format::Anthropic => "ANTHROPIC_API_KEY",
            Format::GitlabPat => "GITLAB_TOKEN",
            Format::Npm => "NPM_TOKEN",
            Format::PrivateKey => "PRIVATE_KEY",
            Format::Postgres => "DATABASE_URL",
            Format::Password => "PASSWORD",
        }
    }

    /// Whether the format has a natural multi-line form.
    fn has_block(self) -> bool {
        matches!(self, Format::Aws | Format::PrivateKey | Format::Npm)
    }
}

/// A generated token: the value that is reported, and every secret part of
/// it (what a tool may hash or print instead: the AWS secret key, the
/// password in a URL).
struct Token {
    value: String,
    parts: Vec<String>,
}

/// `prefix` + 30 random base62 + the CRC32 of those 30 in 6 base62 digits:
/// GitHub's (and npm's) checksummed token layout.
fn checksummed(rng: &mut Rng, prefix: &str) -> String {
    let body = rng.chars(BASE62, 30);
    let mut crc = crc32(body.as_bytes());
    let mut check = [b'0'; 6];
    for c in check.iter_mut().rev() {
        *c = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    format!("{prefix}{body}{}", std::str::from_utf8(&check).unwrap())
}

fn generate(format: Format, rng: &mut Rng) -> Token {
    let single = |value: String| Token {
        parts: vec![value.clone()],
        value,
    };
    match format {
        Format::GithubPat => single(checksummed(rng, "ghp_")),
        Format::Npm => single(checksummed(rng, "npm_")),
        Format::Aws => {
            let id = format!("AKIA{}", rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16));
            let secret = rng.chars(BASE64, 40);
            Token {
                value: id.clone(),
                parts: vec![id, secret],
            }
        }
        Format::SlackBot => single(format!(
            "xoxb-{}{}-{}{}-{}",
            rng.chars(b"123456789", 1),
            rng.chars(DIGITS, 10),
            rng.chars(b"123456789", 1),
            rng.chars(DIGITS, 11),
            rng.chars(BASE62, 24)
        )),
        Format::StripeLive => single(format!("sk_live_{}", rng.chars(BASE62, 24))),
        Format::OpenAi => single(format!(
            "sk-proj-{}T3BlbkFJ{}",
            rng.chars(BASE62, 74),
            rng.chars(BASE62, 74)
        )),
        Format::Anthropic => single(format!("sk-ant-api03-{}AA", rng.chars(BASE62, 93))),
        Format::GitlabPat => single(format!("glpat-{}", rng.chars(BASE62, 20))),
        Format::PrivateKey => {
            let body = format!("MIIEowIBAAKCAQEA{}", rng.chars(BASE64, 1572));
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            single(format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
                lines.join("\n")
            ))
        }
        Format::Postgres => {
            let user = format!("svc_{}", rng.chars(LOWER, 6));
            let password = rng.chars(BASE62, 22);
            let host = format!(
                "pg-{}.{}.eu-west-1.rds.amazonaws.com",
                rng.chars(LOWER, 5),
                rng.chars(LOWER, 12)
            );
            let url = format!("postgres://{user}:{password}@{host}:5432/billing");
            Token {
                value: url.clone(),
                parts: vec![url, password],
            }
        }
        Format::Password => single(rng.chars(BASE62, 22)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    /// `KEY=value`
    Env,
    /// `key = "value"`
    Code,
    /// `"key":"value"` (a multi-line value is escaped)
    Json,
    /// The format's own multi-line layout.
    Block,
}

/// The planted text for `token` in `style`, and where the token starts in it.
fn render(format: Format, token: &Token, style: Style) -> (String, usize) {
    let style = if style == Style::Block && !format.has_block() {
        Style::Env
    } else if format == Format::PrivateKey && matches!(style, Style::Env | Style::Code) {
        Style::Json
    } else {
        style
    };
    let value = match (format, style) {
        (Format::PrivateKey, Style::Json) => format!("{}\\n", token.value.replace('\n', "\\n")),
        _ => token.value.clone(),
    };
    let key = format.key();
    let lower = key.to_ascii_lowercase();
    let text = match (format, style) {
        (Format::Aws, Style::Env) => format!(
            "AWS_ACCESS_KEY_ID={value} AWS_SECRET_ACCESS_KEY={}",
            token.parts[1]
        ),
        (Format::Aws, Style::Code) => format!(
            "aws_access_key_id = \"{value}\"; aws_secret_access_key = \"{}\"",
            token.parts[1]
        ),
        (Format::Aws, Style::Json) => format!(
            "\"aws_access_key_id\":\"{value}\",\"aws_secret_access_key\":\"{}\"",
            token.parts[1]
        ),
        (Format::Aws, Style::Block) => format!(
            "[default]\naws_access_key_id = {value}\naws_secret_access_key = {}",
            token.parts[1]
        ),
        (Format::Npm, Style::Block) => format!("//registry.npmjs.org/:_authToken={value}"),
        (Format::PrivateKey, Style::Block) => value.clone(),
        (Format::Password, Style::Env) => format!("DB_PASSWORD={value}"),
        (_, Style::Env) => format!("{key}={value}"),
        (_, Style::Code) => format!("{lower} = \"{value}\""),
        (_, Style::Json) => format!("\"{lower}\":\"{value}\""),
        (_, Style::Block) => unreachable!("handled above"),
    };
    let at = text.find(&value).expect("the value is in its context");
    (text, at)
}

// ---------------------------------------------------------------------------
// The corpus

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Placement {
    MidLine,
    LineStart,
    NewFile,
    LongLine,
}

impl Placement {
    fn id(self) -> &'static str {
        match self {
            Placement::MidLine => "mid-line",
            Placement::LineStart => "line-start",
            Placement::NewFile => "new-file",
            Placement::LongLine => "long-line",
        }
    }

    fn from_id(id: &str) -> Placement {
        [
            Placement::MidLine,
            Placement::LineStart,
            Placement::NewFile,
            Placement::LongLine,
        ]
        .into_iter()
        .find(|p| p.id() == id)
        .unwrap()
    }
}

/// One planted token: where its text is, which part is the token.
struct Plant {
    /// Relative to the corpus tree, `/`-separated.
    file: String,
    /// Byte range of the planted text (token and context).
    start: u64,
    end: u64,
    token_start: u64,
    token_len: u64,
    line: u64,
    format: Format,
    placement: Placement,
    parts: Vec<String>,
    value: String,
}

impl Plant {
    fn json(&self) -> Value {
        json!({
            "file": self.file,
            "offset": self.token_start,
            "length": self.token_len,
            "line": self.line,
            "format": self.format.id(),
            "placement": self.placement.id(),
            "context_offset": self.start,
            "context_length": self.end - self.start,
            "value": self.value,
            "parts": self.parts,
        })
    }

    fn from_json(v: &Value) -> Plant {
        let n = |k: &str| v[k].as_u64().unwrap();
        let s = |k: &str| v[k].as_str().unwrap().to_owned();
        Plant {
            file: s("file"),
            start: n("context_offset"),
            end: n("context_offset") + n("context_length"),
            token_start: n("offset"),
            token_len: n("length"),
            line: n("line"),
            format: Format::from_id(&s("format")),
            placement: Placement::from_id(&s("placement")),
            value: s("value"),
            parts: v["parts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect(),
        }
    }
}

struct Corpus {
    tree: PathBuf,
    bytes: u64,
    files: u64,
    copied_from: String,
    planted: Vec<Plant>,
}

impl Corpus {
    fn open_or_build(dir: &Path, settings: &Settings) -> Corpus {
        let stamp = json!({
            "version": CORPUS_VERSION,
            "mb": settings.corpus_mb,
            "planted": settings.planted,
            "seed": settings.seed,
        });
        let truth = dir.join("planted.json");
        if let Ok(text) = fs::read_to_string(&truth)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && v["settings"] == stamp
        {
            eprintln!("reusing the corpus in {}", dir.display());
            return Corpus {
                tree: dir.join("tree"),
                bytes: v["corpus_bytes"].as_u64().unwrap(),
                files: v["corpus_files"].as_u64().unwrap(),
                copied_from: v["copied_from"].as_str().unwrap_or("").to_owned(),
                planted: v["planted"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(Plant::from_json)
                    .collect(),
            };
        }
        eprintln!("building the corpus in {}", dir.display());
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).unwrap();
        let tree = dir.join("tree");
        let mut rng = Rng(settings.seed);
        let copy_budget = (settings.corpus_mb * 1_000_000).saturating_sub(LONG_LINE_BYTES);
        let copied_from = copy_registry(&tree, copy_budget, &mut rng);
        let planted = plant(&tree, settings.planted, &mut rng);
        let (bytes, files) = tree_size(&tree);
        let v = json!({
            "settings": stamp,
            "corpus_bytes": bytes,
            "corpus_files": files,
            "copied_from": copied_from,
            "planted": planted.iter().map(Plant::json).collect::<Vec<_>>(),
        });
        fs::write(&truth, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        Corpus {
            tree,
            bytes,
            files,
            copied_from,
            planted,
        }
    }
}

/// Copies whole crates from the cargo registry's sources, in a seeded random
/// order, until `budget` bytes. Returns where they came from.
fn copy_registry(tree: &Path, budget: u64, rng: &mut Rng) -> String {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let src = cargo_home.join("registry/src");
    let mut crates = Vec::new();
    for index in fs::read_dir(&src).expect("~/.cargo/registry/src") {
        let index = index.unwrap().path();
        if let Ok(entries) = fs::read_dir(&index) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    crates.push(e.path());
                }
            }
        }
    }
    crates.sort();
    rng.shuffle(&mut crates);
    let mut copied = 0;
    let mut count = 0;
    for krate in crates {
        if copied >= budget {
            break;
        }
        let name = krate.file_name().unwrap();
        copied += copy_dir(&krate, &tree.join(name));
        count += 1;
    }
    let text = format!("{count} crates from {}", src.display());
    eprintln!("copied {:.1} MB: {text}", copied as f64 / 1e6);
    text
}

fn copy_dir(from: &Path, to: &Path) -> u64 {
    fs::create_dir_all(to).unwrap();
    let mut bytes = 0;
    let Ok(entries) = fs::read_dir(from) else {
        return 0;
    };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        let name = e.file_name();
        if kind.is_dir() {
            bytes += copy_dir(&e.path(), &to.join(&name));
        } else if kind.is_file() && !IGNORE_FILES.iter().any(|i| name == *i) {
            bytes += fs::copy(e.path(), to.join(&name)).unwrap_or(0);
        }
    }
    bytes
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            walk_files(&e.path(), out);
        } else if kind.is_file() {
            out.push(e.path());
        }
    }
}

fn tree_size(tree: &Path) -> (u64, u64) {
    let mut files = Vec::new();
    walk_files(tree, &mut files);
    let bytes = files
        .iter()
        .map(|f| fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    (bytes, files.len() as u64)
}

fn relative(tree: &Path, path: &Path) -> String {
    path.strip_prefix(tree)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn line_of(content: &[u8], offset: usize) -> u64 {
    1 + memchr_count(b'\n', &content[..offset])
}

fn memchr_count(byte: u8, hay: &[u8]) -> u64 {
    hay.iter().filter(|&&b| b == byte).count() as u64
}

/// Plants `n` tokens in the tree; returns the ground truth.
fn plant(tree: &Path, n: usize, rng: &mut Rng) -> Vec<Plant> {
    let long = (n / 10).max(BOUNDARIES.len());
    let new_files = n * 15 / 100;
    let line_start = n * 30 / 100;
    let mid = n - long - new_files - line_start;
    let mut placements = Vec::with_capacity(n);
    placements.extend(std::iter::repeat_n(Placement::LongLine, long));
    placements.extend(std::iter::repeat_n(Placement::NewFile, new_files));
    placements.extend(std::iter::repeat_n(Placement::LineStart, line_start));
    placements.extend(std::iter::repeat_n(Placement::MidLine, mid));
    rng.shuffle(&mut placements);

    let mut files = Vec::new();
    walk_files(tree, &mut files);
    files.sort();
    let mut candidates: Vec<PathBuf> = files.iter().filter(|f| plantable(f)).cloned().collect();
    rng.shuffle(&mut candidates);
    let mut crates: Vec<PathBuf> = fs::read_dir(tree)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    crates.sort();

    let mut planted = Vec::new();
    let mut long_tokens = Vec::new();
    for (i, placement) in placements.into_iter().enumerate() {
        let format = FORMATS[i % FORMATS.len()];
        let token = generate(format, rng);
        match placement {
            Placement::LongLine => long_tokens.push((format, token)),
            Placement::NewFile => planted.push(new_file(tree, &crates, format, &token, rng)),
            Placement::MidLine | Placement::LineStart => loop {
                let file = candidates.pop().expect("enough text files to plant in");
                if let Some(p) = insert(tree, &file, placement, format, &token, rng) {
                    planted.push(p);
                    break;
                }
            },
        }
    }
    planted.extend(long_line(tree, long_tokens, rng));
    planted
}

fn plantable(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    TEXT_EXTENSIONS.contains(&ext.as_str())
        && !name.ends_with(".lock")
        && !name.ends_with(".min.js")
        && !name.starts_with('.')
        && name != "package-lock.json"
        && (256..=2 * MIB).contains(&size)
}

/// Inserts the token into an existing text file; `None` if the file does
/// not suit (not UTF-8, no place to put it).
fn insert(
    tree: &Path,
    file: &Path,
    placement: Placement,
    format: Format,
    token: &Token,
    rng: &mut Rng,
) -> Option<Plant> {
    let content = fs::read(file).ok()?;
    if content.contains(&0) || std::str::from_utf8(&content).is_err() {
        return None;
    }
    let (at, text, tok) = if placement == Placement::MidLine {
        let style = *rng.pick(&[Style::Env, Style::Code, Style::Json]);
        let (text, tok) = render(format, token, style);
        // After a space or tab that has something other than the end of the
        // line after it.
        let spots: Vec<usize> = (0..content.len().saturating_sub(1))
            .filter(|&i| {
                (content[i] == b' ' || content[i] == b'\t')
                    && !matches!(content[i + 1], b'\n' | b'\r')
            })
            .collect();
        if spots.is_empty() {
            return None;
        }
        (spots[rng.index(spots.len())] + 1, format!("{text} "), tok)
    } else {
        let style = *rng.pick(&[Style::Env, Style::Code, Style::Block]);
        let (text, tok) = render(format, token, style);
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                (0..content.len().saturating_sub(1))
                    .filter(|&i| content[i] == b'\n')
                    .map(|i| i + 1),
            )
            .collect();
        (starts[rng.index(starts.len())], format!("{text}\n"), tok)
    };
    let mut out = Vec::with_capacity(content.len() + text.len());
    out.extend_from_slice(&content[..at]);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&content[at..]);
    fs::write(file, &out).unwrap();
    let context_len = text.trim_end_matches(['\n', ' ']).len() as u64;
    Some(Plant {
        file: relative(tree, file),
        start: at as u64,
        end: at as u64 + context_len,
        token_start: (at + tok) as u64,
        token_len: token.value.len() as u64,
        line: line_of(&out, at + tok),
        format,
        placement,
        parts: token.parts.clone(),
        value: token.value.clone(),
    })
}

/// A new file holding the token, in a random crate of the tree.
fn new_file(
    tree: &Path,
    crates: &[PathBuf],
    format: Format,
    token: &Token,
    rng: &mut Rng,
) -> Plant {
    let style = if format.has_block() && rng.below(2) == 0 {
        Style::Block
    } else {
        *rng.pick(&[Style::Env, Style::Code, Style::Json])
    };
    let (text, tok) = render(format, token, style);
    let (name, before, after) = match (format, style) {
        (Format::PrivateKey, Style::Block) => ("deploy/server.key", String::new(), "\n"),
        (Format::Aws, Style::Block) => ("deploy/aws-credentials", String::new(), "\n"),
        (Format::Npm, Style::Block) => (".npmrc", String::new(), "\n"),
        (_, Style::Env) => {
            let name = if rng.below(2) == 0 {
                ".env"
            } else {
                "deploy/prod.env"
            };
            (
                name,
                "APP_ENV=production\nLOG_LEVEL=info\n".to_owned(),
                "\nPORT=8080\n",
            )
        }
        (_, Style::Code) => (
            "config/settings_local.py",
            "DEBUG = False\nALLOWED_HOSTS = [\"*\"]\n".to_owned(),
            "\nTIME_ZONE = \"UTC\"\n",
        ),
        _ => (
            "config/credentials.json",
            "{\n  \"service\": \"billing\",\n  ".to_owned(),
            ",\n  \"region\": \"eu-west-1\"\n}\n",
        ),
    };
    let path = loop {
        let dir = rng.pick(crates);
        let path = dir.join(name);
        if !path.exists() {
            break path;
        }
    };
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let content = format!("{before}{text}{after}");
    fs::write(&path, &content).unwrap();
    let at = before.len();
    Plant {
        file: relative(tree, &path),
        start: at as u64,
        end: (at + text.len()) as u64,
        token_start: (at + tok) as u64,
        token_len: token.value.len() as u64,
        line: line_of(content.as_bytes(), at + tok),
        format,
        placement: Placement::NewFile,
        parts: token.parts.clone(),
        value: token.value.clone(),
    }
}

/// Minified-JSON-like filler: low entropy, no newline, ASCII.
struct Filler {
    n: u64,
    pending: Vec<u8>,
}

impl Filler {
    fn new() -> Self {
        Filler {
            n: 0,
            pending: Vec::new(),
        }
    }

    fn write(&mut self, out: &mut impl Write, mut len: u64) {
        while len > 0 {
            if self.pending.is_empty() {
                self.n += 1;
                let n = self.n;
                self.pending = format!(
                    "{{\"id\":{n},\"sku\":\"SKU-{n:08}\",\"qty\":{},\"price\":{}.{:02},\"tags\":[\"red\",\"blue\"]}},",
                    n % 17,
                    n % 977,
                    n % 100
                )
                .into_bytes();
                self.pending.reverse();
            }
            let take = (self.pending.len() as u64).min(len) as usize;
            let at = self.pending.len() - take;
            let mut chunk: Vec<u8> = self.pending.drain(at..).collect();
            chunk.reverse();
            out.write_all(&chunk).unwrap();
            len -= take as u64;
        }
    }
}

/// The single-line file, with tokens straddling or touching the boundaries
/// in [`BOUNDARIES`] and the rest at random offsets.
fn long_line(tree: &Path, tokens: Vec<(Format, Token)>, rng: &mut Rng) -> Vec<Plant> {
    let rel = "zz-planted/export-one-line.json";
    let path = tree.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    // (text start, text, token offset in text, format, token)
    let mut spots: Vec<(u64, String, usize, Format, Token)> = Vec::new();
    for (i, (format, token)) in tokens.into_iter().enumerate() {
        let (ctx, tok) = render(format, &token, Style::Json);
        let text = format!(",{ctx},");
        let tok = tok + 1;
        let len = token.value.len() as u64;
        let start = loop {
            let token_start = if let Some(&b) = BOUNDARIES.get(i) {
                let r = rng.below(7) as i64 - 3;
                let base = match i % 3 {
                    0 => b,           // starts at the boundary
                    1 => b - len,     // ends at it
                    _ => b - len / 2, // straddles it
                };
                (base as i64 + r) as u64
            } else {
                1024 + rng.below(LONG_LINE_BYTES - 4096 - len)
            };
            let start = token_start - tok as u64;
            let end = start + text.len() as u64;
            if end + 64 < LONG_LINE_BYTES
                && spots
                    .iter()
                    .all(|s| end + 64 < s.0 || s.0 + s.1.len() as u64 + 64 < start)
            {
                break start;
            }
        };
        spots.push((start, text, tok, format, token));
    }
    spots.sort_by_key(|s| s.0);
    let mut out = BufWriter::new(fs::File::create(&path).unwrap());
    let mut filler = Filler::new();
    let mut pos = 0;
    let mut planted = Vec::new();
    for (start, text, tok, format, token) in spots {
        filler.write(&mut out, start - pos);
        out.write_all(text.as_bytes()).unwrap();
        pos = start + text.len() as u64;
        planted.push(Plant {
            file: rel.to_owned(),
            start: start + 1,
            end: pos - 1,
            token_start: start + tok as u64,
            token_len: token.value.len() as u64,
            line: 1,
            format,
            placement: Placement::LongLine,
            parts: token.parts,
            value: token.value,
        });
    }
    filler.write(&mut out, LONG_LINE_BYTES - pos);
    out.flush().unwrap();
    planted
}

fn make_warmup_dir(work: &Path) -> PathBuf {
    let dir = work.join("warmup");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("main.rs"),
        "fn main() {\n    println!(\"hello\");\n}\n",
    )
    .unwrap();
    fs::write(dir.join("config.env"), "APP_ENV=dev\nPORT=8080\n").unwrap();
    dir
}

/// Reads every file once so all tools run with a warm page cache.
fn warm_page_cache(tree: &Path) -> u64 {
    let mut files = Vec::new();
    walk_files(tree, &mut files);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    for f in files {
        if let Ok(mut file) = fs::File::open(&f) {
            while let Ok(n) = file.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
        }
    }
    total
}

// ---------------------------------------------------------------------------
// The tools

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Warrant,
    Kingfisher,
    Gitleaks,
    Betterleaks,
    Ripsecrets,
    DetectSecrets,
}

struct Tool {
    name: &'static str,
    kind: Kind,
    bin: PathBuf,
    /// `Some(why)` when the tool cannot run.
    missing: Option<String>,
    version: String,
    /// Extra environment.
    env: Vec<(String, PathBuf)>,
}

/// One tool's run on one target.
struct Run {
    wall: Duration,
    peak_rss_kib: Option<u64>,
    exit: Option<i32>,
    timed_out: bool,
    output: PathBuf,
    stderr: PathBuf,
}

struct Row {
    outcome: Result<(Run, Vec<Found>), String>,
    /// Timed runs made (the fastest is kept).
    runs: usize,
    /// The 1-minute load average before them.
    load: String,
}

impl Row {
    fn failed(why: String) -> Row {
        Row {
            outcome: Err(why),
            runs: 0,
            load: String::new(),
        }
    }
}

/// A tool whose run takes longer than this is not run again.
const SLOW: Duration = Duration::from_secs(60);

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

impl Tool {
    fn all(root: &Path, target: &Path, settings: &Settings) -> Vec<Tool> {
        let peers = target.join("scan-peers/bin");
        let warrant_bin = std::env::var_os("WARRANT_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_warrant")));
        let specs = [
            ("warrant", Kind::Warrant, warrant_bin),
            ("kingfisher", Kind::Kingfisher, peers.join("kingfisher")),
            ("gitleaks", Kind::Gitleaks, peers.join("gitleaks")),
            ("betterleaks", Kind::Betterleaks, peers.join("betterleaks")),
            ("ripsecrets", Kind::Ripsecrets, peers.join("ripsecrets")),
            (
                "detect-secrets",
                Kind::DetectSecrets,
                peers.join("detect-secrets"),
            ),
        ];
        let mut tools = Vec::new();
        for (name, kind, bin) in specs {
            if let Some(only) = &settings.tools
                && !only.iter().any(|t| t == name)
            {
                continue;
            }
            let mut tool = Tool {
                name,
                kind,
                bin,
                missing: None,
                version: String::new(),
                env: Vec::new(),
            };
            match kind {
                Kind::Warrant => {
                    let home = target.join("scan-bench-home");
                    let _ = fs::remove_dir_all(&home);
                    tool.env.push(("WARRANT_HOME".into(), home));
                }
                Kind::Kingfisher => tool.env.push((
                    "KF_RULE_CACHE_DIR".into(),
                    target.join("scan-peers/kingfisher-rule-cache"),
                )),
                _ => {}
            }
            tool.probe(root);
            tools.push(tool);
        }
        tools
    }

    /// Finds the version, or why the tool cannot run.
    fn probe(&mut self, root: &Path) {
        if !self.bin.exists() {
            self.missing = Some(if self.kind == Kind::Warrant {
                "not built".into()
            } else {
                "not installed (scripts/scan-peers.sh)".into()
            });
            self.version = "—".into();
            return;
        }
        let args: &[&str] = match self.kind {
            Kind::Gitleaks => &["version"],
            _ => &["--version"],
        };
        let out = Command::new(&self.bin).args(args).output();
        let text = out
            .as_ref()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        self.version = text
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or("?")
            .to_owned();
        if self.kind == Kind::Warrant {
            if self.version == "?" || self.version.is_empty() {
                self.version = env!("CARGO_PKG_VERSION").into();
            }
            let help = Command::new(&self.bin)
                .args(["scan", "--help"])
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .current_dir(root)
                .output();
            let ok = help.is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains("--format")
            });
            if !ok {
                self.missing = Some("not built (no `warrant scan --format`)".into());
            }
        }
    }

    /// The command that scans `target`, its output going to `report`.
    fn command(&self, target: &Path, report: &Path) -> (Command, bool) {
        let mut cmd = Command::new(&self.bin);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        // (command, whether the report is the command's stdout)
        let stdout_report = match self.kind {
            Kind::Warrant => {
                cmd.args(["scan", "--format", "json"]).arg(target);
                true
            }
            Kind::Kingfisher => {
                cmd.args([
                    "scan",
                    "--no-validate",
                    "--no-update-check",
                    "--format",
                    "json",
                ])
                .arg("--output")
                .arg(report)
                .arg(target);
                false
            }
            Kind::Gitleaks => {
                cmd.args(["dir", "--no-banner", "--report-format", "json"])
                    .arg("--report-path")
                    .arg(report)
                    .arg(target);
                false
            }
            Kind::Betterleaks => {
                cmd.args(["fs", "--no-banner", "--silent", "--output"])
                    .arg(report)
                    .arg(target);
                false
            }
            Kind::Ripsecrets => {
                cmd.arg("--only-matching").arg(target);
                true
            }
            Kind::DetectSecrets => {
                let (dir, arg) = if target.is_dir() {
                    (target.to_path_buf(), PathBuf::from("."))
                } else {
                    (
                        target.parent().unwrap().to_path_buf(),
                        PathBuf::from(target.file_name().unwrap()),
                    )
                };
                cmd.current_dir(dir).args(["scan", "--all-files"]).arg(arg);
                true
            }
        };
        if self.kind != Kind::DetectSecrets {
            cmd.current_dir(target.parent().unwrap());
        }
        (cmd, stdout_report)
    }

    /// How many bytes the tool says it scanned, where it says so: shows
    /// what it skipped.
    fn bytes_read(&self, run: &Run) -> Option<u64> {
        let first_json = |path: &Path| {
            let text = fs::read_to_string(path).ok()?;
            serde_json::Deserializer::from_str(&text)
                .into_iter::<Value>()
                .next()?
                .ok()
        };
        match self.kind {
            Kind::Warrant => first_json(&run.output)?["bytes_scanned"].as_u64(),
            Kind::Kingfisher => {
                first_json(&run.output.with_extension("stdout"))?["bytes_scanned"].as_u64()
            }
            // "scanned ~N bytes (...)" in their log.
            Kind::Gitleaks | Kind::Betterleaks => {
                let log = strip_ansi(&fs::read_to_string(&run.stderr).ok()?);
                let at = log.rfind("scanned ~")? + "scanned ~".len();
                let digits: String = log[at..].chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            }
            Kind::Ripsecrets | Kind::DetectSecrets => None,
        }
    }

    fn ok_exit(&self, code: i32) -> bool {
        match self.kind {
            Kind::Kingfisher => matches!(code, 0 | 200 | 205),
            Kind::DetectSecrets => code == 0,
            _ => matches!(code, 0 | 1),
        }
    }

    /// One untimed run on a tiny directory (loads the binary, builds rule
    /// caches), then the timed runs on `target`; keeps the fastest.
    fn measure(&self, corpus: &Corpus, work: &Path, warmup: &Path, s: &Settings) -> Row {
        if let Some(why) = &self.missing {
            return Row::failed(why.clone());
        }
        let _ = self.run(
            warmup,
            &work.join(format!("{}-warmup", self.name)),
            s.timeout,
        );
        let load = load_average();
        let mut best: Option<Run> = None;
        let mut runs = 0;
        for i in 0..s.runs {
            let run = match self.run(
                &corpus.tree,
                &work.join(format!("{}-{i}", self.name)),
                s.timeout,
            ) {
                Ok(r) => r,
                Err(e) => return Row::failed(e),
            };
            eprintln!(
                "  {:.2} s, peak RSS {} MiB, exit {:?}{}",
                run.wall.as_secs_f64(),
                run.peak_rss_kib
                    .map_or("?".into(), |k| (k / 1024).to_string()),
                run.exit,
                if run.timed_out { " (timed out)" } else { "" }
            );
            if run.timed_out {
                return Row::failed(format!("timed out after {} s", s.timeout.as_secs()));
            }
            runs += 1;
            let slow = run.wall > SLOW;
            if best.as_ref().is_none_or(|b| run.wall < b.wall) {
                best = Some(run);
            }
            if slow {
                break;
            }
        }
        let run = best.unwrap();
        if let Some(code) = run.exit
            && !self.ok_exit(code)
        {
            return Row::failed(format!(
                "exit {code}: {}",
                tail(&run.stderr).replace('|', "\\|")
            ));
        }
        match self.parse(&run.output, &corpus.tree) {
            Ok(found) => Row {
                outcome: Ok((run, found)),
                runs,
                load,
            },
            Err(e) => Row::failed(format!("cannot read its output: {e}")),
        }
    }

    fn run(&self, target: &Path, base: &Path, timeout: Duration) -> Result<Run, String> {
        // Betterleaks wants its report file to end in .json.
        let output = base.with_extension(if self.kind == Kind::Ripsecrets {
            "txt"
        } else {
            "json"
        });
        let stderr = base.with_extension("err");
        let rss_file = base.with_extension("rss");
        let (tool_cmd, stdout_report) = self.command(target, &output);
        let time = Path::new("/usr/bin/time");
        let mut cmd = if time.exists() {
            let mut c = Command::new(time);
            c.arg("-f").arg("%M").arg("-o").arg(&rss_file);
            c.arg(tool_cmd.get_program()).args(tool_cmd.get_args());
            for (k, v) in tool_cmd.get_envs() {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
            }
            if let Some(dir) = tool_cmd.get_current_dir() {
                c.current_dir(dir);
            }
            c
        } else {
            tool_cmd
        };
        let out_file = if stdout_report {
            fs::File::create(&output).map_err(|e| e.to_string())?
        } else {
            fs::File::create(base.with_extension("stdout")).map_err(|e| e.to_string())?
        };
        cmd.stdin(Stdio::null())
            .stdout(out_file)
            .stderr(fs::File::create(&stderr).map_err(|e| e.to_string())?)
            .process_group(0);
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
        let pid = child.id();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if done_rx.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                true
            } else {
                false
            }
        });
        let status = child.wait().map_err(|e| e.to_string())?;
        let wall = started.elapsed();
        let _ = done_tx.send(());
        let timed_out = watchdog.join().unwrap_or(false);
        let peak_rss_kib = fs::read_to_string(&rss_file)
            .ok()
            .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
        // GNU time exits with the command's status, or 128+signal.
        Ok(Run {
            wall,
            peak_rss_kib,
            exit: status.code(),
            timed_out,
            output,
            stderr,
        })
    }

    fn parse(&self, output: &Path, tree: &Path) -> Result<Vec<Found>, String> {
        let text = fs::read_to_string(output).map_err(|e| e.to_string())?;
        let json = || -> Result<Value, String> {
            if text.trim().is_empty() {
                Ok(Value::Null)
            } else {
                // The first JSON document (a summary may follow).
                serde_json::Deserializer::from_str(&text)
                    .into_iter::<Value>()
                    .next()
                    .unwrap_or(Ok(Value::Null))
                    .map_err(|e| e.to_string())
            }
        };
        let mut found = Vec::new();
        let path = |p: &str| normalize(p, tree);
        let as_u64 = |v: &Value| v.as_u64();
        let as_text = |v: &Value| v.as_str().map(str::to_owned);
        match self.kind {
            Kind::Warrant => {
                let v = json()?;
                // Findings either flat, each with its path, or grouped by
                // file.
                let mut list: Vec<(&Value, &str)> = Vec::new();
                for f in v["findings"].as_array().into_iter().flatten() {
                    list.push((f, f["path"].as_str().unwrap_or_default()));
                }
                for file in v["files"].as_array().into_iter().flatten() {
                    let p = file["path"].as_str().unwrap_or_default();
                    for f in file["findings"].as_array().into_iter().flatten() {
                        list.push((f, f["path"].as_str().unwrap_or(p)));
                    }
                }
                for (f, p) in list {
                    let offset = as_u64(&f["offset"]);
                    let length = as_u64(&f["length"]);
                    found.push(Found {
                        file: path(p),
                        line: as_u64(&f["line"]),
                        end_line: None,
                        column: as_u64(&f["column"]).map(|c| c.saturating_sub(1)),
                        text: None,
                        sha1: None,
                        range: offset.zip(length).map(|(o, l)| (o, o + l.max(1))),
                    });
                }
            }
            Kind::Kingfisher => {
                let v = json()?;
                for f in v["findings"].as_array().into_iter().flatten() {
                    let f = &f["finding"];
                    found.push(Found {
                        file: path(f["path"].as_str().unwrap_or_default()),
                        line: as_u64(&f["line"]),
                        end_line: None,
                        column: as_u64(&f["column_start"]),
                        text: as_text(&f["snippet"]),
                        sha1: None,
                        range: None,
                    });
                }
            }
            Kind::Gitleaks => {
                let v = json()?;
                for f in v.as_array().into_iter().flatten() {
                    found.push(Found {
                        file: path(f["File"].as_str().unwrap_or_default()),
                        line: as_u64(&f["StartLine"]),
                        end_line: as_u64(&f["EndLine"]),
                        column: as_u64(&f["StartColumn"]).map(|c| c.saturating_sub(1)),
                        text: as_text(&f["Secret"]).filter(|s| !s.is_empty()),
                        sha1: None,
                        range: None,
                    });
                }
            }
            Kind::Betterleaks => {
                let v = json()?;
                for f in v["findings"].as_array().into_iter().flatten() {
                    let loc = &f["location"];
                    found.push(Found {
                        file: path(loc["path"].as_str().unwrap_or_default()),
                        line: as_u64(&loc["start_line"]),
                        end_line: as_u64(&loc["end_line"]),
                        column: as_u64(&loc["start_column"]).map(|c| c.saturating_sub(1)),
                        text: as_text(&f["match"]["value"]).filter(|s| !s.is_empty()),
                        sha1: None,
                        range: None,
                    });
                }
            }
            Kind::Ripsecrets => {
                for line in text.lines() {
                    if let Some((file, line_no, matched)) = split_grep_line(line) {
                        found.push(Found {
                            file: path(file),
                            line: Some(line_no),
                            end_line: None,
                            column: None,
                            text: Some(matched.to_owned()),
                            sha1: None,
                            range: None,
                        });
                    }
                }
            }
            Kind::DetectSecrets => {
                let v = json()?;
                for (file, list) in v["results"].as_object().into_iter().flatten() {
                    for f in list.as_array().into_iter().flatten() {
                        found.push(Found {
                            file: path(file),
                            line: as_u64(&f["line_number"]),
                            end_line: None,
                            column: None,
                            text: None,
                            sha1: as_text(&f["hashed_secret"]),
                            range: None,
                        });
                    }
                }
            }
        }
        Ok(found)
    }
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let clean: String = strip_ansi(last).chars().take(200).collect();
    clean
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `path:line:text`, the path possibly holding `:` itself.
fn split_grep_line(line: &str) -> Option<(&str, u64, &str)> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(rel) = line[i..].find(':') {
        let colon = i + rel;
        let digits = bytes[colon + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after = colon + 1 + digits;
        if digits > 0 && bytes.get(after) == Some(&b':') {
            let n = line[colon + 1..after].parse().ok()?;
            return Some((&line[..colon], n, &line[after + 1..]));
        }
        i = colon + 1;
    }
    None
}

/// A tool's path, relative to the corpus tree.
fn normalize(path: &str, tree: &Path) -> String {
    let tree_str = tree.to_string_lossy();
    let p = path
        .strip_prefix(tree_str.as_ref())
        .map(|p| p.trim_start_matches('/'))
        .unwrap_or(path);
    p.trim_start_matches("./").to_owned()
}

// ---------------------------------------------------------------------------
// Matching findings to planted tokens

/// A finding as a tool reports it, with what is known of where it is.
struct Found {
    file: String,
    /// 1-based.
    line: Option<u64>,
    end_line: Option<u64>,
    /// 0-based byte column of the match on `line`, a hint.
    column: Option<u64>,
    /// The secret as the tool prints it.
    text: Option<String>,
    /// The SHA-1 of the secret, hex (detect-secrets).
    sha1: Option<String>,
    /// Exact byte range in the file.
    range: Option<(u64, u64)>,
}

struct FileIndex {
    content: Vec<u8>,
    line_starts: Vec<u64>,
}

impl FileIndex {
    fn load(path: &Path) -> FileIndex {
        let content = fs::read(path).unwrap_or_default();
        let line_starts = std::iter::once(0)
            .chain(
                content
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i as u64 + 1),
            )
            .collect();
        FileIndex {
            content,
            line_starts,
        }
    }

    /// Byte range of lines `first..=last` (1-based), without the final newline.
    fn lines(&self, first: u64, last: u64) -> (u64, u64) {
        let idx = |l: u64| (l.max(1) - 1) as usize;
        let start = *self
            .line_starts
            .get(idx(first))
            .unwrap_or(&(self.content.len() as u64));
        let end = self
            .line_starts
            .get(idx(last) + 1)
            .map_or(self.content.len() as u64, |s| s - 1);
        (start, end.max(start))
    }
}

#[derive(Default, Clone)]
struct Score {
    /// Planted index -> found.
    found: Vec<bool>,
    other: usize,
    /// Line-only findings on a line holding several planted tokens.
    ambiguous: usize,
}

fn score(corpus: &Corpus, findings: &[Found]) -> Score {
    let mut by_file: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in corpus.planted.iter().enumerate() {
        by_file.entry(p.file.as_str()).or_default().push(i);
    }
    let mut files: HashMap<String, FileIndex> = HashMap::new();
    let mut s = Score {
        found: vec![false; corpus.planted.len()],
        ..Score::default()
    };
    for f in findings {
        let Some(plants) = by_file.get(f.file.as_str()) else {
            s.other += 1;
            continue;
        };
        let index = files
            .entry(f.file.clone())
            .or_insert_with(|| FileIndex::load(&corpus.tree.join(&f.file)));
        let (range, exact) = locate(f, index, plants, &corpus.planted);
        let hits: Vec<usize> = plants
            .iter()
            .copied()
            .filter(|&i| {
                let p = &corpus.planted[i];
                range.0 < p.end.max(p.start + 1) && p.start < range.1.max(range.0 + 1)
            })
            .collect();
        if hits.is_empty() {
            s.other += 1;
        } else if !exact && hits.len() > 1 {
            s.ambiguous += 1;
        } else if let Some(&i) = hits.iter().find(|&&i| !s.found[i]) {
            s.found[i] = true;
        }
    }
    s
}

/// Where a finding is, in bytes, and whether that is exact (rather than a
/// whole line).
fn locate(f: &Found, index: &FileIndex, plants: &[usize], planted: &[Plant]) -> ((u64, u64), bool) {
    if let Some(r) = f.range {
        return (r, true);
    }
    let Some(line) = f.line else {
        return ((0, index.content.len() as u64), false);
    };
    let (ls, le) = index.lines(line, f.end_line.unwrap_or(line).max(line));
    if let Some(hash) = &f.sha1 {
        for &i in plants {
            let p = &planted[i];
            if p.start <= le
                && ls <= p.end
                && p.parts
                    .iter()
                    .any(|part| sha1_hex(part.as_bytes()) == *hash)
            {
                return ((p.token_start, p.token_start + p.token_len), true);
            }
        }
    }
    if let Some(text) = f.text.as_deref().filter(|t| t.len() >= 4) {
        let hay_end = (le as usize)
            .max(ls as usize + text.len() + 4096)
            .min(index.content.len());
        let hay = &index.content[ls as usize..hay_end];
        let hint = f.column.unwrap_or(0) as usize;
        let mut best: Option<usize> = None;
        let mut from = 0;
        while let Some(rel) = find(&hay[from..], text.as_bytes()) {
            let at = from + rel;
            if best.is_none_or(|b| at.abs_diff(hint) < b.abs_diff(hint)) {
                best = Some(at);
            }
            from = at + 1;
        }
        if let Some(at) = best {
            let start = ls + at as u64;
            return ((start, start + text.len() as u64), true);
        }
    }
    if let Some(col) = f.column {
        let start = ls + col;
        let len = f.text.as_ref().map_or(1, |t| t.len().max(1)) as u64;
        return ((start, start + len), true);
    }
    ((ls, le.max(ls + 1)), false)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// Reports

fn corpus_report(corpus: &Corpus, s: &Settings) -> String {
    let mut by_placement: BTreeMap<Placement, usize> = BTreeMap::new();
    for p in &corpus.planted {
        *by_placement.entry(p.placement).or_default() += 1;
    }
    let mut out = String::new();
    let _ = writeln!(out, "# warrant scan vs peers\n");
    let _ = writeln!(
        out,
        "Corpus: {} files, {:.1} MB ({}), plus {} planted tokens ({}) of {} formats, seed {:#x}. \
         Machine: {} cores. One warm-up read of the corpus and one untimed run of each tool on \
         a tiny directory first; best of {} timed run(s).\n",
        corpus.files,
        corpus.bytes as f64 / 1e6,
        corpus.copied_from,
        corpus.planted.len(),
        by_placement
            .iter()
            .map(|(p, n)| format!("{n} {}", p.id()))
            .collect::<Vec<_>>()
            .join(", "),
        FORMATS.len(),
        s.seed,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        s.runs,
    );
    out
}

fn results_report(corpus: &Corpus, tools: &[Tool], rows: &[Row], work: &Path) -> String {
    let n = corpus.planted.len();
    let scores: Vec<Option<Score>> = rows
        .iter()
        .map(|r| r.outcome.as_ref().ok().map(|(_, f)| score(corpus, f)))
        .collect();
    let warrant_wall = tools
        .iter()
        .zip(rows)
        .find(|(t, _)| t.kind == Kind::Warrant)
        .and_then(|(_, r)| r.outcome.as_ref().ok().map(|(run, _)| run.wall));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| tool | version | wall s | MB/s | warrant is N× faster | recall (found/planted) | peak RSS MiB | other findings | MB read (its own count) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for ((tool, row), sc) in tools.iter().zip(rows).zip(&scores) {
        match (&row.outcome, sc) {
            (Ok((run, _)), Some(sc)) => {
                let secs = run.wall.as_secs_f64();
                let found = sc.found.iter().filter(|f| **f).count();
                let ratio = warrant_wall.map_or("—".to_owned(), |w| {
                    format!("{:.2}×", secs / w.as_secs_f64())
                });
                let amb = if sc.ambiguous > 0 {
                    format!(" (+{} line-only, unplaced)", sc.ambiguous)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.2} | {:.1} | {} | {:.1}% ({found}/{n}){amb} | {} | {} | {} |",
                    tool.name,
                    tool.version,
                    secs,
                    corpus.bytes as f64 / 1e6 / secs,
                    ratio,
                    100.0 * found as f64 / n as f64,
                    run.peak_rss_kib
                        .map_or("?".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0)),
                    sc.other,
                    tool.bytes_read(run)
                        .map_or("?".to_owned(), |b| format!("{:.1}", b as f64 / 1e6)),
                );
            }
            _ => {
                let why = row.outcome.as_ref().err().cloned().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "| {} | {} | — | — | — | {} | — | — | — |",
                    tool.name, tool.version, why
                );
            }
        }
    }

    let notes: Vec<String> = tools
        .iter()
        .zip(rows)
        .filter(|(_, r)| r.runs > 0)
        .map(|(t, r)| format!("{} {} (load {})", t.name, r.runs, r.load))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "\nTimed runs, fastest kept, and the 1-minute load average before them: {}.",
            notes.join(", ")
        );
    }
    // What each tool missed, for a closer look.
    for (tool, sc) in tools.iter().zip(&scores) {
        if let Some(sc) = sc {
            let mut text = String::new();
            for (p, found) in corpus.planted.iter().zip(&sc.found) {
                if !found {
                    let _ = writeln!(
                        text,
                        "{}\t{}\t{}\t{}\t{}",
                        p.file,
                        p.token_start,
                        p.line,
                        p.format.id(),
                        p.placement.id()
                    );
                }
            }
            let _ = fs::write(work.join(format!("{}-missed.tsv", tool.name)), text);
        }
    }

    // Recall by format and by placement.
    let ran: Vec<(&Tool, &Score)> = tools
        .iter()
        .zip(&scores)
        .filter_map(|(t, s)| s.as_ref().map(|s| (t, s)))
        .collect();
    if !ran.is_empty() {
        let header = |out: &mut String, first: &str| {
            let _ = write!(out, "\n| {first} | planted |");
            for (t, _) in &ran {
                let _ = write!(out, " {} |", t.name);
            }
            let _ = write!(out, "\n|---|---:|");
            for _ in &ran {
                let _ = write!(out, "---:|");
            }
            let _ = writeln!(out);
        };
        let _ = writeln!(out, "\nRecall by format:");
        header(&mut out, "format");
        for format in FORMATS {
            let idx: Vec<usize> = (0..n)
                .filter(|&i| corpus.planted[i].format == format)
                .collect();
            let _ = write!(out, "| {} | {} |", format.id(), idx.len());
            for (_, s) in &ran {
                let k = idx.iter().filter(|&&i| s.found[i]).count();
                let _ = write!(out, " {k} |");
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "\nRecall by placement:");
        header(&mut out, "placement");
        for placement in [
            Placement::MidLine,
            Placement::LineStart,
            Placement::NewFile,
            Placement::LongLine,
        ] {
            let idx: Vec<usize> = (0..n)
                .filter(|&i| corpus.planted[i].placement == placement)
                .collect();
            let _ = write!(out, "| {} | {} |", placement.id(), idx.len());
            for (_, s) in &ran {
                let k = idx.iter().filter(|&&i| s.found[i]).count();
                let _ = write!(out, " {k} |");
            }
            let _ = writeln!(out);
        }
        let dotfiles: Vec<usize> = (0..n)
            .filter(|&i| {
                corpus.planted[i]
                    .file
                    .split('/')
                    .any(|c| c.starts_with('.'))
            })
            .collect();
        let _ = write!(out, "| (of which in dotfiles) | {} |", dotfiles.len());
        for (_, s) in &ran {
            let k = dotfiles.iter().filter(|&&i| s.found[i]).count();
            let _ = write!(out, " {k} |");
        }
        let _ = writeln!(out);
    }

    // Against the targets.
    let rate = |t: &Tool| {
        tools
            .iter()
            .zip(rows)
            .find(|(x, _)| x.name == t.name)
            .and_then(|(_, r)| r.outcome.as_ref().ok())
            .map(|(run, _)| corpus.bytes as f64 / 1e6 / run.wall.as_secs_f64())
    };
    let recall = |t: &Tool| {
        tools
            .iter()
            .zip(&scores)
            .find(|(x, _)| x.name == t.name)
            .and_then(|(_, s)| s.as_ref())
            .map(|s| s.found.iter().filter(|f| **f).count())
    };
    let warrant = tools.iter().find(|t| t.kind == Kind::Warrant);
    let peers: Vec<&Tool> = tools.iter().filter(|t| t.kind != Kind::Warrant).collect();
    let fastest = peers
        .iter()
        .filter_map(|t| rate(t).map(|r| (t.name, r)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let best_recall = peers
        .iter()
        .filter_map(|t| recall(t).map(|r| (t.name, r)))
        .max_by_key(|x| x.1);
    let _ = writeln!(out, "\nTargets:");
    match (warrant.and_then(rate), fastest) {
        (Some(w), Some((name, r))) => {
            let _ = writeln!(
                out,
                "- throughput ≥ 2× the fastest peer ({name}, {r:.1} MB/s): warrant {w:.1} MB/s = {:.2}× — {}",
                w / r,
                if w >= 2.0 * r { "met" } else { "NOT met" }
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "- throughput: not measured (warrant or every peer missing)"
            );
        }
    }
    match (warrant.and_then(recall), best_recall) {
        (Some(w), Some((name, r))) => {
            let _ = writeln!(
                out,
                "- recall ≥ the best peer ({name}, {r}/{n}): warrant {w}/{n} — {}",
                if w >= r { "met" } else { "NOT met" }
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "- recall: not measured (warrant or every peer missing)"
            );
        }
    }
    let _ = writeln!(out, "\nCommand lines (PATH = the corpus tree):");
    for t in tools {
        let (cmd, to_stdout) = t.command(Path::new("/PATH"), Path::new("REPORT"));
        let mut line = format!("{} {}", t.name, join_args(&cmd));
        if t.kind == Kind::DetectSecrets {
            line = line.replace("PATH", ".");
        }
        if to_stdout {
            line.push_str(" > REPORT");
        }
        if t.kind == Kind::DetectSecrets {
            line = format!("(cd PATH && {line})");
        }
        let _ = writeln!(out, "- `{line}`");
    }
    out
}

fn join_args(cmd: &Command) -> String {
    cmd.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A 1 GiB single-line file with a few tokens, scanned by warrant (and the
/// peers when asked): peak memory shows whether it stays bounded.
fn huge_report(
    target: &Path,
    tools: &[Tool],
    work: &Path,
    warmup: &Path,
    s: &Settings,
    peers: bool,
) -> String {
    const HUGE: u64 = 1 << 30;
    let dir = target.join("scan-huge");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let rel = "one-line-1gib.json";
    let path = dir.join(rel);
    eprintln!("writing {}", path.display());
    let mut rng = Rng(s.seed ^ 0x4875_6765);
    let mut planted = Vec::new();
    {
        let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(&path).unwrap());
        let mut filler = Filler::new();
        let mut pos = 0;
        let count = 8;
        for i in 0..count {
            let format = FORMATS[i % FORMATS.len()];
            let token = generate(format, &mut rng);
            let (ctx, tok) = render(format, &token, Style::Json);
            let text = format!(",{ctx},");
            let start = (i as u64 + 1) * (HUGE / (count as u64 + 1)) + rng.below(MIB);
            filler.write(&mut out, start - pos);
            out.write_all(text.as_bytes()).unwrap();
            pos = start + text.len() as u64;
            planted.push(Plant {
                file: rel.to_owned(),
                start: start + 1,
                end: pos - 1,
                token_start: start + 1 + tok as u64,
                token_len: token.value.len() as u64,
                line: 1,
                format,
                placement: Placement::LongLine,
                parts: token.parts,
                value: token.value,
            });
        }
        filler.write(&mut out, HUGE - pos);
        out.flush().unwrap();
    }
    let corpus = Corpus {
        tree: dir.clone(),
        bytes: HUGE,
        files: 1,
        copied_from: String::new(),
        planted,
    };
    let _ = warm_page_cache(&dir);
    // Its own reports, so the corpus run's stay for a look.
    let huge_work = work.join("huge");
    fs::create_dir_all(&huge_work).unwrap();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## One 1 GiB file with no newline ({} tokens planted)\n",
        corpus.planted.len()
    );
    let _ = writeln!(
        out,
        "| tool | wall s | MB/s | found | peak RSS MiB | MB read (its own count) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for tool in tools {
        if tool.kind != Kind::Warrant && !peers {
            continue;
        }
        if tool.kind == Kind::DetectSecrets {
            let _ = writeln!(
                out,
                "| {} | — | — | not run: at its corpus rate this takes over half an hour | — | — |",
                tool.name
            );
            continue;
        }
        eprintln!("{} on the 1 GiB line", tool.name);
        let row = tool.measure(&corpus, &huge_work, warmup, s);
        match &row.outcome {
            Ok((run, found)) => {
                let sc = score(&corpus, found);
                let secs = run.wall.as_secs_f64();
                let _ = writeln!(
                    out,
                    "| {} | {:.2} | {:.1} | {}/{} | {} | {} |",
                    tool.name,
                    secs,
                    HUGE as f64 / 1e6 / secs,
                    sc.found.iter().filter(|f| **f).count(),
                    corpus.planted.len(),
                    run.peak_rss_kib
                        .map_or("?".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0)),
                    tool.bytes_read(run)
                        .map_or("?".to_owned(), |b| format!("{:.1}", b as f64 / 1e6)),
                );
            }
            Err(why) => {
                let _ = writeln!(out, "| {} | — | — | {why} | — | — |", tool.name);
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
    out
}

// ---------------------------------------------------------------------------
// Checksums

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

fn sha1_hex(data: &[u8]) -> String {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}
