use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A validated secret name: `/`-separated segments of `A-Z a-z 0-9 . _ -`,
/// none empty, none `.` or `..`, at most [`SecretName::MAX_LEN`] bytes,
/// optionally ending in one `#FIELD` (same characters, no `/`): one field of
/// a secret that holds several, as OpenBao/Vault KV secrets do
/// (`team/app/db#password`).
///
/// The rules keep names safe to use as references, in file paths, in globs
/// and in shell commands without quoting surprises (`#` inside a word is
/// not a shell comment).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName(String);

impl SecretName {
    /// Longest accepted name, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        validate(&name)?;
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without its `#FIELD`.
    pub fn path(&self) -> &str {
        self.0.split_once('#').map_or(&self.0, |(path, _)| path)
    }

    /// The `FIELD` of a `PATH#FIELD` name.
    pub fn field(&self) -> Option<&str> {
        self.0.split_once('#').map(|(_, field)| field)
    }
}

fn validate(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::EmptyName);
    }
    if name.len() > SecretName::MAX_LEN {
        return Err(Error::NameTooLong {
            len: name.len(),
            max: SecretName::MAX_LEN,
        });
    }
    let (path, field) = match name.split_once('#') {
        Some((path, field)) => (path, Some(field)),
        None => (name, None),
    };
    let plain = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let bad = path
        .chars()
        .find(|c| !(plain(c) || *c == '/'))
        .or_else(|| field.and_then(|f| f.chars().find(|c| !plain(c))));
    if let Some(found) = bad {
        return Err(Error::BadCharacter {
            name: name.chars().take(64).collect(),
            found,
        });
    }
    if field.is_some_and(str::is_empty) {
        return Err(Error::EmptyField {
            name: name.to_owned(),
        });
    }
    if path
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(Error::BadSegment {
            name: name.to_owned(),
        });
    }
    Ok(())
}

impl FromStr for SecretName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Names are not secret, so a plain Debug is fine and helps diagnostics.
impl fmt::Debug for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretName({:?})", self.0)
    }
}

impl AsRef<str> for SecretName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for SecretName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_path_like_names() {
        for ok in ["github/token", "db/dev/url", "A_B-c.d", "x", "a/.b/c.."] {
            assert_eq!(SecretName::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(SecretName::new(""), Err(Error::EmptyName));
        for bad in ["/a", "a/", "a//b", "a/../b", "./a", ".."] {
            assert!(
                matches!(SecretName::new(bad), Err(Error::BadSegment { .. })),
                "{bad}"
            );
        }
        for bad in ["a b", "a#b#c", "a#b/c", "a\nb", "ä", "a:b", "a$b"] {
            assert!(
                matches!(SecretName::new(bad), Err(Error::BadCharacter { .. })),
                "{bad}"
            );
        }
        let long = "a".repeat(SecretName::MAX_LEN + 1);
        assert!(matches!(
            SecretName::new(long),
            Err(Error::NameTooLong { .. })
        ));
    }

    #[test]
    fn a_field_ends_the_name() {
        let name = SecretName::new("team/app/db#password").unwrap();
        assert_eq!(
            (name.path(), name.field()),
            ("team/app/db", Some("password"))
        );
        let plain = SecretName::new("team/app/db").unwrap();
        assert_eq!((plain.path(), plain.field()), ("team/app/db", None));
        assert!(matches!(
            SecretName::new("a/b#"),
            Err(Error::EmptyField { .. })
        ));
        assert!(matches!(
            SecretName::new("#f"),
            Err(Error::EmptyName | Error::BadSegment { .. })
        ));
    }

    #[test]
    fn serde_round_trip_validates() {
        let name: SecretName = serde_json::from_str("\"db/dev\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"db/dev\"");
        assert!(serde_json::from_str::<SecretName>("\"../x\"").is_err());
    }
}
