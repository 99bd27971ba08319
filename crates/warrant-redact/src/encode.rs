//! Encoders for the literal forms: base64, base32, hex and UTF-16.
//!
//! Every buffer returned here may hold an encoding of a secret, so each one is
//! a [`Zeroizing`] vector.

use zeroize::Zeroizing;

pub(crate) type Buf = Zeroizing<Vec<u8>>;

pub(crate) const B64_STANDARD: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub(crate) const B64_URL_SAFE: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// RFC 4648 section 6.
pub(crate) const B32_STANDARD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// RFC 4648 section 7 ("base32hex").
pub(crate) const B32_HEX: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
pub(crate) const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
pub(crate) const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// A base-2^`bits` alphabet: base64 (6 bits, 3-byte groups) or base32
/// (5 bits, 5-byte groups).
#[derive(Clone, Copy)]
pub(crate) struct Radix {
    pub(crate) alphabet: &'static [u8],
    pub(crate) bits: usize,
    pub(crate) lower: bool,
}

impl Radix {
    pub(crate) const BASE64: [Radix; 2] = [
        Radix::new(B64_STANDARD, 6, false),
        Radix::new(B64_URL_SAFE, 6, false),
    ];
    pub(crate) const BASE32: [Radix; 4] = [
        Radix::new(B32_STANDARD, 5, false),
        Radix::new(B32_STANDARD, 5, true),
        Radix::new(B32_HEX, 5, false),
        Radix::new(B32_HEX, 5, true),
    ];

    const fn new(alphabet: &'static [u8], bits: usize, lower: bool) -> Radix {
        Radix {
            alphabet,
            bits,
            lower,
        }
    }

    /// Bytes per group: 3 for base64, 5 for base32.
    pub(crate) fn group(self) -> usize {
        if self.bits == 6 { 3 } else { 5 }
    }

    /// Characters per padded group: 4 for base64, 8 for base32.
    fn chars_per_group(self) -> usize {
        self.group() * 8 / self.bits
    }

    /// Characters of `bits` (a big-endian bit string given as whole bytes)
    /// from character `first` (inclusive) to `last` (exclusive). Bits past
    /// the end of `bits` read as zero, as an encoder pads the last character.
    fn chars(self, bits: &[u8], first: usize, last: usize, out: &mut Vec<u8>) {
        for c in first..last {
            let mut v = 0usize;
            for b in 0..self.bits {
                let bit = c * self.bits + b;
                let byte = bits.get(bit / 8).copied().unwrap_or(0);
                v = (v << 1) | usize::from((byte >> (7 - bit % 8)) & 1);
            }
            let ch = self.alphabet[v];
            out.push(if self.lower {
                ch.to_ascii_lowercase()
            } else {
                ch
            });
        }
    }

    /// The whole value encoded, with or without `=` padding.
    pub(crate) fn whole(self, value: &[u8], pad: bool) -> Buf {
        let chars = (value.len() * 8).div_ceil(self.bits);
        let mut out = Zeroizing::new(Vec::with_capacity(chars + 8));
        self.chars(value, 0, chars, &mut out);
        if pad {
            while out.len() % self.chars_per_group() != 0 {
                out.push(b'=');
            }
        }
        out
    }

    /// The characters of a larger encoded stream that depend on `value`
    /// only, when `value` starts at byte `offset` (below [`Radix::group`]) of
    /// a group.
    pub(crate) fn fragment(self, value: &[u8], offset: usize) -> Buf {
        let mut shifted = Zeroizing::new(vec![0u8; offset]);
        shifted.extend_from_slice(value);
        let first = (offset * 8).div_ceil(self.bits);
        let last = (offset + value.len()) * 8 / self.bits;
        let mut out = Zeroizing::new(Vec::with_capacity(last.saturating_sub(first)));
        self.chars(&shifted, first, last, &mut out);
        out
    }
}

pub(crate) fn hex(value: &[u8], digits: &[u8; 16]) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 2));
    for &b in value {
        out.extend_from_slice(&[digits[usize::from(b >> 4)], digits[usize::from(b & 15)]]);
    }
    out
}

/// `text` as UTF-16 code units, little- or big-endian, without a BOM.
pub(crate) fn utf16(text: &str, big_endian: bool) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 2));
    for unit in text.encode_utf16() {
        let bytes = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.extend_from_slice(&bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    const STD: Radix = Radix::BASE64[0];
    const URL: Radix = Radix::BASE64[1];

    #[test]
    fn base64_whole_matches_the_base64_crate() {
        for value in [
            &b"a"[..],
            b"ab",
            b"abc",
            b"abcd",
            b"\xff\xfe\xfd?>",
            b"hunter2-hunter2",
        ] {
            assert_eq!(*STD.whole(value, true), STANDARD.encode(value).into_bytes());
            assert_eq!(
                *STD.whole(value, false),
                STANDARD_NO_PAD.encode(value).into_bytes()
            );
            assert_eq!(*URL.whole(value, true), URL_SAFE.encode(value).into_bytes());
            assert_eq!(
                *URL.whole(value, false),
                URL_SAFE_NO_PAD.encode(value).into_bytes()
            );
        }
    }

    #[test]
    fn base64_fragment_lengths() {
        // 9 bytes = 72 bits: offset 0 gives 12 sextets, offset 1 starts at
        // sextet 2 and ends at 80/6 = 13, offset 2 starts at 3 and ends at 88/6 = 14.
        let v = [7u8; 9];
        assert_eq!(STD.fragment(&v, 0).len(), 12);
        assert_eq!(STD.fragment(&v, 1).len(), 11);
        assert_eq!(STD.fragment(&v, 2).len(), 11);
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        // RFC 4648 section 10.
        let cases: [(&[u8], &[u8], &[u8]); 4] = [
            (b"f", b"MY======", b"CO======"),
            (b"fo", b"MZXQ====", b"CPNG===="),
            (b"foob", b"MZXW6YQ=", b"CPNMUOG="),
            (b"foobar", b"MZXW6YTBOI======", b"CPNMUOJ1E8======"),
        ];
        for (value, standard, hex) in cases {
            assert_eq!(*Radix::BASE32[0].whole(value, true), standard);
            assert_eq!(*Radix::BASE32[2].whole(value, true), hex);
            assert_eq!(
                *Radix::BASE32[1].whole(value, true),
                standard.to_ascii_lowercase()
            );
            let unpadded: Vec<u8> = hex.iter().copied().filter(|&c| c != b'=').collect();
            assert_eq!(*Radix::BASE32[2].whole(value, false), unpadded);
        }
    }

    #[test]
    fn base32_fragments_at_each_offset() {
        let value = b"\xfb\xff-secret-\x00\xfe?value";
        let radix = Radix::BASE32[0];
        for offset in 0..5 {
            let frag = radix.fragment(value, offset);
            for fill in [0u8, 0xff] {
                let mut stream = vec![fill; offset];
                stream.extend_from_slice(value);
                stream.extend_from_slice(&[fill; 3]);
                let encoded = radix.whole(&stream, true);
                assert!(
                    encoded.windows(frag.len()).any(|w| w == &frag[..]),
                    "offset {offset}"
                );
            }
        }
    }

    #[test]
    fn utf16_both_orders() {
        assert_eq!(*utf16("aé", false), b"a\0\xe9\0");
        assert_eq!(*utf16("aé", true), b"\0a\0\xe9");
        assert_eq!(*utf16("😀", false), b"\x3d\xd8\x00\xde");
    }

    #[test]
    fn hex_forms_match_the_hex_crate() {
        let v = b"\x00\xab\xcd-key";
        assert_eq!(*hex(v, HEX_LOWER), hex::encode(v).into_bytes());
        assert_eq!(*hex(v, HEX_UPPER), hex::encode_upper(v).into_bytes());
    }
}
