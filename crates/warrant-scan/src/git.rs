//! Git changes: the lines a commit would add (`--staged`) or that commits
//! since a revision added (`--since`). Real `git` produces the patch; only
//! added lines are scanned, and lines are reported as the file numbers them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ignore::gitignore::GitignoreBuilder;

use crate::Scanner;
use crate::report::{FileFindings, Report, Skipped};
use crate::walk::{IGNORE_FILE, allowed_by};

/// Which changes to scan.
#[derive(Debug, Clone)]
pub enum Changes {
    /// What is staged in the index: what `git commit` would record.
    Staged,
    /// What the commits after this revision (up to `HEAD`) added.
    Since(String),
}

/// What can go wrong asking git.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// `git` could not be started.
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// git refused; its own message follows.
    #[error("git {what} failed: {message}")]
    Failed {
        /// What was asked.
        what: String,
        /// git's stderr.
        message: String,
    },
    /// The revision is not a commit.
    #[error("{0:?} is not a commit in this repository (try a branch, tag or commit id)")]
    BadRevision(String),
    /// Reading git's output failed.
    #[error("cannot read git's output: {0}")]
    Read(#[source] std::io::Error),
}

/// Scans the lines `changes` adds in the repository holding `dir`.
pub fn scan_changes(scanner: &Scanner, dir: &Path, changes: &Changes) -> Result<Report, GitError> {
    let top = PathBuf::from(output(dir, &["rev-parse", "--show-toplevel"], "rev-parse")?.trim());
    let mut args: Vec<String> = ["-c", "core.quotepath=false"].map(String::from).to_vec();
    let common = [
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--unified=0",
        "--diff-filter=ACMRT",
        "--src-prefix=a/",
        "--dst-prefix=b/",
    ];
    match changes {
        Changes::Staged => {
            args.extend(["diff", "--cached"].map(String::from));
            args.extend(common.map(String::from));
        }
        Changes::Since(rev) => {
            if rev.starts_with('-')
                || output(
                    dir,
                    &[
                        "rev-parse",
                        "--verify",
                        "--quiet",
                        &format!("{rev}^{{commit}}"),
                    ],
                    "rev-parse",
                )
                .is_err()
            {
                return Err(GitError::BadRevision(rev.clone()));
            }
            args.extend(["log", "-p", "--format=format:%x00commit %H"].map(String::from));
            args.extend(common.map(String::from));
            args.push(format!("{rev}..HEAD"));
        }
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| GitError::Read(std::io::Error::other("no stdout")))?;
    let mut parser = Parser::new(scanner);
    let read = parser.read(BufReader::with_capacity(1 << 16, stdout));
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().map_err(GitError::Spawn)?;
    read.map_err(GitError::Read)?;
    if !status.success() {
        return Err(GitError::Failed {
            what: args
                .iter()
                .find(|a| *a == "diff" || *a == "log")
                .cloned()
                .unwrap_or_default(),
            message: err.trim().to_owned(),
        });
    }
    let mut report = parser.report;
    let allow: Vec<_> = {
        let file = top.join(IGNORE_FILE);
        let mut b = GitignoreBuilder::new(&top);
        b.add(&file);
        b.build()
            .ok()
            .filter(|_| file.is_file())
            .into_iter()
            .collect()
    };
    for file in &mut report.files {
        if let Some(why) = allowed_by(&allow, &top.join(&file.path)) {
            for f in &mut file.findings {
                f.allowed.get_or_insert_with(|| why.clone());
            }
        }
    }
    report.sort();
    Ok(report)
}

/// Reads a patch, gathering each file's added lines and scanning them.
struct Parser<'a> {
    scanner: &'a Scanner,
    report: Report,
    commit: Option<String>,
    path: Option<String>,
    /// The added lines of the current file, each ending in `\n`.
    added: Vec<u8>,
    /// Per hunk: (first line in `added`, its line in the file), 1-based.
    hunks: Vec<(u64, u64)>,
    added_lines: u64,
    in_hunk: bool,
}

impl<'a> Parser<'a> {
    fn new(scanner: &'a Scanner) -> Parser<'a> {
        Parser {
            scanner,
            report: Report::default(),
            commit: None,
            path: None,
            added: Vec::new(),
            hunks: Vec::new(),
            added_lines: 0,
            in_hunk: false,
        }
    }

    fn read(&mut self, mut input: impl BufRead) -> std::io::Result<()> {
        let mut line = Vec::new();
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            self.line(text);
        }
        self.flush();
        Ok(())
    }

    fn line(&mut self, line: &[u8]) {
        if let Some(rest) = line.strip_prefix(b"\0commit ") {
            self.flush();
            self.commit = Some(String::from_utf8_lossy(rest).into_owned());
        } else if line.starts_with(b"diff --git ") {
            self.flush();
        } else if self.in_hunk && line.first() == Some(&b'+') {
            self.added.extend_from_slice(&line[1..]);
            self.added.push(b'\n');
            self.added_lines += 1;
        } else if let Some(rest) = line.strip_prefix(b"@@ ") {
            self.in_hunk = true;
            let start = new_start(rest).unwrap_or(1);
            self.hunks.push((self.added_lines + 1, start));
        } else if !self.in_hunk {
            if let Some(p) = line.strip_prefix(b"+++ ") {
                self.path = parse_path(p);
            } else if line.starts_with(b"Binary files ") {
                let path = self.path.clone().unwrap_or_else(|| binary_path(line));
                self.report.skipped.push(Skipped {
                    path,
                    reason: "binary (git shows no text for it)".into(),
                });
            }
        }
    }

    /// Scans the current file's added lines.
    fn flush(&mut self) {
        self.in_hunk = false;
        let path = self.path.take();
        if let Some(path) = path
            && !self.added.is_empty()
        {
            let mut findings = self.scanner.scan_bytes(&self.added);
            for f in &mut findings {
                let hunk = self.hunks.iter().rev().find(|(first, _)| *first <= f.line);
                if let Some((first, start)) = hunk {
                    f.line = start + (f.line - first);
                }
            }
            self.report.files_scanned += 1;
            self.report.bytes_scanned += self.added.len() as u64;
            if !findings.is_empty() {
                self.report.files.push(FileFindings {
                    path,
                    commit: self.commit.clone(),
                    findings,
                });
            }
        }
        self.added.clear();
        self.hunks.clear();
        self.added_lines = 0;
    }
}

/// The new file's first line from a hunk header's rest: `-a,b +c,d @@`.
fn new_start(rest: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(rest).ok()?;
    let plus = text.split(' ').find(|w| w.starts_with('+'))?;
    plus[1..].split(',').next()?.parse().ok()
}

/// `b/path` or `"b/quoted\tpath"` (git's C-style quoting) or `/dev/null`.
fn parse_path(p: &[u8]) -> Option<String> {
    let p = if p.first() == Some(&b'"') {
        unquote(p)?
    } else {
        p.to_vec()
    };
    let p = p.strip_prefix(b"b/")?;
    Some(String::from_utf8_lossy(p).into_owned())
}

/// Undoes git's C-style quoting of a path.
fn unquote(q: &[u8]) -> Option<Vec<u8>> {
    let inner = q.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let b = inner[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let e = *inner.get(i)?;
        i += 1;
        out.push(match e {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'0'..=b'7' => {
                let digits = inner.get(i - 1..i + 2)?;
                i += 2;
                u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()?
            }
            other => other,
        });
    }
    Some(out)
}

fn binary_path(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    text.rsplit(" and ")
        .next()
        .map(|s| {
            s.trim_end_matches(" differ")
                .trim_start_matches("b/")
                .to_owned()
        })
        .unwrap_or_default()
}

fn output(dir: &Path, args: &[&str], what: &str) -> Result<String, GitError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            what: what.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_headers_give_the_new_start() {
        assert_eq!(new_start(b"-0,0 +1,3 @@"), Some(1));
        assert_eq!(new_start(b"-10 +12 @@ fn main()"), Some(12));
    }

    #[test]
    fn quoted_paths_are_unquoted() {
        assert_eq!(
            parse_path(b"\"b/a\\tb\\303\\251\"").as_deref(),
            Some("a\tb\u{e9}")
        );
        assert_eq!(
            parse_path(b"b/plain name.txt").as_deref(),
            Some("plain name.txt")
        );
        assert_eq!(parse_path(b"/dev/null"), None);
    }
}
