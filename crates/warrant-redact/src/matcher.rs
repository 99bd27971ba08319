//! Matching: occurrences in the input as it is (the *raw view*) and in the
//! decoded view (`decode.rs`), merged leftmost-longest, and the hold point
//! that decides what a stream keeps back.
//!
//! Raw view: an automaton over every literal form and every
//! [`MIN_PIECE_LEN`]-byte window of every value; a window match grows into
//! the longest piece of a value there (`pieces.rs`). A sampling filter skips
//! most of the input (`filter.rs`).
//!
//! Decoded view: an automaton over the literal forms, run on the decoded
//! bytes; an occurrence covers the input bytes of the tokens it touches. An
//! occurrence that differs from a raw one holds a token other than a literal
//! byte, and such tokens start with one of a few bytes, so only the input
//! around those is looked at: for each, two windows of the decoded bytes
//! (the `q` before the token and the `q` after) go to a filter of every
//! window of every pattern. A pattern occurrence of at least `2q + 4` bytes
//! that touches the token holds one of the two windows whole, so a token
//! whose windows both miss is in no occurrence; only tokens that hit cost a
//! decode and an automaton scan of the region around them.
//!
//! Merge: the occurrence starting first wins, then the longer one, then the
//! raw one.

use aho_corasick::Match;

use crate::automaton::Patterns;
use crate::decode::{self, CONTEXT, MAX_EXPANSION, MAX_TOKEN, Token, View};
use crate::filter::Filter;
use crate::pieces::{MIN_PIECE_LEN, Pieces};

/// When the filter hits, the automaton scans this far past the longest
/// possible occurrence, so that a cluster of hits costs one scan, not one each.
const REGION_SLACK: usize = 64;

/// One occurrence of a value: input span and label index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Occurrence {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) label: usize,
}

/// Finds leftmost-longest occurrences of the forms of a set of values.
pub(crate) struct Matcher {
    raw: Patterns,
    raw_filter: Option<Filter>,
    decoded: Patterns,
    decoded_filter: Option<Filter>,
    pieces: Pieces,
    /// The longest decoded occurrence in input bytes.
    decoded_span: usize,
}

impl Matcher {
    /// `raw` and `decoded`: `(pattern, label)`, each sorted and without
    /// duplicates, not empty; `decoded` has no windows of pieces.
    pub(crate) fn new(
        raw: &[(&[u8], usize)],
        decoded: &[(&[u8], usize)],
        pieces: Pieces,
    ) -> Result<Matcher, aho_corasick::BuildError> {
        let raw_filter = Filter::new(raw.iter().map(|p| p.0));
        let raw_patterns = Patterns::new(raw, raw_filter.is_some())?;
        let decoded_patterns = Patterns::new(decoded, true)?;
        let q = (decoded_patterns.min_len().saturating_sub(4) / 2).min(8);
        let decoded_filter = Filter::every_window(decoded.iter().map(|p| p.0), q);
        Ok(Matcher {
            decoded_span: MAX_EXPANSION * decoded_patterns.max_len(),
            raw: raw_patterns,
            raw_filter,
            decoded: decoded_patterns,
            decoded_filter,
            pieces,
        })
    }

    /// The longest occurrence in input bytes.
    pub(crate) fn max_len(&self) -> usize {
        self.raw.max_len().max(self.decoded_span)
    }

    /// Which automata and filters are in use, for benchmarks and debugging.
    pub(crate) fn describe(&self) -> String {
        let raw = match &self.raw_filter {
            Some(f) => format!(
                "{}, {} bytes, sampling {}-byte windows every {} bytes",
                self.raw.kind(),
                self.raw.memory_usage(),
                f.window(),
                f.step()
            ),
            None => format!(
                "{}, {} bytes, no sampling",
                self.raw.kind(),
                self.raw.memory_usage()
            ),
        };
        let decoded = match &self.decoded_filter {
            Some(f) => format!("{}-byte windows around escapes", f.window()),
            None => "every escape scanned".to_owned(),
        };
        format!(
            "{raw}; decoded view: {}, {} bytes, {decoded}",
            self.decoded.kind(),
            self.decoded.memory_usage()
        )
    }

    /// The leftmost-longest occurrence starting at or after `from` among
    /// those that lie entirely inside `hay`. `hay[..from]` is context: it
    /// decides how the bytes after it are tokenized.
    pub(crate) fn find(&self, hay: &[u8], from: usize) -> Option<Occurrence> {
        let raw = self.find_raw(hay, from);
        let bound = raw.map_or(hay.len(), |o| o.start);
        pick(raw, self.find_decoded(hay, from, bound))
    }

    /// Like [`Matcher::find`] without any filter: the reference semantics.
    pub(crate) fn find_unfiltered(&self, hay: &[u8], from: usize) -> Option<Occurrence> {
        let raw = self
            .raw
            .scan(hay, from, hay.len())
            .map(|m| self.raw_occurrence(hay, &m));
        let mut view = View::default();
        view.decode(hay, from, hay.len());
        let decoded = self
            .decoded
            .scan(&view.bytes, 0, view.len())
            .map(|m| self.decoded_occurrence(&view, &m));
        pick(raw, decoded)
    }

    fn raw_occurrence(&self, hay: &[u8], m: &Match) -> Occurrence {
        let mut found = Occurrence {
            start: m.start(),
            end: m.end(),
            label: self.raw.label(m),
        };
        if let Some((n, label)) = self.pieces.longest(&hay[m.start()..]) {
            if m.start() + n > found.end {
                found.end = m.start() + n;
                found.label = label;
            }
        }
        found
    }

    fn decoded_occurrence(&self, view: &View, m: &Match) -> Occurrence {
        Occurrence {
            start: view.starts[m.start()],
            end: view.ends[m.end() - 1],
            label: self.decoded.label(m),
        }
    }

    fn find_raw(&self, hay: &[u8], from: usize) -> Option<Occurrence> {
        let m = match &self.raw_filter {
            Some(f) => self.find_sampled(f, hay, from),
            None => self.raw.scan(hay, from, hay.len()),
        }?;
        Some(self.raw_occurrence(hay, &m))
    }

    fn find_sampled(&self, f: &Filter, hay: &[u8], mut from: usize) -> Option<Match> {
        let (q, k, len) = (f.window(), f.step(), hay.len());
        let max_len = self.raw.max_len();
        // Invariant: no occurrence starts in [original from, from), and every
        // occurrence starting at or after `from` contains a sample of the
        // grid from, from + k, ... (it is at least q + k - 1 bytes long).
        let mut j = from;
        while j + q <= len {
            if !f.hit(hay, j) {
                j += k;
                continue;
            }
            // Occurrences starting before j + 1 - k contain an earlier sample,
            // which missed; those starting in [rs, j] end before j + max_len.
            let rs = from.max((j + 1).saturating_sub(k));
            let re = len.min(j + max_len + REGION_SLACK);
            let found = self.raw.scan(hay, rs, re);
            if re == len {
                return found;
            }
            // Every occurrence starting at or before re - max_len lies inside
            // the region, so the automaton saw all of them: the one it found
            // is the true leftmost-longest if it starts there. (A piece
            // grown from a window is no longer than its value, a pattern.)
            let settled = re + 1 - max_len;
            match found {
                Some(m) if m.start() < settled => return Some(m),
                _ => {
                    from = settled;
                    j = from;
                }
            }
        }
        None
    }

    /// The leftmost-longest decoded occurrence starting at or after `from`,
    /// if one starts at or before `bound` (after it, any or none).
    fn find_decoded(&self, hay: &[u8], from: usize, bound: usize) -> Option<Occurrence> {
        let len = hay.len();
        let span = self.decoded_span;
        let q = self.decoded_filter.as_ref().map_or(0, Filter::window);
        // Tokens a little before `from` and after the last one that matters
        // tell whether the bytes around a token are literal.
        let lo = from.saturating_sub(q + MAX_TOKEN);
        let hi = len.min(bound.saturating_add(span + q + MAX_TOKEN));
        let mut tokens = Vec::new();
        decode::candidates(hay, lo, hi, &mut tokens);
        let mut view = View::default();
        // No decoded occurrence starts in [from, scanned) but raw ones.
        let mut scanned = from;
        for i in 0..tokens.len() {
            let (at, token) = tokens[i];
            if at < scanned {
                continue;
            }
            // An occurrence holding this token starts after `bound`.
            if at >= bound.saturating_add(span) {
                break;
            }
            if let Some(f) = &self.decoded_filter {
                if !self.probe(f, hay, &tokens, i, lo, hi, &mut view) {
                    continue;
                }
            }
            let rs = scanned.max((at + 1).saturating_sub(span));
            let re = len.min(at + token.len() + span + REGION_SLACK);
            view.decode(hay, rs, re);
            match self.decoded.scan(&view.bytes, 0, view.len()) {
                Some(m) => {
                    let found = self.decoded_occurrence(&view, &m);
                    // Every occurrence starting at or before this one ends
                    // inside the region: the automaton saw them all.
                    if re == len || found.start + span <= re {
                        return Some(found);
                    }
                    scanned = found.start;
                }
                None if re == len => return None,
                None => scanned = scanned.max((re + 1).saturating_sub(span)),
            }
            if scanned > bound {
                return None;
            }
        }
        None
    }

    /// Whether the `q` decoded bytes before `tokens[i]` or the `q` after it
    /// may be a window of a pattern. Tokens are known in `lo..hi`.
    #[allow(clippy::too_many_arguments)]
    fn probe(
        &self,
        f: &Filter,
        hay: &[u8],
        tokens: &[(usize, Token)],
        i: usize,
        lo: usize,
        hi: usize,
        view: &mut View,
    ) -> bool {
        let q = f.window();
        let (at, token) = tokens[i];
        let end = at + token.len();
        // The q bytes before are literal if every token that may reach into
        // them is listed and none does; the same after.
        let literal_before = at < q
            || ((lo == 0 || lo + MAX_TOKEN + q <= at)
                && tokens[..i]
                    .iter()
                    .rev()
                    .take_while(|t| t.0 + MAX_TOKEN > at - q)
                    .all(|t| t.0 + t.1.len() <= at - q));
        let literal_after = end + q > hay.len()
            || ((hi == hay.len() || end + q <= hi)
                && tokens.get(i + 1).is_none_or(|t| t.0 >= end + q));
        if literal_before && literal_after {
            let before = (at >= q).then(|| &hay[at - q..at]);
            let after = (end + q <= hay.len()).then(|| &hay[end..end + q]);
            return match (before, after) {
                (None, None) => true,
                (b, a) => b.is_some_and(|w| f.hit_window(w)) || a.is_some_and(|w| f.hit_window(w)),
            };
        }
        // Escapes close together: decode around the token, a little first
        // and as far as q decoded bytes may need if that is not enough.
        let mut reach = 2 * q + MAX_TOKEN;
        let (a, b) = loop {
            let (lo, hi) = (at.saturating_sub(reach), hay.len().min(end + reach));
            view.decode(hay, lo, hi);
            let a = view.starts.partition_point(|&s| s < at);
            let b = view.starts.partition_point(|&s| s < end);
            let enough = (a >= q || lo == 0) && (view.len() > b + q || hi == hay.len());
            if enough || reach >= (q + 1) * MAX_EXPANSION + MAX_TOKEN {
                break (a, b);
            }
            reach = (q + 1) * MAX_EXPANSION + MAX_TOKEN;
        };
        let before = (a >= q).then(|| &view.bytes[a - q..a]);
        let after = (b + q <= view.len()).then(|| &view.bytes[b..b + q]);
        match (before, after) {
            (None, None) => true,
            (b, a) => b.is_some_and(|w| f.hit_window(w)) || a.is_some_and(|w| f.hit_window(w)),
        }
    }

    /// The earliest position `i >= from` such that an occurrence starting at
    /// `i` may still end past the end of `hay` once more bytes arrive:
    /// everything before it is final. `hay.len()` if there is none.
    pub(crate) fn hold_point(&self, hay: &[u8], from: usize) -> usize {
        let raw = self.raw.hold_point(hay, from, |i| {
            hay.len() - i >= MIN_PIECE_LEN && self.pieces.may_grow(&hay[i..])
        });
        raw.min(self.decoded_hold_point(hay, from))
    }

    fn decoded_hold_point(&self, hay: &[u8], from: usize) -> usize {
        let len = hay.len();
        let longest = self.decoded.max_len();
        let mut look = 2 * longest + MAX_TOKEN;
        let mut view = View::default();
        loop {
            let start = from.max(len.saturating_sub(look));
            // Without a token the decoded bytes are the raw ones, and the
            // decoded patterns are raw patterns too: the raw hold point covers
            // them. A decoded tail longer than every pattern is no prefix.
            if !hay[start.saturating_sub(CONTEXT)..]
                .iter()
                .any(|&b| decode::is_trigger(b))
            {
                return len;
            }
            view.decode(hay, start, len);
            if view.len() >= longest || start == from || look >= self.decoded_span + MAX_TOKEN {
                break;
            }
            look = self.decoded_span + MAX_TOKEN;
        }
        // The earliest token that may still change.
        let open = view
            .starts
            .iter()
            .chain(&view.removed)
            .copied()
            .filter(|&s| s + 2 * MAX_TOKEN >= len && s >= from)
            .filter(|&s| decode::may_become_token(&hay[s..]))
            .min();
        let cut = open.map_or(view.len(), |u| view.starts.partition_point(|&s| s < u));
        let escape = open
            .is_some_and(|u| !matches!(hay[u..], [b'\n' | b'\r', ..] | [b'=', b'\n' | b'\r', ..]));
        for d in cut.saturating_sub(longest)..cut {
            if view.starts[d] < from {
                continue;
            }
            // The open token completed (or a line break removed) continues
            // the decoded bytes before it; a line break kept continues them
            // with itself, as the view has it now.
            if self.decoded.may_grow(&view.bytes[d..cut])
                || (open.is_some() && !escape && self.decoded.may_grow(&view.bytes[d..]))
            {
                return view.starts[d];
            }
        }
        match open {
            // Whatever an open escape turns into may start an occurrence.
            Some(u) if escape => u,
            _ => len,
        }
    }
}

fn pick(raw: Option<Occurrence>, decoded: Option<Occurrence>) -> Option<Occurrence> {
    match (raw, decoded) {
        (Some(r), Some(d)) if d.start < r.start || (d.start == r.start && d.end > r.end) => Some(d),
        (Some(r), _) => Some(r),
        (None, d) => d,
    }
}
