//! The Markdown report: the corpus, then per tool wall time, throughput,
//! recall, peak memory and other findings; recall by format and by
//! placement; the targets (throughput and recall against the peers); the
//! command lines. Also writes `<tool>-missed.tsv` for a closer look.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::corpus::Corpus;
use crate::matching::{Score, score};
use crate::measure::{Row, Run};
use crate::settings::Settings;
use crate::tokens::FORMATS;
use crate::tools::{Kind, Tool};
use crate::truth::{Placement, Plant};

pub fn corpus_report(corpus: &Corpus, s: &Settings) -> String {
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

pub fn results_report(corpus: &Corpus, tools: &[Tool], rows: &[Row], work: &Path) -> String {
    let results = Results {
        corpus,
        tools,
        rows,
        scores: rows
            .iter()
            .map(|r| r.outcome.as_ref().ok().map(|(_, f)| score(corpus, f)))
            .collect(),
    };
    let mut out = String::new();
    results.table(&mut out);
    results.write_missed(work);
    let ran: Vec<(&Tool, &Score)> = tools
        .iter()
        .zip(&results.scores)
        .filter_map(|(t, s)| s.as_ref().map(|s| (t, s)))
        .collect();
    if !ran.is_empty() {
        recall_tables(&mut out, corpus, &ran);
    }
    results.targets(&mut out);
    command_lines(&mut out, tools);
    out
}

/// The corpus run's results: each tool with its row and, where it ran, the
/// score of its findings.
struct Results<'a> {
    corpus: &'a Corpus,
    tools: &'a [Tool],
    rows: &'a [Row],
    scores: Vec<Option<Score>>,
}

/// Peak memory in MiB, `?` where unknown.
pub fn rss_mib(run: &Run) -> String {
    run.peak_rss_kib
        .map_or("?".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0))
}

/// The MB the tool says it read, `?` where it does not say.
pub fn mb_read(tool: &Tool, run: &Run) -> String {
    tool.bytes_read(run)
        .map_or("?".to_owned(), |b| format!("{:.1}", b as f64 / 1e6))
}

impl Results<'_> {
    /// One row a tool, and the timed runs made.
    fn table(&self, out: &mut String) {
        let (corpus, tools, rows, scores) = (self.corpus, self.tools, self.rows, &self.scores);
        let n = corpus.planted.len();
        let warrant_wall = tools
            .iter()
            .zip(rows)
            .find(|(t, _)| t.kind == Kind::Warrant)
            .and_then(|(_, r)| r.outcome.as_ref().ok().map(|(run, _)| run.wall));
        let _ = writeln!(
            out,
            "| tool | version | wall s | MB/s | warrant is N× faster | recall (found/planted) | peak RSS MiB | other findings | MB read (its own count) |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for ((tool, row), sc) in tools.iter().zip(rows).zip(scores) {
            match (&row.outcome, sc) {
                (Ok((run, _)), Some(sc)) => {
                    let secs = run.wall.as_secs_f64();
                    let found = sc.found_count();
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
                        rss_mib(run),
                        sc.other,
                        mb_read(tool, run),
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
    }

    /// What each tool missed, for a closer look: `<tool>-missed.tsv` in
    /// `work`.
    fn write_missed(&self, work: &Path) {
        let (corpus, tools, scores) = (self.corpus, self.tools, &self.scores);
        for (tool, sc) in tools.iter().zip(scores) {
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
    }

    /// Warrant against the targets: twice the fastest peer's throughput, at
    /// least the best peer's recall.
    fn targets(&self, out: &mut String) {
        let (corpus, tools, rows, scores) = (self.corpus, self.tools, self.rows, &self.scores);
        let n = corpus.planted.len();
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
                .zip(scores)
                .find(|(x, _)| x.name == t.name)
                .and_then(|(_, s)| s.as_ref())
                .map(Score::found_count)
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
    }
}

/// Recall by format and by placement, a column a tool that ran.
fn recall_tables(out: &mut String, corpus: &Corpus, ran: &[(&Tool, &Score)]) {
    let header = |out: &mut String, first: &str| {
        let _ = write!(out, "\n| {first} | planted |");
        for (t, _) in ran {
            let _ = write!(out, " {} |", t.name);
        }
        let _ = write!(out, "\n|---|---:|");
        for _ in ran {
            let _ = write!(out, "---:|");
        }
        let _ = writeln!(out);
    };
    let _ = writeln!(out, "\nRecall by format:");
    header(out, "format");
    for format in FORMATS {
        recall_row(out, format.id(), corpus, ran, |p| p.format == format);
    }
    let _ = writeln!(out, "\nRecall by placement:");
    header(out, "placement");
    for placement in Placement::ALL {
        recall_row(out, placement.id(), corpus, ran, |p| {
            p.placement == placement
        });
    }
    recall_row(out, "(of which in dotfiles)", corpus, ran, |p| {
        p.file.split('/').any(|c| c.starts_with('.'))
    });
}

/// How many of the planted tokens that `keep` picks each tool found.
fn recall_row(
    out: &mut String,
    label: &str,
    corpus: &Corpus,
    ran: &[(&Tool, &Score)],
    keep: impl Fn(&Plant) -> bool,
) {
    let idx: Vec<usize> = (0..corpus.planted.len())
        .filter(|&i| keep(&corpus.planted[i]))
        .collect();
    let _ = write!(out, "| {label} | {} |", idx.len());
    for (_, s) in ran {
        let k = idx.iter().filter(|&&i| s.found[i]).count();
        let _ = write!(out, " {k} |");
    }
    let _ = writeln!(out);
}

/// Each tool's command line, with the corpus tree as `PATH`.
fn command_lines(out: &mut String, tools: &[Tool]) {
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
}

fn join_args(cmd: &Command) -> String {
    cmd.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
