//! The decoded view: the input with the escapes and wrapping that programs
//! add to text undone, so that a value printed with them mixed in any way
//! matches its plain forms.
//!
//! The input is cut into *tokens*, greedily from left to right. At each
//! position the first rule that applies gives the token:
//!
//! | bytes | decoded | produced by |
//! | --- | --- | --- |
//! | `%XX` | byte `0xXX` | percent-encoding, any case |
//! | `=XX` | byte `0xXX` | quoted-printable, any case |
//! | `=\r\n`, `=\n` | nothing | quoted-printable soft line break |
//! | `&#N;` (1-7 digits), `&#xH;`/`&#XH;` (1-6 digits) | UTF-8 of the character | HTML, XML |
//! | `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` | `&` `<` `>` `"` `'` | HTML, XML |
//! | `\xXX` | byte `0xXX` | C, Python, shell |
//! | `\uXXXX`, or a surrogate pair `\uD8XX\uDCXX` | UTF-8 of the character | JSON, JavaScript, Java |
//! | `\n` or `\r\n` between two decoded characters of `[A-Za-z0-9+/=_-]` | nothing | base64, base32 and hex wrapped at any width |
//! | any other byte | itself | |
//!
//! A soft or wrapping line break right after another one is not removed
//! (its bytes stay as they are), so a decoded byte stands for at most
//! [`MAX_EXPANSION`] input bytes. A token is decided by the bytes from its
//! start on and, for a line break, the token before it (what it decoded to,
//! and whether it was a removed break): so greedy tokenizing started
//! anywhere agrees with tokenizing from the stream start from
//! [`CONTEXT`] bytes on (token interiors hold no byte that starts a token,
//! other than the line feed of a break).

use zeroize::Zeroizing;

/// Bytes before a position that fix how it is tokenized.
pub(crate) const CONTEXT: usize = 32;
/// The longest token: `\uD83D\uDE00`.
pub(crate) const MAX_TOKEN: usize = 12;
/// Input bytes per decoded byte, at most: a removed soft line break
/// (3 bytes) before a 10-byte reference such as `&#0000065;`.
pub(crate) const MAX_EXPANSION: usize = 13;

/// Which escapes the decoded view undoes beyond those always on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Escapes {
    /// Quoted-printable `=XX` and soft line breaks `=\n`, `=\r\n`: off,
    /// `=` is a byte like any other.
    pub(crate) quoted_printable: bool,
}

impl Escapes {
    /// Every escape in the table above.
    pub(crate) const ALL: Escapes = Escapes {
        quoted_printable: true,
    };
}

/// A byte that may start a token other than a literal byte.
#[inline]
pub(crate) fn is_trigger(b: u8, e: Escapes) -> bool {
    matches!(b, b'%' | b'&' | b'\\' | b'\n' | b'\r') || (b == b'=' && e.quoted_printable)
}

/// Characters of base64, base32 and hex text, any alphabet, with padding.
#[inline]
pub(crate) fn wraps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

fn hex_digit(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// One token of the input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Token {
    /// One byte standing for itself.
    Literal,
    /// `len` input bytes decoding to `out[..n]`.
    Decoded { len: usize, out: [u8; 4], n: usize },
    /// `len` input bytes decoding to nothing (a line break).
    Removed { len: usize },
}

impl Token {
    pub(crate) fn len(self) -> usize {
        match self {
            Token::Literal => 1,
            Token::Decoded { len, .. } | Token::Removed { len } => len,
        }
    }
}

/// What the token before a position was.
#[derive(Clone, Copy)]
pub(crate) struct Prev {
    /// A removed line break.
    pub(crate) removed: bool,
    /// The last byte it decoded to.
    pub(crate) last: Option<u8>,
}

impl Prev {
    pub(crate) const START: Prev = Prev {
        removed: false,
        last: None,
    };
    /// Unknown: allows every token that some token before would allow.
    pub(crate) const ANY: Prev = Prev {
        removed: false,
        last: Some(b'A'),
    };

    fn after(self, hay: &[u8], at: usize, token: Token) -> Prev {
        match token {
            Token::Literal => Prev {
                removed: false,
                last: Some(hay[at]),
            },
            Token::Decoded { out, n, .. } => Prev {
                removed: false,
                last: Some(out[n - 1]),
            },
            Token::Removed { .. } => Prev {
                removed: true,
                last: self.last,
            },
        }
    }
}

/// The first byte that the token at `hay[at]` decodes to, if it is not a
/// removed break.
fn first_decoded(hay: &[u8], at: usize, e: Escapes) -> Option<u8> {
    let blocked = Prev {
        removed: true,
        last: None,
    };
    if at >= hay.len() {
        return None;
    }
    match token_at(hay, at, blocked, e) {
        Token::Literal => Some(hay[at]),
        Token::Decoded { out, .. } => Some(out[0]),
        Token::Removed { .. } => None,
    }
}

fn byte(len: usize, b: u32) -> Token {
    Token::Decoded {
        len,
        out: [b as u8, 0, 0, 0],
        n: 1,
    }
}

fn character(len: usize, code: u32) -> Option<Token> {
    let c = char::from_u32(code)?;
    let mut out = [0u8; 4];
    let n = c.encode_utf8(&mut out).len();
    Some(Token::Decoded { len, out, n })
}

/// The token at `hay[i]`, after `prev`. Bytes past the end of `hay` count
/// as absent, so an escape cut off by the end is literal.
pub(crate) fn token_at(hay: &[u8], i: usize, prev: Prev, e: Escapes) -> Token {
    let Some(rest) = hay
        .get(i..)
        .filter(|r| r.first().is_some_and(|&b| is_trigger(b, e)))
    else {
        return Token::Literal;
    };
    let after_removed = prev.removed;
    let between = |next: usize| {
        !after_removed
            && prev.last.is_some_and(wraps)
            && first_decoded(hay, next, e).is_some_and(wraps)
    };
    let hex2 = |a: u8, b: u8| Some(hex_digit(a)? << 4 | hex_digit(b)?);
    let found = match *rest {
        [b'%', a, b, ..] => hex2(a, b).map(|v| byte(3, v)),
        [b'=', b'\n', ..] if !after_removed && soft_break_ends(hay, i + 2) => {
            Some(Token::Removed { len: 2 })
        }
        [b'=', b'\r', b'\n', ..] if !after_removed && soft_break_ends(hay, i + 3) => {
            Some(Token::Removed { len: 3 })
        }
        [b'=', a, b, ..] => hex2(a, b).map(|v| byte(3, v)),
        [b'&', ..] => reference(rest),
        [b'\\', b'x', a, b, ..] => hex2(a, b).map(|v| byte(4, v)),
        [b'\\', b'u', ..] => unicode_escape(rest),
        [b'\n', ..] if between(i + 1) => Some(Token::Removed { len: 1 }),
        [b'\r', b'\n', ..] if between(i + 2) => Some(Token::Removed { len: 2 }),
        _ => None,
    };
    found.unwrap_or(Token::Literal)
}

/// Whether a soft line break may end before `hay[at]`: not before a `=`
/// that starts no quoted-printable escape, as in base64 wrapped between its
/// two padding characters (`AA=\n=`).
fn soft_break_ends(hay: &[u8], at: usize) -> bool {
    match hay.get(at..) {
        Some([b'=', b'\n', ..] | [b'=', b'\r', b'\n', ..]) => true,
        Some([b'=', a, b, ..]) => a.is_ascii_hexdigit() && b.is_ascii_hexdigit(),
        Some([b'=', ..]) => false,
        _ => true,
    }
}

/// `&#N;`, `&#xH;` or a named reference at the start of `rest`.
fn reference(rest: &[u8]) -> Option<Token> {
    const NAMED: [(&[u8], u32); 5] = [
        (b"&amp;", 0x26),
        (b"&lt;", 0x3c),
        (b"&gt;", 0x3e),
        (b"&quot;", 0x22),
        (b"&apos;", 0x27),
    ];
    if let Some((name, code)) = NAMED.iter().find(|(n, _)| rest.starts_with(n)) {
        return Some(byte(name.len(), *code));
    }
    let (digits_at, radix, max) = match rest {
        [b'&', b'#', b'x' | b'X', ..] => (3, 16, 6),
        [b'&', b'#', ..] => (2, 10, 7),
        _ => return None,
    };
    let mut code = 0u32;
    let mut n = 0;
    while let Some(d) = rest
        .get(digits_at + n)
        .and_then(|&b| char::from(b).to_digit(radix))
    {
        n += 1;
        if n > max {
            return None;
        }
        code = code * radix + d;
    }
    if n == 0 || rest.get(digits_at + n) != Some(&b';') {
        return None;
    }
    character(digits_at + n + 1, code)
}

/// `\uXXXX` (not a surrogate) or a surrogate pair at the start of `rest`.
fn unicode_escape(rest: &[u8]) -> Option<Token> {
    let unit = |at: usize| -> Option<u32> {
        match rest.get(at..at + 6)? {
            [b'\\', b'u', d @ ..] => d
                .iter()
                .try_fold(0u32, |acc, &b| Some(acc << 4 | hex_digit(b)?)),
            _ => None,
        }
    };
    let first = unit(0)?;
    match first {
        0xd800..=0xdbff => {
            let second = unit(6).filter(|u| (0xdc00..=0xdfff).contains(u))?;
            character(12, 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00))
        }
        0xdc00..=0xdfff => None,
        _ => character(6, first),
    }
}

/// Whether the token at the start of `rest` (the bytes from a token start
/// to the end of what has arrived) may still change once more bytes arrive:
/// an escape cut off by the end, or a line break whose fate depends on what
/// follows (a line break at the end always may).
pub(crate) fn may_become_token(rest: &[u8], e: Escapes) -> bool {
    let hex = |b: &u8| b.is_ascii_hexdigit();
    match rest {
        [b'\r'] => true,
        [b'\n', tail @ ..] | [b'\r', b'\n', tail @ ..] => {
            tail.is_empty() || may_become_token(tail, e)
        }
        [b'=', ..] if !e.quoted_printable => false,
        [b'=', b'\n', tail @ ..] | [b'=', b'\r', b'\n', tail @ ..] => {
            tail.is_empty() || (tail[0] == b'=' && may_become_token(tail, e))
        }
        [b'%' | b'='] | [b'=', b'\r'] => true,
        [b'%' | b'=', d] => hex(d),
        [b'&', ..] => {
            let named = [&b"&amp;"[..], b"&lt;", b"&gt;", b"&quot;", b"&apos;"];
            named
                .iter()
                .any(|n| n.len() > rest.len() && n.starts_with(rest))
                || match &rest[1..] {
                    [] | [b'#'] | [b'#', b'x' | b'X'] => true,
                    [b'#', b'x' | b'X', d @ ..] => d.len() <= 6 && d.iter().all(hex),
                    [b'#', d @ ..] => d.len() <= 7 && d.iter().all(u8::is_ascii_digit),
                    _ => false,
                }
        }
        [b'\\', ..] => match &rest[1..] {
            [] | [b'x'] => true,
            [b'x', d] => hex(d),
            [b'u', d @ ..] if d.len() < 4 => d.iter().all(hex),
            // A high surrogate waiting for its low half.
            [b'u', d @ ..] if d.len() < 10 => {
                let high = d[..4].iter().all(hex)
                    && matches!(d[0], b'd' | b'D')
                    && matches!(d[1], b'8' | b'9' | b'a' | b'b' | b'A' | b'B');
                let tail = &d[4..];
                high && match tail {
                    [] | [b'\\'] => true,
                    [b'\\', b'u', t @ ..] => t.iter().all(hex),
                    _ => false,
                }
            }
            _ => false,
        },
        _ => false,
    }
}

/// A decoded stretch of input: the bytes, and for each the input span of
/// the token it comes from.
#[derive(Default)]
pub(crate) struct View {
    pub(crate) bytes: Zeroizing<Vec<u8>>,
    pub(crate) starts: Vec<usize>,
    pub(crate) ends: Vec<usize>,
    /// Where the removed line breaks start.
    pub(crate) removed: Vec<usize>,
}

impl View {
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.starts.clear();
        self.ends.clear();
        self.removed.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Decodes the tokens of `hay` that start in `keep..end`, tokenizing
    /// from `keep - CONTEXT` (or 0) so that they are the stream's tokens.
    pub(crate) fn decode(&mut self, hay: &[u8], keep: usize, end: usize, e: Escapes) {
        self.clear();
        let mut i = keep.saturating_sub(CONTEXT);
        let mut prev = Prev::START;
        while i < end {
            // Runs of bytes that start no token are copied as they are.
            if !is_trigger(hay[i], e) {
                let run = hay[i..end]
                    .iter()
                    .position(|&b| is_trigger(b, e))
                    .map_or(end, |n| i + n);
                let from = i.max(keep);
                if from < run {
                    self.bytes.extend_from_slice(&hay[from..run]);
                    self.starts.extend(from..run);
                    self.ends.extend(from + 1..run + 1);
                }
                prev = Prev {
                    removed: false,
                    last: Some(hay[run - 1]),
                };
                i = run;
                continue;
            }
            let token = token_at(hay, i, prev, e);
            if i >= keep {
                match token {
                    Token::Literal => self.push(hay[i], i, i + 1),
                    Token::Decoded { len, out, n } => {
                        for &b in &out[..n] {
                            self.push(b, i, i + len);
                        }
                    }
                    Token::Removed { .. } => self.removed.push(i),
                }
            }
            prev = prev.after(hay, i, token);
            i += token.len();
        }
    }

    fn push(&mut self, b: u8, start: usize, end: usize) {
        self.bytes.push(b);
        self.starts.push(start);
        self.ends.push(end);
    }
}

/// Positions of bytes in `hay[from..to]` where a token other than a literal
/// byte may start (a superset: every such token's start is listed), each
/// with the token found there.
pub(crate) fn candidates(
    hay: &[u8],
    from: usize,
    to: usize,
    e: Escapes,
    out: &mut Vec<(usize, Token)>,
) {
    out.clear();
    let to = to.min(hay.len());
    if from >= to {
        return;
    }
    let region = &hay[from..to];
    let mut rare = memchr::memchr3_iter(b'%', b'&', b'\\', region).map(|p| p + from);
    // Without quoted-printable, line feeds only (a byte given twice is
    // found once).
    let eq = if e.quoted_printable { b'=' } else { b'\n' };
    let mut common = memchr::memchr2_iter(eq, b'\n', region).map(|p| p + from);
    let (mut a, mut b) = (rare.next(), common.next());
    loop {
        let p = match (a, b) {
            (Some(x), Some(y)) if x < y => {
                a = rare.next();
                x
            }
            (Some(x), None) => {
                a = rare.next();
                x
            }
            (_, Some(y)) => {
                b = common.next();
                y
            }
            (None, None) => break,
        };
        if !may_start_token(hay, p, e) {
            continue;
        }
        // A line break starts at its `\r`.
        let at = match hay[p] {
            b'\n' if p > from && hay[p - 1] == b'\r' => p - 1,
            _ => p,
        };
        let token = token_at(hay, at, prev_guess(hay, at), e);
        if token != Token::Literal {
            out.push((at, token));
        }
    }
}

/// A quick test before [`token_at`]: false where the trigger at `hay[p]`
/// starts no token (or, for `\n`, is no part of one) whatever came before
/// it: `=` before anything but a line break or two hex digits, a line break
/// between bytes that stand for themselves and are no base64 characters.
#[inline]
fn may_start_token(hay: &[u8], p: usize, e: Escapes) -> bool {
    let at = |i: usize| hay.get(i).copied();
    match hay[p] {
        b'=' => match (at(p + 1), at(p + 2)) {
            (Some(b'\n' | b'\r'), _) => true,
            (Some(a), Some(b)) => a.is_ascii_hexdigit() && b.is_ascii_hexdigit(),
            _ => false,
        },
        b'\n' => {
            let before = match p.checked_sub(1).map(|i| hay[i]) {
                Some(b'\r') => p.checked_sub(2).map(|i| hay[i]),
                b => b,
            };
            // The byte before ends a literal token unless it may end an
            // escape or a removed break; the byte after starts one if it is
            // no trigger.
            let literal_before = before
                .is_none_or(|b| !b.is_ascii_hexdigit() && b != b';' && b != b'\n' && !wraps(b));
            let literal_after = at(p + 1).is_none_or(|b| !is_trigger(b, e) && !wraps(b));
            !(literal_before || literal_after)
        }
        _ => true,
    }
}

/// What the token before `hay[at]` was, when its last byte tells (no
/// token but a literal byte ends in anything other than a hex digit, `;` or
/// a line feed), else [`Prev::ANY`].
#[inline]
fn prev_guess(hay: &[u8], at: usize) -> Prev {
    match at.checked_sub(1).map(|i| hay[i]) {
        Some(b) if !b.is_ascii_hexdigit() && b != b';' && b != b'\n' => Prev {
            removed: false,
            last: Some(b),
        },
        _ => Prev::ANY,
    }
}

/// Whether `b` never is part of a token other than a literal byte (it is no
/// trigger and nothing an escape holds), so it always decodes to itself.
pub(crate) fn always_literal(b: u8, e: Escapes) -> bool {
    !(is_trigger(b, e) || b.is_ascii_alphanumeric() || b == b';' || b == b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(input: &[u8]) -> Vec<u8> {
        let mut v = View::default();
        v.decode(input, 0, input.len(), Escapes::ALL);
        v.bytes.to_vec()
    }

    #[test]
    fn quoted_printable_off() {
        let off = Escapes {
            quoted_printable: false,
        };
        let input = b"x=3D=3d=\r\ny=\nz%41 QUJD\nRA=\n=41";
        let mut v = View::default();
        v.decode(input, 0, input.len(), off);
        assert_eq!(&v.bytes[..], b"x=3D=3d=y=zA QUJDRA==41");
        let mut found = Vec::new();
        candidates(input, 0, input.len(), off, &mut found);
        assert!(found.iter().all(|&(at, _)| input[at] != b'='));
        assert!(!may_become_token(b"=4", off));
        assert!(always_literal(b'=', off) && !always_literal(b'=', Escapes::ALL));
    }

    #[test]
    fn each_rule() {
        assert_eq!(decoded(b"a%2Fb%2fc%zz"), b"a/b/c%zz");
        assert_eq!(decoded(b"x=3D=3d=\r\ny=\nz=zz"), b"x==yz=zz");
        assert_eq!(
            decoded(b"&#65;&#x42;&#X43;&#0000068;&#x1F600;"),
            "ABCD😀".as_bytes()
        );
        assert_eq!(
            decoded(b"&amp;&lt;&gt;&quot;&apos;&#39;&nbsp;"),
            b"&<>\"''&nbsp;"
        );
        assert_eq!(
            decoded(b"&#;&#x;&#12345678;&#xD800;&#65"),
            b"&#;&#x;&#12345678;&#xD800;&#65"
        );
        assert_eq!(
            decoded(br"\x41\x4a\u0043\u00e9\ud83d\ude00"),
            "AJCé😀".as_bytes()
        );
        assert_eq!(decoded(br"\ud83d\u0041\ude00"), br"\ud83dA\ude00");
        // `=\n` is a soft line break even after base64 padding.
        assert_eq!(
            decoded(b"QUJD\nREVG\r\nR0g=\n\n-x\n "),
            b"QUJDREVGR0g\n-x\n "
        );
        // ...but not between two padding characters.
        assert_eq!(decoded(b"QUJD\nRA=\n= xx=\n=41"), b"QUJDRA== xxA");
        // Between decoded characters: escapes around a break count as what they decode to.
        assert_eq!(decoded(b"a%2F\n%41 <\nb a\n&lt;"), b"a/A <\nb a\n<");
    }

    #[test]
    fn breaks_are_not_removed_twice_in_a_row() {
        // `=\n` then `\n`: the second break stays.
        assert_eq!(decoded(b"ab=\n\ncd"), b"ab\ncd");
        // A break, a literal `=` (a soft break cannot follow), a break.
        assert_eq!(decoded(b"ab\n=\ncd"), b"ab=cd");
    }

    #[test]
    fn tokenizing_from_anywhere_agrees_after_the_context() {
        let input: &[u8] =
            b"x\\ud83d\\ude00%41=\r\n&#x41;ab\r\ncd=4\n\\x41&amp;%%41==41\n=\n\\u00e9";
        let whole = {
            let mut v = View::default();
            v.decode(input, 0, input.len(), Escapes::ALL);
            v
        };
        for keep in 0..input.len() {
            let mut v = View::default();
            v.decode(input, keep, input.len(), Escapes::ALL);
            // The suffix of the whole view made of tokens starting at or after `keep`.
            let first = whole
                .starts
                .iter()
                .position(|&s| s >= keep)
                .unwrap_or(whole.len());
            assert_eq!(&v.bytes[..], &whole.bytes[first..], "keep {keep}");
            assert_eq!(&v.starts[..], &whole.starts[first..]);
        }
    }

    #[test]
    fn candidates_cover_every_token() {
        let input: &[u8] = b"a%41 b=\nc QUJD\r\nRA &#65; \\x41 = %zz \\u0041\\ud83d\\ude00 x\ny";
        let mut found = Vec::new();
        candidates(input, 0, input.len(), Escapes::ALL, &mut found);
        let mut i = 0;
        let mut prev = Prev::START;
        while i < input.len() {
            let t = token_at(input, i, prev, Escapes::ALL);
            if t != Token::Literal {
                assert!(found.iter().any(|&(p, _)| p == i), "token at {i}");
            }
            prev = prev.after(input, i, t);
            i += t.len();
        }
    }

    #[test]
    fn cut_off_escapes_may_still_become_tokens() {
        for tail in [
            &b"%"[..],
            b"%4",
            b"=",
            b"=a",
            b"=\r",
            b"&",
            b"&a",
            b"&quo",
            b"&#",
            b"&#12",
            b"&#x",
            b"&#x1f",
            b"\\",
            b"\\x",
            b"\\x4",
            b"\\u",
            b"\\u00",
            b"\\ud83d",
            b"\\ud83d\\",
            b"\\ud83d\\ude0",
        ] {
            assert!(
                may_become_token(tail, Escapes::ALL),
                "{}",
                String::from_utf8_lossy(tail)
            );
        }
        for tail in [
            &b"%g"[..],
            b"=\r\r",
            b"&x",
            b"&#a",
            b"\\y",
            b"\\u004g",
            b"\\u0041\\",
            b"ab",
            b"\nab",
            b"=\n=ab",
        ] {
            assert!(
                !may_become_token(tail, Escapes::ALL),
                "{}",
                String::from_utf8_lossy(tail)
            );
        }
        for open in [&b"\n"[..], b"\r\n", b"\n%4", b"=\n", b"=\n=", b"=\r\n=4"] {
            assert!(
                may_become_token(open, Escapes::ALL),
                "{}",
                String::from_utf8_lossy(open)
            );
        }
    }
}
