//! Base64 (standard alphabet, padded) for the byte fields of the JSON files.
//! Nothing here handles key material or values: only nonces, salts and
//! ciphertexts, which are not secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use crate::crypto::{NONCE_LEN, TAG_LEN};

fn decode<'de, D: Deserializer<'de>>(deserializer: D, what: &str) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    STANDARD
        .decode(text.as_bytes())
        .map_err(|e| D::Error::custom(format!("{what} is not valid base64: {e}")))
}

/// Any byte string (salts).
pub(crate) mod bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        decode(deserializer, "a byte field")
    }
}

/// A ciphertext, which is at least as long as its tag.
pub(crate) mod ciphertext {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let bytes = decode(deserializer, "a ciphertext")?;
        if bytes.len() < TAG_LEN {
            return Err(D::Error::custom(format!(
                "a ciphertext is {} bytes long, shorter than its {TAG_LEN}-byte tag",
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}

/// An XChaCha20 nonce: exactly 24 bytes.
pub(crate) mod nonce {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        bytes: &[u8; NONCE_LEN],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; NONCE_LEN], D::Error> {
        let bytes = decode(deserializer, "a nonce")?;
        bytes.as_slice().try_into().map_err(|_| {
            D::Error::custom(format!(
                "a nonce is {} bytes long instead of {NONCE_LEN}",
                bytes.len()
            ))
        })
    }
}
