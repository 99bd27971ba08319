//! A parallel walk over files: `.gitignore` honoured, binaries and
//! generated files skipped by rule and reported, never dropped silently.

use std::fs::File;
use std::io::{self, Chain, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{WalkBuilder, WalkState};

use crate::Scanner;
use crate::report::{FileError, FileFindings, Report, Skipped};

/// The allowlist file: gitignore syntax; findings in matching files are
/// reported as allowed rather than counted.
pub const IGNORE_FILE: &str = ".warrantignore";

/// How many leading bytes decide whether a file is binary.
const SNIFF: usize = 8192;

/// Files that are generated and hold hashes, not credentials.
const GENERATED: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "flake.lock",
];

/// Options for a walk.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Skip files that look binary (a NUL byte early on).
    pub skip_binary: bool,
    /// Skip lock files, minified scripts and source maps.
    pub skip_generated: bool,
    /// Honour `.gitignore`, `.ignore` and git's exclude files.
    pub gitignore: bool,
    /// Worker threads; 0 for one per core.
    pub threads: usize,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            skip_binary: true,
            skip_generated: true,
            gitignore: true,
            threads: 0,
        }
    }
}

/// Counters a progress display reads while the walk runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files scanned so far.
    pub files: AtomicU64,
    /// Bytes scanned so far.
    pub bytes: AtomicU64,
}

/// Scans every file under `roots` (files or directories).
pub fn scan_paths(
    scanner: &Scanner,
    roots: &[PathBuf],
    opts: &WalkOptions,
    progress: &Progress,
) -> Report {
    let report = Mutex::new(Report::default());
    let allow = allowlists(roots);
    let Some((first, rest)) = roots.split_first() else {
        return Report::default();
    };
    let mut builder = WalkBuilder::new(first);
    for r in rest {
        builder.add(r);
    }
    builder
        .hidden(false)
        .git_ignore(opts.gitignore)
        .git_exclude(opts.gitignore)
        .git_global(opts.gitignore)
        .ignore(opts.gitignore)
        .parents(opts.gitignore)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".git")
        .threads(opts.threads);
    builder.build_parallel().run(|| {
        let report = &report;
        let allow = &allow;
        let mut buf = Vec::new();
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = error_path(&e);
                    lock(report).errors.push(FileError {
                        path,
                        message: e.to_string(),
                    });
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let path = entry.path();
            if opts.skip_generated
                && let Some(reason) = generated(path)
            {
                lock(report).skipped.push(Skipped {
                    path: display(path),
                    reason: reason.to_owned(),
                });
                return WalkState::Continue;
            }
            match scan_file(scanner, path, opts, &mut buf) {
                Ok(Outcome::Scanned(bytes, mut findings)) => {
                    progress.files.fetch_add(1, Ordering::Relaxed);
                    progress.bytes.fetch_add(bytes, Ordering::Relaxed);
                    if !findings.is_empty()
                        && let Some(why) = allowed_by(allow, path)
                    {
                        for f in &mut findings {
                            f.allowed.get_or_insert_with(|| why.clone());
                        }
                    }
                    let mut r = lock(report);
                    r.files_scanned += 1;
                    r.bytes_scanned += bytes;
                    if !findings.is_empty() {
                        r.files.push(FileFindings {
                            path: display(path),
                            commit: None,
                            findings,
                        });
                    }
                }
                Ok(Outcome::Binary) => lock(report).skipped.push(Skipped {
                    path: display(path),
                    reason: "binary (a NUL byte in its first 8 KiB)".to_owned(),
                }),
                Err(e) => lock(report).errors.push(FileError {
                    path: display(path),
                    message: e.to_string(),
                }),
            }
            WalkState::Continue
        })
    });
    let mut report = report.into_inner().unwrap_or_else(|p| p.into_inner());
    report.sort();
    report
}

enum Outcome {
    Scanned(u64, Vec<crate::Finding>),
    Binary,
}

fn scan_file(
    scanner: &Scanner,
    path: &Path,
    opts: &WalkOptions,
    buf: &mut Vec<u8>,
) -> io::Result<Outcome> {
    let mut file = File::open(path)?;
    let mut head = Vec::with_capacity(SNIFF);
    (&mut file).take(SNIFF as u64).read_to_end(&mut head)?;
    if opts.skip_binary && memchr::memchr(0, &head).is_some() {
        return Ok(Outcome::Binary);
    }
    let mut counted = Counted {
        inner: Cursor::new(head).chain(file),
        bytes: 0,
    };
    let findings = scanner.scan_reader(&mut counted, buf)?;
    Ok(Outcome::Scanned(counted.bytes, findings))
}

/// A reader that counts what it yields.
struct Counted {
    inner: Chain<Cursor<Vec<u8>>, File>,
    bytes: u64,
}

impl Read for Counted {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Why `path` is a generated file not worth scanning, if it is one.
fn generated(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    if GENERATED.contains(&name) {
        return Some("generated (a lock file)");
    }
    if name.ends_with(".min.js") || name.ends_with(".min.css") {
        return Some("generated (minified)");
    }
    if name.ends_with(".js.map") || name.ends_with(".css.map") {
        return Some("generated (a source map)");
    }
    None
}

/// The `.warrantignore` files at each root directory (and the current
/// directory), as matchers.
fn allowlists(roots: &[PathBuf]) -> Vec<Gitignore> {
    let mut dirs: Vec<PathBuf> = roots
        .iter()
        .filter(|r| r.is_dir())
        .filter_map(|r| std::path::absolute(r).ok())
        .collect();
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd);
    }
    dirs.sort();
    dirs.dedup();
    dirs.iter()
        .filter_map(|d| {
            let file = d.join(IGNORE_FILE);
            if !file.is_file() {
                return None;
            }
            let mut b = GitignoreBuilder::new(d);
            b.add(&file);
            b.build().ok()
        })
        .collect()
}

/// Why a finding in `path` is allowed by a `.warrantignore`, if it is.
pub(crate) fn allowed_by(allow: &[Gitignore], path: &Path) -> Option<String> {
    let path = std::path::absolute(path).ok()?;
    allow.iter().find_map(|g| {
        let root = std::path::absolute(g.path()).ok()?;
        // The matcher wants paths below its root (it panics otherwise).
        let rel = path.strip_prefix(&root).ok()?;
        match g.matched_path_or_any_parents(rel, false) {
            ignore::Match::Ignore(glob) => Some(format!("{IGNORE_FILE}: {}", glob.original())),
            _ => None,
        }
    })
}

fn error_path(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { path, .. } => display(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => String::new(),
    }
}

fn display(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_owned()
}

fn lock(m: &Mutex<Report>) -> std::sync::MutexGuard<'_, Report> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
