//! Integration tests of the audit log: one binary, one module per concern.

mod chain;
mod report;
