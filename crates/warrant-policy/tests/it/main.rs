//! Integration tests of the policy: one binary, one module per concern.

mod check;
mod decide;
mod errors;
mod explain;
mod matching;
mod parse;
mod properties;
mod support;
