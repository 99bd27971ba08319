//! The literal forms of a value: the byte strings that count as "the value"
//! in output wherever they appear (see the crate docs for the list). Forms
//! that a program may print with escapes mixed in any way (percent-encoding,
//! HTML references, quoted-printable, backslash escapes, line-wrapped
//! encodings) are not listed here: the decoded view (`decode.rs`) matches
//! them. Every intermediate buffer holds secret bytes, so each one is a
//! [`Zeroizing`] vector.

use zeroize::Zeroizing;

use crate::decode::{Escapes, View};
use crate::encode::{self, Buf, HEX_LOWER, HEX_UPPER, Radix};

/// Derived forms shorter than this are dropped: they would match unrelated
/// text (a one-character base64 fragment, the two hex digits of one byte).
/// The raw value itself is always kept, whatever its length.
pub(crate) const MIN_DERIVED_LEN: usize = 4;

/// The variants of `value` that every form is made of: the value, and the
/// value without its trailing line ending when at least
/// [`MIN_DERIVED_LEN`] bytes remain. A program reading a value from a file
/// often drops the newline it ends in.
pub(crate) fn raw_variants(value: &[u8]) -> Vec<&[u8]> {
    let trimmed = trim_line_endings(value);
    let mut variants: Vec<&[u8]> = vec![value];
    if trimmed.len() >= MIN_DERIVED_LEN && trimmed.len() < value.len() {
        variants.push(trimmed);
    }
    variants
}

/// All literal forms of `value`, raw value first, without duplicates, for
/// a decoded view undoing `escapes`. Empty for an empty value.
pub(crate) fn forms_of(value: &[u8], escapes: Escapes) -> Vec<Buf> {
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
    for raw in raw_variants(value) {
        // The value as given is kept at any length.
        push(Zeroizing::new(raw.to_vec()), raw.len() < value.len());
        if let Some(crlf) = lf_to_crlf(raw) {
            push(crlf, true);
        }
        // What the decoded view makes of the value printed with escapes
        // that leave the escape-like text inside it alone: that text
        // decoded, line breaks between base64 characters removed.
        let mut view = View::default();
        view.decode(raw, 0, raw.len(), escapes);
        if *view.bytes != *raw {
            push(Zeroizing::new(view.bytes.to_vec()), true);
        }
        // Form-encoding writes a space as `+`; the decoded view turns `%XX`
        // back into bytes but leaves `+` alone.
        if raw.contains(&b' ') {
            let plus = raw.iter().map(|&b| if b == b' ' { b'+' } else { b });
            push(Zeroizing::new(plus.collect()), true);
        }
        for radix in Radix::BASE64.into_iter().chain(Radix::BASE32) {
            push(radix.whole(raw, true), true);
            push(radix.whole(raw, false), true);
            for offset in 0..radix.group() {
                push(radix.fragment(raw, offset), true);
            }
        }
        if let Ok(text) = std::str::from_utf8(raw) {
            for style in JsonStyle::ALL {
                push(json(text, style), true);
            }
            push(encode::utf16(text, false), true);
            push(encode::utf16(text, true), true);
        }
        push(encode::hex(raw, HEX_LOWER), true);
        push(encode::hex(raw, HEX_UPPER), true);
    }
    out
}

/// `value` without its trailing `\r` and `\n` bytes.
pub(crate) fn trim_line_endings(value: &[u8]) -> &[u8] {
    let end = value
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    &value[..end]
}

/// Every bare `\n` (not preceded by `\r`) turned into `\r\n`, as a terminal
/// in its default mode (ONLCR) prints it; `None` if there is no bare `\n`.
pub(crate) fn lf_to_crlf(value: &[u8]) -> Option<Buf> {
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
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    fn all(value: &[u8]) -> Vec<Vec<u8>> {
        forms_of(value, Escapes::ALL)
            .into_iter()
            .map(|f| f.to_vec())
            .collect()
    }

    fn has(value: &[u8], form: &[u8]) -> bool {
        all(value).iter().any(|f| f == form)
    }

    #[test]
    fn empty_value_has_no_forms() {
        assert!(forms_of(b"", Escapes::ALL).is_empty());
    }

    #[test]
    fn raw_comes_first() {
        assert_eq!(all(b"s3cr3t-value")[0], b"s3cr3t-value");
    }

    #[test]
    fn base64_fragments_appear_inside_any_larger_encoding() {
        let value = b"\xfb\xff-secret-\x00\xfe?value";
        for (radix, engine) in Radix::BASE64.into_iter().zip([STANDARD, URL_SAFE]) {
            for offset in 0..3 {
                let frag = radix.fragment(value, offset);
                assert!(frag.len() >= MIN_DERIVED_LEN);
                assert!(has(value, &frag));
                // Whatever bytes surround the value, its fragment is in the encoding.
                for fill in [0u8, 0xff, b'x'] {
                    for tail in 0..3 {
                        let mut stream = vec![fill; offset];
                        stream.extend_from_slice(value);
                        stream.extend(std::iter::repeat_n(fill, tail));
                        let encoded = engine.encode(&stream).into_bytes();
                        assert!(
                            encoded.windows(frag.len()).any(|w| w == &frag[..]),
                            "offset {offset} fill {fill} tail {tail}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn base32_forms_both_alphabets_and_cases() {
        let v = b"foobar-secret";
        for radix in Radix::BASE32 {
            assert!(has(v, &radix.whole(v, true)));
            assert!(has(v, &radix.whole(v, false)));
            for offset in 0..5 {
                assert!(has(v, &radix.fragment(v, offset)));
            }
        }
        assert!(has(v, b"MZXW6YTBOIWXGZLDOJSXI==="));
        assert!(has(v, b"mzxw6ytboiwxgzldojsxi"));
        assert!(has(v, b"CPNMUOJ1E8MN6PB3E9IN8==="));
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
        assert!(has(b"ab", b"a\0b\0"));
        // A one-byte value keeps only itself and its padded encodings.
        assert_eq!(
            all(b"a"),
            vec![
                b"a".to_vec(),
                b"YQ==".to_vec(),
                b"ME======".to_vec(),
                b"me======".to_vec(),
                b"C4======".to_vec(),
                b"c4======".to_vec(),
            ]
        );
    }

    #[test]
    fn form_encoding_plus_for_space() {
        assert!(has(b"pass word x", b"pass+word+x"));
        assert!(!all(b"password").iter().any(|f| f.contains(&b'+')));
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
    fn json_and_utf16_forms_need_valid_utf8() {
        // Plain ASCII: every JSON form equals the raw value and is dropped.
        let plain = all(b"plain-token-1234");
        assert_eq!(
            plain
                .iter()
                .filter(|f| f.as_slice() == b"plain-token-1234")
                .count(),
            1
        );
        // Invalid UTF-8: no JSON escape, no UTF-16.
        let bad = all(b"\xff\"bad\"");
        assert!(!bad.iter().any(|f| f.contains(&b'\\')));
        assert!(!bad.iter().any(|f| f.contains(&0)));
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
        // Base64 body lines joined, as the decoded view joins them
        // (`-` is a base64url character).
        assert!(has(pem, b"-----BEGIN KEY-----AAAABBBB-----END KEY-----\n"));
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
