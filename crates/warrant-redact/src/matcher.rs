//! Matching: occurrences in the input as it is (the *raw view*) and in the
//! decoded view (`decode.rs`), merged leftmost-longest, and the hold point
//! that decides what a stream keeps back.
//!
//! Raw view: every literal form and every [`MIN_PIECE_LEN`]-byte window of
//! every value; a window match grows into the longest piece of a value there
//! (`pieces.rs`). A sampling filter skips most of the input, and its hits
//! are compared against the patterns sharing a prefix (`filter.rs`); an
//! automaton reads every byte only when the patterns are too short to
//! sample.
//!
//! Decoded view: the literal forms, matched in the decoded bytes; an
//! occurrence covers the input bytes of the tokens it touches. An
//! occurrence that differs from a raw one holds a token other than a literal
//! byte, and such tokens start with one of a few bytes, so only the input
//! around those is looked at: for each, two windows of the decoded bytes
//! (the `q` before the token and the `q` after) go to a filter of every
//! window of every pattern. A pattern occurrence of at least `2q + 4` bytes
//! that touches the token holds one of the two windows whole, so a token
//! whose windows both miss is in no occurrence; only tokens that hit cost a
//! decode of the region around them, where a second sampler over the
//! decoded patterns finds the occurrence holding the token.
//!
//! Merge: the occurrence starting first wins, then the longer one, then the
//! raw one.

use std::sync::OnceLock;

use aho_corasick::Match;

use crate::automaton::Patterns;
use crate::decode::{self, CONTEXT, Escapes, MAX_EXPANSION, MAX_TOKEN, Token, View};
use crate::filter::{Filter, PrefixIndex, Sampler};
use crate::pieces::{MIN_PIECE_LEN, Pieces};

/// The decoded patterns are indexed by a hash of this many first bytes
/// (fewer if one is shorter).
const DECODED_PREFIX: usize = 16;

/// One occurrence of a value: input span and label index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Occurrence {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) label: usize,
}

/// Finds leftmost-longest occurrences of the forms of a set of values.
pub(crate) struct Matcher {
    /// An automaton over the raw patterns: built with the redactor when
    /// there is no sampler (it reads every byte then), else on first use
    /// by the reference search only.
    raw: OnceLock<Patterns>,
    /// By raw pattern index: the label index.
    raw_labels: Vec<usize>,
    raw_max: usize,
    /// Samples for the literal forms and the windows of pieces; `None`:
    /// the automaton reads every byte.
    sampler: Option<Sampler>,
    /// The decoded patterns (no windows of pieces), compared where a probe
    /// hits: sampled as the raw ones when they are long enough
    /// (`decoded_sampler`), else tried at each position (`decoded_index`);
    /// by pattern index, the label index.
    decoded_sampler: Option<Sampler>,
    decoded_index: Option<PrefixIndex>,
    decoded_labels: Vec<usize>,
    decoded_min: usize,
    decoded_max: usize,
    /// An automaton over the decoded patterns, built on first use: only the
    /// reference search ([`Matcher::find_unfiltered`]) runs one.
    decoded_automaton: OnceLock<Patterns>,
    decoded_filter: Option<Filter>,
    pieces: Pieces,
    /// Bytes that occur in some decoded pattern: a window holding any other
    /// byte is in no pattern, whatever the filter says.
    decoded_bytes: [bool; 256],
    /// Bytes that always decode to themselves and occur in no decoded
    /// pattern: one within `q` input bytes of a token kills that window.
    kills: [bool; 256],
    /// The longest decoded occurrence in input bytes.
    decoded_span: usize,
    /// The escapes the decoded view undoes.
    escapes: Escapes,
}

impl Matcher {
    /// `raw` and `decoded`: `(pattern, label)`, each sorted and without
    /// duplicates, not empty; `decoded` has no windows of pieces.
    pub(crate) fn new(
        raw: &[(&[u8], usize)],
        decoded: &[(&[u8], usize)],
        pieces: Pieces,
        escapes: Escapes,
    ) -> Result<Matcher, aho_corasick::BuildError> {
        // One sampler for every raw pattern: the windows of pieces
        // (MIN_PIECE_LEN bytes) set the step, and the forms, all longer,
        // share it (see `filter.rs`).
        let sampler = Sampler::new(raw);
        let raw_patterns = OnceLock::new();
        if sampler.is_none() {
            let _ = raw_patterns.set(Patterns::new(raw, false)?);
        }
        let decoded_min = decoded.iter().map(|p| p.0.len()).min().unwrap_or(1);
        let decoded_max = decoded.iter().map(|p| p.0.len()).max().unwrap_or(1);
        let q = (decoded_min.saturating_sub(4) / 2).min(8);
        let decoded_sampler = Sampler::new(decoded);
        let decoded_index = decoded_sampler.is_none().then(|| {
            PrefixIndex::new(decoded.iter().map(|p| p.0), decoded_min.min(DECODED_PREFIX))
        });
        let decoded_filter = Filter::every_window(decoded.iter().map(|p| p.0), q);
        let mut decoded_bytes = [false; 256];
        for &b in decoded.iter().flat_map(|p| p.0) {
            decoded_bytes[usize::from(b)] = true;
        }
        let kills = std::array::from_fn(|b| {
            let b = b as u8;
            decode::always_literal(b, escapes) && !decoded_bytes[usize::from(b)]
        });
        Ok(Matcher {
            escapes,
            kills,
            decoded_span: MAX_EXPANSION * decoded_max,
            raw: raw_patterns,
            raw_labels: raw.iter().map(|p| p.1).collect(),
            raw_max: raw.iter().map(|p| p.0.len()).max().unwrap_or(1),
            sampler,
            decoded_sampler,
            decoded_index,
            decoded_labels: decoded.iter().map(|p| p.1).collect(),
            decoded_min,
            decoded_max,
            decoded_automaton: OnceLock::new(),
            decoded_filter,
            pieces,
            decoded_bytes,
        })
    }

    /// The decoded patterns, by their prefixes.
    fn decoded(&self) -> &PrefixIndex {
        match (&self.decoded_sampler, &self.decoded_index) {
            (Some(s), _) => s.patterns(),
            (None, Some(i)) => i,
            (None, None) => unreachable!("one of the two is built"),
        }
    }

    /// The longest occurrence in input bytes.
    pub(crate) fn max_len(&self) -> usize {
        self.raw_max.max(self.decoded_span)
    }

    /// Which automata and filters are in use, for benchmarks and debugging.
    pub(crate) fn describe(&self) -> String {
        let raw = match &self.sampler {
            Some(f) => format!(
                "patterns compared directly, sampling {}-byte windows every {} bytes ({} KiB)",
                f.window(),
                f.step(),
                f.table_bytes() >> 10,
            ),
            None => format!(
                "{}, {} bytes, no sampling",
                self.raw_automaton().kind(),
                self.raw_automaton().memory_usage()
            ),
        };
        let decoded = match &self.decoded_filter {
            Some(f) => format!("{}-byte windows around escapes", f.window()),
            None => "every escape scanned".to_owned(),
        };
        format!(
            "{raw}; decoded view: {} patterns compared directly, {decoded}",
            self.decoded().len(),
        )
    }

    /// The leftmost-longest occurrence starting at or after `from` among
    /// those that lie entirely inside `hay`. `hay[..from]` is context: it
    /// decides how the bytes after it are tokenized. Calls on the same `hay`
    /// with a growing `from` share `cursor`, so that each byte is looked at
    /// about once however many occurrences there are.
    pub(crate) fn find(&self, hay: &[u8], from: usize, cursor: &mut Cursor) -> Option<Occurrence> {
        // The leftmost-longest occurrence from an earlier `from` is still
        // the one from here if it starts here or later.
        let raw = match cursor.raw {
            Some((at, found)) if at <= from && found.is_none_or(|o| o.start >= from) => found,
            _ => {
                let found = self.find_raw(hay, from);
                cursor.raw = Some((from, found));
                found
            }
        };
        let bound = raw.map_or(hay.len(), |o| o.start);
        pick(raw, self.find_decoded(hay, from, bound, cursor))
    }

    /// Like [`Matcher::find`] without any filter: the reference semantics.
    pub(crate) fn find_unfiltered(&self, hay: &[u8], from: usize) -> Option<Occurrence> {
        let raw = self
            .raw_automaton()
            .scan(hay, from, hay.len())
            .map(|m| self.raw_occurrence(hay, &m));
        let mut view = View::default();
        view.decode(hay, from, hay.len(), self.escapes);
        let decoded = self
            .decoded_automaton()
            .scan(&view.bytes, 0, view.len())
            .map(|m| Occurrence {
                start: view.starts[m.start()],
                end: view.ends[m.end() - 1],
                label: self.decoded_labels[m.pattern().as_usize()],
            });
        pick(raw, decoded)
    }

    fn raw_automaton(&self) -> &Patterns {
        self.raw.get_or_init(|| {
            let f = self
                .sampler
                .as_ref()
                .expect("without a sampler the automaton is built up front");
            let patterns: Vec<(&[u8], usize)> = (0..self.raw_labels.len())
                .map(|i| (f.patterns().pattern(i), self.raw_labels[i]))
                .collect();
            Patterns::new(&patterns, false).expect("the automaton builds (the sampler did)")
        })
    }

    fn decoded_automaton(&self) -> &Patterns {
        self.decoded_automaton.get_or_init(|| {
            let patterns: Vec<(&[u8], usize)> = (0..self.decoded().len())
                .map(|i| (self.decoded().pattern(i), self.decoded_labels[i]))
                .collect();
            Patterns::new(&patterns, false)
                .expect("the raw patterns, a superset, built an automaton")
        })
    }

    fn raw_occurrence(&self, hay: &[u8], m: &Match) -> Occurrence {
        let mut found = Occurrence {
            start: m.start(),
            end: m.end(),
            label: self.raw_labels[m.pattern().as_usize()],
        };
        if let Some((n, label)) = self.pieces.longest(&hay[m.start()..]) {
            if m.start() + n > found.end {
                found.end = m.start() + n;
                found.label = label;
            }
        }
        found
    }

    /// Whether `window` (decoded bytes) may be a window of a decoded pattern.
    #[inline]
    fn window_hit(&self, f: &Filter, window: &[u8]) -> bool {
        window.iter().all(|&b| self.decoded_bytes[usize::from(b)]) && f.hit_window(window)
    }

    /// The leftmost-longest occurrence in `view` that holds the decoded
    /// bytes `t0..t1` of a token (or, for a token decoding to nothing, the
    /// place `t0` where it was, with bytes on both sides). The view must
    /// hold the `decoded_max - 1` bytes before `t0` (or start where
    /// occurrences may start) and `decoded_max - 1` after `t1` (or end
    /// where the input does).
    fn decoded_at(&self, view: &View, t0: usize, t1: usize) -> Option<Occurrence> {
        let first = (t0 + 1).saturating_sub(self.decoded_max);
        let occurrence = |d: usize, n: usize, i: usize| Occurrence {
            start: view.starts[d],
            end: view.ends[d + n - 1],
            label: self.decoded_labels[i],
        };
        let Some(f) = &self.decoded_sampler else {
            return (first..t1).find_map(|d| {
                let (n, i) = self.decoded().longest_at(&view.bytes, d)?;
                (d + n > t0).then(|| occurrence(d, n, i))
            });
        };
        // As on the raw side: the samples `first + n * k` cover every start
        // from `first` on, each the `k` starts up to it, leftmost first. An
        // occurrence found that ends before the token holds no token (the
        // probes of those before this one missed): the raw view has it too,
        // and returning it is still right.
        let (q, k) = (f.window(), f.step());
        let mut j = first;
        while j < t1 + k - 1 && j + q <= view.len() {
            if let Some((d, e, i)) = f.find_at(&view.bytes, first, j) {
                return (d < t1).then(|| occurrence(d, e - d, i));
            }
            j += k;
        }
        None
    }

    fn find_raw(&self, hay: &[u8], from: usize) -> Option<Occurrence> {
        let m = match &self.sampler {
            Some(f) => self.find_sampled(f, hay, from),
            None => self.raw_automaton().scan(hay, from, hay.len()),
        }?;
        Some(self.raw_occurrence(hay, &m))
    }

    fn find_sampled(&self, f: &Sampler, hay: &[u8], from: usize) -> Option<Match> {
        let len = hay.len();
        let (q, k) = (f.window(), f.step());
        // Every occurrence starting at or after `from` holds exactly one
        // sample of the grid `from + n * k` in its first k bytes, whose
        // window is inside its first c bytes (`filter.rs`).
        let mut j = from;
        loop {
            // Four samples per branch while an 8-byte load fits; a miss of
            // the Bloom filter alone proves a sample empty.
            while j + 3 * k + 8 <= len
                && !(f.quick_hit(hay, j)
                    | f.quick_hit(hay, j + k)
                    | f.quick_hit(hay, j + 2 * k)
                    | f.quick_hit(hay, j + 3 * k))
            {
                j += 4 * k;
            }
            if j + q > len {
                return None;
            }
            // The occurrences whose sample is j start in (j - k, j]: all
            // are compared there, so a miss settles those starts.
            match f.find_at(hay, from, j) {
                Some((start, end, pattern)) => return Some(Match::must(pattern, start..end)),
                None => j += k,
            }
        }
    }

    /// The leftmost-longest decoded occurrence starting at or after `from`,
    /// if one starts at or before `bound` (after it, any or none).
    fn find_decoded(
        &self,
        hay: &[u8],
        from: usize,
        bound: usize,
        cursor: &mut Cursor,
    ) -> Option<Occurrence> {
        let len = hay.len();
        let span = self.decoded_span;
        let q = self.decoded_filter.as_ref().map_or(0, Filter::window);
        // No decoded occurrence starts in [from, scanned) but raw ones.
        let mut scanned = from;
        loop {
            // Only the tokens of a kill-free run as long as the shortest
            // decoded pattern can be in an occurrence (see `next_run`);
            // the tokens of the current run are listed once, from a little
            // before it to a little after (they tell whether the bytes
            // around a token are literal).
            if cursor
                .tokens
                .as_ref()
                .is_none_or(|t| t.searched > scanned || t.end <= scanned)
            {
                let (start, end) = self.next_run(hay, scanned)?;
                let lo = start.saturating_sub(q + MAX_TOKEN);
                let hi = len.min(end + q + MAX_TOKEN);
                // The lists of the last run are reused (no allocation per run).
                let (mut list, mut probed) = cursor
                    .tokens
                    .take()
                    .map(|t| (t.list, t.probed))
                    .unwrap_or_default();
                decode::candidates(hay, lo, hi, self.escapes, &mut list);
                probed.clear();
                probed.resize(list.len(), Probe::Unknown);
                cursor.tokens = Some(Tokens {
                    searched: scanned,
                    start,
                    end,
                    lo,
                    hi,
                    list,
                    probed,
                });
            }
            let tokens = cursor.tokens.as_mut()?;
            let (lo, hi, run_end) = (tokens.lo, tokens.hi, tokens.end);
            // Tokens before the run are listed only to tell about the bytes
            // around those in it.
            scanned = scanned.max(tokens.start);
            // Occurrences in this run (and later ones) start after `bound`.
            if scanned > bound {
                return None;
            }
            let view = &mut cursor.view;
            let first = tokens.list.partition_point(|t| t.0 < scanned);
            for i in first..tokens.list.len() {
                let (at, token) = tokens.list[i];
                if at < scanned {
                    continue;
                }
                if at >= run_end {
                    break;
                }
                // An occurrence holding this token starts after `bound`.
                if at >= bound.saturating_add(span) {
                    return None;
                }
                if let Some(f) = &self.decoded_filter {
                    if tokens.probed[i] == Probe::Unknown {
                        let hit = self.probe(f, hay, &tokens.list, i, lo, hi, view);
                        tokens.probed[i] = if hit { Probe::Hit } else { Probe::Miss };
                    }
                    if tokens.probed[i] == Probe::Miss {
                        continue;
                    }
                }
                // Probes that missed say no occurrence holds the tokens
                // before this one: the first occurrence holding this one is
                // the leftmost that holds any, and the longest there holds
                // it too. It starts at most `longest - 1` decoded bytes
                // before the token: decode around it as if each decoded byte
                // were one input byte and, where escapes make that too
                // short, as far as the longest occurrence in input bytes.
                let longest = self.decoded_max;
                let end = at + token.len();
                for reach in [longest + MAX_TOKEN, span] {
                    let rs = scanned.max((at + 1).saturating_sub(reach));
                    let re = len.min(end + reach);
                    view.decode(hay, rs, re, self.escapes);
                    let t0 = view.starts.partition_point(|&s| s < at);
                    let t1 = view.starts.partition_point(|&s| s < end);
                    let complete = (rs == scanned || t0 + 1 >= longest)
                        && (re == len || view.len() + 1 >= t1 + longest);
                    if complete || reach == span {
                        if let Some(found) = self.decoded_at(view, t0, t1) {
                            return Some(found);
                        }
                        break;
                    }
                }
            }
            scanned = scanned.max(run_end);
        }
    }

    /// The first run `start..end` of bytes without a kill byte (one that
    /// always decodes to itself and is in no decoded pattern), with
    /// `start >= from`, at least as long as the shortest decoded pattern;
    /// `end` is the next kill byte or the end of `hay`.
    ///
    /// Why only those runs: every input byte of a decoded occurrence is in
    /// one of its tokens. A kill byte is no part of any token but a literal
    /// one, and as a literal token it decodes to itself, which is in no
    /// pattern; so an occurrence holds no kill byte. Tokens never decode to
    /// more bytes than they take, so an occurrence spans at least as many
    /// input bytes as the shortest decoded pattern. Ordinary text (spaces,
    /// punctuation) seldom has such runs, and this search reads about one
    /// byte in `min_len - 1`: it checks a window from its right end and
    /// jumps past the first kill byte it sees.
    fn next_run(&self, hay: &[u8], from: usize) -> Option<(usize, usize)> {
        let need = self.decoded_min.max(1);
        let kill = |b: u8| self.kills[usize::from(b)];
        let mut j = from;
        while j + need <= hay.len() {
            let e = j + need;
            // The last four bytes of the window first, without a branch
            // each: in ordinary text one of them is mostly a kill byte.
            if need >= 4 {
                let last = u32::from(kill(hay[e - 1]))
                    | u32::from(kill(hay[e - 2])) << 1
                    | u32::from(kill(hay[e - 3])) << 2
                    | u32::from(kill(hay[e - 4])) << 3;
                if last != 0 {
                    // The rightmost kill byte is at e - 1 - trailing zeros.
                    j = e - last.trailing_zeros() as usize;
                    continue;
                }
            }
            match hay[j..e].iter().rposition(|&b| kill(b)) {
                Some(x) => j += x + 1,
                None => {
                    let end = hay[j + need..]
                        .iter()
                        .position(|&b| kill(b))
                        .map_or(hay.len(), |x| j + need + x);
                    return Some((j, end));
                }
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
        // Tokens never decode to more bytes than they take, so what a byte
        // within q input bytes of the token decodes to is in the q decoded
        // bytes on that side: a byte in no pattern kills that window. Bytes
        // that always stand for themselves, and escapes (which start a token
        // wherever they stand: no token holds `%`, `&`, `\` or `=`) tell
        // without decoding.
        if at >= q && end + q <= hay.len() {
            let dead_before = hay[at - q..at].iter().any(|&b| self.kills[usize::from(b)])
                || tokens[..i]
                    .iter()
                    .rev()
                    .take_while(|t| t.0 >= at - q)
                    .any(|t| self.kills_escape(hay, *t, false));
            let dead = dead_before
                && (hay[end..end + q]
                    .iter()
                    .any(|&b| self.kills[usize::from(b)])
                    || tokens[i + 1..]
                        .iter()
                        .take_while(|t| t.0 < end + q)
                        .any(|t| self.kills_escape(hay, *t, true)));
            if dead {
                return false;
            }
        }
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
                (b, a) => {
                    b.is_some_and(|w| self.window_hit(f, w))
                        || a.is_some_and(|w| self.window_hit(f, w))
                }
            };
        }
        // Escapes close together: decode around the token, a little first
        // and as far as q decoded bytes may need if that is not enough.
        let mut reach = 2 * q + MAX_TOKEN;
        let (a, b) = loop {
            let (lo, hi) = (at.saturating_sub(reach), hay.len().min(end + reach));
            view.decode(hay, lo, hi, self.escapes);
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
            (b, a) => {
                b.is_some_and(|w| self.window_hit(f, w)) || a.is_some_and(|w| self.window_hit(f, w))
            }
        }
    }

    /// Whether `token`, listed at `at`, is an escape (a token wherever it
    /// stands) whose first decoded byte (`first`) or last one is in no
    /// pattern.
    #[inline]
    fn kills_escape(&self, hay: &[u8], (at, token): (usize, Token), first: bool) -> bool {
        match token {
            Token::Decoded { out, n, .. } if matches!(hay[at], b'%' | b'&' | b'\\' | b'=') => {
                let b = if first { out[0] } else { out[n - 1] };
                !self.decoded_bytes[usize::from(b)]
            }
            _ => false,
        }
    }

    /// The earliest position `i >= from` such that an occurrence starting at
    /// `i` may still end past the end of `hay` once more bytes arrive:
    /// everything before it is final. `hay.len()` if there is none.
    pub(crate) fn hold_point(&self, hay: &[u8], from: usize) -> usize {
        let piece = |i: usize| hay.len() - i >= MIN_PIECE_LEN && self.pieces.may_grow(&hay[i..]);
        let raw = match &self.sampler {
            // The same test on the sorted patterns, without an automaton.
            Some(f) => {
                let index = f.patterns();
                let len = hay.len();
                (from.max(len.saturating_sub(self.raw_max - 1))..len)
                    .find(|&i| {
                        index.may_start(&hay[i..]) && (piece(i) || index.may_grow(&hay[i..]))
                    })
                    .unwrap_or(len)
            }
            None => self.raw_automaton().hold_point(hay, from, piece),
        };
        raw.min(self.decoded_hold_point(hay, from))
    }

    fn decoded_hold_point(&self, hay: &[u8], from: usize) -> usize {
        let len = hay.len();
        let longest = self.decoded_max;
        let mut look = 2 * longest + MAX_TOKEN;
        let mut view = View::default();
        loop {
            let start = from.max(len.saturating_sub(look));
            // Without a token the decoded bytes are the raw ones, and the
            // decoded patterns are raw patterns too: the raw hold point covers
            // them. A decoded tail longer than every pattern is no prefix.
            if !hay[start.saturating_sub(CONTEXT)..]
                .iter()
                .any(|&b| decode::is_trigger(b, self.escapes))
            {
                return len;
            }
            view.decode(hay, start, len, self.escapes);
            if view.len() >= longest || start == from || look >= self.decoded_span + MAX_TOKEN {
                break;
            }
            look = self.decoded_span + MAX_TOKEN;
        }
        // The tokens that may still change, in order: an escape cut off by
        // the end, a line break whose fate depends on what follows.
        let mut open: Vec<usize> = view
            .starts
            .iter()
            .chain(&view.removed)
            .copied()
            .filter(|&s| s + 2 * MAX_TOKEN >= len && s >= from)
            .filter(|&s| decode::may_become_token(&hay[s..], self.escapes))
            .collect();
        open.sort_unstable();
        open.dedup();
        let is_break =
            |u: usize| matches!(hay[u..], [b'\n' | b'\r', ..] | [b'=', b'\n' | b'\r', ..]);
        // Whatever an open escape turns into may start an occurrence, so
        // nothing from the first one on is final.
        let mut hold = len;
        let mut stops = Vec::new();
        for &u in &open {
            stops.push(view.starts.partition_point(|&s| s < u));
            if !is_break(u) {
                hold = u;
                break;
            }
            // A line break kept (or the `=` of a soft break that turns out
            // to be none) may start an occurrence with its first byte.
            if self.decoded().may_grow(&hay[u..u + 1]) {
                hold = u;
                break;
            }
        }
        // An occurrence starting at a decoded byte before `hold` goes on
        // with the decoded bytes up to the next open token as the view has
        // them, and then with anything: it may still come if those bytes
        // may grow into a pattern.
        let end = view.starts.partition_point(|&s| s < hold);
        let first = stops.first().copied().unwrap_or(end);
        for d in first.saturating_sub(longest)..end {
            if view.starts[d] < from {
                continue;
            }
            let stop = stops.iter().copied().find(|&c| c > d).unwrap_or(end);
            if self.decoded().may_grow(&view.bytes[d..stop]) {
                return view.starts[d];
            }
        }
        hold
    }
}

/// What [`Matcher::find`] keeps between calls on one buffer.
#[derive(Default)]
pub(crate) struct Cursor {
    /// `(from, found)`: the last raw search.
    raw: Option<(usize, Option<Occurrence>)>,
    tokens: Option<Tokens>,
    view: View,
}

/// A kill-free run of a buffer (`start..end`, found searching from
/// `searched`), the tokens listed in `lo..hi` around it, and what their
/// probes said.
struct Tokens {
    searched: usize,
    start: usize,
    end: usize,
    lo: usize,
    hi: usize,
    list: Vec<(usize, Token)>,
    probed: Vec<Probe>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Probe {
    Unknown,
    Hit,
    Miss,
}

fn pick(raw: Option<Occurrence>, decoded: Option<Occurrence>) -> Option<Occurrence> {
    match (raw, decoded) {
        (Some(r), Some(d)) if d.start < r.start || (d.start == r.start && d.end > r.end) => Some(d),
        (Some(r), _) => Some(r),
        (None, d) => d,
    }
}
