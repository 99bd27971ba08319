//! `warrant scan`: find secrets in files, git changes and agent configuration.

mod values;

pub use values::{Values, build_scanner};
