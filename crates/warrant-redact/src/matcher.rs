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

/// Window length of the pieces' filter: a `u32`, sampled every
/// `MIN_PIECE_LEN - 3` bytes.
const PIECE_WINDOW: usize = 4;

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
    /// Samples for the literal forms; `None`: the automaton reads every byte.
    raw_filter: Option<Filter>,
    /// Samples for the windows of pieces, on a finer grid than the forms'.
    piece_filter: Option<Filter>,
    /// The forms' filter is probed at every `form_every`-th sample of the
    /// pieces' grid (a stride no longer than its own step).
    form_every: usize,
    decoded: Patterns,
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
}

impl Matcher {
    /// `raw` and `decoded`: `(pattern, label)`, each sorted and without
    /// duplicates, not empty; `decoded` has no windows of pieces.
    pub(crate) fn new(
        raw: &[(&[u8], usize)],
        decoded: &[(&[u8], usize)],
        pieces: Pieces,
    ) -> Result<Matcher, aho_corasick::BuildError> {
        // The literal forms are long (the shortest one sets the step); the
        // windows of pieces are MIN_PIECE_LEN bytes, and sampling them with
        // the forms would shrink the step for all. So each has its own filter:
        // the pieces' one indexes short windows of the values (a small
        // table), on a grid fine enough for MIN_PIECE_LEN bytes.
        let raw_filter = Filter::new(decoded.iter().map(|p| p.0));
        let piece_filter = raw_filter
            .as_ref()
            .and_then(|_| Filter::pieces(pieces.values(), MIN_PIECE_LEN, PIECE_WINDOW));
        let form_every = match (&raw_filter, &piece_filter) {
            (Some(f), Some(p)) => f.step() / p.step().min(f.step()),
            _ => 1,
        };
        let raw_patterns = Patterns::new(raw, raw_filter.is_some())?;
        let decoded_patterns = Patterns::new(decoded, true)?;
        let q = (decoded_patterns.min_len().saturating_sub(4) / 2).min(8);
        let decoded_filter = Filter::every_window(decoded.iter().map(|p| p.0), q);
        let mut decoded_bytes = [false; 256];
        for &b in decoded.iter().flat_map(|p| p.0) {
            decoded_bytes[usize::from(b)] = true;
        }
        let kills = std::array::from_fn(|b| {
            let b = b as u8;
            decode::always_literal(b) && !decoded_bytes[usize::from(b)]
        });
        Ok(Matcher {
            kills,
            decoded_span: MAX_EXPANSION * decoded_patterns.max_len(),
            raw: raw_patterns,
            raw_filter,
            piece_filter,
            form_every,
            decoded: decoded_patterns,
            decoded_filter,
            pieces,
            decoded_bytes,
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
                "{}, {} bytes, sampling {}-byte windows every {} bytes{}",
                self.raw.kind(),
                self.raw.memory_usage(),
                f.window(),
                self.form_every
                    * self
                        .piece_filter
                        .as_ref()
                        .map_or(f.step(), |p| p.step().min(f.step())),
                match &self.piece_filter {
                    Some(p) => format!(
                        ", pieces {}-byte windows every {} bytes",
                        p.window(),
                        p.step()
                    ),
                    None => String::new(),
                }
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

    /// Whether `window` (decoded bytes) may be a window of a decoded pattern.
    #[inline]
    fn window_hit(&self, f: &Filter, window: &[u8]) -> bool {
        window.iter().all(|&b| self.decoded_bytes[usize::from(b)]) && f.hit_window(window)
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
        let len = hay.len();
        let max_len = self.raw.max_len();
        // Two grids from `from`: the pieces' one every `k` bytes (no more
        // than either filter's step), the forms' one every `stride` bytes (a
        // multiple of `k`, no more than the forms' step).
        // Invariant: no occurrence starts in [original from, from), and every
        // occurrence starting at or after `from` contains a sample of its
        // grid (a form is at least f.window() + f.step() - 1 bytes long, a
        // window of a piece p.window() + p.step() - 1).
        let p = self.piece_filter.as_ref();
        let k = p.map_or(f.step(), |p| p.step().min(f.step()));
        let every = self.form_every;
        let stride = k * every;
        let (qf, qp) = (f.window(), p.map_or(usize::MAX, Filter::window));
        let mut j = from;
        let mut n = 0;
        while j + qf.min(qp) <= len {
            let form_hit = n == 0 && j + qf <= len && f.hit(hay, j);
            // A piece holding this sample starts in [j + 4 - MIN_PIECE_LEN, j]:
            // the 4-byte window only says one may, its 12-byte windows tell.
            let hit = form_hit
                || p.is_some_and(|p| {
                    j + qp <= len
                        && p.hit(hay, j)
                        && (from.max((j + qp).saturating_sub(MIN_PIECE_LEN))..=j)
                            .any(|s| self.pieces.may_be_window(&hay[s..]))
                });
            if !hit {
                j += k;
                n = if n + 1 == every { 0 } else { n + 1 };
                continue;
            }
            // Occurrences starting before j + 1 - stride contain an earlier
            // sample of their grid, which missed; those starting in [rs, j]
            // end before j + max_len.
            let rs = from.max((j + 1).saturating_sub(stride));
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
                    n = 0;
                }
            }
        }
        None
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
        // The tokens of the whole buffer, found once (from a little before
        // `from`: they tell whether the bytes around a token are literal).
        if cursor.tokens.as_ref().is_none_or(|t| t.lo > from) {
            let lo = from.saturating_sub(q + MAX_TOKEN);
            let mut list = Vec::new();
            decode::candidates(hay, lo, len, &mut list);
            cursor.tokens = Some(Tokens {
                lo,
                probed: vec![Probe::Unknown; list.len()],
                list,
            });
        }
        let tokens = cursor.tokens.as_mut()?;
        let (lo, hi) = (tokens.lo, len);
        let view = &mut cursor.view;
        // No decoded occurrence starts in [from, scanned) but raw ones.
        let mut scanned = from;
        let first = tokens.list.partition_point(|t| t.0 < scanned);
        for i in first..tokens.list.len() {
            let (at, token) = tokens.list[i];
            if at < scanned {
                continue;
            }
            // An occurrence holding this token starts after `bound`.
            if at >= bound.saturating_add(span) {
                break;
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
            // Decode around the token as if each decoded byte were one
            // input byte; only where escapes make that too short, as far as
            // the longest decoded occurrence in input bytes.
            let longest = self.decoded.max_len();
            let rs = scanned.max((at + 1).saturating_sub(longest + REGION_SLACK));
            let re = len.min(at + token.len() + longest + REGION_SLACK);
            view.decode(hay, rs, re);
            let t = view.starts.partition_point(|&s| s < at);
            let d = view.len();
            // Occurrences holding the token start in the region when the
            // decoded bytes before it are enough (or the region starts at
            // `scanned`); those starting at decoded index `d - longest` or
            // before end in it.
            let narrow = (rs == scanned || t + 1 >= longest) && (re == len || d >= t + longest + 4);
            if narrow {
                // Past the decoded bytes that the region settles, an
                // occurrence it found may be beaten by a longer one that
                // starts before it and ends past the region: look again.
                match self.decoded.scan(&view.bytes, 0, d) {
                    Some(m) if re == len || m.start() + longest <= d => {
                        return Some(self.decoded_occurrence(view, &m));
                    }
                    None if re == len => return None,
                    _ => {
                        let settled = view.starts.get(d + 1 - longest).copied().unwrap_or(re);
                        scanned = scanned.max(settled);
                    }
                }
                if scanned > bound {
                    return None;
                }
                continue;
            }
            let rs = scanned.max((at + 1).saturating_sub(span));
            let re = len.min(at + token.len() + span + REGION_SLACK);
            view.decode(hay, rs, re);
            match self.decoded.scan(&view.bytes, 0, view.len()) {
                Some(m) => {
                    let found = self.decoded_occurrence(view, &m);
                    // Every occurrence starting at or before this one ends
                    // inside the region: the automaton saw them all.
                    if re == len || found.start + span <= re {
                        return Some(found);
                    }
                    // A longer occurrence may start before this one and end
                    // past the region: only what lies in it is settled.
                    scanned = scanned.max((re + 1).saturating_sub(span));
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

/// What [`Matcher::find`] keeps between calls on one buffer.
#[derive(Default)]
pub(crate) struct Cursor {
    /// `(from, found)`: the last raw search.
    raw: Option<(usize, Option<Occurrence>)>,
    tokens: Option<Tokens>,
    view: View,
}

/// The tokens of a buffer from `lo` on, and what their probes said.
struct Tokens {
    lo: usize,
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
