//! The primitives: XChaCha20-Poly1305 for values and for wrapping the data
//! key, Argon2id to turn a passphrase into a wrapping key, the OS generator
//! for keys, nonces and salts. Every key sits in a [`SecretBox`] and is wiped
//! on drop; decrypted bytes come back in [`Zeroizing`] buffers.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305};
use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Error;

/// Length of every symmetric key, in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// Length of an XChaCha20 nonce, in bytes.
pub(crate) const NONCE_LEN: usize = 24;
/// Length of a Poly1305 tag, in bytes.
pub(crate) const TAG_LEN: usize = 16;
/// Length of an Argon2 salt, in bytes.
pub(crate) const SALT_LEN: usize = 16;

/// `N` random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random {
        reason: e.to_string(),
    })?;
    Ok(bytes)
}

/// A 256-bit key: the store's data key, or a key derived from a passphrase.
/// Wiped on drop; its `Debug` shows nothing.
pub(crate) struct SymmetricKey(SecretBox<[u8; KEY_LEN]>);

impl SymmetricKey {
    /// A fresh random key.
    pub(crate) fn generate() -> Result<Self, Error> {
        let mut failure = None;
        let key = SecretBox::init_with_mut(|bytes: &mut [u8; KEY_LEN]| {
            if let Err(e) = getrandom::fill(bytes) {
                failure = Some(e);
            }
        });
        match failure {
            None => Ok(Self(key)),
            Some(e) => Err(Error::Random {
                reason: e.to_string(),
            }),
        }
    }

    /// A key copied from `bytes`, which must be [`KEY_LEN`] long. The caller
    /// wipes its own copy.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        Some(Self(SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| {
            key.copy_from_slice(bytes);
        })))
    }

    /// The raw key bytes. Only the key file writer and the key wrapper need them.
    pub(crate) fn expose_secret(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        let key: &Key = self.0.expose_secret().into();
        XChaCha20Poly1305::new(key)
    }

    /// Encrypts `plaintext` under a fresh random nonce, authenticating `aad`.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, Error> {
        let nonce = random::<NONCE_LEN>()?;
        // `Aead::encrypt` copies the plaintext into a buffer sized for the
        // ciphertext and encrypts it in place: no clear copy is left behind.
        let ciphertext = self
            .cipher()
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any message shorter than 256 GiB");
        Ok(Sealed { nonce, ciphertext })
    }

    /// Decrypts `sealed`; `None` when the key, the `aad` or the bytes are wrong.
    pub(crate) fn open(&self, aad: &[u8], sealed: &Sealed) -> Option<Zeroizing<Vec<u8>>> {
        // The tag is checked before anything is decrypted, so a failure
        // leaves only ciphertext in the (dropped) buffer.
        self.cipher()
            .decrypt(
                (&sealed.nonce).into(),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SymmetricKey([REDACTED])")
    }
}

/// A nonce and the ciphertext (with its tag) it sealed. Stored as base64.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Sealed {
    #[serde(with = "crate::b64::nonce")]
    pub(crate) nonce: [u8; NONCE_LEN],
    #[serde(with = "crate::b64::ciphertext")]
    pub(crate) ciphertext: Vec<u8>,
}

/// Argon2id costs, recorded in the key file so `open` uses what `init` chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KdfCost {
    /// Memory, in KiB.
    pub(crate) m_cost: u32,
    /// Passes over the memory.
    pub(crate) t_cost: u32,
    /// Lanes.
    pub(crate) p_cost: u32,
}

impl KdfCost {
    /// What `init` uses: 64 MiB, 3 passes, 1 lane (about a third of a second).
    pub(crate) const RECOMMENDED: Self = Self {
        m_cost: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// The smallest costs Argon2 accepts. Only for tests: see
    /// [`crate::INSECURE_FAST_KDF_ENV`].
    pub(crate) const INSECURE_FAST: Self = Self {
        m_cost: 8,
        t_cost: 1,
        p_cost: 1,
    };

    /// Limits on costs read from a key file, so that a doctored file cannot
    /// make `open` allocate without bound or spin for hours.
    const MAX_M_COST: u32 = 4 * 1024 * 1024;
    const MAX_T_COST: u32 = 64;
    const MAX_P_COST: u32 = 64;

    fn params(self) -> Result<Params, String> {
        if self.m_cost > Self::MAX_M_COST
            || self.t_cost > Self::MAX_T_COST
            || self.p_cost > Self::MAX_P_COST
        {
            return Err(format!(
                "argon2 costs out of range (m={} KiB, t={}, p={})",
                self.m_cost, self.t_cost, self.p_cost
            ));
        }
        Params::new(self.m_cost, self.t_cost, self.p_cost, Some(KEY_LEN))
            .map_err(|e| format!("invalid argon2 costs: {e}"))
    }

    /// Derives a wrapping key from `passphrase` and `salt` (Argon2id v0x13).
    /// The error is a reason to report as corruption of the key file.
    pub(crate) fn derive(self, passphrase: &[u8], salt: &[u8]) -> Result<SymmetricKey, String> {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params()?);
        let mut failure = None;
        let key = SecretBox::init_with_mut(|out: &mut [u8; KEY_LEN]| {
            if let Err(e) = argon.hash_password_into(passphrase, salt, out) {
                failure = Some(e);
            }
        });
        match failure {
            None => Ok(SymmetricKey(key)),
            Some(e) => Err(format!("argon2 failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binds_aad() {
        let key = SymmetricKey::generate().unwrap();
        let sealed = key.seal(b"name/a", b"fake-value").unwrap();
        assert_eq!(sealed.ciphertext.len(), b"fake-value".len() + TAG_LEN);
        assert_eq!(
            key.open(b"name/a", &sealed).unwrap().as_slice(),
            b"fake-value"
        );
        assert!(key.open(b"name/b", &sealed).is_none());
        let other = SymmetricKey::generate().unwrap();
        assert!(other.open(b"name/a", &sealed).is_none());
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(key.open(b"name/a", &flipped).is_none());
    }

    #[test]
    fn nonces_differ() {
        let key = SymmetricKey::generate().unwrap();
        let a = key.seal(b"", b"x").unwrap();
        let b = key.seal(b"", b"x").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn derivation_is_deterministic_and_salted() {
        let cost = KdfCost::INSECURE_FAST;
        let a = cost.derive(b"correct horse", b"0123456789abcdef").unwrap();
        let b = cost.derive(b"correct horse", b"0123456789abcdef").unwrap();
        let c = cost.derive(b"correct horse", b"fedcba9876543210").unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.expose_secret(), c.expose_secret());
    }

    #[test]
    fn recommended_costs_are_valid_and_not_weak() {
        let cost = KdfCost::RECOMMENDED;
        assert!(cost.params().is_ok());
        assert!(cost.m_cost >= 64 * 1024 && cost.t_cost >= 3);
    }

    #[test]
    fn refuses_absurd_costs() {
        let cost = KdfCost {
            m_cost: u32::MAX,
            t_cost: 1,
            p_cost: 1,
        };
        assert!(cost.derive(b"x", b"0123456789abcdef").is_err());
        let cost = KdfCost {
            m_cost: 0,
            ..KdfCost::INSECURE_FAST
        };
        assert!(cost.derive(b"x", b"0123456789abcdef").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let key = SymmetricKey::generate().unwrap();
        assert_eq!(format!("{key:?}"), "SymmetricKey([REDACTED])");
    }
}
