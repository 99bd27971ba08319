//! A sampling prefilter that lets the scan skip most bytes.
//!
//! Every raw pattern (literal forms and the [`MIN_PIECE_LEN`]-byte windows
//! of values) is at least `m` bytes long. Let `c = min(m, MIN_PIECE_LEN)`,
//! `q = min(4, c / 2)` and `k = c - q + 1`. Look at the `q`-byte window
//! starting at every `k`-th position of the haystack: an occurrence of a
//! pattern `p` starting at `s` holds exactly one sample `j` in `s..s + k`,
//! and its window `j..j + q` lies inside `s..s + c`, a prefix of `p` (as
//! `j - s + q <= k - 1 + q = c <= |p|`). So the filter indexes, for every
//! pattern, its windows at offsets `0..k`; a sample whose window is not
//! indexed starts no occurrence in the `k` bytes before it. With the
//! shortest pieces at 12 bytes, that is one 4-byte load every 9 bytes for
//! every form at once, into a table small enough for the L2 cache.
//!
//! A window that is indexed says little (4 bytes of text repeat), so a hit
//! is confirmed twice before any automaton runs: the window must be in an
//! exact set of the indexed windows (a Bloom filter hit may be false), and
//! one of the `k` positions `s` it may start an occurrence from must begin
//! with the `c`-byte prefix of some pattern (a hashed set of those prefixes,
//! [`Sampler::may_start`]). Output repeats itself (a timestamp on every
//! line), so without these one unlucky window would cost a scan on every
//! line.
//!
//! [`Filter::every_window`] indexes every window of every pattern instead,
//! for probes at arbitrary places (around the escapes of the decoded view).
//!
//! The Bloom filter is blocked: a window sets 3 bits of one 64-bit word, so a
//! test is one memory access.

use zeroize::{Zeroize, Zeroizing};

use crate::pieces::MIN_PIECE_LEN;

/// Samples are taken only if windows are at least this long: shorter windows
/// hit too often in ordinary text to gain anything.
const MIN_WINDOW: usize = 3;
/// The longest window: one `u64` load.
const MAX_WINDOW: usize = 8;
/// Bits of the index per indexed window: about one absent window in 200
/// hits, with the table small enough to stay in the L2 cache.
const BITS_PER_ENTRY: usize = 16;
/// The sampler's window, at most: 4 bytes, so that a 12-byte piece holds
/// a sample every 9 bytes.
const SAMPLE_WINDOW: usize = 4;
/// Index size bounds, in 64-bit words. 2^17 words is 1 MiB: it stays in L2.
const MIN_WORDS_LOG2: u32 = 6;
const MAX_WORDS_LOG2: u32 = 17;

/// An exact set of windows (as masked little-endian integers): open
/// addressing, at most half full. The keys are parts of secrets: wiped on drop.
pub(crate) struct Exact {
    slots: Box<[u64]>,
    /// `64 - log2(slots.len())`.
    shift: u32,
    /// The all-zero window, which marks empty slots.
    zero: bool,
}

impl Exact {
    pub(crate) fn new(capacity: usize) -> Exact {
        let len = (capacity * 2).next_power_of_two().max(16);
        Exact {
            slots: vec![0u64; len].into_boxed_slice(),
            shift: 64 - len.trailing_zeros(),
            zero: false,
        }
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0xFF51_AFD7_ED55_8CCD) >> self.shift) as usize
    }

    pub(crate) fn insert(&mut self, key: u64) {
        if key == 0 {
            self.zero = true;
            return;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        while self.slots[i] != 0 && self.slots[i] != key {
            i = (i + 1) & mask;
        }
        self.slots[i] = key;
    }

    #[inline]
    pub(crate) fn contains(&self, key: u64) -> bool {
        if key == 0 {
            return self.zero;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            match self.slots[i] {
                0 => return false,
                k if k == key => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        self.words.zeroize();
    }
}

impl Drop for Exact {
    fn drop(&mut self) {
        self.slots.zeroize();
    }
}

pub(crate) struct Filter {
    /// Window length.
    q: usize,
    /// Sampling step.
    k: usize,
    /// Keeps the low `q` bytes of a little-endian load.
    mask: u64,
    /// `64 - log2(number of words)`.
    shift: u32,
    words: Box<[u64]>,
    exact: Exact,
}

impl Filter {
    /// A filter holding every `q`-byte window of every pattern (shorter
    /// patterns have none); `None` if `q` is too short to pay.
    pub(crate) fn every_window<'p>(
        patterns: impl Iterator<Item = &'p [u8]> + Clone,
        q: usize,
    ) -> Option<Filter> {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&q) {
            return None;
        }
        Some(Filter::build(patterns, q, 1, |p| {
            (p.len() + 1).saturating_sub(q)
        }))
    }

    fn build<'p>(
        patterns: impl Iterator<Item = &'p [u8]> + Clone,
        q: usize,
        k: usize,
        windows: impl Fn(&[u8]) -> usize,
    ) -> Filter {
        let mask = if q == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * q)) - 1
        };
        // Forms of one value often share windows (padded and unpadded
        // encodings): size the index by the distinct ones.
        let mut keys: Zeroizing<Vec<u64>> = Zeroizing::new(
            patterns
                .flat_map(|p| (0..windows(p)).map(move |offset| load(&p[offset..], q) & mask))
                .collect(),
        );
        keys.sort_unstable();
        keys.dedup();
        let wanted = (keys.len().saturating_mul(BITS_PER_ENTRY) / 64)
            .max(1)
            .next_power_of_two();
        let log2 = wanted
            .trailing_zeros()
            .clamp(MIN_WORDS_LOG2, MAX_WORDS_LOG2);
        let mut filter = Filter {
            q,
            k,
            mask,
            shift: 64 - log2,
            words: vec![0u64; 1usize << log2].into_boxed_slice(),
            exact: Exact::new(keys.len()),
        };
        for &key in keys.iter() {
            let (word, bits) = filter.probe(key);
            filter.words[word] |= bits;
            filter.exact.insert(key);
        }
        filter
    }

    #[inline]
    fn test(&self, key: u64) -> bool {
        let (word, bits) = self.probe(key);
        self.words[word] & bits == bits && self.exact.contains(key)
    }

    /// The window length.
    pub(crate) fn window(&self) -> usize {
        self.q
    }

    /// The word a key lives in and the 3 bits it sets there. Both come from
    /// the high bits of multiplicative hashes, which depend on every key bit.
    #[inline]
    fn probe(&self, key: u64) -> (usize, u64) {
        let word = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        let h = key.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> 46;
        let bits = (1 << (h & 63)) | (1 << ((h >> 6) & 63)) | (1 << (h >> 12));
        (word, bits)
    }

    /// Whether the window at `at` may start inside an occurrence.
    /// The caller guarantees `at + window() <= haystack.len()`.
    #[inline(always)]
    pub(crate) fn hit(&self, haystack: &[u8], at: usize) -> bool {
        let key = match haystack.get(at..at + MAX_WINDOW) {
            Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
            None => load(&haystack[at..], self.q),
        } & self.mask;
        self.test(key)
    }
}

impl Filter {
    /// Whether `window` (exactly [`Filter::window`] bytes) may be in the set.
    #[inline]
    pub(crate) fn hit_window(&self, window: &[u8]) -> bool {
        debug_assert_eq!(window.len(), self.q);
        self.test(load(window, self.q) & self.mask)
    }
}

/// The raw view's prefilter: a [`Filter`] of the windows sampled every
/// `k` bytes, and the patterns indexed by their `c`-byte prefixes (see the
/// module docs).
pub(crate) struct Sampler {
    windows: Filter,
    patterns: PrefixIndex,
}

impl Sampler {
    /// A sampler for `patterns` (pattern index: position in the slice), or
    /// `None` when the shortest pattern is too short for sampling to pay
    /// (under 6 bytes).
    pub(crate) fn new(patterns: &[(&[u8], usize)]) -> Option<Sampler> {
        let all = patterns.iter().map(|p| p.0);
        let c = all.clone().map(<[u8]>::len).min()?.min(MIN_PIECE_LEN);
        let q = (c / 2).min(SAMPLE_WINDOW);
        if q < MIN_WINDOW {
            return None;
        }
        let k = c - q + 1;
        let windows = Filter::build(all.clone(), q, k, |_| k);
        Some(Sampler {
            windows,
            patterns: PrefixIndex::new(all, c),
        })
    }

    /// The sampling step `k`.
    pub(crate) fn step(&self) -> usize {
        self.windows.k
    }

    /// The window length `q`.
    pub(crate) fn window(&self) -> usize {
        self.windows.q
    }

    /// The patterns, by their prefixes.
    pub(crate) fn patterns(&self) -> &PrefixIndex {
        &self.patterns
    }

    /// Bytes of the window table.
    pub(crate) fn table_bytes(&self) -> usize {
        self.windows.words.len() * 8
    }

    /// Whether the window at `at` may be in the set (Bloom filter only).
    /// The caller guarantees `at + 8 <= haystack.len()`.
    #[inline(always)]
    pub(crate) fn quick_hit(&self, haystack: &[u8], at: usize) -> bool {
        let w: [u8; 8] = haystack[at..at + 8].try_into().unwrap_or([0; 8]);
        let (word, bits) = self
            .windows
            .probe(u64::from_le_bytes(w) & self.windows.mask);
        self.windows.words[word] & bits == bits
    }

    /// The leftmost-longest occurrence `(start, end, pattern index)` that
    /// starts in `from..=at` and whose sample is `at` (it starts after
    /// `at - step()`), found by comparing the patterns whose prefix starts
    /// there. The caller guarantees `at + window() <= haystack.len()`.
    #[inline]
    pub(crate) fn find_at(
        &self,
        haystack: &[u8],
        from: usize,
        at: usize,
    ) -> Option<(usize, usize, usize)> {
        if !self.windows.hit(haystack, at) {
            return None;
        }
        let first = from.max((at + 1).saturating_sub(self.step()));
        (first..=at).find_map(|s| {
            self.patterns
                .longest_at(haystack, s)
                .map(|(len, i)| (s, s + len, i))
        })
    }
}

/// A sorted set of patterns, each at least `c` bytes long, indexed by a
/// hash of its first `c` bytes: the patterns that start at a position are
/// found by one lookup and compared byte by byte, without an automaton.
pub(crate) struct PrefixIndex {
    prefixes: Exact,
    /// Prefix length (at most 16).
    c: usize,
    /// The patterns, one after the other in sorted order, and each one's
    /// span in it.
    bytes: Zeroizing<Vec<u8>>,
    spans: Vec<(u32, u32)>,
    /// `(prefix hash, pattern index)`, sorted.
    by_prefix: Vec<(u64, u32)>,
    /// A bit for each pair of bytes some pattern starts with: most tails
    /// that [`PrefixIndex::may_grow`] is asked about fail this test.
    pairs: Box<[u64]>,
}

impl Drop for PrefixIndex {
    fn drop(&mut self) {
        self.pairs.zeroize();
        for p in &mut self.by_prefix {
            p.0.zeroize();
        }
    }
}

impl PrefixIndex {
    /// `patterns`: sorted, without duplicates, none shorter than `c`
    /// (pattern index: position in the order given).
    pub(crate) fn new<'p>(patterns: impl Iterator<Item = &'p [u8]> + Clone, c: usize) -> Self {
        debug_assert!((1..=2 * MAX_WINDOW).contains(&c));
        let mut by_prefix: Vec<(u64, u32)> = patterns
            .clone()
            .enumerate()
            .map(|(i, p)| (prefix_hash(p, c), i as u32))
            .collect();
        by_prefix.sort_unstable();
        let mut prefixes = Exact::new(by_prefix.len());
        for &(key, _) in &by_prefix {
            prefixes.insert(key);
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(patterns.clone().map(<[u8]>::len).sum()));
        let mut spans = Vec::new();
        let mut pairs = vec![0u64; 1 << 10].into_boxed_slice();
        for p in patterns {
            debug_assert!(p.len() >= c);
            let pair = pair_key(p);
            pairs[pair / 64] |= 1 << (pair % 64);
            spans.push((bytes.len() as u32, p.len() as u32));
            bytes.extend_from_slice(p);
        }
        PrefixIndex {
            prefixes,
            c,
            bytes,
            spans,
            by_prefix,
            pairs,
        }
    }

    /// Pattern `i`.
    #[inline]
    pub(crate) fn pattern(&self, i: usize) -> &[u8] {
        let (start, len) = self.spans[i];
        &self.bytes[start as usize..(start + len) as usize]
    }

    /// How many patterns there are.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The longest pattern that `haystack[s..]` starts with, as
    /// `(length, pattern index)`.
    #[inline]
    pub(crate) fn longest_at(&self, haystack: &[u8], s: usize) -> Option<(usize, usize)> {
        let window = haystack.get(s..s + self.c)?;
        let h = prefix_hash(window, self.c);
        if !self.prefixes.contains(h) {
            return None;
        }
        let from = self.by_prefix.partition_point(|p| p.0 < h);
        self.by_prefix[from..]
            .iter()
            .take_while(|p| p.0 == h)
            .filter_map(|&(_, i)| {
                let pattern = self.pattern(i as usize);
                haystack[s..]
                    .starts_with(pattern)
                    .then_some((pattern.len(), i as usize))
            })
            .max_by_key(|m| m.0)
    }

    /// Whether `bytes` may still grow into an occurrence, or into a longer
    /// one: it is a proper prefix of some pattern (the empty string is), or
    /// a whole pattern that another pattern extends.
    pub(crate) fn may_grow(&self, bytes: &[u8]) -> bool {
        self.may_start(bytes) && self.may_grow_exactly(bytes)
    }

    /// Whether some pattern may start with `bytes` (false positives
    /// only): a first test before [`PrefixIndex::may_grow`].
    #[inline]
    pub(crate) fn may_start(&self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return self.len() > 0;
        }
        let pair = pair_key(bytes);
        let mut may = self.pairs[pair / 64] & (1 << (pair % 64)) != 0;
        if bytes.len() == 1 {
            // Any second byte: the 256 bits (four words) of the first one.
            let word = usize::from(bytes[0]) * 4;
            may = self.pairs[word..word + 4].iter().any(|&w| w != 0);
        } else if bytes.len() >= self.c {
            may = may && self.prefixes.contains(prefix_hash(bytes, self.c));
        }
        may
    }

    fn may_grow_exactly(&self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return self.len() > 0;
        }
        // In sorted order, the first pattern not below `bytes` starts with
        // it if any does, and the patterns extending a pattern follow it.
        let at = partition(self.len(), |j| self.pattern(j) < bytes);
        match (at < self.len()).then(|| self.pattern(at)) {
            Some(p) if p.len() > bytes.len() => p.starts_with(bytes),
            Some(p) if p == bytes => at + 1 < self.len() && self.pattern(at + 1).starts_with(bytes),
            _ => false,
        }
    }
}

/// The first two bytes of `bytes` (at least one) as an index of 16 bits.
#[inline]
fn pair_key(bytes: &[u8]) -> usize {
    usize::from(bytes[0]) << 8 | usize::from(bytes.get(1).copied().unwrap_or(0))
}

/// The first index in `0..n` where `below` is false (`below` is true then
/// false along the range).
fn partition(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A hash of the first `c` (at most 16) bytes of `bytes`.
#[inline]
fn prefix_hash(bytes: &[u8], c: usize) -> u64 {
    let a = load(bytes, c);
    let b = if c > MAX_WINDOW {
        load(&bytes[MAX_WINDOW..], c - MAX_WINDOW)
    } else {
        0
    };
    let h = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    h ^ (h >> 29)
}

/// The first `min(n, 8, bytes.len())` bytes as a little-endian integer.
fn load(bytes: &[u8], n: usize) -> u64 {
    let mut word = [0u8; 8];
    let n = n.min(MAX_WINDOW).min(bytes.len());
    word[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged<'a>(pats: &[&'a [u8]]) -> Vec<(&'a [u8], usize)> {
        pats.iter().map(|p| (*p, 0)).collect()
    }

    #[test]
    fn no_sampler_for_short_patterns() {
        assert!(Sampler::new(&tagged(&[b"abcdefgh", b"abcde"])).is_none());
        assert!(Sampler::new(&[]).is_none());
    }

    #[test]
    fn window_and_step() {
        let pats: [&[u8]; 1] = [b"0123456789abcdef0123456789abcdef0123456789"];
        let f = Sampler::new(&tagged(&pats)).unwrap();
        assert_eq!((f.window(), f.step()), (4, 9));
        let pats: [&[u8]; 1] = [b"01234567"];
        let f = Sampler::new(&tagged(&pats)).unwrap();
        assert_eq!((f.window(), f.step()), (4, 5));
        let pats: [&[u8]; 1] = [b"012345"];
        let f = Sampler::new(&tagged(&pats)).unwrap();
        assert_eq!((f.window(), f.step()), (3, 4));
    }

    #[test]
    fn every_sample_of_an_occurrence_hits() {
        let pats: [&[u8]; 2] = [b"correct horse battery staple", b"Tr0ub4dor&3-Tr0ub4dor&3"];
        let f = Sampler::new(&tagged(&pats)).unwrap();
        for p in pats {
            let mut hay = b"..".to_vec();
            hay.extend_from_slice(p);
            hay.extend_from_slice(b"........");
            for offset in 0..f.step() {
                let found = f.find_at(&hay, 0, 2 + offset).map(|m| (m.0, m.1));
                assert_eq!(found, Some((2, 2 + p.len())), "offset {offset}");
                assert!(f.find_at(&hay, 2, 2 + offset).is_some());
            }
            // Not for an occurrence that would start before `from`.
            assert!(f.find_at(&hay, 3, 2 + f.step() - 1).is_none());
        }
    }

    #[test]
    fn prefix_index_may_grow() {
        let pats: [&[u8]; 3] = [b"abcdefgh", b"abcdefghXY", b"zyxwvuts"];
        let m = PrefixIndex::new(pats.iter().copied(), 4);
        assert!(m.may_grow(b""));
        assert!(m.may_grow(b"abc"));
        assert!(m.may_grow(b"abcdefgh"));
        assert!(m.may_grow(b"abcdefghX"));
        assert!(!m.may_grow(b"abcdefghXY"));
        assert!(!m.may_grow(b"zyxwvuts"));
        assert!(!m.may_grow(b"abd"));
        assert!(!m.may_grow(b"zz"));
        assert_eq!(m.longest_at(b"..abcdefghXY", 2), Some((10, 1)));
        assert_eq!(m.longest_at(b"..abcdefghX", 2), Some((8, 0)));
        assert_eq!(m.longest_at(b"..abcdefg", 2), None);
    }

    #[test]
    fn every_window_is_indexed() {
        let pats: [&[u8]; 2] = [b"correct horse battery staple", b"abc"];
        let f = Filter::every_window(pats.iter().copied(), 6).unwrap();
        for w in pats[0].windows(6) {
            assert!(f.hit_window(w));
        }
        assert!(Filter::every_window(pats.iter().copied(), 2).is_none());
    }

    #[test]
    fn false_positive_rate_is_low() {
        // 1,000 patterns of 40 pseudo-random bytes; probe random windows.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pats: Vec<Vec<u8>> = (0..1000)
            .map(|_| (0..40).map(|_| next() as u8).collect())
            .collect();
        let f = Sampler::new(&pats.iter().map(|p| (p.as_slice(), 0)).collect::<Vec<_>>()).unwrap();
        let probes = 200_000;
        let hits = (0..probes)
            .filter(|_| f.quick_hit(&next().to_le_bytes(), 0))
            .count();
        assert!(hits * 100 < probes, "{hits} of {probes} hit");
    }

    #[test]
    fn unrelated_text_mostly_misses() {
        let pats: [&[u8]; 1] = [b"fake_token_FAKE0fake1FAKE2fake3FAKE4fake"];
        let f = Sampler::new(&tagged(&pats)).unwrap();
        let text =
            b"INFO request served path=/api/v1/users status=200 in 12ms, all good here".repeat(4);
        let hits = (0..text.len() - 8)
            .filter(|&i| f.find_at(&text, 0, i).is_some())
            .count();
        assert_eq!(hits, 0);
    }
}
