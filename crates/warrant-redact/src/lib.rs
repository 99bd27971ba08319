//! Streaming redactor: replaces secret values, raw and encoded, in a byte stream.
//!
//! `warrant run` passes everything a child process prints through a
//! [`RedactStream`] before an agent can read it. Every registered value is
//! replaced by `<redacted:LABEL>`, also when the child prints it encoded, when
//! it arrives split across any number of writes, or when it spans lines. Every
//! other byte passes untouched: this works on bytes, not lines or UTF-8, so
//! CRLF, invalid UTF-8 and terminal escape sequences come out as they went in.
//!
//! - [`RedactorBuilder`] collects `(label, value)` pairs.
//! - [`Redactor`] is the immutable, shared pattern set (`Clone + Send + Sync`,
//!   an `Arc` inside). [`Redactor::redact`] does a whole buffer at once.
//! - [`RedactStream`] is one output channel (one for stdout, one for stderr):
//!   it holds back only the bytes that could still be the start of a value and
//!   emits the rest at once, so interactive output stays live.
//!
//! ```
//! use warrant_redact::RedactorBuilder;
//!
//! let redactor = RedactorBuilder::new()
//!     .add("github/token", b"ghp_ExampleExampleExample01")
//!     .build()
//!     .unwrap();
//! let mut stream = redactor.stream();
//! let mut out = Vec::new();
//! stream.push(b"token=ghp_Example", &mut out);
//! assert_eq!(out, b"token="); // the possible start of the value is held back
//! stream.push(b"ExampleExample01 b64=Z2hwX0V4YW1wbGVFeGFtcGxlRXhhbXBsZTAx\n", &mut out);
//! stream.finish(&mut out);
//! assert_eq!(out, b"token=<redacted:github/token> b64=<redacted:github/token>\n");
//! assert_eq!(stream.redactions(), 2);
//! ```
//!
//! # Forms
//!
//! A value `v` is matched in each of these forms. Forms equal to another one
//! are kept once; when two values share a form, the value registered first
//! names it.
//!
//! Literal forms, matched wherever they stand:
//!
//! - **raw**: `v` itself, at any length.
//! - **line endings**: if `v` has a bare `\n`, `v` with every bare `\n` turned
//!   into `\r\n` (as a terminal prints it). If `v` ends in `\r`/`\n` bytes and
//!   at least 4 bytes remain without them, that shorter value too, with every
//!   form in this list.
//! - **pieces**: any contiguous piece of `v` of at least [`MIN_PIECE_LEN`]
//!   (12) bytes, raw, replaced as the longest piece found there (a program
//!   serving a value back by HTTP range, in pages or truncated).
//! - **base64**, standard (`+/`) and URL-safe (`-_`) alphabets: the whole
//!   value with `=` padding and without; and the three *fragments* for `v`
//!   starting at byte 0, 1 or 2 of a 3-byte group inside a larger encoded
//!   stream, each made of only the characters whose 6 bits all come from `v`.
//! - **base32**, RFC 4648 (`A-Z2-7`) and base32hex (`0-9A-V`), upper and
//!   lower case: the whole value with `=` padding and without, and the five
//!   fragments for `v` starting at byte 0 to 4 of a 5-byte group.
//! - **hex**, lower- and upper-case.
//! - **UTF-16LE and UTF-16BE** code units of `v`, only when `v` is valid UTF-8
//!   (no BOM: inside a stream it does not matter).
//! - **JSON string** contents, only when `v` is valid UTF-8: as serde_json (and
//!   JavaScript, Python with `ensure_ascii=False`) writes them; with non-ASCII
//!   and DEL as `\uXXXX` (Python's default `ensure_ascii`); each of those two
//!   with `/` as `\/` (PHP's default); and with `<`, `>`, `&`, U+2028 and U+2029
//!   as `\uXXXX` (Go's default).
//! - **form-encoding**: `v` with each space as `+`.
//! - **`v` decoded**: if `v` itself holds text that the decoded view below
//!   decodes (`%41`, a line break between base64 characters...), `v` so
//!   decoded, which is what an escaped copy of `v` decodes to.
//!
//! Escaped and wrapped forms, matched in the **decoded view**: the input with
//! these escapes decoded (any mix of escaped and plain characters, hex digits
//! in either case), where every form above but pieces is searched too:
//!
//! - **percent-encoding** `%XX` of any byte (so upper, lower or mixed case,
//!   unreserved characters encoded or not; `+` for space via the
//!   form-encoding form).
//! - **quoted-printable** `=XX`, and soft line breaks `=\r\n`/`=\n` anywhere
//!   (removed): on by default, off with [`RedactorBuilder::quoted_printable`]
//!   (then `=` is a byte like any other). Every other form here is always on.
//! - **HTML/XML references**: `&#N;` (1-7 digits, leading zeros allowed),
//!   `&#xH;`/`&#XH;` (1-6 digits), `&amp;` `&lt;` `&gt;` `&quot;` `&apos;`;
//!   a reference decodes to the UTF-8 of its character. So every character
//!   escaped (decimal or hex), or only the special ones (Python's
//!   `html.escape`, Go's `html.EscapeString`, `xml.sax.saxutils.escape`).
//! - **backslash escapes**: `\xXX` (a byte) and `\uXXXX` (the UTF-8 of the
//!   character; a surrogate pair as one character). So `v` as `\u00XX` or
//!   `\xXX` for every character, or mixed with plain ones (Python's `repr`).
//! - **wrapped encodings**: a line break (`\n` or `\r\n`) between two
//!   decoded characters of `[A-Za-z0-9+/=_-]` is removed, so base64, base32 or
//!   hex split into lines of any width W (76 for `base64`, 64 for PEM, 60 for
//!   `xxd -p`, ...), at any alignment of `v` in the encoded stream, match
//!   their unwrapped form. Exactly the bytes of the decoded characters an
//!   occurrence covers are replaced, with the line breaks between them; line
//!   breaks before and after stay.
//!
//! Two line breaks in a row are never both removed (the second stays), so
//! one decoded byte stands for at most 13 input bytes. How a byte is
//! tokenized depends on up to 32 bytes before it (streams keep them): in
//! some surroundings an escaped form decodes differently (with
//! quoted-printable on, `=C` just before the quoted-printable `0=00` makes
//! `=C0` one escape).
//!
//! Short values: a *derived* form (anything but `v` itself) shorter than 4
//! bytes is dropped, because it would match unrelated text. So a value of 1
//! to 3 bytes keeps only a few forms, and a base64 fragment exists from 3
//! bytes of value at offset 0 and from 4 bytes at offsets 1 and 2. Pieces
//! exist for values of [`MIN_PIECE_LEN`] bytes or more. The builder accepts
//! short values; the CLI refuses values shorter than [`MIN_SECRET_LEN`]
//! unless told otherwise.
//!
//! # Matching
//!
//! Matches are leftmost-longest and do not overlap: where occurrences of
//! several forms overlap (in the input and in the decoded view, mapped back
//! to input bytes), the one starting first wins, and of those the longest,
//! then the literal one. Streaming gives exactly the output of
//! [`Redactor::redact`] on the whole stream, however the stream is split: a
//! stream holds back the earliest tail that may still grow into an
//! occurrence (a proper prefix of a form, a piece that the value goes on
//! after, an escape cut off by the end of what arrived, or decoded bytes
//! before a line break that may be a removed one), and nothing else.
//!
//! Speed: one sampling filter covers every literal form and every piece: a
//! 4-byte window is probed every 9 bytes (with the shortest pattern at 12
//! bytes or more), and a hit is checked against the patterns that share the
//! 12-byte prefix there, so text without values is mostly skipped. The
//! decoded view is looked at only inside runs of bytes that may be part of
//! a decoded pattern (no space or other byte that no escape holds and no
//! pattern contains) at least as long as the shortest one, and there only
//! around the bytes that start an escape or a line break: two windows of
//! decoded bytes around each go to a second filter, and only a hit costs a
//! decode of the bytes around it, sampled and compared against the decoded
//! patterns as on the raw side. No automaton is built unless the shortest
//! pattern is under 6 bytes (too short to sample). See
//! `benches/throughput.rs` for figures.
//!
//! # Limits
//!
//! - Pieces shorter than [`MIN_PIECE_LEN`] bytes pass: a program printing a
//!   value 11 bytes at a time with other text between leaks it. Pieces are
//!   matched raw only, not encoded or escaped.
//! - Encodings of a value inside a larger encoded message are matched through
//!   the fragments (base64, base32) only; hex, UTF-16, JSON and the escapes
//!   are matched for the value alone, which is where they start and stop
//!   anyway. UTF-16 and JSON need a value that is valid UTF-8.
//! - Liveness: a line ending in a base64 character may continue as wrapped
//!   base64 on the next line, so when its last characters could begin a form
//!   they and the line break wait for the next byte (or the end of the
//!   stream); so does an escape cut off at the end of a write (`%4`).
//! - A program that transforms a value in any other way (reverses it,
//!   encrypts it, prints it one character per line with other text between)
//!   defeats any redactor. An automaton (built only for values under 6
//!   bytes, or by the test-only reference search) keeps its own copies of
//!   the patterns, which this crate cannot wipe; the crate's own buffers
//!   that may hold part of a value are wiped.

mod automaton;
mod decode;
mod encode;
mod examples;
mod filter;
mod forms;
mod matcher;
mod parts;
mod pieces;
mod stream;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::decode::Escapes;
use crate::matcher::Matcher;
use crate::pieces::Pieces;
use crate::stream::{Buffers, Counts, Final};

pub use crate::pieces::MIN_PIECE_LEN;

/// Values shorter than this cannot be redacted without wrecking output.
pub const MIN_SECRET_LEN: usize = 8;

/// Errors building a redactor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pattern automaton could not be built (too many or too long values).
    #[error("cannot build the redactor: {0}")]
    Build(String),
}

/// Collects values to redact.
pub struct RedactorBuilder {
    labels: Vec<String>,
    label_index: HashMap<String, usize>,
    /// `(label index, value)`, in registration order.
    values: Vec<(usize, Zeroizing<Vec<u8>>)>,
    /// Whether the decoded view undoes quoted-printable (on by default).
    quoted_printable: bool,
}

impl Default for RedactorBuilder {
    fn default() -> Self {
        Self {
            labels: Vec::new(),
            label_index: HashMap::new(),
            values: Vec::new(),
            quoted_printable: true,
        }
    }
}

impl fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactorBuilder")
            .field("labels", &self.labels)
            .field("values", &format_args!("[REDACTED; {}]", self.values.len()))
            .field("quoted_printable", &self.quoted_printable)
            .finish()
    }
}

impl RedactorBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `value` under `label` (shown as `<redacted:LABEL>`). Empty values are ignored.
    pub fn add(&mut self, label: &str, value: &[u8]) -> &mut Self {
        if value.is_empty() {
            return self;
        }
        let index = match self.label_index.get(label) {
            Some(&i) => i,
            None => {
                self.labels.push(label.to_owned());
                self.label_index
                    .insert(label.to_owned(), self.labels.len() - 1);
                self.labels.len() - 1
            }
        };
        self.values.push((index, Zeroizing::new(value.to_vec())));
        // A connection string's password (and a generated user name) is a
        // value of its own, under `LABEL#password` / `LABEL#user`.
        if !label.contains('#') {
            for (part, bytes) in parts::credential_parts(value) {
                if bytes.as_slice() != value {
                    self.add(&format!("{label}#{part}"), &bytes);
                }
            }
        }
        self
    }

    /// Whether values printed as quoted-printable (`=XX` escapes and `=\n`
    /// soft line breaks, as in e-mail bodies and MIME parts) are matched:
    /// on by default. `key=value` text (logs, URLs, shell, code) puts an `=`
    /// before hex digits all the time, each a candidate to check; a caller
    /// that knows its output holds no mail can turn it off.
    pub fn quoted_printable(&mut self, on: bool) -> &mut Self {
        self.quoted_printable = on;
        self
    }

    fn escapes(&self) -> Escapes {
        Escapes {
            quoted_printable: self.quoted_printable,
        }
    }

    /// Builds the shared, immutable redactor.
    pub fn build(&self) -> Result<Redactor, Error> {
        let escapes = self.escapes();
        // Every form of every value, then its windows (pieces), tagged with
        // its label and whether it is a window.
        let mut forms: Vec<(Zeroizing<Vec<u8>>, usize, bool)> = Vec::new();
        for (label, value) in &self.values {
            forms.extend(
                forms::forms_of(value, escapes)
                    .into_iter()
                    .map(|f| (f, *label, false)),
            );
            if value.len() >= MIN_PIECE_LEN {
                for w in value.windows(MIN_PIECE_LEN) {
                    forms.push((Zeroizing::new(w.to_vec()), *label, true));
                }
            }
        }
        // Sorting indices (not copies) keeps registration order among equal
        // forms, so the first value registered names a shared form.
        let sorted = |windows: bool| -> Vec<(&[u8], usize)> {
            let mut order: Vec<usize> = (0..forms.len())
                .filter(|&i| windows || !forms[i].2)
                .collect();
            order.sort_by(|&a, &b| forms[a].0.cmp(&forms[b].0));
            order.dedup_by(|&mut later, &mut first| forms[later].0 == forms[first].0);
            order
                .iter()
                .map(|&i| (forms[i].0.as_slice(), forms[i].1))
                .collect()
        };
        let raw = sorted(true);
        let decoded = sorted(false);
        let matcher = if raw.is_empty() {
            None
        } else {
            let pieces = Pieces::new(self.values.iter().map(|(l, v)| (v.as_slice(), *l)));
            Some(
                Matcher::new(&raw, &decoded, pieces, escapes)
                    .map_err(|e| Error::Build(e.to_string()))?,
            )
        };
        let replacements = self
            .labels
            .iter()
            .map(|l| format!("<redacted:{l}>").into_bytes().into_boxed_slice())
            .collect();
        Ok(Redactor(Arc::new(Inner {
            matcher,
            replacements,
            labels: self.labels.clone(),
            pattern_count: raw.len(),
        })))
    }
}

/// The shared state behind a [`Redactor`].
pub(crate) struct Inner {
    /// `None` when there is nothing to redact.
    matcher: Option<Matcher>,
    /// By label index: `<redacted:LABEL>`.
    pub(crate) replacements: Vec<Box<[u8]>>,
    labels: Vec<String>,
    pattern_count: usize,
}

/// The immutable set of patterns; cheap to clone and share between streams.
#[derive(Clone)]
pub struct Redactor(Arc<Inner>);

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("labels", &self.0.labels)
            .field("patterns", &self.0.pattern_count)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A new stream (one per output channel).
    pub fn stream(&self) -> RedactStream {
        let max_len = self.0.matcher.as_ref().map_or(0, Matcher::max_len);
        RedactStream {
            redactor: self.clone(),
            buffers: Buffers::new(max_len),
            counts: Counts::new(self.0.labels.len()),
        }
    }

    /// Redacts a whole buffer at once; returns the output and the number of replacements.
    pub fn redact(&self, input: &[u8]) -> (Vec<u8>, u64) {
        let Some(matcher) = &self.0.matcher else {
            return (input.to_vec(), 0);
        };
        let mut out = Vec::with_capacity(input.len());
        let mut counts = Counts::new(self.0.labels.len());
        stream::process(
            &self.0,
            matcher,
            input,
            0,
            Final::All,
            &mut out,
            &mut counts,
        );
        (out, counts.total)
    }

    /// Every occurrence of a value in `input` as `(span, label)`: the
    /// leftmost-longest, non-overlapping matches that [`Redactor::redact`]
    /// replaces. For scanners, which report where values are.
    pub fn find_all(&self, input: &[u8]) -> Vec<(Range<usize>, &str)> {
        let mut found = Vec::new();
        let Some(matcher) = &self.0.matcher else {
            return found;
        };
        let mut pos = 0;
        let mut cursor = matcher::Cursor::default();
        while let Some(m) = matcher.find(input, pos, &mut cursor) {
            found.push((m.start..m.end, self.0.labels[m.label].as_str()));
            pos = m.end;
        }
        found
    }

    /// The longest occurrence of a value in input bytes (0 without any): a
    /// scanner reading in chunks overlaps them by at least this much to see
    /// every match whole.
    pub fn longest_pattern(&self) -> usize {
        self.0.matcher.as_ref().map_or(0, Matcher::max_len)
    }

    /// How many patterns (forms of values) are registered.
    pub fn pattern_count(&self) -> usize {
        self.0.pattern_count
    }

    /// The leftmost-longest matches in `input` as `(span, label)`, found by
    /// the plain automaton without the prefilter or any streaming: the
    /// reference that tests compare [`Redactor::redact`] and streams to.
    #[doc(hidden)]
    pub fn reference_matches(&self, input: &[u8]) -> Vec<(Range<usize>, &str)> {
        let mut found = Vec::new();
        let Some(matcher) = &self.0.matcher else {
            return found;
        };
        let mut pos = 0;
        while let Some(m) = matcher.find_unfiltered(input, pos) {
            found.push((m.start..m.end, self.0.labels[m.label].as_str()));
            pos = m.end;
        }
        found
    }

    /// Which automaton and prefilter this redactor uses (for benchmarks).
    #[doc(hidden)]
    pub fn describe(&self) -> String {
        self.0
            .matcher
            .as_ref()
            .map_or_else(|| "no patterns".to_owned(), Matcher::describe)
    }
}

/// Every literal form of `value` (with every form on), raw value first: byte strings matched
/// wherever they stand, whatever surrounds them (the escaped forms depend on
/// the bytes before them, see the crate docs). For tests: the returned
/// buffers are not wiped.
#[doc(hidden)]
pub fn literal_forms(value: &[u8]) -> Vec<Vec<u8>> {
    forms::forms_of(value, Escapes::ALL)
        .into_iter()
        .map(|f| f.to_vec())
        .collect()
}

/// Every literal form of `value` that a redactor with every form on
/// ([`RedactorBuilder::quoted_printable`] too) matches, raw value first,
/// then an example of each escaped or wrapped form that the decoded view
/// matches (see the crate docs). For tests: the returned buffers are not
/// wiped.
#[doc(hidden)]
pub fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = forms::forms_of(value, Escapes::ALL)
        .into_iter()
        .map(|f| f.to_vec())
        .collect();
    for example in examples::examples(value) {
        if !all.iter().any(|f| **f == *example) {
            all.push(example.to_vec());
        }
    }
    all
}

/// Per-stream state: the held-back tail and counters.
pub struct RedactStream {
    redactor: Redactor,
    buffers: Buffers,
    counts: Counts,
}

impl fmt::Debug for RedactStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactStream")
            .field("held", &self.buffers.held())
            .field("redactions", &self.counts.total)
            .finish_non_exhaustive()
    }
}

impl RedactStream {
    /// Appends to `out` every byte that can no longer be part of a match; holds back the rest.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let inner = &*self.redactor.0;
        match &inner.matcher {
            Some(matcher) => self
                .buffers
                .push(inner, matcher, input, out, &mut self.counts),
            None => out.extend_from_slice(input),
        }
    }

    /// End of stream: appends everything still held.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let inner = &*self.redactor.0;
        if let Some(matcher) = &inner.matcher {
            self.buffers.finish(inner, matcher, out, &mut self.counts);
        }
    }

    /// Bytes currently held back.
    pub fn held(&self) -> usize {
        self.buffers.held()
    }

    /// Total replacements made so far.
    pub fn redactions(&self) -> u64 {
        self.counts.total
    }

    /// Replacements made so far, per label; labels never replaced are absent.
    pub fn redactions_by_label(&self) -> BTreeMap<String, u64> {
        let labels = &self.redactor.0.labels;
        self.counts
            .by_label
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(i, &n)| (labels[i].clone(), n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn thread_safety() {
        assert_send_sync::<Redactor>();
        assert_send::<RedactStream>();
    }

    #[test]
    fn debug_never_shows_values() {
        let mut b = RedactorBuilder::new();
        b.add("db/password", b"correct-horse-battery");
        let r = b.build().unwrap();
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(b"correct-horse", &mut out);
        for text in [format!("{b:?}"), format!("{r:?}"), format!("{s:?}")] {
            assert!(!text.contains("correct"), "{text}");
            assert!(!text.contains("horse"), "{text}");
        }
        assert!(format!("{r:?}").contains("db/password"));
    }

    #[test]
    fn empty_values_are_ignored() {
        let mut b = RedactorBuilder::new();
        b.add("empty", b"");
        let r = b.build().unwrap();
        assert_eq!(r.pattern_count(), 0);
        assert_eq!(r.redact(b"abc"), (b"abc".to_vec(), 0));
    }

    #[test]
    fn each_form_is_redacted() {
        let value = "pa$$ wörd/<&>\"x".as_bytes();
        let mut b = RedactorBuilder::new();
        b.quoted_printable(true).add("pw", value);
        let r = b.build().unwrap();
        let all = forms(value);
        assert!(r.pattern_count() >= forms::forms_of(value, Escapes::ALL).len());
        for form in &all {
            let mut input = b"[".to_vec();
            input.extend_from_slice(form);
            input.push(b']');
            let (out, n) = r.redact(&input);
            assert_eq!(
                (out.as_slice(), n),
                (&b"[<redacted:pw>]"[..], 1),
                "{}",
                String::from_utf8_lossy(form)
            );
        }
    }

    #[test]
    fn encoded_forms_in_context() {
        let mut b = RedactorBuilder::new();
        b.add("key", b"s3cr3t/k3y+v@lue");
        let r = b.build().unwrap();
        let cases: [&[u8]; 6] = [
            b"Authorization: Basic czNjcjN0L2szeSt2QGx1ZQ==",
            b"url=https://h/?k=s3cr3t%2Fk3y%2Bv%40lue&x=1",
            b"url=https://h/?k=s3cr3t%2fk3y%2bv%40lue&x=1",
            b"{\"k\":\"s3cr3t\\/k3y+v@lue\"}",
            b"hex 7333637233742f6b33792b76406c7565",
            b"HEX 7333637233742F6B33792B76406C7565",
        ];
        for input in cases {
            let (out, n) = r.redact(input);
            let text = String::from_utf8_lossy(&out);
            assert!(text.contains("<redacted:key>"), "{text}");
            assert!(!text.contains("k3y"), "{text}");
            assert!(n >= 1);
        }
    }

    #[test]
    fn base64_of_a_larger_message_at_each_alignment() {
        use base64::Engine as _;
        let value = b"api-key-0123456789";
        let mut b = RedactorBuilder::new();
        b.add("api", value);
        let r = b.build().unwrap();
        for prefix in ["", "u", "us", "user:", "user:x"] {
            for engine in [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::URL_SAFE,
            ] {
                let mut msg = prefix.as_bytes().to_vec();
                msg.extend_from_slice(value);
                msg.extend_from_slice(b"@host");
                let encoded = engine.encode(&msg);
                let (out, n) = r.redact(encoded.as_bytes());
                assert_eq!(n, 1, "{prefix} {encoded}");
                assert!(out.len() < encoded.len());
            }
        }
    }

    #[test]
    fn many_short_values_without_sampling() {
        // 400 values of 5 bytes: too short to sample, too many for a DFA.
        let mut state = 0x2545_f491_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as u8
        };
        let mut b = RedactorBuilder::new();
        let values: Vec<Vec<u8>> = (0..400)
            .map(|_| (0..5).map(|_| b'a' + next() % 8).collect())
            .collect();
        for (i, v) in values.iter().enumerate() {
            b.add(&format!("v{i}"), v);
        }
        let r = b.build().unwrap();
        assert!(
            r.describe().starts_with("contiguous NFA"),
            "{}",
            r.describe()
        );
        assert!(r.describe().contains("no sampling"), "{}", r.describe());
        let input: Vec<u8> = (0..20_000).map(|_| b'a' + next() % 9).collect();
        let (expected, n) = r.redact(&input);
        assert!(n > 100);
        for size in [1, 7, 64, 4096] {
            let mut s = r.stream();
            let mut out = Vec::new();
            for chunk in input.chunks(size) {
                s.push(chunk, &mut out);
            }
            s.finish(&mut out);
            assert_eq!(out, expected, "chunks of {size}");
            assert_eq!(s.redactions(), n);
        }
    }

    #[test]
    fn same_label_several_values_and_shared_forms() {
        let mut b = RedactorBuilder::new();
        b.add("a", b"first-value-123")
            .add("a", b"second-value-456")
            .add("b", b"first-value-123");
        let r = b.build().unwrap();
        // Each value's literal forms and its 12-byte windows (4 and 5).
        assert_eq!(
            r.pattern_count(),
            forms::forms_of(b"first-value-123", Escapes::ALL).len()
                + forms::forms_of(b"second-value-456", Escapes::ALL).len()
                + 4
                + 5
        );
        let (out, _) = r.redact(b"first-value-123 second-value-456");
        assert_eq!(out, b"<redacted:a> <redacted:a>");
    }
}
