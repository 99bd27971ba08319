//! Redactor invariants for fuzz-chosen values, data and chunking:
//! streaming output == one-shot `redact()` == the plain leftmost-longest
//! reference, and no literal form of any value (the raw value included)
//! survives outside the replacements the redactor wrote.
//!
//! Input layout: byte 0 picks the number of values (1..=4); each value is a
//! length byte (1..=48) and that many bytes; then a byte picks the number of
//! chunk sizes (1..=8), each one byte (0..=255, 0 = an empty push); the rest
//! is the data.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warrant_redact::{RedactorBuilder, literal_forms};

/// Splits off the first `n` bytes, or `None` if there are fewer.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = (data.get(..n)?, data.get(n..)?);
    *data = tail;
    Some(head)
}

fn occurrences<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    hay.windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

fuzz_target!(|input: &[u8]| {
    let mut rest = input;
    let Some(&[n]) = take(&mut rest, 1) else {
        return;
    };
    let mut values = Vec::new();
    for _ in 0..1 + n % 4 {
        let Some(&[len]) = take(&mut rest, 1) else {
            return;
        };
        let Some(value) = take(&mut rest, 1 + usize::from(len) % 48) else {
            return;
        };
        values.push(value.to_vec());
    }
    let Some(&[c]) = take(&mut rest, 1) else {
        return;
    };
    let Some(sizes) = take(&mut rest, 1 + usize::from(c) % 8) else {
        return;
    };
    let data = rest;

    let mut builder = RedactorBuilder::new();
    for (i, v) in values.iter().enumerate() {
        builder.add(&format!("v{i}"), v);
    }
    let redactor = builder.build().expect("a few short values always build");

    // The reference output, and where its replacements are.
    let mut expected = Vec::new();
    let mut tokens = Vec::new();
    let mut pos = 0;
    for (span, label) in redactor.reference_matches(data) {
        expected.extend_from_slice(&data[pos..span.start]);
        let start = expected.len();
        expected.extend_from_slice(format!("<redacted:{label}>").as_bytes());
        tokens.push(start..expected.len());
        pos = span.end;
    }
    expected.extend_from_slice(&data[pos..]);

    let (one_shot, count) = redactor.redact(data);
    assert!(
        one_shot == expected,
        "one-shot output differs from the reference"
    );
    assert_eq!(count as usize, tokens.len());

    let mut stream = redactor.stream();
    let mut out = Vec::new();
    let mut remaining = data;
    let mut i = 0;
    let all_empty = sizes.iter().all(|&s| s == 0);
    while !remaining.is_empty() {
        let n = if all_empty {
            1
        } else {
            usize::from(sizes[i % sizes.len()])
        };
        let (chunk, tail) = remaining.split_at(n.min(remaining.len()));
        stream.push(chunk, &mut out);
        remaining = tail;
        i += 1;
    }
    stream.finish(&mut out);
    assert!(
        out == expected,
        "streaming output differs from the reference"
    );
    assert_eq!(stream.redactions(), count);
    assert_eq!(stream.held(), 0);

    for v in &values {
        for form in literal_forms(v) {
            for at in occurrences(&out, &form) {
                let end = at + form.len();
                assert!(
                    tokens.iter().any(|t| t.start < end && at < t.end),
                    "a form of a value survived"
                );
            }
        }
    }
});
