use std::fmt;
use std::str::FromStr;

use crate::{Error, SecretName};

/// The scheme that marks a reference.
pub const REFERENCE_SCHEME: &str = "warrant://";

/// `warrant://NAME`: what configuration holds in place of a value.
///
/// A reference is the whole of a value: `DB_URL=warrant://db/dev/url`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Reference {
    name: SecretName,
}

impl Reference {
    /// A reference to `name`.
    pub fn new(name: SecretName) -> Self {
        Self { name }
    }

    /// Parses text that must be a reference.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match Self::detect(text) {
            Some(result) => result,
            None => Err(Error::NotAReference {
                text: text.chars().take(16).collect(),
            }),
        }
    }

    /// `None` when `text` is not meant as a reference (no scheme), otherwise
    /// the parsed reference or why it is malformed.
    ///
    /// Leading and trailing ASCII whitespace is ignored, so that a value
    /// copied with a stray newline still resolves rather than leaking the
    /// reference text into the child as if it were a value.
    pub fn detect(text: &str) -> Option<Result<Self, Error>> {
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let rest = trimmed.strip_prefix(REFERENCE_SCHEME)?;
        Some(
            SecretName::new(rest)
                .map(Self::new)
                .map_err(|source| Error::MalformedReference {
                    text: trimmed.chars().take(300).collect(),
                    source: Box::new(source),
                }),
        )
    }

    /// The secret this reference names.
    pub fn name(&self) -> &SecretName {
        &self.name
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{REFERENCE_SCHEME}{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let r = Reference::parse("warrant://github/token").unwrap();
        assert_eq!(r.name().as_str(), "github/token");
        assert_eq!(r.to_string(), "warrant://github/token");
        assert_eq!(
            Reference::parse(" warrant://a/b\n")
                .unwrap()
                .name()
                .as_str(),
            "a/b"
        );
    }

    #[test]
    fn tells_plain_values_from_malformed_references() {
        assert!(Reference::detect("postgres://x").is_none());
        assert!(Reference::detect("plain").is_none());
        assert!(matches!(
            Reference::detect("warrant://"),
            Some(Err(Error::MalformedReference { .. }))
        ));
        assert!(matches!(
            Reference::detect("warrant://a b"),
            Some(Err(Error::MalformedReference { .. }))
        ));
        assert!(matches!(
            Reference::parse("x"),
            Err(Error::NotAReference { .. })
        ));
    }
}
