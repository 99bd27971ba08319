//! One Aho-Corasick automaton over a set of patterns, with the "could this
//! still grow into a match" test that decides what a stream holds back.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, Input, Match, MatchKind, StartKind, dfa};

/// Without the sampling filter (values under 6 bytes), the automaton reads
/// every byte, and up to this many bytes of patterns a DFA (one table lookup
/// per byte) is built: 650 MiB/s against 256 MiB/s for the contiguous NFA with
/// 10 five-byte values. Above it the DFA's memory (states x byte classes x 4
/// bytes) and build time grow too fast. Behind the filter the automaton only
/// checks the few regions that hit, and the NFA is as fast (within 7%) with a
/// thirtieth of the memory, so the DFA is not used there.
const DFA_MAX_PATTERN_BYTES: usize = 16 * 1024;

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
pub(crate) struct Patterns {
    engine: Engine,
    prefixes: Prefixes,
    /// By pattern ID: whether the pattern is a proper prefix of another one.
    extendable: Vec<bool>,
    max_len: usize,
}

impl Patterns {
    /// `patterns` must be non-empty, sorted and without duplicates.
    /// `sampled`: a filter probes before the automaton runs, so the
    /// automaton's own prefilter would not pay.
    pub(crate) fn new(
        patterns: &[(&[u8], usize)],
        sampled: bool,
    ) -> Result<Patterns, aho_corasick::BuildError> {
        debug_assert!(!patterns.is_empty());
        debug_assert!(patterns.windows(2).all(|w| w[0].0 < w[1].0));
        let bytes: Vec<&[u8]> = patterns.iter().map(|p| p.0).collect();
        let total: usize = bytes.iter().map(|p| p.len()).sum();
        let engine = if !sampled && total <= DFA_MAX_PATTERN_BYTES {
            Engine::Dfa(
                dfa::Builder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .start_kind(StartKind::Both)
                    .prefilter(true)
                    .build(&bytes)?,
            )
        } else {
            Engine::Nfa(
                contiguous::Builder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .prefilter(!sampled)
                    .build(&bytes)?,
            )
        };
        let prefixes = Prefixes::new(&bytes);
        // In sorted order, the patterns that extend `p` directly follow it.
        let extendable = (0..bytes.len())
            .map(|i| {
                bytes
                    .get(i + 1)
                    .is_some_and(|next| next.starts_with(bytes[i]))
            })
            .collect();
        Ok(Patterns {
            engine,
            prefixes,
            extendable,
            max_len: bytes.iter().map(|p| p.len()).max().unwrap_or(1),
        })
    }

    /// Heap bytes used by the automaton.
    pub(crate) fn memory_usage(&self) -> usize {
        with_automaton!(&self.engine, a => a.memory_usage())
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self.engine {
            Engine::Nfa(_) => "contiguous NFA",
            Engine::Dfa(_) => "DFA",
        }
    }

    /// The leftmost-longest occurrence within `hay[from..to]`.
    pub(crate) fn scan(&self, hay: &[u8], from: usize, to: usize) -> Option<Match> {
        with_automaton!(&self.engine, a => scan(a, hay, from, to))
    }

    fn may_grow_in<A: Automaton>(&self, a: &A, bytes: &[u8]) -> bool {
        let mut sid = a
            .start_state(Anchored::Yes)
            .expect("automata are built with anchored support");
        for &b in bytes {
            sid = a.next_state(Anchored::Yes, sid, b);
            if a.is_dead(sid) {
                return false;
            }
        }
        // A live trie state that is no pattern's end has a way forward.
        // A pattern's end needs a longer pattern to extend it, or the
        // match is complete and final. Careful: a state may also carry
        // matches of shorter patterns that end here (copied along failure
        // links); only a pattern as long as the path is the state's own.
        if !a.is_match(sid) {
            return true;
        }
        let own = (0..a.match_len(sid))
            .map(|n| a.match_pattern(sid, n))
            .find(|&pid| a.pattern_len(pid) == bytes.len());
        !matches!(own, Some(pid) if !self.extendable[pid.as_usize()])
    }

    /// The earliest position `i >= from` such that `hay[i..]` may still grow
    /// into an occurrence once more bytes arrive (a proper prefix of a pattern, or a whole pattern that a longer one extends),
    /// or that `also(i)` holds; `hay.len()` if there is none.
    pub(crate) fn hold_point(
        &self,
        hay: &[u8],
        from: usize,
        also: impl Fn(usize) -> bool,
    ) -> usize {
        let len = hay.len();
        let start_at = from.max(len.saturating_sub(self.max_len - 1));
        (start_at..len)
            .find(|&i| {
                self.prefixes.may_start(&hay[i..])
                    && (also(i)
                        || with_automaton!(&self.engine, a => self.may_grow_in(a, &hay[i..])))
            })
            .unwrap_or(len)
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

    fn patterns(list: &[&[u8]]) -> Patterns {
        let mut sorted = list.to_vec();
        sorted.sort();
        sorted.dedup();
        let tagged: Vec<(&[u8], usize)> = sorted.iter().map(|p| (*p, 0)).collect();
        Patterns::new(&tagged, true).unwrap()
    }

    fn span(m: Option<Match>) -> Option<(usize, usize)> {
        m.map(|m| (m.start(), m.end()))
    }

    fn hold(p: &Patterns, hay: &[u8], from: usize) -> usize {
        p.hold_point(hay, from, |_| false)
    }

    #[test]
    fn leftmost_longest() {
        let m = patterns(&[b"abcdefgh", b"abcdefghij", b"cdefghijklmn"]);
        let hay = b"xxabcdefghijklmn";
        assert_eq!(span(m.scan(hay, 0, hay.len())), Some((2, 12)));
        assert_eq!(span(m.scan(hay, 3, hay.len())), Some((4, 16)));
        assert_eq!(span(m.scan(b"xxabcdefgh", 0, 10)), Some((2, 10)));
    }

    #[test]
    fn hold_point_finds_proper_prefixes() {
        let m = patterns(&[b"abcdefgh", b"abcdefghXY", b"zyxwvuts"]);
        assert_eq!(hold(&m, b"hello\n", 0), 6);
        assert_eq!(hold(&m, b"hello abc", 0), 6);
        assert_eq!(hold(&m, b"hello zy", 0), 6);
        // A complete match that a longer pattern extends is still held.
        assert_eq!(hold(&m, b"hello abcdefgh", 0), 6);
        assert_eq!(hold(&m, b"hello abcdefghX", 0), 6);
        // A complete match that nothing extends is final.
        assert_eq!(hold(&m, b"hello zyxwvuts", 0), 14);
        // ...but a shorter tail of it may still be a prefix.
        let z = patterns(&[b"zzzzzzzz"]);
        assert_eq!(hold(&z, b"hello zzzzzzzz", 0), 7);
        assert_eq!(hold(&m, b"hello abcdefghXY", 0), 16);
        // Not before `from`.
        assert_eq!(hold(&m, b"abc", 1), 3);
    }

    #[test]
    fn hold_point_ignores_suffix_matches_carried_by_a_state() {
        // The state for "/p\0" also reports "\0", which ends there; "/p\0"
        // is still only a proper prefix of "/p\0\xf8" (a fuzzer find).
        let m = patterns(&[b"\0", b"/p\0\xf8", b"L3AA+A=="]);
        assert_eq!(hold(&m, b"/p\0", 0), 0);
        let m = patterns(&[b"cdefghij", b"abcdefghij", b"xxcdefghij"]);
        assert_eq!(hold(&m, b"..xxcdefghij", 0), 12);
        let m = patterns(&[b"cdefghij", b"abcdefghijkl"]);
        assert_eq!(hold(&m, b"..abcdefghij", 0), 2);
    }

    #[test]
    fn hold_point_prefers_the_earliest_candidate() {
        // "zzzz" could grow into either pattern starting at 0 or 1.
        let m = patterns(&[b"zzzzzzzz", b"zzzzzzzzz"]);
        assert_eq!(hold(&m, b"ab zzzz", 0), 3);
    }
}
