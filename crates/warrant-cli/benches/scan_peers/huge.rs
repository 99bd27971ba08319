//! The huge run (`SCAN_BENCH_HUGE=1`): a 1 GiB file of one line with a few
//! tokens, scanned by warrant (and the peers with `SCAN_BENCH_HUGE_PEERS=1`):
//! peak memory shows whether a tool stays bounded on a line that long.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::corpus::{Corpus, MIB, warm_page_cache};
use crate::matching::score;
use crate::one_line::{self, Spot};
use crate::report::{mb_read, rss_mib};
use crate::rng::Rng;
use crate::settings::Settings;
use crate::tokens::{FORMATS, generate};
use crate::tools::{Kind, Tool};

/// Writes the file, scans it with each tool asked for, and removes it;
/// returns the report's section.
pub fn huge_report(
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
    let count = 8;
    let spots = (0..count)
        .map(|i| {
            let format = FORMATS[i % FORMATS.len()];
            let mut spot = Spot::new(format, generate(format, &mut rng));
            spot.start = (i as u64 + 1) * (HUGE / (count as u64 + 1)) + rng.below(MIB);
            spot
        })
        .collect();
    let planted = one_line::write(&path, rel, HUGE, spots);
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
                    sc.found_count(),
                    corpus.planted.len(),
                    rss_mib(run),
                    mb_read(tool, run),
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
