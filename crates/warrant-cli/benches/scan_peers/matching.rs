//! Matching findings to planted tokens: a finding counts for a planted
//! token when it is in the same file and its bytes overlap the planted text.
//! A finding with only a line is placed by its secret text (or the SHA-1 of
//! it); a line-only finding on a line holding several planted tokens credits
//! none of them. Each planted token is credited once.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::checksum::sha1_hex;
use crate::corpus::Corpus;
use crate::parse::Found;
use crate::truth::Plant;

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
pub struct Score {
    /// Planted index -> found.
    pub found: Vec<bool>,
    pub other: usize,
    /// Line-only findings on a line holding several planted tokens.
    pub ambiguous: usize,
}

impl Score {
    /// How many planted tokens were found.
    pub fn found_count(&self) -> usize {
        self.found.iter().filter(|f| **f).count()
    }
}

pub fn score(corpus: &Corpus, findings: &[Found]) -> Score {
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
