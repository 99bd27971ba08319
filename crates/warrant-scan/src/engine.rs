//! The scanning pass: keyword prefilter, rule regexes around each keyword,
//! store values, all over chunks that overlap by more than any match.

use std::io::{self, Read};
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use memchr::memchr_iter;
use serde::Serialize;
use warrant_redact::Redactor;

use crate::Error;
use crate::rules::{self, Rule, RuleInfo};

/// The longest match a rule may declare (PEM private keys are the longest).
pub(crate) const MAX_MATCH: usize = 16 * 1024;

/// Bytes before a chunk's first reportable position kept for look-behind
/// (`\b`, a keyword just before a value).
const CONTEXT: usize = 256;

/// The marker that allows a finding on its line.
pub const ALLOW_MARKER: &[u8] = b"warrant:allow";

/// How far from a finding, on its line, the allow marker is looked for.
const MARKER_REACH: usize = 4096;

/// Which detector found a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A value held in warrant's store, in one of its forms.
    StoreValue,
    /// A credential format (a rule with a prefix, length or checksum).
    Format,
    /// A generic assignment (`password = ...`) with enough entropy.
    Generic,
}

/// One secret found. It carries where and what, never the secret itself.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The rule id (`github-pat`), or `store-value`.
    pub rule: String,
    /// For people: the rule's name, or `value of NAME` for a store value.
    pub description: String,
    /// Which detector found it.
    pub kind: Kind,
    /// The store name of the value, for store values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Byte offset of the secret in the scanned content.
    pub offset: u64,
    /// Its length in bytes.
    pub length: usize,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// The start of the secret followed by `*`s; empty for store values,
    /// whose first bytes are not shown either.
    pub excerpt: String,
    /// Why this finding does not count, when an allowlist covers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<String>,
}

/// Options for a [`Scanner`].
#[derive(Debug, Default)]
pub struct ScannerBuilder {
    values: Option<Redactor>,
    no_formats: bool,
    no_generic: bool,
    disabled: Vec<String>,
    chunk: Option<usize>,
}

impl ScannerBuilder {
    /// Also find these store values (every form the redactor matches).
    pub fn values(mut self, redactor: Redactor) -> Self {
        self.values = Some(redactor);
        self
    }

    /// Leave out the format rules.
    pub fn no_formats(mut self) -> Self {
        self.no_formats = true;
        self
    }

    /// Leave out the generic assignment rules.
    pub fn no_generic(mut self) -> Self {
        self.no_generic = true;
        self
    }

    /// Leave out the rule with this id.
    pub fn disable(mut self, id: &str) -> Self {
        self.disabled.push(id.to_owned());
        self
    }

    /// Read content in chunks of this many bytes (at least twice the
    /// overlap; for tests of chunk edges).
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk = Some(bytes);
        self
    }

    /// Compiles the scanner.
    pub fn build(self) -> Result<Scanner, Error> {
        let mut rules = rules::builtin()?;
        for id in &self.disabled {
            if !rules.iter().any(|r| &r.info.id == id) {
                return Err(Error::Rule {
                    rule: id.clone(),
                    message: "no rule has this id (see `warrant scan --list-rules`)".into(),
                });
            }
        }
        rules.retain(|r| {
            !(self.disabled.contains(&r.info.id)
                || (self.no_formats && !r.info.generic)
                || (self.no_generic && r.info.generic))
        });
        let mut keywords = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            for k in &rule.keywords {
                let k = k.to_ascii_lowercase();
                match keywords.iter().position(|x| x == &k) {
                    Some(at) => keyword_rules[at].push(i),
                    None => {
                        keywords.push(k);
                        keyword_rules.push(vec![i]);
                    }
                }
            }
        }
        // The search reports the longest keyword at each position, so a
        // keyword inside a longer one (`secret` in `client_secret`) also
        // answers for the longer one's hits: its window covers them.
        let direct = keyword_rules.clone();
        for (i, outer) in keywords.iter().enumerate() {
            for (j, inner) in keywords.iter().enumerate() {
                if i != j && outer.contains(inner.as_str()) {
                    keyword_rules[i].extend(&direct[j]);
                }
            }
            keyword_rules[i].sort_unstable();
            keyword_rules[i].dedup();
        }
        let automaton = if keywords.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    // A DFA costs memory (a few MiB for hundreds of
                    // keywords) and is about twice as fast as the NFA here.
                    .kind(Some(AhoCorasickKind::DFA))
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&keywords)
                    .map_err(|e| Error::Rule {
                        rule: "keywords".into(),
                        message: e.to_string(),
                    })?,
            )
        };
        let longest_rule = rules.iter().map(|r| r.max_len).max().unwrap_or(0);
        let longest_value = self.values.as_ref().map_or(0, Redactor::longest_pattern);
        let overlap = longest_rule.max(longest_value) + CONTEXT;
        let chunk = self.chunk.unwrap_or(1 << 20).max(overlap * 3 + 1);
        Ok(Scanner {
            rules,
            automaton,
            keyword_rules,
            values: self.values.filter(|v| v.pattern_count() > 0),
            overlap,
            chunk,
        })
    }
}

/// A compiled scanner; share it between threads.
#[derive(Debug)]
pub struct Scanner {
    rules: Vec<Rule>,
    automaton: Option<AhoCorasick>,
    keyword_rules: Vec<Vec<usize>>,
    values: Option<Redactor>,
    /// Bytes each chunk shares with the next.
    overlap: usize,
    chunk: usize,
}

/// What was found, before lines and excerpts are worked out.
struct Hit {
    span: Range<usize>,
    /// A rule index, or `None` for a store value.
    rule: Option<usize>,
    label: Option<String>,
}

/// Line, column and overlap bookkeeping across chunks.
struct Lines {
    /// Absolute offset up to which newlines are counted.
    pos: u64,
    line: u64,
    line_start: u64,
    /// Absolute end of the last finding reported (across chunks).
    reported_end: u64,
}

impl Lines {
    fn new() -> Lines {
        Lines {
            pos: 0,
            line: 1,
            line_start: 0,
            reported_end: 0,
        }
    }

    /// Counts the newlines from where the last count stopped up to `to`
    /// (an offset in `hay`, which starts at absolute offset `base`).
    fn advance(&mut self, hay: &[u8], base: u64, to: usize) {
        let from = usize::try_from(self.pos.saturating_sub(base)).unwrap_or(usize::MAX);
        if from >= to {
            return;
        }
        for nl in memchr_iter(b'\n', &hay[from..to]) {
            self.line += 1;
            self.line_start = base + (from + nl) as u64 + 1;
        }
        self.pos = base + to as u64;
    }
}

impl Scanner {
    /// Options: store values, rules left out.
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// The rules this scanner applies.
    pub fn rules(&self) -> impl Iterator<Item = &RuleInfo> {
        self.rules.iter().map(|r| &r.info)
    }

    /// Scans content that is already in memory.
    pub fn scan_bytes(&self, data: &[u8]) -> Vec<Finding> {
        let mut lines = Lines::new();
        let mut out = Vec::new();
        self.scan_chunk(data, 0, 0..data.len(), &mut lines, &mut out);
        out
    }

    /// Scans everything `reader` yields, in chunks: memory stays bounded by
    /// the chunk size however long the content or its lines are. `buf` is
    /// scratch space to reuse between calls.
    pub fn scan_reader(
        &self,
        reader: &mut dyn Read,
        buf: &mut Vec<u8>,
    ) -> io::Result<Vec<Finding>> {
        // Grown once and reused: zeroing a chunk per small file would cost
        // more than scanning it.
        if buf.len() != self.chunk {
            buf.resize(self.chunk, 0);
        }
        let mut lines = Lines::new();
        let mut out = Vec::new();
        // `buf[..filled]` holds content from absolute offset `base`; matches
        // starting before `from` were reported by the previous chunk.
        let mut base: u64 = 0;
        let mut filled = 0;
        let mut from = 0;
        loop {
            let mut eof = false;
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let until = if eof { filled } else { filled - self.overlap };
            self.scan_chunk(&buf[..filled], base, from..until, &mut lines, &mut out);
            if eof {
                return Ok(out);
            }
            // Keep the overlap, and as much again before it so that a match
            // whose secret starts after `until` is seen whole next time.
            let keep_from = until - self.overlap;
            buf.copy_within(keep_from..filled, 0);
            base += keep_from as u64;
            filled -= keep_from;
            from = self.overlap;
        }
    }

    /// Finds every secret in `hay` (content from absolute offset `base`)
    /// that starts inside `report`, in order.
    fn scan_chunk(
        &self,
        hay: &[u8],
        base: u64,
        report: Range<usize>,
        lines: &mut Lines,
        out: &mut Vec<Finding>,
    ) {
        let mut hits = Vec::new();
        if let Some(values) = &self.values {
            for (span, label) in values.find_all(hay) {
                if report.contains(&span.start) {
                    hits.push(Hit {
                        span,
                        rule: None,
                        label: Some(label.to_owned()),
                    });
                }
            }
        }
        if let Some(ac) = &self.automaton {
            self.rule_hits(ac, hay, &report, &mut hits);
        }
        // Where several detectors find overlapping bytes, the earliest start
        // wins; at one start, a store value, then a format (in rule order),
        // then a generic assignment, then the longest.
        let rank = |h: &Hit| match h.rule {
            None => (0, 0),
            Some(r) if !self.rules[r].info.generic => (1, r),
            Some(r) => (2, r),
        };
        hits.sort_by_key(|h| (h.span.start, rank(h), std::cmp::Reverse(h.span.end)));
        for hit in hits {
            let end = base + hit.span.end as u64;
            if base + (hit.span.start as u64) < lines.reported_end {
                continue;
            }
            lines.reported_end = end;
            lines.advance(hay, base, hit.span.start);
            out.push(self.finding(hay, base, hit, lines));
        }
        lines.advance(hay, base, report.end);
    }

    /// Runs each rule's regex around the keywords that occur in `hay`.
    fn rule_hits(&self, ac: &AhoCorasick, hay: &[u8], report: &Range<usize>, hits: &mut Vec<Hit>) {
        // Per rule, the window being grown; regexes run once per window.
        let mut windows: Vec<Option<Range<usize>>> = vec![None; self.rules.len()];
        let scan_until = (report.end + self.overlap).min(hay.len());
        let search_from = report.start.saturating_sub(self.overlap);
        let text = &hay[..scan_until];
        let mut at = search_from;
        // The longest keyword at each position where one starts; resuming
        // one byte on (not after the match) also finds keywords that begin
        // inside another. Hits are rare, so restarting the search is cheap.
        while at < scan_until {
            let Some(m) = ac.find(aho_corasick::Input::new(text).span(at..scan_until)) else {
                break;
            };
            at = m.start() + 1;
            for &r in &self.keyword_rules[m.pattern().as_usize()] {
                let reach = self.rules[r].max_len;
                let win = m.start().saturating_sub(reach)..(m.end() + reach).min(hay.len());
                match &mut windows[r] {
                    Some(cur) if win.start <= cur.end => {
                        cur.start = cur.start.min(win.start);
                        cur.end = cur.end.max(win.end);
                    }
                    slot => {
                        if let Some(done) = slot.replace(win) {
                            self.run_rule(r, hay, done, report, hits);
                        }
                    }
                }
            }
        }
        for (r, win) in windows.into_iter().enumerate() {
            if let Some(win) = win {
                self.run_rule(r, hay, win, report, hits);
            }
        }
    }

    fn run_rule(
        &self,
        r: usize,
        hay: &[u8],
        win: Range<usize>,
        report: &Range<usize>,
        hits: &mut Vec<Hit>,
    ) {
        let rule = &self.rules[r];
        // One byte past the window so that `\b` and `$` see what follows.
        let text = &hay[..(win.end + 1).min(hay.len())];
        let mut at = win.start;
        while at < win.end {
            let span = match rule.regex.secret_group() {
                Some(g) => {
                    let Some(caps) = rule.regex.get().captures_at(text, at) else {
                        break;
                    };
                    let whole = caps.get(0).map_or(at..at, |m| m.range());
                    at = whole.end.max(at + 1);
                    match caps.get(g) {
                        Some(s) => s.range(),
                        None => continue,
                    }
                }
                None => {
                    let Some(m) = rule.regex.get().find_at(text, at) else {
                        break;
                    };
                    at = m.end().max(at + 1);
                    m.range()
                }
            };
            if span.is_empty() || !report.contains(&span.start) {
                continue;
            }
            if rule.accepts(&hay[span.clone()]) {
                hits.push(Hit {
                    span,
                    rule: Some(r),
                    label: None,
                });
            }
        }
    }

    fn finding(&self, hay: &[u8], base: u64, hit: Hit, lines: &mut Lines) -> Finding {
        let abs = base + hit.span.start as u64;
        let secret = &hay[hit.span.clone()];
        let allowed = marker_on_line(hay, hit.span.clone())
            .then(|| format!("inline marker {}", String::from_utf8_lossy(ALLOW_MARKER)));
        let (rule, description, kind, excerpt) = match hit.rule {
            Some(r) => {
                let info = &self.rules[r].info;
                let kind = if info.generic {
                    Kind::Generic
                } else {
                    Kind::Format
                };
                (info.id.clone(), info.name.clone(), kind, mask(secret))
            }
            None => {
                let name = hit.label.clone().unwrap_or_default();
                (
                    "store-value".to_owned(),
                    format!("value of {name}"),
                    Kind::StoreValue,
                    String::new(),
                )
            }
        };
        Finding {
            rule,
            description,
            kind,
            secret_name: hit.label,
            offset: abs,
            length: secret.len(),
            line: lines.line,
            column: abs - lines.line_start + 1,
            excerpt,
            allowed,
        }
    }
}

/// Whether the allow marker is on the same line as `span`, within reach.
fn marker_on_line(hay: &[u8], span: Range<usize>) -> bool {
    let lo = span.start.saturating_sub(MARKER_REACH);
    let hi = (span.end + MARKER_REACH).min(hay.len());
    let start = memchr::memrchr(b'\n', &hay[lo..span.start]).map_or(lo, |i| lo + i + 1);
    let end = memchr::memchr(b'\n', &hay[span.end..hi]).map_or(hi, |i| span.end + i);
    memchr::memmem::find(&hay[start..end], ALLOW_MARKER).is_some()
}

/// The first bytes of a secret (at most a quarter of it, at most 4, only
/// printable ASCII) followed by `*`s: enough to recognise, too little to use.
fn mask(secret: &[u8]) -> String {
    let shown = secret
        .iter()
        .take((secret.len() / 4).min(4))
        .take_while(|b| b.is_ascii_graphic())
        .count();
    let mut s: String = secret[..shown].iter().map(|&b| char::from(b)).collect();
    s.push_str(&"*".repeat((secret.len() - shown).min(12)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_shows_at_most_a_quarter() {
        assert_eq!(mask(b"abcdefghijklmnop"), "abcd************");
        assert_eq!(mask(b"abcdefg"), "a******");
        assert_eq!(mask(b"ab"), "**");
    }

    #[test]
    fn a_format_wins_over_a_generic_assignment_of_the_same_bytes() {
        let scanner = Scanner::builder().build().unwrap();
        let mut g = crate::fixtures::Generator::new(11);
        let mut text = String::new();
        for _ in 0..3 {
            let token = g.token("github-pat").unwrap();
            text.push_str(&format!("GITHUB_TOKEN={token}\n{}\n", "x".repeat(5000)));
        }
        let found = scanner.scan_bytes(text.as_bytes());
        let rules: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["github-pat"; 3]);
    }

    #[test]
    fn marker_is_looked_for_on_the_same_line_only() {
        let hay = b"x = 1 # warrant:allow\ntoken = abc\n";
        let at = hay.len() - 4;
        assert!(!marker_on_line(hay, at..at + 3));
        assert!(marker_on_line(hay, 4..5));
    }
}

/// Chunk edges: whatever the chunk size and however reads are split, a
/// reader scan finds exactly what a whole-buffer scan finds.
#[cfg(test)]
mod chunk_tests {
    use std::io::Read;

    use proptest::prelude::*;
    use warrant_redact::RedactorBuilder;

    use super::*;

    /// Yields its data in reads of the given sizes, cycling.
    struct Jagged<'a> {
        data: &'a [u8],
        sizes: Vec<usize>,
        i: usize,
    }

    impl Read for Jagged<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let want = self.sizes[self.i % self.sizes.len()].max(1);
            self.i += 1;
            let n = want.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    const VALUE: &[u8] = b"Vq3x9LmP2rT7wZk4Nc8Hb5Jd";

    fn scanner(chunk: usize) -> Scanner {
        let mut values = RedactorBuilder::new();
        values.add("team/db", VALUE);
        Scanner::builder()
            .values(values.build().unwrap())
            .chunk_size(chunk)
            .build()
            .unwrap()
    }

    /// Filler with newlines (or none), never containing the value: short
    /// lowercase words, which no rule takes for a token.
    fn filler(len: usize, seed: u64, newlines: bool) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 61 {
                    _ if i % 8 == 7 => b' ',
                    0 if newlines => b'\n',
                    n => b"abcdefghij klmnopqrs tuvwxyz.,;"[(n % 31) as usize],
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn planted_values_are_found_at_any_chunk_edge(
            seed in any::<u64>(),
            len in 1usize..400_000,
            positions in proptest::collection::vec(any::<prop::sample::Index>(), 1..6),
            newlines in any::<bool>(),
            sizes in proptest::collection::vec(1usize..70_000, 1..4),
            b64 in any::<bool>(),
        ) {
            let s = scanner(0);
            let mut data = filler(len, seed, newlines);
            let planted: Vec<u8> = if b64 { b"VnEzeDlMbVAyclQ3d1prNE5jOEhiNUpk".to_vec() } else { VALUE.to_vec() };
            let mut at: Vec<usize> = positions.iter().map(|p| p.index(len)).collect();
            at.sort_unstable();
            at.dedup();
            // Insert from the back so earlier offsets stay valid, then
            // work out where each ended up.
            for &p in at.iter().rev() {
                data.splice(p..p, planted.iter().copied());
            }
            let expect: Vec<u64> = at.iter().enumerate().map(|(i, &p)| (p + i * planted.len()) as u64).collect();
            let whole = s.scan_bytes(&data);
            let offsets: Vec<u64> = whole.iter().map(|f| f.offset).collect();
            prop_assert_eq!(&offsets, &expect, "{:?}", whole.iter().map(|f| (&f.rule, &f.excerpt)).collect::<Vec<_>>());
            let mut buf = Vec::new();
            let mut reader = Jagged { data: &data, sizes, i: 0 };
            let streamed = s.scan_reader(&mut reader, &mut buf).unwrap();
            let key = |f: &Finding| (f.offset, f.line, f.column, f.rule.clone(), f.length);
            prop_assert_eq!(
                streamed.iter().map(key).collect::<Vec<_>>(),
                whole.iter().map(key).collect::<Vec<_>>()
            );
            for f in &whole {
                let before = &data[..f.offset as usize];
                let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
                let col = f.offset - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i as u64 + 1) + 1;
                prop_assert_eq!((f.line, f.column), (line, col));
            }
        }
    }

    #[test]
    fn a_value_straddling_every_position_around_a_chunk_edge_is_found() {
        let s = scanner(0);
        let advance = s.chunk - 2 * s.overlap;
        for edge in [
            s.chunk - s.overlap,
            s.chunk,
            advance,
            2 * advance + s.overlap,
        ] {
            for delta in 0..VALUE.len() + 2 {
                let pos = edge - delta;
                let mut data = filler(3 * s.chunk, 7, false);
                data[pos..pos + VALUE.len()].copy_from_slice(VALUE);
                let mut buf = Vec::new();
                let found = s.scan_reader(&mut &data[..], &mut buf).unwrap();
                assert_eq!(found.len(), 1, "edge {edge} delta {delta}");
                assert_eq!(found[0].offset, pos as u64);
            }
        }
    }
}
