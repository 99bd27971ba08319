use thiserror::Error;

/// Why a name or a reference was refused.
///
/// Messages quote names and references, which are not secret, and never a value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The name is empty.
    #[error("a secret name cannot be empty")]
    EmptyName,
    /// The name is longer than [`crate::SecretName::MAX_LEN`].
    #[error("secret name is {len} bytes long; the limit is {max}")]
    NameTooLong {
        /// Length of the refused name.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name has an empty segment, a `.`/`..` segment or a leading/trailing `/`.
    #[error(
        "secret name {name:?} has an empty, '.' or '..' segment; use segments like 'db/dev/url'"
    )]
    BadSegment {
        /// The refused name.
        name: String,
    },
    /// The name holds a character outside `A-Z a-z 0-9 . _ -` and `/`.
    #[error(
        "secret name {name:?} contains {found:?}; names use letters, digits, '.', '_', '-' and '/'"
    )]
    BadCharacter {
        /// The refused name.
        name: String,
        /// The first character that is not allowed.
        found: char,
    },
    /// The name ends in `#` with no field after it.
    #[error("secret name {name:?} ends in '#' without a field; write 'PATH#FIELD' or drop the '#'")]
    EmptyField {
        /// The refused name.
        name: String,
    },
    /// The text does not start with `warrant://`.
    #[error("{text:?} is not a reference; references look like 'warrant://NAME'")]
    NotAReference {
        /// The refused text, cut to a short prefix.
        text: String,
    },
    /// The reference has the scheme but its name is invalid.
    #[error("malformed reference {text:?}: {source}")]
    MalformedReference {
        /// The refused reference.
        text: String,
        /// Why its name was refused.
        #[source]
        source: Box<Error>,
    },
}
