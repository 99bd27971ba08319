//! Integration tests of warrant-mcp's library.

mod install;
