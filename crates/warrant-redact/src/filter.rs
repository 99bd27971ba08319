//! A sampling prefilter that lets the scan skip most bytes.
//!
//! Every pattern is at least `m` bytes long. Look at the `q`-byte window
//! starting at every `k`-th position of the haystack, with `k = m - q + 1`:
//! any occurrence of a pattern (start `s`, length at least `m`) fully contains
//! the first sampled window at or after `s`, and that window starts at offset
//! `0..k` of the pattern. So the filter indexes, for every pattern, the `k`
//! windows at offsets `0..k` in a Bloom filter (no false negatives). A sample
//! whose window is not in the set proves that no occurrence has its first
//! sample there; only samples that hit need the automaton, on a short region
//! around them (see `Matcher::find`).
//!
//! [`Filter::every_window`] indexes every window of every pattern instead,
//! for probes at arbitrary places (around the escapes of the decoded view).
//!
//! The Bloom filter is blocked: a window sets 3 bits of one 64-bit word, so a
//! test is one memory access. With at least 32 bits per entry, about one
//! absent window in a thousand hits. Output repeats itself (a timestamp on
//! every line), so one unlucky window would hit on every line: a Bloom hit is
//! confirmed in an exact set of the windows, and only true windows pass.

use zeroize::{Zeroize, Zeroizing};

/// Samples are taken only if windows are at least this long: shorter windows
/// hit too often in ordinary text to gain anything.
const MIN_WINDOW: usize = 3;
/// The longest window: one `u64` load.
const MAX_WINDOW: usize = 8;
/// Bits of the index per indexed window.
const BITS_PER_ENTRY: usize = 32;
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
    /// A filter for `patterns`, or `None` when the shortest pattern is too
    /// short for sampling to pay.
    pub(crate) fn new<'p>(patterns: impl Iterator<Item = &'p [u8]> + Clone) -> Option<Filter> {
        let min_len = patterns.clone().map(<[u8]>::len).min()?;
        let q = (min_len / 2).min(MAX_WINDOW);
        if q < MIN_WINDOW {
            return None;
        }
        let k = min_len - q + 1;
        Some(Filter::build(patterns, q, k, |_| k))
    }

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

    /// A filter for the pieces of `values` (those of at least `piece`
    /// bytes): every `q`-byte window of every such value, sampled every
    /// `piece - q + 1` bytes, so that any piece of `piece` bytes or more
    /// holds a sample; `None` if no value is that long.
    pub(crate) fn pieces<'p>(
        values: impl Iterator<Item = &'p [u8]> + Clone,
        piece: usize,
        q: usize,
    ) -> Option<Filter> {
        debug_assert!((MIN_WINDOW..=MAX_WINDOW).contains(&q) && q <= piece);
        let long = values.filter(move |v| v.len() >= piece);
        long.clone().next()?;
        Some(Filter::build(long, q, piece - q + 1, |v| v.len() + 1 - q))
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

    /// The sampling step.
    pub(crate) fn step(&self) -> usize {
        self.k
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

    #[test]
    fn no_filter_for_short_patterns() {
        let pats: [&[u8]; 2] = [b"abcdefgh", b"abcde"];
        assert!(Filter::new(pats.iter().copied()).is_none());
        assert!(Filter::new(std::iter::empty()).is_none());
    }

    #[test]
    fn window_and_step() {
        let pats: [&[u8]; 1] = [b"0123456789abcdef0123456789abcdef0123456789"];
        let f = Filter::new(pats.iter().copied()).unwrap();
        assert_eq!((f.window(), f.step()), (8, 42 - 8 + 1));
        let pats: [&[u8]; 1] = [b"0123456789"];
        let f = Filter::new(pats.iter().copied()).unwrap();
        assert_eq!((f.window(), f.step()), (5, 6));
    }

    #[test]
    fn every_indexed_window_hits() {
        let pats: [&[u8]; 2] = [b"correct horse battery staple", b"Tr0ub4dor&3-Tr0ub4dor&3"];
        let f = Filter::new(pats.iter().copied()).unwrap();
        for p in pats {
            for offset in 0..f.step() {
                assert!(f.hit(p, offset), "offset {offset}");
            }
        }
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
        let f = Filter::new(pats.iter().map(Vec::as_slice)).unwrap();
        let probes = 200_000;
        let hits = (0..probes)
            .filter(|_| f.hit(&next().to_le_bytes(), 0))
            .count();
        assert!(hits * 1000 < probes * 2, "{hits} of {probes} hit");
    }

    #[test]
    fn unrelated_text_mostly_misses() {
        let pats: [&[u8]; 1] = [b"fake_token_FAKE0fake1FAKE2fake3FAKE4fake"];
        let f = Filter::new(pats.iter().copied()).unwrap();
        let text =
            b"INFO request served path=/api/v1/users status=200 in 12ms, all good here".repeat(4);
        let hits = (0..text.len() - 8).filter(|&i| f.hit(&text, i)).count();
        assert!(hits < 4, "{hits} hits");
    }
}
