//! The corpus: crates copied from the cargo registry's sources with tokens
//! planted in them ([`crate::plant`]), built once under
//! `target/scan-corpus/` and reused while its settings and
//! [`CORPUS_VERSION`] stay the same. A different size, count or seed
//! rebuilds it in place.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::one_line::LONG_LINE_BYTES;
use crate::plant::plant;
use crate::rng::Rng;
use crate::settings::Settings;
use crate::truth::Plant;

/// Bump when the corpus layout or the planting changes.
pub const CORPUS_VERSION: u64 = 1;
pub const MIB: u64 = 1 << 20;
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

pub struct Corpus {
    pub tree: PathBuf,
    pub bytes: u64,
    pub files: u64,
    pub copied_from: String,
    pub planted: Vec<Plant>,
}

impl Corpus {
    pub fn open_or_build(dir: &Path, settings: &Settings) -> Corpus {
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

pub fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
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

/// Reads every file once so all tools run with a warm page cache.
pub fn warm_page_cache(tree: &Path) -> u64 {
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
