//! Scanner invariants on fuzz-chosen content and read sizes: reading in
//! chunks finds exactly what scanning the whole buffer finds (no match lost
//! or doubled at a chunk edge), positions agree with the content, and
//! nothing panics.
//!
//! Input layout: byte 0 picks the number of read sizes (1..=8), each a
//! two-byte little-endian size (0 becomes 1); the rest is the content.

#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warrant_redact::RedactorBuilder;
use warrant_scan::Scanner;

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let mut values = RedactorBuilder::new();
        values.add("fuzz/a", b"fuzzvalue-A1b2C3d4");
        values.add("fuzz/b", b"\x00\xff binary value \n");
        // The smallest chunks the scanner allows: many edges per input.
        Scanner::builder()
            .values(values.build().unwrap())
            .chunk_size(0)
            .build()
            .unwrap()
    })
}

struct Jagged<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    i: usize,
}

impl Read for Jagged<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.sizes[self.i % self.sizes.len()].min(out.len()).min(self.data.len());
        self.i += 1;
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&n, mut rest)) = input.split_first() else {
        return;
    };
    let mut sizes = Vec::new();
    for _ in 0..1 + n % 8 {
        let Some((size, tail)) = rest.split_first_chunk::<2>() else {
            return;
        };
        sizes.push(usize::from(u16::from_le_bytes(*size)).max(1));
        rest = tail;
    }
    let s = scanner();
    let whole = s.scan_bytes(rest);
    let mut buf = Vec::new();
    let chunked = s
        .scan_reader(&mut Jagged { data: rest, sizes, i: 0 }, &mut buf)
        .unwrap();
    let key = |f: &warrant_scan::Finding| (f.offset, f.length, f.rule.clone(), f.line, f.column);
    let a: Vec<_> = whole.iter().map(key).collect();
    let b: Vec<_> = chunked.iter().map(key).collect();
    assert_eq!(a, b, "chunked scan differs from the whole-buffer scan");
    for f in &whole {
        let start = f.offset as usize;
        assert!(start + f.length <= rest.len());
        let before = &rest[..start];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        assert_eq!(f.line, line);
    }
});
