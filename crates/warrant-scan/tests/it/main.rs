//! Integration tests of warrant-scan, one binary with a module per area.

mod rules;
