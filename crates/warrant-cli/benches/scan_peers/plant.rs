//! Planting: puts each token mid-line or at a line start in an existing
//! text file, or in a new file (some of them dotfiles like `.env`), or in
//! the single-line file ([`crate::one_line`]), and records where it went.

use std::fs;
use std::path::{Path, PathBuf};

use crate::corpus::{MIB, walk_files};
use crate::one_line::{BOUNDARIES, long_line};
use crate::rng::Rng;
use crate::tokens::{FORMATS, Format, Style, Token, generate, render};
use crate::truth::{Placement, Plant};

/// Existing files that tokens may be planted in.
const TEXT_EXTENSIONS: [&str; 16] = [
    "rs", "toml", "md", "txt", "py", "c", "h", "js", "json", "yml", "yaml", "sh", "html", "go",
    "cfg", "ini",
];

/// Plants `n` tokens in the tree; returns the ground truth.
pub fn plant(tree: &Path, n: usize, rng: &mut Rng) -> Vec<Plant> {
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
