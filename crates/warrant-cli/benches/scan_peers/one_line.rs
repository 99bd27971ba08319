//! Files of a single line: minified-JSON-like filler with tokens at chosen
//! offsets. The corpus's long-line file (tokens straddling or touching
//! 64 KiB ... 8 MiB boundaries) and the 1 GiB file of the huge run
//! ([`crate::huge`]) are both written by [`write`].

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::corpus::MIB;
use crate::rng::Rng;
use crate::tokens::{Format, Style, Token, render};
use crate::truth::{Placement, Plant};

/// The single-line file: a little over 9 MiB, so the 8 MiB boundary is in.
pub const LONG_LINE_BYTES: u64 = 9 * MIB + 4321;
pub const BOUNDARIES: [u64; 6] = [64 << 10, 128 << 10, MIB, 2 * MIB, 4 * MIB, 8 * MIB];

/// Minified-JSON-like filler: low entropy, no newline, ASCII.
struct Filler {
    n: u64,
    pending: Vec<u8>,
}

impl Filler {
    fn new() -> Self {
        Filler {
            n: 0,
            pending: Vec::new(),
        }
    }

    fn write(&mut self, out: &mut impl Write, mut len: u64) {
        while len > 0 {
            if self.pending.is_empty() {
                self.n += 1;
                let n = self.n;
                self.pending = format!(
                    "{{\"id\":{n},\"sku\":\"SKU-{n:08}\",\"qty\":{},\"price\":{}.{:02},\"tags\":[\"red\",\"blue\"]}},",
                    n % 17,
                    n % 977,
                    n % 100
                )
                .into_bytes();
                self.pending.reverse();
            }
            let take = (self.pending.len() as u64).min(len) as usize;
            let at = self.pending.len() - take;
            let mut chunk: Vec<u8> = self.pending.drain(at..).collect();
            chunk.reverse();
            out.write_all(&chunk).unwrap();
            len -= take as u64;
        }
    }
}

/// A token to plant in a single-line file.
pub struct Spot {
    /// Where `text` starts in the file.
    pub start: u64,
    /// `,"key":"value",`.
    text: String,
    /// Where the token starts in `text`.
    tok: usize,
    format: Format,
    token: Token,
}

impl Spot {
    /// `token` in its text; where it goes (`start`) is set by the caller.
    pub fn new(format: Format, token: Token) -> Spot {
        let (ctx, tok) = render(format, &token, Style::Json);
        Spot {
            start: 0,
            text: format!(",{ctx},"),
            tok: tok + 1,
            format,
            token,
        }
    }

    /// One past the last byte of its text.
    fn end(&self) -> u64 {
        self.start + self.text.len() as u64
    }
}

/// Writes `path` as `len` bytes on one line: filler, with `spots` (sorted
/// by start, apart from each other) in it. Returns the ground truth, the
/// file named `rel`.
pub fn write(path: &Path, rel: &str, len: u64, spots: Vec<Spot>) -> Vec<Plant> {
    let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(path).unwrap());
    let mut filler = Filler::new();
    let mut pos = 0;
    let mut planted = Vec::new();
    for spot in spots {
        filler.write(&mut out, spot.start - pos);
        out.write_all(spot.text.as_bytes()).unwrap();
        pos = spot.end();
        planted.push(Plant {
            file: rel.to_owned(),
            start: spot.start + 1,
            end: pos - 1,
            token_start: spot.start + spot.tok as u64,
            token_len: spot.token.value.len() as u64,
            line: 1,
            format: spot.format,
            placement: Placement::LongLine,
            parts: spot.token.parts,
            value: spot.token.value,
        });
    }
    filler.write(&mut out, len - pos);
    out.flush().unwrap();
    planted
}

/// The single-line file, with tokens straddling or touching the boundaries
/// in [`BOUNDARIES`] and the rest at random offsets.
pub fn long_line(tree: &Path, tokens: Vec<(Format, Token)>, rng: &mut Rng) -> Vec<Plant> {
    let rel = "zz-planted/export-one-line.json";
    let path = tree.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut spots: Vec<Spot> = Vec::new();
    for (i, (format, token)) in tokens.into_iter().enumerate() {
        let mut spot = Spot::new(format, token);
        let len = spot.token.value.len() as u64;
        spot.start = loop {
            let token_start = if let Some(&b) = BOUNDARIES.get(i) {
                let r = rng.below(7) as i64 - 3;
                let base = match i % 3 {
                    0 => b,           // starts at the boundary
                    1 => b - len,     // ends at it
                    _ => b - len / 2, // straddles it
                };
                (base as i64 + r) as u64
            } else {
                1024 + rng.below(LONG_LINE_BYTES - 4096 - len)
            };
            let start = token_start - spot.tok as u64;
            let end = start + spot.text.len() as u64;
            if end + 64 < LONG_LINE_BYTES
                && spots
                    .iter()
                    .all(|s| end + 64 < s.start || s.end() + 64 < start)
            {
                break start;
            }
        };
        spots.push(spot);
    }
    spots.sort_by_key(|s| s.start);
    write(&path, rel, LONG_LINE_BYTES, spots)
}
