//! What a scan found, and its renderings: for people, JSON and SARIF.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use crate::{Finding, RuleInfo};

/// The findings in one file (or one file of one commit).
#[derive(Debug, Clone, Serialize)]
pub struct FileFindings {
    /// The file, as given or found by the walk.
    pub path: String,
    /// The commit that added these lines, for `--since`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// What was found, in order.
    pub findings: Vec<Finding>,
}

/// A file left out by rule, with the rule.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The file.
    pub path: String,
    /// Why it was not scanned.
    pub reason: String,
}

/// A file that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    /// The file (empty if the walk could not say).
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// Everything one scan found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Files with findings (allowed ones included).
    pub files: Vec<FileFindings>,
    /// Files left out by rule.
    pub skipped: Vec<Skipped>,
    /// Files that could not be read.
    pub errors: Vec<FileError>,
    /// How many files were scanned.
    pub files_scanned: u64,
    /// How many bytes were scanned.
    pub bytes_scanned: u64,
}

/// Totals for the summary line and exit codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Findings no allowlist covers.
    pub findings: usize,
    /// Findings an allowlist covers.
    pub allowed: usize,
}

impl Report {
    /// Orders files and entries so that output is the same run to run.
    pub fn sort(&mut self) {
        self.files
            .sort_by(|a, b| (&a.path, &a.commit).cmp(&(&b.path, &b.commit)));
        self.skipped.sort_by(|a, b| a.path.cmp(&b.path));
        self.errors.sort_by(|a, b| a.path.cmp(&b.path));
    }

    /// Findings that count, and allowed ones.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for f in self.files.iter().flat_map(|f| &f.findings) {
            if f.allowed.is_some() {
                c.allowed += 1;
            } else {
                c.findings += 1;
            }
        }
        c
    }

    /// Adds another report's content (one scan of several sources).
    pub fn merge(&mut self, other: Report) {
        self.files.extend(other.files);
        self.skipped.extend(other.skipped);
        self.errors.extend(other.errors);
        self.files_scanned += other.files_scanned;
        self.bytes_scanned += other.bytes_scanned;
    }

    /// For people: one line per finding, then what was skipped and a total.
    pub fn human(&self, verbose: bool) -> String {
        let mut out = String::new();
        for file in &self.files {
            for f in &file.findings {
                let at = match &file.commit {
                    Some(c) => format!("{}@{}", file.path, short(c)),
                    None => file.path.clone(),
                };
                let shown = if f.excerpt.is_empty() {
                    String::new()
                } else {
                    format!(" `{}`", f.excerpt)
                };
                let _ = write!(
                    out,
                    "{at}:{}:{}: {} ({}){shown}",
                    f.line, f.column, f.description, f.rule
                );
                if let Some(why) = &f.allowed {
                    let _ = write!(out, " [allowed by {why}]");
                }
                out.push('\n');
            }
        }
        for e in &self.errors {
            let _ = writeln!(out, "error: {}: {}", e.path, e.message);
        }
        if verbose {
            for s in &self.skipped {
                let _ = writeln!(out, "skipped: {}: {}", s.path, s.reason);
            }
        }
        let c = self.counts();
        let with = self
            .files
            .iter()
            .filter(|f| f.findings.iter().any(|x| x.allowed.is_none()))
            .count();
        let _ = write!(
            out,
            "{} finding{} in {with} file{} ({} scanned, {})",
            c.findings,
            plural(c.findings),
            plural(with),
            self.files_scanned,
            bytes(self.bytes_scanned),
        );
        if c.allowed > 0 {
            let _ = write!(out, "; {} allowed", c.allowed);
        }
        if !self.skipped.is_empty() {
            let _ = write!(out, "; {} skipped by rule", self.skipped.len());
            if !verbose {
                out.push_str(" (--verbose lists them)");
            }
        }
        if !self.errors.is_empty() {
            let _ = write!(out, "; {} unreadable", self.errors.len());
        }
        out.push('\n');
        out
    }

    /// The report as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["counts"] = serde_json::to_value(self.counts()).unwrap_or_default();
        v
    }

    /// The report as SARIF 2.1.0, for code-scanning dashboards.
    pub fn sarif<'a>(&self, rules: impl Iterator<Item = &'a RuleInfo>) -> serde_json::Value {
        let mut rule_list: Vec<serde_json::Value> = rules
            .map(|r| {
                json!({
                    "id": r.id,
                    "name": r.id,
                    "shortDescription": {"text": r.name},
                })
            })
            .collect();
        rule_list.push(json!({
            "id": "store-value",
            "name": "store-value",
            "shortDescription": {"text": "A value held in warrant's store"},
        }));
        let results: Vec<serde_json::Value> = self
            .files
            .iter()
            .flat_map(|file| file.findings.iter().map(move |f| (file, f)))
            .map(|(file, f)| {
                let mut result = json!({
                    "ruleId": f.rule,
                    "level": "error",
                    "message": {"text": format!("{} found", f.description)},
                    "locations": [{
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri(&file.path)},
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.column,
                                "byteOffset": f.offset,
                                "byteLength": f.length,
                            }
                        }
                    }],
                    "partialFingerprints": {
                        "warrant/v1": format!("{}:{}:{}", file.path, f.rule, f.line),
                    },
                });
                if let Some(c) = &file.commit {
                    result["properties"] = json!({"commit": c});
                }
                if let Some(why) = &f.allowed {
                    result["suppressions"] = json!([{"kind": "inSource", "justification": why}]);
                }
                result
            })
            .collect();
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "warrant",
                    "informationUri": "https://github.com/warrant-dev/warrant",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rule_list,
                }},
                "results": results,
            }]
        })
    }
}

/// A relative path as a SARIF URI (percent-encoding what URIs cannot hold).
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / MIB)
    }
}
