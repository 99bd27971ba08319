//! `key`: the data key, either raw (key-file protection) or wrapped under a
//! key derived from a passphrase with Argon2id. JSON, mode 0600, refused
//! when group or others may read it.
//!
//! ```json
//! { "format": "warrant-key", "version": 1, "key_id": "…", "kind": "key_file",
//!   "key": "base64 (32 bytes)" }
//! { "format": "warrant-key", "version": 1, "key_id": "…", "kind": "passphrase",
//!   "kdf": { "algorithm": "argon2id", "version": 19, "m_cost": 65536,
//!            "t_cost": 3, "p_cost": 1, "salt": "base64 (16 bytes)" },
//!   "wrapped": { "nonce": "base64", "ciphertext": "base64" } }
//! ```

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::format::KeyId;
use crate::crypto::{KdfCost, SALT_LEN, Sealed, SymmetricKey, random};
use crate::{Error, KeyKind, fsio};

/// The key file's name under the home.
pub(crate) const KEY_FILE: &str = "key";
const KEY_FORMAT: &str = "warrant-key";
const KEY_VERSION: u32 = 1;
const KDF_ALGORITHM: &str = "argon2id";
/// Argon2 version 0x13, as recorded in the file.
const KDF_VERSION: u32 = 0x13;

#[derive(Serialize, Deserialize)]
struct KeyFileDoc {
    format: String,
    version: u32,
    key_id: KeyId,
    kind: KeyKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<RawKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<Kdf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrapped: Option<Sealed>,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    version: u32,
    #[serde(flatten)]
    cost: KdfCost,
    #[serde(with = "crate::b64::bytes")]
    salt: Vec<u8>,
}

/// Just enough to tell a key file, its version and kind.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
    kind: Option<KeyKind>,
}

/// The raw data key as base64, encoded and decoded through wiped buffers.
struct RawKey(SymmetricKey);

impl Serialize for RawKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(STANDARD.encode(self.0.expose_secret()));
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawKeyVisitor;
        impl Visitor<'_> for RawKeyVisitor {
            type Value = RawKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 key")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawKey, E> {
                let mut bytes = Zeroizing::new([0u8; 48]);
                let len = STANDARD
                    .decode_slice(text.as_bytes(), &mut bytes[..])
                    .map_err(|_| E::custom("the key is not valid base64 of 32 bytes"))?;
                SymmetricKey::from_slice(&bytes[..len])
                    .map(RawKey)
                    .ok_or_else(|| E::custom("the key is not 32 bytes long"))
            }
        }
        deserializer.deserialize_str(RawKeyVisitor)
    }
}

/// What a key file holds, once parsed.
pub(crate) struct KeyFile {
    pub(crate) key_id: KeyId,
    protection: Protection,
}

enum Protection {
    Raw(SymmetricKey),
    Wrapped {
        cost: KdfCost,
        salt: Vec<u8>,
        wrapped: Sealed,
    },
}

fn wrap_aad(key_id: KeyId) -> Vec<u8> {
    format!("warrant-key/v1/wrap/{key_id}").into_bytes()
}

/// The bytes of a new key file for `data_key`, in a buffer wiped on drop.
/// With a passphrase, the key is wrapped under Argon2id(`passphrase`) at `cost`.
pub(crate) fn create(
    key_id: KeyId,
    data_key: SymmetricKey,
    passphrase: Option<&SecretString>,
    cost: KdfCost,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut doc = KeyFileDoc {
        format: KEY_FORMAT.to_owned(),
        version: KEY_VERSION,
        key_id,
        kind: KeyKind::KeyFile,
        key: None,
        kdf: None,
        wrapped: None,
    };
    match passphrase {
        None => doc.key = Some(RawKey(data_key)),
        Some(passphrase) => {
            let salt = random::<SALT_LEN>()?.to_vec();
            let wrapping = cost
                .derive(passphrase.expose_secret().as_bytes(), &salt)
                .map_err(|reason| Error::Kdf { reason })?;
            doc.kind = KeyKind::Passphrase;
            doc.wrapped = Some(wrapping.seal(&wrap_aad(key_id), data_key.expose_secret())?);
            doc.kdf = Some(Kdf {
                algorithm: KDF_ALGORITHM.to_owned(),
                version: KDF_VERSION,
                cost,
                salt,
            });
        }
    }
    // Sized up front so that growing never leaves a copy of the key behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
    serde_json::to_writer_pretty(&mut *bytes, &doc)
        .expect("a key file always serializes: plain fields written to memory");
    bytes.push(b'\n');
    Ok(bytes)
}

fn check_header(path: &Path, bytes: &[u8]) -> Result<Header, Error> {
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|e| Error::corrupt(path, format!("not valid JSON ({e})")))?;
    if header.format.as_deref() != Some(KEY_FORMAT) {
        return Err(Error::corrupt(path, "not a warrant key file"));
    }
    match header.version {
        Some(KEY_VERSION) => Ok(header),
        Some(v) => Err(Error::corrupt(
            path,
            format!("unknown format version {v} (this warrant reads version {KEY_VERSION})"),
        )),
        None => Err(Error::corrupt(path, "no format version")),
    }
}

/// How the key in `path` is protected, without reading the key itself.
pub(crate) fn read_kind(path: &Path) -> Result<KeyKind, Error> {
    let bytes = fsio::read_optional(path)?.ok_or_else(|| Error::KeyMissing {
        path: path.to_owned(),
    })?;
    check_header(path, &bytes)?
        .kind
        .ok_or_else(|| Error::corrupt(path, "no key kind"))
}

/// Reads and checks the key file at `path` (which must be 0600 or stricter).
pub(crate) fn load(path: &Path) -> Result<KeyFile, Error> {
    let bytes = fsio::read_private(path)?.ok_or_else(|| Error::KeyMissing {
        path: path.to_owned(),
    })?;
    check_header(path, &bytes)?;
    let doc: KeyFileDoc = serde_json::from_slice(&bytes).map_err(|e| {
        // Only the position: serde's own message can quote a field's
        // text, and in this file that text may be key material.
        Error::corrupt(
            path,
            format!(
                "not a valid key file (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let protection = match (doc.kind, doc.key, doc.kdf, doc.wrapped) {
        (KeyKind::KeyFile, Some(RawKey(key)), None, None) => Protection::Raw(key),
        (KeyKind::Passphrase, None, Some(kdf), Some(wrapped)) => {
            if kdf.algorithm != KDF_ALGORITHM || kdf.version != KDF_VERSION {
                return Err(Error::corrupt(
                    path,
                    format!("unsupported kdf {} version {}", kdf.algorithm, kdf.version),
                ));
            }
            Protection::Wrapped {
                cost: kdf.cost,
                salt: kdf.salt,
                wrapped,
            }
        }
        _ => return Err(Error::corrupt(path, "fields do not match the key kind")),
    };
    Ok(KeyFile {
        key_id: doc.key_id,
        protection,
    })
}

impl KeyFile {
    /// How the key is protected.
    pub(crate) fn kind(&self) -> KeyKind {
        match self.protection {
            Protection::Raw(_) => KeyKind::KeyFile,
            Protection::Wrapped { .. } => KeyKind::Passphrase,
        }
    }

    /// The data key: as stored, or unwrapped with `passphrase`. `Ok(None)`
    /// when the passphrase does not unwrap it. The caller checks [`Self::kind`]
    /// first: a raw key ignores `passphrase`, a wrapped key without one is
    /// [`Error::PassphraseRequired`].
    pub(crate) fn into_key(
        self,
        path: &Path,
        passphrase: Option<&SecretString>,
    ) -> Result<Option<SymmetricKey>, Error> {
        match (self.protection, passphrase) {
            (Protection::Raw(key), _) => Ok(Some(key)),
            (Protection::Wrapped { .. }, None) => Err(Error::PassphraseRequired),
            (
                Protection::Wrapped {
                    cost,
                    salt,
                    wrapped,
                },
                Some(passphrase),
            ) => {
                let wrapping = cost
                    .derive(passphrase.expose_secret().as_bytes(), &salt)
                    .map_err(|reason| Error::corrupt(path, reason))?;
                Ok(wrapping
                    .open(&wrap_aad(self.key_id), &wrapped)
                    .and_then(|key| SymmetricKey::from_slice(&key)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn write(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(KEY_FILE);
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    #[test]
    fn raw_key_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let key = SymmetricKey::generate().unwrap();
        let expected = *key.expose_secret();
        let id = KeyId::generate().unwrap();
        let path = write(
            dir.path(),
            &create(id, key, None, KdfCost::INSECURE_FAST).unwrap(),
        );
        assert_eq!(read_kind(&path).unwrap(), KeyKind::KeyFile);
        let file = load(&path).unwrap();
        assert_eq!(file.key_id, id);
        let key = file.into_key(&path, None).unwrap().unwrap();
        assert_eq!(key.expose_secret(), &expected);
    }

    #[test]
    fn wrapped_key_needs_the_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let key = SymmetricKey::generate().unwrap();
        let expected = *key.expose_secret();
        let id = KeyId::generate().unwrap();
        let pass = SecretString::from("correct horse battery staple");
        let bytes = create(id, key, Some(&pass), KdfCost::INSECURE_FAST).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains("\"m_cost\": 8"), "{text}");
        let path = write(dir.path(), &bytes);
        assert_eq!(read_kind(&path).unwrap(), KeyKind::Passphrase);
        assert!(matches!(
            load(&path).unwrap().into_key(&path, None),
            Err(Error::PassphraseRequired)
        ));
        let wrong = SecretString::from("wrong");
        assert!(
            load(&path)
                .unwrap()
                .into_key(&path, Some(&wrong))
                .unwrap()
                .is_none()
        );
        let key = load(&path)
            .unwrap()
            .into_key(&path, Some(&pass))
            .unwrap()
            .unwrap();
        assert_eq!(key.expose_secret(), &expected);
    }

    #[test]
    fn refuses_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            &b"garbage"[..],
            br#"{"format":"warrant-key","version":2}"#,
            br#"{"format":"warrant-key","version":1,"key_id":"00000000000000000000000000000000","kind":"key_file"}"#,
            br#"{"format":"warrant-key","version":1,"key_id":"00000000000000000000000000000000","kind":"key_file","key":"AAAA"}"#,
        ] {
            let path = write(dir.path(), bad);
            assert!(matches!(load(&path), Err(Error::Corrupt { .. })), "{bad:?}");
        }
        assert!(matches!(
            load(&dir.path().join("none")),
            Err(Error::KeyMissing { .. })
        ));
    }
}
