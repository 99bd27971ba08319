//! Partial values: any contiguous piece of a value of at least
//! [`MIN_PIECE_LEN`] bytes.
//!
//! Every window of `MIN_PIECE_LEN` bytes of a value is a pattern of the
//! automaton, so the automaton finds where a piece starts. This index then
//! grows the match to the longest piece of a value that the input holds
//! there, which the automaton alone cannot do without a pattern per piece
//! (quadratic in the value's length).

use zeroize::{Zeroize, Zeroizing};

/// Pieces of a value shorter than this are not redacted (unless they are a
/// whole value): they would match unrelated text too often.
pub const MIN_PIECE_LEN: usize = 12;

/// The values, and where each window of them is.
pub(crate) struct Pieces {
    /// `(value, label index)`, in registration order.
    values: Vec<(Zeroizing<Vec<u8>>, usize)>,
    /// `(hash of the window, value index, offset)`, sorted.
    windows: Vec<(u64, u32, u32)>,
}

impl Drop for Pieces {
    fn drop(&mut self) {
        // The hashes say little about a value, but wipe them anyway.
        for w in &mut self.windows {
            w.0.zeroize();
        }
    }
}

fn hash(window: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&window[..8]);
    b[..4].copy_from_slice(&window[8..MIN_PIECE_LEN]);
    let h = u64::from_le_bytes(a).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from_le_bytes(b).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    a.zeroize();
    b.zeroize();
    h ^ (h >> 29)
}

impl Pieces {
    /// Indexes the values of at least [`MIN_PIECE_LEN`] bytes.
    pub(crate) fn new<'v>(values: impl Iterator<Item = (&'v [u8], usize)>) -> Pieces {
        let values: Vec<(Zeroizing<Vec<u8>>, usize)> = values
            .filter(|(v, _)| v.len() >= MIN_PIECE_LEN)
            .map(|(v, label)| (Zeroizing::new(v.to_vec()), label))
            .collect();
        let mut windows = Vec::new();
        for (i, (v, _)) in values.iter().enumerate() {
            for offset in 0..=v.len() - MIN_PIECE_LEN {
                windows.push((
                    hash(&v[offset..offset + MIN_PIECE_LEN]),
                    i as u32,
                    offset as u32,
                ));
            }
        }
        windows.sort_unstable();
        Pieces { values, windows }
    }

    /// `(value, offset)` of every occurrence of the window at the start of `bytes`.
    fn occurrences<'a>(
        &'a self,
        bytes: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], usize, usize)> {
        let window = bytes.get(..MIN_PIECE_LEN);
        let h = window.map_or(0, hash);
        let first = self.windows.partition_point(|w| w.0 < h);
        self.windows[first..]
            .iter()
            .take_while(move |w| window.is_some() && w.0 == h)
            .filter_map(move |&(_, v, offset)| {
                let (value, label) = &self.values[v as usize];
                let rest = &value[offset as usize..];
                (rest.get(..MIN_PIECE_LEN) == window).then_some((rest, *label, v as usize))
            })
    }

    /// The longest piece of a value at the start of `bytes`, as
    /// `(length, label)`: the first value registered wins a tie.
    pub(crate) fn longest(&self, bytes: &[u8]) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize, usize)> = None;
        for (rest, label, value) in self.occurrences(bytes) {
            let n = rest.iter().zip(bytes).take_while(|(a, b)| a == b).count();
            let better = match best {
                None => true,
                Some((len, _, v)) => n > len || (n == len && value < v),
            };
            if better {
                best = Some((n, label, value));
            }
        }
        best.map(|(n, label, _)| (n, label))
    }

    /// Whether `tail` (at least [`MIN_PIECE_LEN`] bytes) is a piece of a
    /// value that the value goes on after: more input may make it longer.
    pub(crate) fn may_grow(&self, tail: &[u8]) -> bool {
        self.occurrences(tail)
            .any(|(rest, _, _)| rest.len() > tail.len() && rest.starts_with(tail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(values: &[&[u8]]) -> Pieces {
        Pieces::new(values.iter().enumerate().map(|(i, v)| (*v, i)))
    }

    #[test]
    fn longest_piece_at_a_position() {
        let p = pieces(&[b"0123456789abcdefghij", b"xx456789abcdefZZ"]);
        assert_eq!(p.longest(b"456789abcdefgh!"), Some((14, 0)));
        assert_eq!(p.longest(b"456789abcdefZZ!"), Some((14, 1)));
        // A tie goes to the value registered first.
        assert_eq!(p.longest(b"456789abcdef!"), Some((12, 0)));
        assert_eq!(p.longest(b"456789abcde"), None);
        assert_eq!(p.longest(b"456789abcdeX"), None);
    }

    #[test]
    fn short_values_have_no_pieces() {
        let p = pieces(&[b"short-value"]);
        assert_eq!(p.longest(b"short-value"), None);
        assert!(p.windows.is_empty());
    }

    #[test]
    fn may_grow_only_when_the_value_goes_on() {
        let p = pieces(&[b"0123456789abcdefghij"]);
        assert!(p.may_grow(b"3456789abcdefg"));
        assert!(!p.may_grow(b"0123456789abcdefghij"));
        assert!(!p.may_grow(b"3456789abcdefX"));
    }

    #[test]
    fn windows_of_repeating_values() {
        let p = pieces(&[b"abababababababababab"]);
        assert_eq!(p.longest(b"ababababababababababab"), Some((20, 0)));
        assert_eq!(p.longest(b"babababababababababa"), Some((19, 0)));
        assert!(p.may_grow(b"babababababababababa".get(..18).unwrap()));
    }
}
