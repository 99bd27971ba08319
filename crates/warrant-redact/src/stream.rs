//! The streaming algorithm.
//!
//! A stream holds back the shortest tail that could still become (part of) a
//! match, and emits everything before it at once. With `buf` = held bytes +
//! new input and the scan at `pos` (no match starts in the bytes already
//! emitted or skipped):
//!
//! 1. `P` = the earliest `i >= pos` such that `buf[i..]` is a proper prefix of
//!    some pattern (so it may still grow into a match, or into a longer one),
//!    else `buf.len()`. Only the last `max_len - 1` positions can qualify.
//! 2. Find the leftmost-longest match in `buf[pos..]`. If it starts before
//!    `P`, it is final: whatever follows, every pattern occurrence starting at
//!    a position before `P` ends inside `buf` (otherwise `buf[start..]` would
//!    be a proper prefix of that pattern, contradicting the choice of `P`), so
//!    the set of occurrences at each such position, and hence the leftmost
//!    one and its longest extent, are already known. Emit the bytes before
//!    it and its replacement, move `pos` to its end, recompute `P` if the
//!    match ended past it, repeat.
//! 3. Otherwise emit `buf[pos..P]` and hold `buf[P..]` (shorter than the
//!    longest pattern). No match starts in `[pos, P)`, so scanning can resume
//!    at `P` when more bytes arrive.
//!
//! At the end of the stream every position is final (`P = buf.len()`). The
//! result is exactly the one-shot leftmost-longest redaction of the whole
//! stream, however it was split.
//!
//! How bytes are tokenized for the decoded view depends on up to
//! [`CONTEXT`] bytes before them, so a stream also keeps that many bytes it
//! already emitted (or replaced) in front of the held ones, as context only.

use zeroize::{Zeroize, Zeroizing};

use crate::Inner;
use crate::decode::CONTEXT;
use crate::matcher::{Cursor, Matcher};

/// Replacement counts, by label index.
pub(crate) struct Counts {
    pub(crate) by_label: Vec<u64>,
    pub(crate) total: u64,
}

impl Counts {
    pub(crate) fn new(labels: usize) -> Counts {
        Counts {
            by_label: vec![0; labels],
            total: 0,
        }
    }
}

/// Which bytes of a buffer are final.
#[derive(Clone, Copy)]
pub(crate) enum Final {
    /// All of them: the stream has ended.
    All,
    /// Those before the hold point: more data may follow.
    BeforeHoldPoint,
    /// Those before this position, which the caller knows is at or before
    /// the hold point (and so are the matches that start before it).
    Before(usize),
}

/// Redacts `data[from..]` (`data[..from]` is already emitted, and is
/// context), appends to `out` every byte that is final and returns where
/// the final bytes end.
pub(crate) fn process(
    inner: &Inner,
    matcher: &Matcher,
    data: &[u8],
    from: usize,
    fin: Final,
    out: &mut Vec<u8>,
    counts: &mut Counts,
) -> usize {
    let limit = |pos: usize| match fin {
        Final::All => data.len(),
        Final::BeforeHoldPoint => matcher.hold_point(data, pos),
        Final::Before(end) => end.max(pos),
    };
    let mut pos = from;
    let mut hold = limit(pos);
    let mut cursor = Cursor::default();
    while let Some(found) = matcher
        .find(data, pos, &mut cursor)
        .filter(|m| m.start < hold)
    {
        out.extend_from_slice(&data[pos..found.start]);
        out.extend_from_slice(&inner.replacements[found.label]);
        counts.by_label[found.label] += 1;
        counts.total += 1;
        pos = found.end;
        if pos > hold {
            hold = limit(pos);
        }
    }
    // hold >= pos: it is computed from pos, or pos never passed it.
    out.extend_from_slice(&data[pos..hold]);
    hold
}

/// Per-stream buffers; both may hold part of a secret, both are wiped
/// whenever their bytes leave and on drop, and neither ever reallocates
/// (their capacity is reserved up front), so no stale copy is left behind.
pub(crate) struct Buffers {
    /// Up to [`CONTEXT`] bytes already emitted (`context` of them), then the
    /// bytes that may still be the start of a match.
    held: Zeroizing<Vec<u8>>,
    context: usize,
    /// Held bytes followed by the start of the new input.
    joined: Zeroizing<Vec<u8>>,
}

impl Buffers {
    pub(crate) fn new(max_len: usize) -> Buffers {
        let take = max_len + 2 * CONTEXT;
        Buffers {
            held: Zeroizing::new(Vec::with_capacity(max_len + CONTEXT)),
            context: 0,
            joined: Zeroizing::new(Vec::with_capacity(max_len + CONTEXT + take)),
        }
    }

    pub(crate) fn held(&self) -> usize {
        self.held.len() - self.context
    }

    /// Keeps `data[end..]` as held bytes, after up to [`CONTEXT`] bytes before it.
    fn keep(held: &mut Vec<u8>, context: &mut usize, data: &[u8], end: usize) {
        let start = end.saturating_sub(CONTEXT);
        held.zeroize();
        held.extend_from_slice(&data[start..]);
        *context = end - start;
    }

    pub(crate) fn push(
        &mut self,
        inner: &Inner,
        matcher: &Matcher,
        input: &[u8],
        out: &mut Vec<u8>,
        counts: &mut Counts,
    ) {
        // Join the held bytes with a bounded start of the input, so that the
        // copy stays small whatever the input size.
        let take = input.len().min(matcher.max_len() + 2 * CONTEXT);
        let (context, held_len) = (self.context, self.held());
        self.joined.extend_from_slice(&self.held);
        self.joined.extend_from_slice(&input[..take]);
        if take == input.len() {
            let end = process(
                inner,
                matcher,
                &self.joined,
                context,
                Final::BeforeHoldPoint,
                out,
                counts,
            );
            Self::keep(&mut self.held, &mut self.context, &self.joined, end);
            self.joined.zeroize();
            return;
        }
        // More than max_len + 2 * CONTEXT bytes arrived: an occurrence
        // starting in the held bytes or the first CONTEXT input bytes ends
        // at least CONTEXT bytes before the end of the joined bytes (so its
        // tokens are decided), and the hold point lies past them. Settle
        // those, then scan the rest of the input in place, where it has its
        // own CONTEXT bytes before it.
        let settle = context + held_len + CONTEXT;
        let end = process(
            inner,
            matcher,
            &self.joined,
            context,
            Final::Before(settle),
            out,
            counts,
        );
        self.joined.zeroize();
        let end = process(
            inner,
            matcher,
            input,
            end - context - held_len,
            Final::BeforeHoldPoint,
            out,
            counts,
        );
        Self::keep(&mut self.held, &mut self.context, input, end);
    }

    pub(crate) fn finish(
        &mut self,
        inner: &Inner,
        matcher: &Matcher,
        out: &mut Vec<u8>,
        counts: &mut Counts,
    ) {
        process(
            inner,
            matcher,
            &self.held,
            self.context,
            Final::All,
            out,
            counts,
        );
        self.held.zeroize();
        self.context = 0;
    }
}

#[cfg(test)]
mod tests {
    use crate::{RedactStream, Redactor, RedactorBuilder};

    const SECRET: &[u8] = b"hunter2-Hunter2-xyzzy";

    fn redactor(values: &[(&str, &[u8])]) -> Redactor {
        let mut b = RedactorBuilder::new();
        for (label, value) in values {
            b.add(label, value);
        }
        b.build().unwrap()
    }

    fn run(stream: &mut RedactStream, chunks: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            stream.push(c, &mut out);
        }
        stream.finish(&mut out);
        out
    }

    #[test]
    fn liveness_plain_line_is_emitted_at_once() {
        let r = redactor(&[("pw", SECRET)]);
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(b"hello!\n", &mut out);
        assert_eq!(out, b"hello!\n");
        assert_eq!(s.held(), 0);
        // A line ending in a base64 character may go on as wrapped base64 on
        // the next line: what could begin an encoded form waits for the next byte.
        let r = redactor(&[("pw", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")]);
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(b"hello Q\n", &mut out);
        assert_eq!(out, b"hello ");
        s.push(b"x", &mut out);
        assert_eq!(out, b"hello Q\nx");
    }

    #[test]
    fn liveness_exactly_the_prefix_is_held() {
        let r = redactor(&[("pw", SECRET)]);
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(b"password: ", &mut out);
        assert_eq!(out, b"password: ");
        s.push(&SECRET[..7], &mut out);
        assert_eq!(out, b"password: ");
        assert_eq!(s.held(), 7);
        s.push(&SECRET[7..11], &mut out);
        assert_eq!(s.held(), 11);
        // The prefix turns out not to be the secret: it is released at once
        // (it is shorter than a piece, MIN_PIECE_LEN bytes).
        s.push(b"!\n", &mut out);
        assert_eq!(s.held(), 0);
        let mut expected = b"password: ".to_vec();
        expected.extend_from_slice(&SECRET[..11]);
        expected.extend_from_slice(b"!\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn value_split_across_every_boundary() {
        let r = redactor(&[("pw", SECRET)]);
        let mut input = b"a=".to_vec();
        input.extend_from_slice(SECRET);
        input.extend_from_slice(b";\n");
        for cut in 0..=input.len() {
            for cut2 in cut..=input.len() {
                let out = run(
                    &mut r.stream(),
                    &[&input[..cut], &input[cut..cut2], &input[cut2..]],
                );
                assert_eq!(out, b"a=<redacted:pw>;\n", "cuts {cut} {cut2}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let r = redactor(&[("pw", SECRET)]);
        let mut input = SECRET.to_vec();
        input.extend_from_slice(b" and ");
        input.extend_from_slice(SECRET);
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            run(&mut r.stream(), &chunks),
            b"<redacted:pw> and <redacted:pw>"
        );
    }

    #[test]
    fn held_bytes_followed_by_a_large_input() {
        let r = redactor(&[("pw", SECRET)]);
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(&SECRET[..5], &mut out);
        let mut rest = SECRET[5..].to_vec();
        rest.extend(std::iter::repeat_n(b'.', 10_000));
        rest.extend_from_slice(SECRET);
        rest.extend_from_slice(&SECRET[..9]);
        s.push(&rest, &mut out);
        assert_eq!(s.held(), 9);
        s.finish(&mut out);
        let mut expected = b"<redacted:pw>".to_vec();
        expected.extend(std::iter::repeat_n(b'.', 10_000));
        expected.extend_from_slice(b"<redacted:pw>");
        expected.extend_from_slice(&SECRET[..9]);
        assert_eq!(out, expected);
        assert_eq!(s.redactions(), 2);
    }

    #[test]
    fn overlapping_values_longest_wins() {
        let r = redactor(&[
            ("short", b"abcdefgh"),
            ("long", b"abcdefghijkl"),
            ("mid", b"efghijklmnop"),
        ]);
        // Leftmost first: "abcdefghijkl" at 0 beats "efghijklmnop" at 4.
        assert_eq!(r.redact(b"abcdefghijklmnop").0, b"<redacted:long>mnop");
        assert_eq!(r.redact(b"abcdefghXX").0, b"<redacted:short>XX");
        assert_eq!(r.redact(b"xxxxefghijklmnop").0, b"xxxx<redacted:mid>");
        // Streaming agrees, even when the short match completes in one push.
        let out = run(&mut r.stream(), &[b"abcdefgh", b"ijk", b"l!"]);
        assert_eq!(out, b"<redacted:long>!");
        let out = run(&mut r.stream(), &[b"abcdefgh", b"ijX"]);
        assert_eq!(out, b"<redacted:short>ijX");
    }

    #[test]
    fn passthrough_is_byte_exact() {
        let r = redactor(&[("pw", SECRET)]);
        let input: &[u8] = b"line\r\nbad \xff\xfe utf8\r\n\x1b[31mred\x1b[0m\r\x00tail";
        for size in 1..input.len() {
            let chunks: Vec<&[u8]> = input.chunks(size).collect();
            assert_eq!(run(&mut r.stream(), &chunks), input);
        }
        // The same bytes around a value stay as they were.
        let mut around = b"\x1b[1m".to_vec();
        around.extend_from_slice(SECRET);
        around.extend_from_slice(b"\x1b[0m\r\n\xff");
        assert_eq!(r.redact(&around).0, b"\x1b[1m<redacted:pw>\x1b[0m\r\n\xff");
    }

    #[test]
    fn pem_key_across_lines_and_writes() {
        let pem: &[u8] = b"-----BEGIN FAKE TEST KEY-----\nZmFrZS1rZXktbGluZS1vbmUtZmFrZQ\nZmFrZS1rZXktbGluZS10d28\n-----END FAKE TEST KEY-----\n";
        let r = redactor(&[("tls", pem)]);
        let mut input = b"key:\n".to_vec();
        input.extend_from_slice(pem);
        input.extend_from_slice(b"done\n");
        for size in [1, 3, 7, 16, 50, 1000] {
            let chunks: Vec<&[u8]> = input.chunks(size).collect();
            assert_eq!(run(&mut r.stream(), &chunks), b"key:\n<redacted:tls>done\n");
        }
        // Printed through a terminal that turned each \n into \r\n.
        let crlf = String::from_utf8(pem.to_vec())
            .unwrap()
            .replace('\n', "\r\n");
        assert_eq!(r.redact(crlf.as_bytes()).0, b"<redacted:tls>");
        // Printed without its final newline.
        assert_eq!(r.redact(&pem[..pem.len() - 1]).0, b"<redacted:tls>");
    }

    #[test]
    fn value_with_crlf_inside() {
        let v: &[u8] = b"first-line\r\nsecond-line";
        let r = redactor(&[("v", v)]);
        let mut input = b"\r\n".to_vec();
        input.extend_from_slice(v);
        input.extend_from_slice(b"\r\n");
        let chunks: Vec<&[u8]> = input.chunks(4).collect();
        assert_eq!(run(&mut r.stream(), &chunks), b"\r\n<redacted:v>\r\n");
    }

    #[test]
    fn finish_redacts_a_complete_held_match() {
        // "abcdefgh" is complete but could grow into "abcdefghij": held until the end.
        let r = redactor(&[("a", b"abcdefgh"), ("b", b"abcdefghij")]);
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(b"x abcdefgh", &mut out);
        assert_eq!(out, b"x ");
        assert_eq!(s.held(), 8);
        s.finish(&mut out);
        assert_eq!(out, b"x <redacted:a>");
        assert_eq!(s.held(), 0);
    }

    #[test]
    fn counters_per_label() {
        let r = redactor(&[
            ("a", b"aaaaaaaaaa"),
            ("b", b"bbbbbbbbbb"),
            ("c", b"cccccccccc"),
        ]);
        let mut s = r.stream();
        run(
            &mut s,
            &[b"aaaaaaaaaa bbbbbbbbbb ", b"YWFhYWFhYWFhYQ== end"],
        );
        assert_eq!(s.redactions(), 3);
        let by = s.redactions_by_label();
        assert_eq!(by.get("a"), Some(&2));
        assert_eq!(by.get("b"), Some(&1));
        assert_eq!(by.get("c"), None);
    }

    #[test]
    fn fuzz_short_values_one_byte_pushes() {
        // A held "/p" followed by "\0": the state for "/p\0" also reports
        // the value "\0" ending there, which must not end the hold.
        let r = redactor(&[
            ("v0", b"\0"),
            ("v1", b"["),
            ("v2", b"\xa8"),
            ("v3", b"/p\0\xf8"),
        ]);
        let data: &[u8] = b"\0\x03/p\0\xf8\0\0\x002Q";
        let chunks: Vec<&[u8]> = data.chunks(1).collect();
        let out = run(&mut r.stream(), &chunks);
        assert_eq!(out, r.redact(data).0);
        assert_eq!(
            out,
            b"<redacted:v0>\x03<redacted:v3><redacted:v0><redacted:v0><redacted:v0>2Q"
        );
    }

    #[test]
    fn no_values_passes_everything_through() {
        let r = RedactorBuilder::new().build().unwrap();
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(b"anything", &mut out);
        assert_eq!(s.held(), 0);
        s.finish(&mut out);
        assert_eq!(out, b"anything");
        assert_eq!(r.pattern_count(), 0);
    }
}
