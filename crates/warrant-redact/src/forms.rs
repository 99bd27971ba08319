//! The forms of a value: the byte strings that count as "the value" in output.
//!
//! See the crate docs for the list. Every intermediate buffer here holds
//! secret bytes, so each one is a [`Zeroizing`] vector.

use zeroize::Zeroizing;

/// Derived forms shorter than this are dropped: they would match unrelated
/// text (a one-character base64 fragment, the two hex digits of one byte).
/// The raw value itself is always kept, whatever its length.
pub(crate) const MIN_DERIVED_LEN: usize = 4;

type Buf = Zeroizing<Vec<u8>>;

const B64_STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// All forms of `value`, raw value first, without duplicates. Empty for an
/// empty value.
pub(crate) fn forms_of(value: &[u8]) -> Vec<Buf> {
    let mut out: Vec<Buf> = Vec::new();
    if value.is_empty() {
        return out;
    }
    let mut push = |form: Buf, derived: bool| {
        if form.is_empty() || (derived && form.len() < MIN_DERIVED_LEN) {
            return;
        }
        if !out.iter().any(|f| **f == *form) {
            out.push(form);
        }
    };
    // A value read from a file often ends in a newline that the program
    // does not print: the value without it counts too, if it is long enough.
    let trimmed = trim_line_endings(value);
    let mut variants: Vec<&[u8]> = vec![value];
    if trimmed.len() >= MIN_DERIVED_LEN && trimmed.len() < value.len() {
        variants.push(trimmed);
    }
    for raw in variants {
        // The value as given is kept at any length.
        push(Zeroizing::new(raw.to_vec()), raw.len() < value.len());
        if let Some(crlf) = lf_to_crlf(raw) {
            push(crlf, true);
        }
        for alphabet in [B64_STANDARD, B64_URL_SAFE] {
            let padded = base64_whole(raw, alphabet, true);
            let unpadded = base64_whole(raw, alphabet, false);
            push(padded, true);
            push(unpadded, true);
            for offset in 0..3 {
                push(base64_fragment(raw, alphabet, offset), true);
            }
        }
        for digits in [HEX_UPPER, HEX_LOWER] {
            push(percent(raw, digits, false), true);
            push(percent(raw, digits, true), true);
        }
        if let Ok(text) = std::str::from_utf8(raw) {
            for style in JsonStyle::ALL {
                push(json(text, style), true);
            }
        }
        push(hex(raw, HEX_LOWER), true);
        push(hex(raw, HEX_UPPER), true);
    }
    out
}

/// `value` without its trailing `\r` and `\n` bytes.
fn trim_line_endings(value: &[u8]) -> &[u8] {
    let end = value
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    &value[..end]
}

/// Every bare `\n` (not preceded by `\r`) turned into `\r\n`, as a terminal
/// in its default mode (ONLCR) prints it; `None` if there is no bare `\n`.
fn lf_to_crlf(value: &[u8]) -> Option<Buf> {
    let bare = |i: usize| value[i] == b'\n' && (i == 0 || value[i - 1] != b'\r');
    if !(0..value.len()).any(bare) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 2));
    for (i, &b) in value.iter().enumerate() {
        if bare(i) {
            out.push(b'\r');
        }
        out.push(b);
    }
    Some(out)
}

/// Base64 sextets of `bits`, a big-endian bit string given as whole bytes,
/// from sextet `first` (inclusive) to sextet `last` (exclusive). Bits past the
/// end of `bits` read as zero, as an encoder pads the last sextet.
fn sextets(bits: &[u8], first: usize, last: usize, alphabet: &[u8; 64], out: &mut Vec<u8>) {
    for s in first..last {
        let mut v = 0u8;
        for b in 0..6 {
            let bit = s * 6 + b;
            let byte = bits.get(bit / 8).copied().unwrap_or(0);
            v = (v << 1) | ((byte >> (7 - bit % 8)) & 1);
        }
        out.push(alphabet[usize::from(v)]);
    }
}

/// The whole value base64-encoded, with or without `=` padding.
fn base64_whole(value: &[u8], alphabet: &[u8; 64], pad: bool) -> Buf {
    let chars = (value.len() * 8).div_ceil(6);
    let mut out = Zeroizing::new(Vec::with_capacity(chars + 2));
    sextets(value, 0, chars, alphabet, &mut out);
    if pad {
        while out.len() % 4 != 0 {
            out.push(b'=');
        }
    }
    out
}

/// The characters of a larger base64 stream that depend on `value` only,
/// when `value` starts at byte `offset` (0, 1 or 2) of a 3-byte group.
fn base64_fragment(value: &[u8], alphabet: &[u8; 64], offset: usize) -> Buf {
    let mut shifted = Zeroizing::new(vec![0u8; offset]);
    shifted.extend_from_slice(value);
    let first = (offset * 8).div_ceil(6);
    let last = (offset + value.len()) * 8 / 6;
    let mut out = Zeroizing::new(Vec::with_capacity(last.saturating_sub(first)));
    sextets(&shifted, first, last, alphabet, &mut out);
    out
}

/// Percent-encoding of every byte but the RFC 3986 unreserved ones; with
/// `form`, space becomes `+` (`application/x-www-form-urlencoded`).
fn percent(value: &[u8], digits: &[u8; 16], form: bool) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 3));
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else if form && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[
                b'%',
                digits[usize::from(b >> 4)],
                digits[usize::from(b & 15)],
            ]);
        }
    }
    out
}

fn hex(value: &[u8], digits: &[u8; 16]) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 2));
    for &b in value {
        out.extend_from_slice(&[digits[usize::from(b >> 4)], digits[usize::from(b & 15)]]);
    }
    out
}

/// The JSON string escapings produced by common encoders.
#[derive(Clone, Copy)]
struct JsonStyle {
    /// Non-ASCII (and DEL) as `\uXXXX`, as Python's `json.dumps` default (`ensure_ascii`).
    ascii: bool,
    /// `/` as `\/`, as PHP's `json_encode` default.
    slash: bool,
    /// `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`, as Go's `encoding/json` default.
    html: bool,
}

impl JsonStyle {
    const ALL: [JsonStyle; 5] = [
        // serde_json, JavaScript, Python with ensure_ascii=False
        JsonStyle {
            ascii: false,
            slash: false,
            html: false,
        },
        JsonStyle {
            ascii: true,
            slash: false,
            html: false,
        },
        JsonStyle {
            ascii: false,
            slash: true,
            html: false,
        },
        JsonStyle {
            ascii: true,
            slash: true,
            html: false,
        },
        JsonStyle {
            ascii: false,
            slash: false,
            html: true,
        },
    ];
}

/// The inside of a JSON string literal holding `text` (no quotes).
fn json(text: &str, style: JsonStyle) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 2));
    let mut utf8 = [0u8; 4];
    let mut units = [0u16; 2];
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '/' if style.slash => out.extend_from_slice(b"\\/"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if style.html => {
                unicode_escape(&mut out, c as u16);
            }
            c if c < ' ' => unicode_escape(&mut out, c as u16),
            c if style.ascii && (c as u32) >= 0x7f => {
                for &unit in c.encode_utf16(&mut units).iter() {
                    unicode_escape(&mut out, unit);
                }
            }
            c => out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes()),
        }
    }
    utf8.fill(0);
    units.fill(0);
    out
}

fn unicode_escape(out: &mut Vec<u8>, unit: u16) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX_LOWER[usize::from((unit >> shift) & 15)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    fn all(value: &[u8]) -> Vec<Vec<u8>> {
        forms_of(value).into_iter().map(|f| f.to_vec()).collect()
    }

    fn has(value: &[u8], form: &[u8]) -> bool {
        all(value).iter().any(|f| f == form)
    }

    #[test]
    fn empty_value_has_no_forms() {
        assert!(forms_of(b"").is_empty());
    }

    #[test]
    fn raw_comes_first() {
        assert_eq!(all(b"s3cr3t-value")[0], b"s3cr3t-value");
    }

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
            let s = base64_whole(value, B64_STANDARD, true);
            assert_eq!(*s, STANDARD.encode(value).into_bytes());
            let s = base64_whole(value, B64_STANDARD, false);
            assert_eq!(*s, STANDARD_NO_PAD.encode(value).into_bytes());
            let s = base64_whole(value, B64_URL_SAFE, true);
            assert_eq!(*s, URL_SAFE.encode(value).into_bytes());
            let s = base64_whole(value, B64_URL_SAFE, false);
            assert_eq!(*s, URL_SAFE_NO_PAD.encode(value).into_bytes());
        }
    }

    #[test]
    fn base64_fragments_appear_inside_any_larger_encoding() {
        let value = b"\xfb\xff-secret-\x00\xfe?value";
        for offset in 0..3 {
            let frag = base64_fragment(value, B64_STANDARD, offset);
            assert!(frag.len() >= MIN_DERIVED_LEN);
            assert!(has(value, &frag));
            // Whatever bytes surround the value, its fragment is in the encoding.
            for fill in [0u8, 0xff, b'x'] {
                for tail in 0..3 {
                    let mut stream = vec![fill; offset];
                    stream.extend_from_slice(value);
                    stream.extend(std::iter::repeat_n(fill, tail));
                    let encoded = STANDARD.encode(&stream).into_bytes();
                    assert!(
                        encoded.windows(frag.len()).any(|w| w == &frag[..]),
                        "offset {offset} fill {fill} tail {tail}"
                    );
                    let url = URL_SAFE.encode(&stream).into_bytes();
                    let frag = base64_fragment(value, B64_URL_SAFE, offset);
                    assert!(url.windows(frag.len()).any(|w| w == &frag[..]));
                }
            }
        }
    }

    #[test]
    fn base64_fragment_lengths() {
        // 9 bytes = 72 bits: offset 0 gives 12 sextets, offset 1 starts at
        // sextet 2 and ends at 80/6 = 13, offset 2 starts at 3 and ends at 88/6 = 14.
        let v = [7u8; 9];
        assert_eq!(base64_fragment(&v, B64_STANDARD, 0).len(), 12);
        assert_eq!(base64_fragment(&v, B64_STANDARD, 1).len(), 11);
        assert_eq!(base64_fragment(&v, B64_STANDARD, 2).len(), 11);
    }

    #[test]
    fn short_values_have_no_short_derived_forms() {
        // "ab": fragments are 2-3 characters and hex 4; only the whole
        // encodings of 4 characters or more survive.
        let forms = all(b"ab");
        assert_eq!(forms[0], b"ab");
        assert!(forms[1..].iter().all(|f| f.len() >= MIN_DERIVED_LEN));
        assert!(has(b"ab", b"YWI="));
        assert!(!has(b"ab", b"YWI"));
        assert!(has(b"ab", b"6162"));
        // A one-byte value keeps only itself and its padded base64.
        assert_eq!(all(b"a"), vec![b"a".to_vec(), b"YQ==".to_vec()]);
    }

    #[test]
    fn percent_forms() {
        let v = b"p@ss w/rd~";
        assert!(has(v, b"p%40ss%20w%2Frd~"));
        assert!(has(v, b"p%40ss+w%2Frd~"));
        assert!(has(v, b"p%40ss%20w%2frd~"));
        assert!(has(v, b"p%40ss+w%2frd~"));
        // Unreserved-only values have no percent form besides the raw one.
        assert_eq!(*percent(b"Az09-._~", HEX_UPPER, false), b"Az09-._~");
    }

    #[test]
    fn json_forms_match_serde_json() {
        let text = "q\"uo\\te/\n\r\t\u{8}\u{c}\u{1}\u{7f}é€😀<&>";
        let serde = serde_json::to_string(text).unwrap();
        let inner = &serde.as_bytes()[1..serde.len() - 1];
        assert!(has(text.as_bytes(), inner));
    }

    #[test]
    fn json_ascii_slash_and_html_styles() {
        let v = "a/é😀<\u{7f}".as_bytes();
        assert!(has(v, br"a/\u00e9\ud83d\ude00<\u007f"));
        assert!(has(v, "a\\/é😀<\u{7f}".as_bytes()));
        assert!(has(v, br"a\/\u00e9\ud83d\ude00<\u007f"));
        assert!(has(v, "a/é😀\\u003c\u{7f}".as_bytes()));
    }

    #[test]
    fn json_forms_need_valid_utf8_and_a_difference() {
        // Plain ASCII: every JSON form equals the raw value and is dropped.
        let plain = all(b"plain-token-1234");
        assert_eq!(
            plain
                .iter()
                .filter(|f| f.as_slice() == b"plain-token-1234")
                .count(),
            1
        );
        // Invalid UTF-8: no JSON escape anywhere.
        assert!(!all(b"\xff\"bad\"").iter().any(|f| f.contains(&b'\\')));
    }

    #[test]
    fn hex_forms_match_the_hex_crate() {
        let v = b"\x00\xab\xcd-key";
        assert!(has(v, hex::encode(v).as_bytes()));
        assert!(has(v, hex::encode_upper(v).as_bytes()));
    }

    #[test]
    fn multiline_values_get_a_crlf_form() {
        let pem = b"-----BEGIN KEY-----\nAAAA\r\nBBBB\n-----END KEY-----\n";
        assert!(has(
            pem,
            b"-----BEGIN KEY-----\r\nAAAA\r\nBBBB\r\n-----END KEY-----\r\n"
        ));
        // Trailing line ending trimmed, with its own CRLF form.
        assert!(has(
            pem,
            b"-----BEGIN KEY-----\nAAAA\r\nBBBB\n-----END KEY-----"
        ));
        assert!(has(
            pem,
            b"-----BEGIN KEY-----\r\nAAAA\r\nBBBB\r\n-----END KEY-----"
        ));
        assert!(lf_to_crlf(b"a\r\nb").is_none());
    }

    #[test]
    fn forms_are_unique() {
        for v in [&b"abcdefgh"[..], b"a b", b"\n\n\n\n\n", b"////////"] {
            let forms = all(v);
            for (i, f) in forms.iter().enumerate() {
                assert!(!forms[i + 1..].contains(f));
            }
        }
    }

    #[test]
    fn trimmed_variant_only_when_long_enough() {
        assert!(has(b"token\n", b"token"));
        assert!(has(b"token\n", b"dG9rZW4=")); // base64 of "token"
        // "abc" is too short to stand alone: neither it nor its encodings.
        assert!(!has(b"abc\r\n", b"abc"));
        assert!(!has(b"abc\r\n", b"YWJj"));
        assert_eq!(all(b"\r\n")[0], b"\r\n");
        assert_eq!(trim_line_endings(b"ab\r\n\n"), b"ab");
    }
}
