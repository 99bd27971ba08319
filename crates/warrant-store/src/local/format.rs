//! `store.json`: the format version, the id of the key that opens it, a
//! key-check blob, and one entry per secret. Names, descriptions and times
//! are in clear (names are not secret); values are XChaCha20-Poly1305
//! ciphertexts whose associated data binds them to their name.
//!
//! ```json
//! {
//!   "format": "warrant-store",
//!   "version": 1,
//!   "key_id": "5f0c…(32 hex digits)",
//!   "key_check": { "nonce": "base64", "ciphertext": "base64" },
//!   "secrets": {
//!     "db/dev/url": {
//!       "description": "dev database",
//!       "created": "2026-05-01T12:00:00Z",
//!       "updated": "2026-05-01T12:00:00Z",
//!       "nonce": "base64 (24 bytes)",
//!       "ciphertext": "base64 (value + 16-byte tag)"
//!     }
//!   }
//! }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warrant_secret::SecretName;

use crate::Error;
use crate::crypto::{Sealed, SymmetricKey, random};

/// The store file's name under the home.
pub(crate) const STORE_FILE: &str = "store.json";
/// Marks a store file.
const STORE_FORMAT: &str = "warrant-store";
/// The one version this code reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Sealed under the data key; opening it proves the key is the right one
/// before any entry is touched.
const KEY_CHECK_PLAINTEXT: &[u8] = b"warrant key check";

/// Random id shared by a store and its key file, so that a key file from
/// another store is told apart from a wrong passphrase at once.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct KeyId(pub(crate) [u8; 16]);

impl KeyId {
    pub(crate) fn generate() -> Result<Self, Error> {
        random().map(Self)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut id = [0u8; 16];
        hex::decode_to_slice(&text, &mut id)
            .map_err(|_| D::Error::custom("key_id is not 32 hex digits"))?;
        Ok(Self(id))
    }
}

/// The whole store file.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoreFile {
    format: String,
    version: u32,
    pub(crate) key_id: KeyId,
    key_check: Sealed,
    #[serde(default)]
    pub(crate) secrets: BTreeMap<SecretName, Entry>,
}

/// One secret.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    pub(crate) created: String,
    pub(crate) updated: String,
    #[serde(flatten)]
    pub(crate) sealed: Sealed,
}

/// Just enough to tell a store file, and its version, before parsing the rest.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
}

impl StoreFile {
    /// An empty store for `key`.
    pub(crate) fn new(key_id: KeyId, key: &SymmetricKey) -> Result<Self, Error> {
        Ok(Self {
            format: STORE_FORMAT.to_owned(),
            version: FORMAT_VERSION,
            key_id,
            key_check: key.seal(&key_check_aad(key_id), KEY_CHECK_PLAINTEXT)?,
            secrets: BTreeMap::new(),
        })
    }

    /// Parses and checks the bytes of `path`.
    pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Self, Error> {
        let header: Header = serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupt(path, format!("not valid JSON ({e})")))?;
        if header.format.as_deref() != Some(STORE_FORMAT) {
            return Err(Error::corrupt(path, "not a warrant store file"));
        }
        match header.version {
            Some(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(Error::corrupt(
                    path,
                    format!(
                        "unknown format version {v} (this warrant reads version {FORMAT_VERSION})"
                    ),
                ));
            }
            None => return Err(Error::corrupt(path, "no format version")),
        }
        let file: Self =
            serde_json::from_slice(bytes).map_err(|e| Error::corrupt(path, e.to_string()))?;
        for (name, entry) in &file.secrets {
            for time in [&entry.created, &entry.updated] {
                if OffsetDateTime::parse(time, &Rfc3339).is_err() {
                    return Err(Error::corrupt(
                        path,
                        format!("secret {name} has an invalid time {time:?}"),
                    ));
                }
            }
        }
        Ok(file)
    }

    /// The file's bytes, pretty-printed so a human can read the metadata.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .expect("a store file always serializes: string keys and plain fields");
        bytes.push(b'\n');
        bytes
    }

    /// Whether `key` opens this store.
    pub(crate) fn key_opens(&self, key: &SymmetricKey) -> bool {
        key.open(&key_check_aad(self.key_id), &self.key_check)
            .is_some_and(|plain| plain.as_slice() == KEY_CHECK_PLAINTEXT)
    }

    /// Associated data for the value of `name`: binds a ciphertext to its
    /// name (and store), so ciphertexts cannot be swapped between names.
    pub(crate) fn entry_aad(&self, name: &SecretName) -> Vec<u8> {
        format!("warrant-store/v1/secret/{}/{name}", self.key_id).into_bytes()
    }
}

fn key_check_aad(key_id: KeyId) -> Vec<u8> {
    format!("warrant-store/v1/key-check/{key_id}").into_bytes()
}

/// Now, RFC 3339 UTC to the second.
pub(crate) fn now() -> String {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .expect("a UTC time between years 0 and 9999 always formats as RFC 3339")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (StoreFile, SymmetricKey) {
        let key = SymmetricKey::generate().unwrap();
        let mut file = StoreFile::new(KeyId::generate().unwrap(), &key).unwrap();
        let name = SecretName::new("a/b").unwrap();
        let sealed = key.seal(&file.entry_aad(&name), b"fake").unwrap();
        let entry = Entry {
            description: Some("d".into()),
            created: now(),
            updated: now(),
            sealed,
        };
        file.secrets.insert(name, entry);
        (file, key)
    }

    #[test]
    fn round_trips() {
        let (file, key) = sample();
        let parsed = StoreFile::parse(Path::new("s"), &file.to_bytes()).unwrap();
        assert!(parsed.key_opens(&key));
        assert!(!parsed.key_opens(&SymmetricKey::generate().unwrap()));
        assert_eq!(parsed.key_id, file.key_id);
        assert_eq!(parsed.secrets.len(), 1);
        assert_eq!(parsed.to_bytes(), file.to_bytes());
    }

    fn reason(bytes: &[u8]) -> String {
        match StoreFile::parse(Path::new("s"), bytes) {
            Err(Error::Corrupt { reason, .. }) => reason,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("parsed"),
        }
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let (file, _) = sample();
        let good = String::from_utf8(file.to_bytes()).unwrap();
        assert!(reason(b"{not json").contains("not valid JSON"));
        assert!(reason(b"{}").contains("not a warrant store"));
        assert!(reason(&good.as_bytes()[..good.len() / 2]).contains("not valid JSON"));
        let future = good.replace("\"version\": 1", "\"version\": 7");
        assert!(reason(future.as_bytes()).contains("unknown format version 7"));
        let bad_name = good.replace("\"a/b\"", "\"../x\"");
        assert!(!reason(bad_name.as_bytes()).is_empty());
        let bad_time = good.replacen("\"created\": \"", "\"created\": \"x", 1);
        assert!(reason(bad_time.as_bytes()).contains("invalid time"));
    }
}
