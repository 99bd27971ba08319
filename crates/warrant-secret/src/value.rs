use std::fmt;

use secrecy::{ExposeSecret, SecretBox};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// The bytes of a secret. Wiped from memory when dropped.
///
/// Deliberately not `Serialize`, not `Display`, and `Debug` prints
/// `[REDACTED]`. Read it only through [`SecretValue::expose_secret`].
pub struct SecretValue(SecretBox<[u8]>);

impl SecretValue {
    /// Reveals the bytes. Keep the borrow short and never log it.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// Length in bytes (not secret: it decides whether a value can be redacted).
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the value has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Compares two values in constant time (for equal lengths).
    pub fn ct_eq(&self, other: &SecretValue) -> bool {
        self.expose_secret().ct_eq(other.expose_secret()).into()
    }

    /// A second copy, itself wiped on drop. Named so copies stay greppable.
    pub fn duplicate(&self) -> Self {
        Self::from(self.expose_secret().to_vec())
    }
}

impl From<Vec<u8>> for SecretValue {
    /// Takes ownership of `bytes`. The buffer is moved into a boxed slice;
    /// when that needs a reallocation, the old buffer is wiped first.
    fn from(mut bytes: Vec<u8>) -> Self {
        let boxed: Box<[u8]> = if bytes.len() == bytes.capacity() {
            bytes.into_boxed_slice()
        } else {
            let copy = Box::<[u8]>::from(bytes.as_slice());
            bytes.zeroize();
            copy
        };
        Self(SecretBox::new(boxed))
    }
}

impl From<String> for SecretValue {
    fn from(text: String) -> Self {
        Self::from(text.into_bytes())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::from("hunter2-hunter2".to_owned());
        assert_eq!(format!("{v:?}"), "[REDACTED]");
        assert_eq!(format!("{:#?}", vec![v]), "[\n    [REDACTED],\n]");
    }

    #[test]
    fn compares_and_duplicates() {
        let mut bytes = Vec::with_capacity(64);
        bytes.extend_from_slice(b"abcdefgh");
        let a = SecretValue::from(bytes);
        assert_eq!(a.expose_secret(), b"abcdefgh");
        assert!(a.ct_eq(&a.duplicate()));
        assert!(!a.ct_eq(&SecretValue::from(b"abcdefgX".to_vec())));
        assert_eq!(a.len(), 8);
    }
}
