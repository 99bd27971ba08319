//! Properties of the redactor for any values, input and chunking.
//!
//! - Streaming output equals `redact()` of the whole input equals the plain
//!   leftmost-longest reference, for any chunking.
//! - No literal form of any value survives in the output, except where it
//!   overlaps a replacement the redactor wrote. (Escaped forms are inserted
//!   too, but in random surroundings the bytes before one may change how it
//!   decodes, as `=C` before `0=00`; they are checked whole between neutral
//!   bytes below.) (A form cannot survive inside untouched
//!   bytes; only a form that happens to contain part of `<redacted:..>` text
//!   could straddle one.)
//! - With filler bytes that no form can contain, the output is exactly the
//!   filler with one replacement per inserted form.
//! - Input in which the reference finds nothing comes out byte for byte, and
//!   so does any non-ASCII input when the values are ASCII (every form of an
//!   ASCII value is ASCII, and non-ASCII bytes decode to themselves).
//! - Pieces: any piece of a value of at least `MIN_PIECE_LEN` bytes is
//!   replaced, whole, wherever it stands.

use std::ops::Range;

use proptest::prelude::*;
use warrant_redact::{MIN_PIECE_LEN, Redactor, RedactorBuilder, forms, literal_forms};

/// A redactor for `values` with every form on (quoted-printable too, which
/// [`forms`] gives examples of).
fn build(values: &[Vec<u8>]) -> Redactor {
    build_with(values, true)
}

fn build_with(values: &[Vec<u8>], quoted_printable: bool) -> Redactor {
    let mut b = RedactorBuilder::new();
    b.quoted_printable(quoted_printable);
    for (i, v) in values.iter().enumerate() {
        b.add(&format!("v{i}"), v);
    }
    b.build().unwrap()
}

/// Pushes `input` in chunks whose sizes cycle through `sizes` (0 allowed).
fn streamed(r: &Redactor, input: &[u8], sizes: &[usize]) -> (Vec<u8>, u64) {
    let mut s = r.stream();
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    let all_empty = sizes.iter().all(|&n| n == 0);
    while !rest.is_empty() {
        let n = if all_empty {
            1
        } else {
            sizes[i % sizes.len()].min(rest.len())
        };
        s.push(&rest[..n], &mut out);
        assert!(s.held() < 1024, "held {}", s.held());
        rest = &rest[n..];
        i += 1;
    }
    s.finish(&mut out);
    assert_eq!(s.held(), 0);
    (out, s.redactions())
}

/// The reference output and where its replacements are.
fn reference(r: &Redactor, input: &[u8]) -> (Vec<u8>, Vec<Range<usize>>) {
    let mut out = Vec::new();
    let mut tokens = Vec::new();
    let mut pos = 0;
    for (span, label) in r.reference_matches(input) {
        out.extend_from_slice(&input[pos..span.start]);
        let start = out.len();
        out.extend_from_slice(format!("<redacted:{label}>").as_bytes());
        tokens.push(start..out.len());
        pos = span.end;
    }
    out.extend_from_slice(&input[pos..]);
    (out, tokens)
}

fn occurrences<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    hay.windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

/// A piece of test input, resolved against the values.
#[derive(Debug, Clone)]
enum Piece {
    Bytes(Vec<u8>),
    /// A form of a value (indices taken modulo the counts).
    Form(usize, usize),
    /// A strict prefix of a form.
    Prefix(usize, usize, usize),
    /// A strict suffix of a form.
    Suffix(usize, usize, usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Piece::Bytes),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(v, f)| Piece::Form(v, f)),
        2 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(v, f, c)| Piece::Prefix(v, f, c)),
        1 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(v, f, c)| Piece::Suffix(v, f, c)),
    ]
}

fn resolve(pieces: &[Piece], values: &[Vec<u8>]) -> Vec<u8> {
    let form = |v: usize, f: usize| {
        let all = forms(&values[v % values.len()]);
        all[f % all.len()].clone()
    };
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Bytes(b) => out.extend_from_slice(b),
            Piece::Form(v, f) => out.extend_from_slice(&form(*v, *f)),
            Piece::Prefix(v, f, c) => {
                let f = form(*v, *f);
                out.extend_from_slice(&f[..c % f.len()]);
            }
            Piece::Suffix(v, f, c) => {
                let f = form(*v, *f);
                out.extend_from_slice(&f[1 + c % f.len()..]);
            }
        }
    }
    out
}

fn values(
    alphabet: impl Strategy<Value = u8>,
    len: Range<usize>,
) -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(alphabet, len), 1..=5)
}

/// Values, some of which are strict substrings of others (so that one
/// pattern ends inside another: the trickiest case for holding back).
fn nested_values(
    alphabet: impl Strategy<Value = u8>,
    len: Range<usize>,
) -> impl Strategy<Value = Vec<Vec<u8>>> {
    let min = len.start.max(1);
    let picks = proptest::collection::vec((any::<usize>(), any::<usize>(), any::<usize>()), 0..3);
    (values(alphabet, len), picks).prop_map(move |(mut vs, picks)| {
        for (i, at, n) in picks {
            let base = vs[i % vs.len()].clone();
            if base.len() > min {
                let n = min + n % (base.len() - min);
                let at = at % (base.len() - n + 1);
                vs.push(base[at..at + n].to_vec());
            }
        }
        vs
    })
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(
        prop_oneof![4 => 0usize..8, 3 => 8usize..80, 1 => 80usize..5000],
        1..12,
    )
}

fn check_streaming_and_survivors(
    values: &[Vec<u8>],
    pieces: &[Piece],
    sizes: &[usize],
) -> Result<(), TestCaseError> {
    let r = build(values);
    let input = resolve(pieces, values);
    let (expected, tokens) = reference(&r, &input);
    let (one_shot, n) = r.redact(&input);
    prop_assert_eq!(&one_shot, &expected);
    prop_assert_eq!(n as usize, tokens.len());
    let (out, m) = streamed(&r, &input, sizes);
    prop_assert_eq!(&out, &expected);
    prop_assert_eq!(m, n);
    // Without quoted-printable (the default), the same agreement.
    let default = build_with(values, false);
    let (default_expected, default_tokens) = reference(&default, &input);
    let (default_one_shot, default_n) = default.redact(&input);
    prop_assert_eq!(&default_one_shot, &default_expected);
    prop_assert_eq!(default_n as usize, default_tokens.len());
    prop_assert_eq!(
        streamed(&default, &input, sizes),
        (default_expected, default_n)
    );
    for v in values {
        for f in literal_forms(v) {
            for at in occurrences(&out, &f) {
                let hit = at..at + f.len();
                prop_assert!(
                    tokens
                        .iter()
                        .any(|t| t.start < hit.end && hit.start < t.end),
                    "a form survived at {}",
                    at
                );
            }
        }
    }
    Ok(())
}

proptest! {
    // No failure files: tests never write to the source tree. A failure
    // prints its minimal input; turn it into a unit test.
    // 128 cases keep the suite in its budget; PROPTEST_CASES=2000 (as the
    // redactor's changes were checked) runs more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(128),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn streaming_equals_one_shot_and_no_form_survives(
        values in nested_values(any::<u8>(), 8..64),
        pieces in proptest::collection::vec(piece(), 0..40),
        sizes in chunk_sizes(),
    ) {
        check_streaming_and_survivors(&values, &pieces, &sizes)?;
    }

    #[test]
    fn short_values_streaming_equals_one_shot(
        // Under 6 bytes there is no sampling filter; a small alphabet makes
        // values overlap and embed each other.
        values in nested_values(prop_oneof![any::<u8>(), b'a'..=b'd'], 1..8),
        pieces in proptest::collection::vec(piece(), 0..40),
        sizes in chunk_sizes(),
    ) {
        check_streaming_and_survivors(&values, &pieces, &sizes)?;
    }

    #[test]
    fn inserted_forms_become_exactly_one_replacement_each(
        values in values(0u8..128, 8..64),
        inserts in proptest::collection::vec(
            (proptest::collection::vec(128u8..=255, 1..40), any::<usize>(), any::<usize>()), 0..20),
        tail in proptest::collection::vec(128u8..=255, 0..40),
        sizes in chunk_sizes(),
    ) {
        // Forms of ASCII values are ASCII; the filler never is, so no match
        // can reach into it and each inserted form is matched whole.
        let all: Vec<Vec<Vec<u8>>> = values.iter().map(|v| forms(v)).collect();
        let owner = |form: &[u8]| all.iter().position(|fs| fs.iter().any(|f| f == form)).unwrap();
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for (filler, v, f) in &inserts {
            input.extend_from_slice(filler);
            expected.extend_from_slice(filler);
            let fs = &all[v % all.len()];
            let form = &fs[f % fs.len()];
            input.extend_from_slice(form);
            expected.extend_from_slice(format!("<redacted:v{}>", owner(form)).as_bytes());
        }
        input.extend_from_slice(&tail);
        expected.extend_from_slice(&tail);
        let r = build(&values);
        let (out, n) = streamed(&r, &input, &sizes);
        prop_assert_eq!(&out, &expected);
        prop_assert_eq!(n as usize, inserts.len());
        // So no form is left, unless a form is itself part of a replacement text.
        for f in all.iter().flatten() {
            let in_token = (0..values.len())
                .any(|i| occurrences(format!("<redacted:v{i}>").as_bytes(), f).next().is_some());
            prop_assert!(in_token || occurrences(&out, f).next().is_none());
        }
    }

    #[test]
    fn input_without_forms_is_untouched(
        values in values(any::<u8>(), 8..64),
        pieces in proptest::collection::vec(
            prop_oneof![
                3 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Piece::Bytes),
                2 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(v, f, c)| Piece::Prefix(v, f, c)),
                1 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(v, f, c)| Piece::Suffix(v, f, c)),
            ],
            0..30),
        sizes in chunk_sizes(),
    ) {
        let input = resolve(&pieces, &values);
        // Prefixes of one form can contain another (a base64 fragment is a
        // prefix of the padded encoding, a long prefix of a value is a
        // piece); those inputs prove nothing here.
        let r = build(&values);
        if r.reference_matches(&input).is_empty() {
            let (out, n) = streamed(&r, &input, &sizes);
            prop_assert_eq!(&out, &input);
            prop_assert_eq!(n, 0);
        }
    }

    #[test]
    fn non_ascii_input_is_untouched_by_ascii_values(
        values in values(0u8..128, 8..64),
        input in proptest::collection::vec(128u8..=255, 0..2000),
        sizes in chunk_sizes(),
    ) {
        let r = build(&values);
        let (out, n) = streamed(&r, &input, &sizes);
        prop_assert_eq!(&out, &input);
        prop_assert_eq!(n, 0);
    }

    #[test]
    fn pieces_are_replaced_whole(
        values in values(0u8..128, MIN_PIECE_LEN..64),
        cuts in proptest::collection::vec((any::<usize>(), any::<usize>(), proptest::collection::vec(128u8..=255, 1..20)), 1..10),
        sizes in chunk_sizes(),
    ) {
        // Non-ASCII filler between pieces: each piece is one replacement.
        let r = build(&values);
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for (v, at, filler) in &cuts {
            let value = &values[v % values.len()];
            let len = MIN_PIECE_LEN + at % (value.len() - MIN_PIECE_LEN + 1);
            let start = (at / 7) % (value.len() - len + 1);
            input.extend_from_slice(&value[start..start + len]);
            input.extend_from_slice(filler);
            expected.extend_from_slice(filler);
        }
        let (out, n) = streamed(&r, &input, &sizes);
        prop_assert_eq!(n as usize, cuts.len());
        prop_assert!(!out.windows(MIN_PIECE_LEN).any(|w| values.iter().any(|v| v.windows(MIN_PIECE_LEN).any(|x| x == w))));
        // Remove the replacements: what is left is exactly the filler.
        let mut rest = out.clone();
        for i in 0..values.len() {
            let token = format!("<redacted:v{i}>");
            while let Some(p) = rest.windows(token.len()).position(|w| w == token.as_bytes()) {
                rest.drain(p..p + token.len());
            }
        }
        prop_assert_eq!(rest, expected);
    }

    #[test]
    fn liveness_only_a_possible_start_is_held(
        values in values(any::<u8>(), 8..64),
        text in proptest::collection::vec(any::<u8>(), 0..300),
        v in any::<usize>(),
        cut in any::<usize>(),
    ) {
        // After any push, what is held is a proper prefix of some form.
        let r = build(&values);
        let raw = &values[v % values.len()];
        let mut input = text;
        input.extend_from_slice(&raw[..1 + cut % (raw.len() - 1)]);
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(&input, &mut out);
        prop_assert_eq!(&out[..], &r.redact(&input[..input.len() - s.held()]).0[..]);
        prop_assert!(s.held() < r.longest_pattern());
        // The strict prefix of the raw value at the end is held, at least,
        // unless a match reached into it.
        let start = input.len() - (1 + cut % (raw.len() - 1));
        prop_assert!(
            input.len() - s.held() <= start
                || r.reference_matches(&input).iter().any(|(m, _)| m.end > start)
        );
    }
}

/// Found with `PROPTEST_CASES=3000`: streamed in pushes of 60, 33, 51 and
/// 5 bytes, the decoded occurrence of the fourth value, which starts with a
/// line break and `&gt;`, was missed (the one-shot redaction found it): the
/// hold point let a line break at the end of a push go, with the `&` after
/// it, although a kept line break may start an occurrence and the `&` was
/// still an open escape.
#[test]
fn regression_stream_misses_escaped_form_after_line_break() {
    let mut v3 = vec![10, 62];
    v3.extend([0; 45]);
    v3.extend([32, 0, 0, 95, 43]);
    let mut v1 = vec![0, 47, 0, 33];
    v1.extend([0; 23]);
    v1.extend([44, 0, 0, 64, 0, 45, 0]);
    let values = vec![
        vec![0; 8],
        v1,
        vec![0; 8],
        v3,
        vec![64, 39, 39, 33, 33, 0, 33, 33, 0, 64, 11, 34, 42, 45],
    ];
    let all: Vec<Vec<Vec<u8>>> = values.iter().map(|v| forms(v)).collect();
    let inserts: [(usize, usize, usize); 3] = [
        (17, 1296178300070693876, 2597178904801987228),
        (4, 15395794212088731324, 5951161573620802702),
        (39, 4710690538302392538, 7204967224342576789),
    ];
    let mut input = Vec::new();
    for (filler, v, f) in inserts {
        input.extend(std::iter::repeat_n(128u8, filler));
        let fs = &all[v % all.len()];
        input.extend_from_slice(&fs[f % fs.len()]);
    }
    let r = build(&values);
    let (out, _) = streamed(&r, &input, &[60, 33, 51, 5]);
    assert_eq!(out, r.redact(&input).0);
}
