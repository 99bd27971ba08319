//! Examples of the escaped and wrapped forms that the decoded view matches,
//! made the way common encoders make them. Tests insert them into input
//! and check that each one is redacted whole; the redactor itself does not
//! use them.

use zeroize::Zeroizing;

use crate::encode::{Buf, HEX_LOWER, HEX_UPPER, Radix};
use crate::forms::MIN_DERIVED_LEN;

/// One example of each escaped or wrapped form of `value` (some only for
/// values where the form exists), without duplicates or the value itself.
pub(crate) fn examples(value: &[u8]) -> Vec<Buf> {
    let mut out: Vec<Buf> = Vec::new();
    let mut push = |form: Buf| {
        if form.len() >= MIN_DERIVED_LEN && *form != *value && !out.iter().any(|f| **f == *form) {
            out.push(form);
        }
    };
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    // Percent-encoding: the usual kind in both cases, every byte, and a mix
    // of cases with some unreserved bytes encoded.
    push(escape_each(
        value,
        |b, _| !unreserved(b),
        |b, o| percent(b, HEX_UPPER, o),
    ));
    push(escape_each(
        value,
        |b, _| !unreserved(b),
        |b, o| percent(b, HEX_LOWER, o),
    ));
    push(escape_each(
        value,
        |_, _| true,
        |b, o| percent(b, HEX_UPPER, o),
    ));
    push(escape_each(
        value,
        |b, i| !unreserved(b) || i % 3 == 0,
        |b, o| percent(b, if b % 2 == 0 { HEX_LOWER } else { HEX_UPPER }, o),
    ));
    // Backslash escapes of every byte.
    push(escape_each(
        value,
        |_, _| true,
        |b, o| backslash_x(b, HEX_LOWER, o),
    ));
    push(escape_each(
        value,
        |_, _| true,
        |b, o| backslash_x(b, HEX_UPPER, o),
    ));
    // HTML: only the special characters, as Python's html.escape and Go's
    // html.EscapeString do; a value with `=` before a line break is left out
    // (the decoded view reads that `=` as a soft line break).
    if !has_soft_break(value) {
        push(html_special(value, b"&#x27;", b"&quot;"));
        push(html_special(value, b"&#39;", b"&#34;"));
    }
    if let Ok(text) = std::str::from_utf8(value) {
        // Every character as a reference, and as `\uXXXX`.
        push(chars(text, |c, o| {
            o.extend_from_slice(format!("&#{};", c as u32).as_bytes())
        }));
        push(chars(text, |c, o| {
            o.extend_from_slice(format!("&#x{:x};", c as u32).as_bytes())
        }));
        push(chars(text, |c, o| {
            o.extend_from_slice(format!("&#X{:X};", c as u32).as_bytes())
        }));
        push(chars(text, |c, o| unicode(c, HEX_LOWER, o)));
        push(chars(text, |c, o| unicode(c, HEX_UPPER, o)));
    }
    if !has_soft_break(value) {
        push(quoted_printable(value));
    }
    // Base64, base32 and hex wrapped at the widths of base64 (76), PEM (64),
    // xxd -p (60) and a narrow one, with LF and CRLF.
    let b64 = Radix::BASE64[0].whole(value, true);
    let b32 = Radix::BASE32[0].whole(value, true);
    let hex = crate::encode::hex(value, HEX_LOWER);
    push(wrap(&b64, 76, b"\n"));
    push(wrap(&b64, 64, b"\r\n"));
    push(wrap(&b64, 5, b"\n"));
    push(wrap(&b32, 76, b"\n"));
    push(wrap(&hex, 60, b"\n"));
    out
}

/// Whether `value` holds `=` before a line break.
fn has_soft_break(value: &[u8]) -> bool {
    value.windows(2).any(|w| w == b"=\n") || value.windows(2).any(|w| w == b"=\r")
}

fn escape_each(
    value: &[u8],
    escape: impl Fn(u8, usize) -> bool,
    write: impl Fn(u8, &mut Vec<u8>),
) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 4));
    for (i, &b) in value.iter().enumerate() {
        if escape(b, i) {
            write(b, &mut out);
        } else {
            out.push(b);
        }
    }
    out
}

fn percent(b: u8, digits: &[u8; 16], out: &mut Vec<u8>) {
    out.extend_from_slice(&[
        b'%',
        digits[usize::from(b >> 4)],
        digits[usize::from(b & 15)],
    ]);
}

fn backslash_x(b: u8, digits: &[u8; 16], out: &mut Vec<u8>) {
    out.extend_from_slice(&[
        b'\\',
        b'x',
        digits[usize::from(b >> 4)],
        digits[usize::from(b & 15)],
    ]);
}

fn html_special(value: &[u8], apostrophe: &[u8], quote: &[u8]) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 2));
    for &b in value {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(quote),
            b'\'' => out.extend_from_slice(apostrophe),
            _ => out.push(b),
        }
    }
    out
}

fn chars(text: &str, write: impl Fn(char, &mut Vec<u8>)) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 8));
    for c in text.chars() {
        write(c, &mut out);
    }
    out
}

fn unicode(c: char, digits: &[u8; 16], out: &mut Vec<u8>) {
    let mut units = [0u16; 2];
    for &unit in c.encode_utf16(&mut units).iter() {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(digits[usize::from((unit >> shift) & 15)]);
        }
    }
}

/// Quoted-printable as Python's `quopri` writes it: `=XX` for `=`, control
/// bytes but line feeds, bytes from 127 up, and a space or tab before a line
/// end; soft line breaks `=\n` keep lines under 77 characters.
fn quoted_printable(value: &[u8]) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 3));
    let mut line = 0;
    for (i, &b) in value.iter().enumerate() {
        let at_end = matches!(value.get(i + 1), None | Some(b'\n'));
        let mut token = [0u8; 3];
        let n = if b == b'\n' {
            token[0] = b;
            1
        } else if b == b'='
            || b >= 127
            || (b < 32 && b != b'\t')
            || (at_end && (b == b' ' || b == b'\t'))
        {
            token = [
                b'=',
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 15)],
            ];
            3
        } else {
            token[0] = b;
            1
        };
        if b != b'\n' && line + n > 75 {
            out.extend_from_slice(b"=\n");
            line = 0;
        }
        out.extend_from_slice(&token[..n]);
        line = if b == b'\n' { 0 } else { line + n };
    }
    out
}

/// `text` with `eol` after every `width` characters (not at the end).
fn wrap(text: &[u8], width: usize, eol: &[u8]) -> Buf {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() + text.len() / width * 2 + 2));
    for (i, chunk) in text.chunks(width).enumerate() {
        if i > 0 {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(chunk);
    }
    out
}
