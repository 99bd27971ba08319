//! Pattern matching: the Aho-Corasick automaton, the sampling filter in front
//! of it, and the "could this tail still grow into a match" test that decides
//! what a stream holds back.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, Input, Match, MatchKind, StartKind, dfa};

use crate::filter::Filter;

/// Without the sampling filter (values under 6 bytes), the automaton reads
/// every byte, and up to this many bytes of patterns a DFA (one table lookup
/// per byte) is built: 650 MiB/s against 256 MiB/s for the contiguous NFA with
/// 10 five-byte values. Above it the DFA's memory (states x byte classes x 4
/// bytes) and build time grow too fast. Behind the filter the automaton only
/// checks the few regions that hit, and the NFA is as fast (within 7%) with a
/// thirtieth of the memory, so the DFA is not used there.
const DFA_MAX_PATTERN_BYTES: usize = 16 * 1024;

/// When the filter hits, the automaton scans this far past the longest
/// possible occurrence, so that a cluster of hits costs one scan, not one each.
const REGION_SLACK: usize = 64;

enum Engine {
    Nfa(contiguous::NFA),
    Dfa(dfa::DFA),
}

/// Runs `$body` with `$a` bound to the automaton, whatever its kind.
macro_rules! with_automaton {
    ($engine:expr, $a:ident => $body:expr) => {
        match $engine {
            Engine::Nfa($a) => $body,
            Engine::Dfa($a) => $body,
        }
    };
}

/// Finds leftmost-longest occurrences of a fixed, non-empty set of patterns.
pub(crate) struct Matcher {
    engine: Engine,
    filter: Option<Filter>,
    prefixes: Prefixes,
    /// By pattern ID: whether the pattern is a proper prefix of another one.
    extendable: Vec<bool>,
    max_len: usize,
}

impl Matcher {
    /// `patterns` must be non-empty, sorted and without duplicates.
    pub(crate) fn new(patterns: &[&[u8]]) -> Result<Matcher, aho_corasick::BuildError> {
        debug_assert!(!patterns.is_empty());
        debug_assert!(patterns.windows(2).all(|w| w[0] < w[1]));
        let filter = Filter::new(patterns.iter().copied());
        // The automaton's own prefilter only pays when nothing samples first.
        let prefilter = filter.is_none();
        let total: usize = patterns.iter().map(|p| p.len()).sum();
        let engine = if filter.is_none() && total <= DFA_MAX_PATTERN_BYTES {
            Engine::Dfa(
                dfa::Builder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .start_kind(StartKind::Both)
                    .prefilter(prefilter)
                    .build(patterns)?,
            )
        } else {
            Engine::Nfa(
                contiguous::Builder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .prefilter(prefilter)
                    .build(patterns)?,
            )
        };
        let prefixes = Prefixes::new(patterns);
        // In sorted order, the patterns that extend `p` directly follow it.
        let extendable = (0..patterns.len())
            .map(|i| {
                patterns
                    .get(i + 1)
                    .is_some_and(|next| next.starts_with(patterns[i]))
            })
            .collect();
        let max_len = patterns.iter().map(|p| p.len()).max().unwrap_or(1);
        Ok(Matcher {
            engine,
            filter,
            prefixes,
            extendable,
            max_len,
        })
    }

    /// The length of the longest pattern.
    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    /// Heap bytes used by the automaton.
    pub(crate) fn memory_usage(&self) -> usize {
        with_automaton!(&self.engine, a => a.memory_usage())
    }

    /// Which automaton and filter are in use, for benchmarks and debugging.
    pub(crate) fn describe(&self) -> String {
        let kind = match self.engine {
            Engine::Nfa(_) => "contiguous NFA",
            Engine::Dfa(_) => "DFA",
        };
        match &self.filter {
            Some(f) => format!(
                "{kind}, {} bytes, sampling {}-byte windows every {} bytes",
                self.memory_usage(),
                f.window(),
                f.step()
            ),
            None => format!("{kind}, {} bytes, no sampling", self.memory_usage()),
        }
    }

    /// The leftmost-longest occurrence in `hay` starting at or after `from`,
    /// among occurrences that lie entirely inside `hay`.
    pub(crate) fn find(&self, hay: &[u8], from: usize) -> Option<Match> {
        with_automaton!(&self.engine, a => match &self.filter {
            Some(f) => self.find_sampled(a, f, hay, from),
            None => scan(a, hay, from, hay.len()),
        })
    }

    /// Like [`Matcher::find`] but without the filter: the reference semantics.
    pub(crate) fn find_unfiltered(&self, hay: &[u8], from: usize) -> Option<Match> {
        with_automaton!(&self.engine, a => scan(a, hay, from, hay.len()))
    }

    fn find_sampled<A: Automaton>(
        &self,
        a: &A,
        f: &Filter,
        hay: &[u8],
        mut from: usize,
    ) -> Option<Match> {
        let (q, k, len) = (f.window(), f.step(), hay.len());
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
            let re = len.min(j + self.max_len + REGION_SLACK);
            let found = scan(a, hay, rs, re);
            if re == len {
                return found;
            }
            // Every occurrence starting at or before re - max_len lies inside
            // the region, so the automaton saw all of them: the one it found
            // is the true leftmost-longest if it starts there.
            let settled = re + 1 - self.max_len;
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

    /// The earliest position `i >= from` such that `hay[i..]` is a proper
    /// prefix of some pattern: data that may still grow into a match (or into
    /// a longer match) once more bytes arrive. `hay.len()` if there is none.
    pub(crate) fn hold_point(&self, hay: &[u8], from: usize) -> usize {
        with_automaton!(&self.engine, a => self.hold_point_in(a, hay, from))
    }

    fn hold_point_in<A: Automaton>(&self, a: &A, hay: &[u8], from: usize) -> usize {
        let len = hay.len();
        let start_at = from.max(len.saturating_sub(self.max_len - 1));
        let start = a
            .start_state(Anchored::Yes)
            .expect("automata are built with anchored support");
        'candidates: for i in start_at..len {
            if !self.prefixes.may_start(&hay[i..]) {
                continue;
            }
            let mut sid = start;
            for &b in &hay[i..] {
                sid = a.next_state(Anchored::Yes, sid, b);
                if a.is_dead(sid) {
                    continue 'candidates;
                }
            }
            // A live trie state that is no pattern's end has a way forward.
            // A pattern's end needs a longer pattern to extend it, or the
            // match is complete and final. Careful: a state may also carry
            // matches of shorter patterns that end here (copied along failure
            // links); only a pattern as long as the path is the state's own.
            if !a.is_match(sid) {
                return i;
            }
            let depth = len - i;
            let own = (0..a.match_len(sid))
                .map(|n| a.match_pattern(sid, n))
                .find(|&pid| a.pattern_len(pid) == depth);
            match own {
                Some(pid) if !self.extendable[pid.as_usize()] => {}
                _ => return i,
            }
        }
        len
    }
}

/// Quick rejection of hold-point candidates, before any automaton step: the
/// first byte of every pattern, and a hashed set of the first three.
struct Prefixes {
    first: [bool; 256],
    /// Bitset over hashes of 3-byte prefixes.
    triples: Box<[u64]>,
    /// `64 - log2(bits in triples)`.
    shift: u32,
}

impl Prefixes {
    fn new(patterns: &[&[u8]]) -> Prefixes {
        let bits = (patterns.len() * 32)
            .next_power_of_two()
            .clamp(1 << 12, 1 << 20);
        let mut prefixes = Prefixes {
            first: [false; 256],
            triples: vec![0; bits / 64].into_boxed_slice(),
            shift: 64 - bits.trailing_zeros(),
        };
        for p in patterns {
            prefixes.first[usize::from(p[0])] = true;
            if let [a, b, c, ..] = **p {
                let h = prefixes.hash(a, b, c);
                prefixes.triples[h / 64] |= 1 << (h % 64);
            }
        }
        prefixes
    }

    #[inline]
    fn hash(&self, a: u8, b: u8, c: u8) -> usize {
        let key = u64::from(a) | u64::from(b) << 8 | u64::from(c) << 16;
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Whether `tail` may be the start of some pattern (false positives only).
    #[inline]
    fn may_start(&self, tail: &[u8]) -> bool {
        match *tail {
            [] => false,
            [a] | [a, _] => self.first[usize::from(a)],
            [a, b, c, ..] => {
                let h = self.hash(a, b, c);
                self.first[usize::from(a)] && self.triples[h / 64] & (1 << (h % 64)) != 0
            }
        }
    }
}

/// The leftmost-longest occurrence within `hay[from..to]`.
fn scan<A: Automaton>(a: &A, hay: &[u8], from: usize, to: usize) -> Option<Match> {
    if from >= to {
        return None;
    }
    a.try_find(&Input::new(hay).span(from..to))
        .expect("unanchored leftmost-longest search cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&[u8]]) -> Matcher {
        let mut sorted = patterns.to_vec();
        sorted.sort();
        sorted.dedup();
        Matcher::new(&sorted).unwrap()
    }

    fn span(m: Option<Match>) -> Option<(usize, usize)> {
        m.map(|m| (m.start(), m.end()))
    }

    #[test]
    fn leftmost_longest() {
        let m = matcher(&[b"abcdefgh", b"abcdefghij", b"cdefghijklmn"]);
        assert_eq!(span(m.find(b"xxabcdefghijklmn", 0)), Some((2, 12)));
        assert_eq!(span(m.find(b"xxabcdefghijklmn", 3)), Some((4, 16)));
        assert_eq!(span(m.find(b"xxabcdefgh", 0)), Some((2, 10)));
    }

    #[test]
    fn sampled_find_agrees_with_plain_scan() {
        let pats: [&[u8]; 3] = [
            b"0123456789ABCDEF",
            b"secret-token-0001",
            b"the quick brown fox",
        ];
        let m = matcher(&pats);
        assert!(m.filter.is_some());
        let mut hay = Vec::new();
        for i in 0..300 {
            hay.extend_from_slice(format!("line {i} with some words ").as_bytes());
            if i % 7 == 0 {
                hay.extend_from_slice(pats[i % 3]);
            }
            if i % 11 == 0 {
                hay.extend_from_slice(&pats[i % 3][..10]);
            }
        }
        for from in [0, 1, 5, 100, 1000, hay.len()] {
            let mut pos = from;
            loop {
                let a = m.find(&hay, pos);
                assert_eq!(span(a), span(m.find_unfiltered(&hay, pos)));
                match a {
                    Some(x) => pos = x.end(),
                    None => break,
                }
            }
        }
    }

    #[test]
    fn hold_point_finds_proper_prefixes() {
        let m = matcher(&[b"abcdefgh", b"abcdefghXY", b"zyxwvuts"]);
        assert_eq!(m.hold_point(b"hello\n", 0), 6);
        assert_eq!(m.hold_point(b"hello abc", 0), 6);
        assert_eq!(m.hold_point(b"hello zy", 0), 6);
        // A complete match that a longer pattern extends is still held.
        assert_eq!(m.hold_point(b"hello abcdefgh", 0), 6);
        assert_eq!(m.hold_point(b"hello abcdefghX", 0), 6);
        // A complete match that nothing extends is final.
        assert_eq!(m.hold_point(b"hello zyxwvuts", 0), 14);
        // ...but a shorter tail of it may still be a prefix.
        let z = matcher(&[b"zzzzzzzz"]);
        assert_eq!(z.hold_point(b"hello zzzzzzzz", 0), 7);
        assert_eq!(m.hold_point(b"hello abcdefghXY", 0), 16);
        // Not before `from`.
        assert_eq!(m.hold_point(b"abc", 1), 3);
    }

    #[test]
    fn hold_point_ignores_suffix_matches_carried_by_a_state() {
        // The state for "/p\0" also reports "\0", which ends there; "/p\0"
        // is still only a proper prefix of "/p\0\xf8" (a fuzzer find).
        let m = matcher(&[b"\0", b"/p\0\xf8", b"L3AA+A=="]);
        assert_eq!(m.hold_point(b"/p\0", 0), 0);
        let m = matcher(&[b"cdefghij", b"abcdefghij", b"xxcdefghij"]);
        assert_eq!(m.hold_point(b"..xxcdefghij", 0), 12);
        let m = matcher(&[b"cdefghij", b"abcdefghijkl"]);
        assert_eq!(m.hold_point(b"..abcdefghij", 0), 2);
    }

    #[test]
    fn hold_point_prefers_the_earliest_candidate() {
        // "zzzz" could grow into either pattern starting at 0 or 1.
        let m = matcher(&[b"zzzzzzzz", b"zzzzzzzzz"]);
        assert_eq!(m.hold_point(b"ab zzzz", 0), 3);
    }
}
