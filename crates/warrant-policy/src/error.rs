use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why a policy could not be loaded.
///
/// A policy holds no values, so messages may quote any part of it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: io::Error,
    },
    /// The file is not a valid policy: TOML syntax, an unknown key, a value of
    /// the wrong type or one that makes no sense (bad duration, bad glob,
    /// undefined actor, ...). The message says what to write instead.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Malformed {
        /// The file, as given to [`crate::Policy::load`] or [`crate::Policy::parse`].
        path: PathBuf,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (in characters) of the offending text.
        column: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl Error {
    /// Line and column (both 1-based) of a [`Error::Malformed`] error.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            Error::Malformed { line, column, .. } => Some((*line, *column)),
            Error::Read { .. } => None,
        }
    }

    /// The message of a [`Error::Malformed`] error without its location.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Malformed { message, .. } => Some(message),
            Error::Read { .. } => None,
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
///
/// An offset past the end, or inside a multi-byte character, is clamped to
/// the nearest character boundary before it.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_in_characters() {
        let text = "ab\nçd = 1\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 2), (1, 3));
        assert_eq!(line_column(text, 3), (2, 1));
        // 'ç' is two bytes but one column.
        assert_eq!(line_column(text, 5), (2, 2));
        // Inside a character and past the end are clamped.
        assert_eq!(line_column(text, 4), (2, 1));
        assert_eq!(line_column(text, 99), (3, 1));
    }

    #[test]
    fn messages_name_file_line_and_column() {
        let error = Error::Malformed {
            path: PathBuf::from("warrant.toml"),
            line: 7,
            column: 12,
            message: "unknown approval \"maybe\"; use \"required\", \"hardware_key\" or \"auto\""
                .into(),
        };
        assert_eq!(
            error.to_string(),
            "warrant.toml:7:12: unknown approval \"maybe\"; use \"required\", \"hardware_key\" or \"auto\""
        );
        assert_eq!(error.position(), Some((7, 12)));
    }
}
