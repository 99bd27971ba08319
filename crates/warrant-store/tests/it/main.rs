//! Integration tests of the local store: one binary, one module per concern.

mod local;
mod processes;
mod support;
