//! Reading each tool's report into [`Found`] findings (JSON for most, a
//! grep-like `path:line:match` for ripsecrets), and the bytes each tool says
//! it scanned.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::measure::Run;
use crate::tools::{Kind, Tool};

/// A finding as a tool reports it, with what is known of where it is.
#[derive(Default)]
pub struct Found {
    pub file: String,
    /// 1-based.
    pub line: Option<u64>,
    pub end_line: Option<u64>,
    /// 0-based byte column of the match on `line`, a hint.
    pub column: Option<u64>,
    /// The secret as the tool prints it.
    pub text: Option<String>,
    /// The SHA-1 of the secret, hex (detect-secrets).
    pub sha1: Option<String>,
    /// Exact byte range in the file.
    pub range: Option<(u64, u64)>,
}

impl Tool {
    pub fn parse(&self, output: &Path, tree: &Path) -> Result<Vec<Found>, String> {
        let text = fs::read_to_string(output).map_err(|e| e.to_string())?;
        let mut found = Vec::new();
        let path = |p: &str| normalize(p, tree);
        let str_of = |v: &Value| v.as_str().map(str::to_owned);
        match self.kind {
            Kind::Warrant => {
                let v = first_document(&text)?;
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
                    let offset = f["offset"].as_u64();
                    let length = f["length"].as_u64();
                    found.push(Found {
                        file: path(p),
                        line: f["line"].as_u64(),
                        column: f["column"].as_u64().map(|c| c.saturating_sub(1)),
                        range: offset.zip(length).map(|(o, l)| (o, o + l.max(1))),
                        ..Found::default()
                    });
                }
            }
            Kind::Kingfisher => {
                let v = first_document(&text)?;
                for f in v["findings"].as_array().into_iter().flatten() {
                    let f = &f["finding"];
                    found.push(Found {
                        file: path(f["path"].as_str().unwrap_or_default()),
                        line: f["line"].as_u64(),
                        column: f["column_start"].as_u64(),
                        text: str_of(&f["snippet"]),
                        ..Found::default()
                    });
                }
            }
            Kind::Gitleaks => {
                let v = first_document(&text)?;
                for f in v.as_array().into_iter().flatten() {
                    found.push(Found {
                        file: path(f["File"].as_str().unwrap_or_default()),
                        line: f["StartLine"].as_u64(),
                        end_line: f["EndLine"].as_u64(),
                        column: f["StartColumn"].as_u64().map(|c| c.saturating_sub(1)),
                        text: str_of(&f["Secret"]).filter(|s| !s.is_empty()),
                        ..Found::default()
                    });
                }
            }
            Kind::Betterleaks => {
                let v = first_document(&text)?;
                for f in v["findings"].as_array().into_iter().flatten() {
                    let loc = &f["location"];
                    found.push(Found {
                        file: path(loc["path"].as_str().unwrap_or_default()),
                        line: loc["start_line"].as_u64(),
                        end_line: loc["end_line"].as_u64(),
                        column: loc["start_column"].as_u64().map(|c| c.saturating_sub(1)),
                        text: str_of(&f["match"]["value"]).filter(|s| !s.is_empty()),
                        ..Found::default()
                    });
                }
            }
            Kind::Ripsecrets => {
                for line in text.lines() {
                    if let Some((file, line_no, matched)) = split_grep_line(line) {
                        found.push(Found {
                            file: path(file),
                            line: Some(line_no),
                            text: Some(matched.to_owned()),
                            ..Found::default()
                        });
                    }
                }
            }
            Kind::DetectSecrets => {
                let v = first_document(&text)?;
                for (file, list) in v["results"].as_object().into_iter().flatten() {
                    for f in list.as_array().into_iter().flatten() {
                        found.push(Found {
                            file: path(file),
                            line: f["line_number"].as_u64(),
                            sha1: str_of(&f["hashed_secret"]),
                            ..Found::default()
                        });
                    }
                }
            }
        }
        Ok(found)
    }

    /// How many bytes the tool says it scanned, where it says so: shows
    /// what it skipped.
    pub fn bytes_read(&self, run: &Run) -> Option<u64> {
        let first_json = |path: &Path| first_document(&fs::read_to_string(path).ok()?).ok();
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
}

/// The first JSON document in `text` (a summary may follow), `null` when
/// there is none.
fn first_document(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
        .unwrap_or(Ok(Value::Null))
        .map_err(|e| e.to_string())
}

pub fn strip_ansi(s: &str) -> String {
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
