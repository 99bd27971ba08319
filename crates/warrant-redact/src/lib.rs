//! Streaming redactor (STUB: API fixed, implementation pending).
//!
//! Replaces every registered secret value, raw and in its common encodings,
//! with `<redacted:LABEL>`, over a stream of bytes split at any boundary.

use std::collections::BTreeMap;
use std::sync::Arc;

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
#[derive(Default)]
pub struct RedactorBuilder {
    _private: (),
}

impl RedactorBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `value` under `label` (shown as `<redacted:LABEL>`). Empty values are ignored.
    pub fn add(&mut self, label: &str, value: &[u8]) -> &mut Self {
        let _ = (label, value);
        self
    }

    /// Builds the shared, immutable redactor.
    pub fn build(&self) -> Result<Redactor, Error> {
        Ok(Redactor(Arc::new(())))
    }
}

/// The immutable set of patterns; cheap to clone and share between streams.
#[derive(Clone)]
pub struct Redactor(Arc<()>);

impl Redactor {
    /// A new stream (one per output channel).
    pub fn stream(&self) -> RedactStream {
        RedactStream { _r: self.clone() }
    }

    /// Redacts a whole buffer at once; returns the output and the number of replacements.
    pub fn redact(&self, input: &[u8]) -> (Vec<u8>, u64) {
        (input.to_vec(), 0)
    }

    /// How many patterns (forms of values) are registered.
    pub fn pattern_count(&self) -> usize {
        0
    }
}

/// Per-stream state: the held-back tail and counters.
pub struct RedactStream {
    _r: Redactor,
}

impl RedactStream {
    /// Appends to `out` every byte that can no longer be part of a match; holds back the rest.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(input);
    }

    /// End of stream: appends everything still held.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// Bytes currently held back.
    pub fn held(&self) -> usize {
        0
    }

    /// Total replacements made so far.
    pub fn redactions(&self) -> u64 {
        0
    }

    /// Replacements made so far, per label.
    pub fn redactions_by_label(&self) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }
}
