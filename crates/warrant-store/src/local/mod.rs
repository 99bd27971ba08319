//! The encrypted local store: `store.json` and `key` under the warrant home.
//!
//! Every operation reads `store.json` afresh, so several `LocalStore`
//! values (threads, processes) see each other's writes. Writers hold an
//! exclusive `flock` on `home/.lock` for the whole read-modify-write and
//! replace the file atomically; readers need no lock, since they always see
//! a whole old or whole new file.

mod format;
mod keyfile;

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use warrant_secret::{SecretName, SecretValue};

use self::format::{Entry, KeyId, STORE_FILE, StoreFile, now};
use self::keyfile::KEY_FILE;
use crate::crypto::{KdfCost, SymmetricKey};
use crate::{Error, KeyKind, KeyProtection, SecretMeta, SecretStore, Unlock, fsio};

/// Set to `1` when calling [`LocalStore::init`] to derive passphrase keys
/// with the smallest Argon2 costs instead of 64 MiB × 3 passes. For tests
/// only: such a store falls to a brute-force search of its passphrase. The
/// costs are recorded in the key file, so `open` needs no variable.
/// Honoured by debug (test) builds only, see [`insecure_fast_kdf`].
#[doc(hidden)]
pub const INSECURE_FAST_KDF_ENV: &str = "WARRANT_INSECURE_FAST_KDF";

/// Whether [`INSECURE_FAST_KDF_ENV`] asks for the smallest Argon2 costs:
/// only in debug builds, the ones tests run. A release build ignores it,
/// so nobody who can set a variable in the person's environment (an
/// agent editing a shell startup file) can weaken the store's or the
/// approver's key derivation.
#[doc(hidden)]
pub fn insecure_fast_kdf() -> bool {
    cfg!(debug_assertions) && std::env::var_os(INSECURE_FAST_KDF_ENV).is_some_and(|v| v == "1")
}

/// The lock file serialising writers, under the home.
const LOCK_FILE: &str = ".lock";

/// The encrypted local store, the embedded default.
///
/// Values are sealed with XChaCha20-Poly1305 under a random 256-bit data
/// key, with the secret's name as associated data. The data key is in the
/// 0600 `key` file, raw or wrapped under an Argon2id key derived from a
/// passphrase.
pub struct LocalStore {
    home: PathBuf,
    /// `None` when opened with [`Unlock::MetadataOnly`].
    unlocked: Option<Unlocked>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("home", &self.home)
            .field("locked", &self.is_locked())
            .finish_non_exhaustive()
    }
}

struct Unlocked {
    key_id: KeyId,
    key: SymmetricKey,
}

impl LocalStore {
    /// Creates a store under `home` (creating `home`, mode 0700).
    pub fn init(home: &Path, protection: KeyProtection) -> Result<Self, Error> {
        let cost = if insecure_fast_kdf() {
            KdfCost::INSECURE_FAST
        } else {
            KdfCost::RECOMMENDED
        };
        Self::init_with_cost(home, protection, cost)
    }

    /// [`LocalStore::init`] with the smallest Argon2 costs, whatever the
    /// environment says. For tests only: the passphrase is then cheap to
    /// brute-force.
    #[doc(hidden)]
    pub fn dangerous_init_with_insecure_fast_kdf(
        home: &Path,
        protection: KeyProtection,
    ) -> Result<Self, Error> {
        Self::init_with_cost(home, protection, KdfCost::INSECURE_FAST)
    }

    fn init_with_cost(
        home: &Path,
        protection: KeyProtection,
        cost: KdfCost,
    ) -> Result<Self, Error> {
        let passphrase = match &protection {
            KeyProtection::KeyFile => None,
            KeyProtection::Passphrase(p) if p.expose_secret().is_empty() => {
                return Err(Error::EmptyPassphrase);
            }
            KeyProtection::Passphrase(p) => Some(p),
        };
        fsio::create_private_dir(home)?;
        let _lock = fsio::lock_exclusive(&home.join(LOCK_FILE))?;
        let store_path = home.join(STORE_FILE);
        if store_path.try_exists().map_err(Error::io(&store_path))? {
            return Err(Error::AlreadyInitialized {
                home: home.to_owned(),
            });
        }
        fsio::remove_stale_temps(home);
        let key_id = KeyId::generate()?;
        let key = SymmetricKey::generate()?;
        let store = StoreFile::new(key_id, &key)?;
        let key_copy = SymmetricKey::from_slice(key.expose_secret())
            .expect("a key copied from a key has the key's length");
        let key_bytes = keyfile::create(key_id, key_copy, passphrase, cost)?;
        // The key first: a crash before the store is written leaves no store,
        // and the next `init` replaces the orphaned key.
        fsio::write_atomic(home, KEY_FILE, &key_bytes)?;
        fsio::write_atomic(home, STORE_FILE, &store.to_bytes())?;
        Ok(Self {
            home: home.to_owned(),
            unlocked: Some(Unlocked { key_id, key }),
        })
    }

    /// Whether `home` holds a store.
    pub fn exists(home: &Path) -> bool {
        home.join(STORE_FILE).exists()
    }

    /// How the store's key is protected.
    pub fn key_kind(home: &Path) -> Result<KeyKind, Error> {
        if !Self::exists(home) {
            return Err(Error::NotInitialized {
                home: home.to_owned(),
            });
        }
        keyfile::read_kind(&home.join(KEY_FILE))
    }

    /// Opens the store under `home`. Nothing on disk is changed, whether
    /// the key is right or not.
    pub fn open(home: &Path, unlock: Unlock) -> Result<Self, Error> {
        let mut store = Self {
            home: home.to_owned(),
            unlocked: None,
        };
        let file = store.load()?;
        let passphrase = match &unlock {
            Unlock::MetadataOnly => return Ok(store),
            Unlock::KeyFile => None,
            Unlock::Passphrase(p) => Some(p),
        };
        let key_path = home.join(KEY_FILE);
        let key_file = keyfile::load(&key_path)?;
        match (key_file.kind(), passphrase) {
            (KeyKind::KeyFile, Some(_)) => {
                return Err(Error::NotPassphraseProtected {
                    home: home.to_owned(),
                });
            }
            (KeyKind::Passphrase, None) => return Err(Error::PassphraseRequired),
            _ => {}
        }
        // Before any Argon2 work: a key file of another store is wrong at once.
        let key_id = key_file.key_id;
        if key_id != file.key_id {
            return Err(store.wrong_key());
        }
        let key = key_file.into_key(&key_path, passphrase)?;
        match key {
            Some(key) if file.key_opens(&key) => {
                store.unlocked = Some(Unlocked { key_id, key });
                Ok(store)
            }
            _ => Err(store.wrong_key()),
        }
    }

    /// The warrant home this store lives in.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Whether the store was opened without its key ([`Unlock::MetadataOnly`]).
    pub fn is_locked(&self) -> bool {
        self.unlocked.is_none()
    }

    fn store_path(&self) -> PathBuf {
        self.home.join(STORE_FILE)
    }

    fn wrong_key(&self) -> Error {
        Error::WrongKey {
            path: self.store_path(),
        }
    }

    fn load(&self) -> Result<StoreFile, Error> {
        let path = self.store_path();
        match fsio::read_optional(&path)? {
            Some(bytes) => StoreFile::parse(&path, &bytes),
            None => Err(Error::NotInitialized {
                home: self.home.clone(),
            }),
        }
    }

    /// The key, once checked against `file`: the store may have been
    /// replaced since `open`.
    fn key_for(&self, file: &StoreFile) -> Result<&SymmetricKey, Error> {
        let unlocked = self.unlocked.as_ref().ok_or(Error::Locked)?;
        if unlocked.key_id != file.key_id || !file.key_opens(&unlocked.key) {
            return Err(self.wrong_key());
        }
        Ok(&unlocked.key)
    }

    /// Read-modify-write under the exclusive lock, replacing the file atomically.
    fn update(
        &self,
        change: impl FnOnce(&mut StoreFile, &SymmetricKey) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if self.unlocked.is_none() {
            return Err(Error::Locked);
        }
        let _lock = fsio::lock_exclusive(&self.home.join(LOCK_FILE))?;
        fsio::remove_stale_temps(&self.home);
        let mut file = self.load()?;
        let key = self.key_for(&file)?;
        change(&mut file, key)?;
        fsio::write_atomic(&self.home, STORE_FILE, &file.to_bytes())
    }
}

/// Seals `value` as the entry for `name`, keeping `created` (and the
/// description, when `description` is `None`) of an entry it replaces.
fn put(
    file: &mut StoreFile,
    key: &SymmetricKey,
    name: &SecretName,
    value: &SecretValue,
    description: Option<&str>,
    time: &str,
) -> Result<(), Error> {
    let sealed = key.seal(&file.entry_aad(name), value.expose_secret())?;
    let old = file.secrets.remove(name);
    let entry = Entry {
        description: match description {
            Some(text) => Some(text.to_owned()),
            None => old.as_ref().and_then(|o| o.description.clone()),
        },
        created: old.map_or_else(|| time.to_owned(), |o| o.created),
        updated: time.to_owned(),
        sealed,
    };
    file.secrets.insert(name.clone(), entry);
    Ok(())
}

impl SecretStore for LocalStore {
    fn get(&self, name: &SecretName) -> Result<SecretValue, Error> {
        let file = self.load()?;
        let key = self.key_for(&file)?;
        let entry = file
            .secrets
            .get(name)
            .ok_or_else(|| Error::NotFound { name: name.clone() })?;
        let mut plain = key.open(&file.entry_aad(name), &entry.sealed).ok_or_else(|| {
            Error::corrupt(
                self.store_path(),
                format!("the value of {name} fails authentication (altered, or moved from another name)"),
            )
        })?;
        Ok(SecretValue::from(std::mem::take(&mut *plain)))
    }

    fn list(&self) -> Result<Vec<SecretMeta>, Error> {
        // A BTreeMap keyed by name: already sorted.
        Ok(self
            .load()?
            .secrets
            .into_iter()
            .map(|(name, entry)| SecretMeta {
                name,
                description: entry.description,
                created: entry.created,
                updated: entry.updated,
            })
            .collect())
    }

    fn set(
        &self,
        name: &SecretName,
        value: &SecretValue,
        description: Option<&str>,
    ) -> Result<(), Error> {
        self.update(|file, key| put(file, key, name, value, description, &now()))
    }

    fn set_many(
        &self,
        entries: &[(SecretName, SecretValue)],
        overwrite: bool,
    ) -> Result<(), Error> {
        self.update(|file, key| {
            let time = now();
            for (name, value) in entries {
                // A name twice in one batch is a clash too, unless overwriting.
                if !overwrite && file.secrets.contains_key(name) {
                    return Err(Error::Exists { name: name.clone() });
                }
                put(file, key, name, value, None, &time)?;
            }
            Ok(())
        })
    }

    fn remove(&self, name: &SecretName) -> Result<(), Error> {
        self.update(|file, _| match file.secrets.remove(name) {
            Some(_) => Ok(()),
            None => Err(Error::NotFound { name: name.clone() }),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn n(text: &str) -> SecretName {
        SecretName::new(text).unwrap()
    }

    fn v(text: &str) -> SecretValue {
        SecretValue::from(text.as_bytes().to_vec())
    }

    #[test]
    fn can_be_shared_between_threads_and_debug_shows_no_key() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<LocalStore>();
        let home = tempfile::tempdir().unwrap();
        let store = LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
        let debug = format!("{store:?}");
        assert!(debug.contains("locked: false"), "{debug}");
        assert!(!debug.to_lowercase().contains("key:"), "{debug}");
    }

    #[test]
    fn a_name_twice_in_one_batch_clashes_unless_overwriting() {
        let home = tempfile::tempdir().unwrap();
        let store = LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
        let batch = [(n("a"), v("fake-1")), (n("a"), v("fake-2"))];
        assert!(matches!(
            store.set_many(&batch, false),
            Err(Error::Exists { .. })
        ));
        assert!(store.list().unwrap().is_empty());
        store.set_many(&batch, true).unwrap();
        assert_eq!(store.get(&n("a")).unwrap().expose_secret(), b"fake-2");
    }

    #[test]
    fn a_store_replaced_after_open_is_not_written_with_the_old_key() {
        let home = tempfile::tempdir().unwrap();
        let old = LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
        fs::remove_file(home.path().join(STORE_FILE)).unwrap();
        LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
        let before = fs::read(home.path().join(STORE_FILE)).unwrap();
        assert!(matches!(
            old.set(&n("a"), &v("fake"), None),
            Err(Error::WrongKey { .. })
        ));
        assert!(matches!(old.get(&n("a")), Err(Error::WrongKey { .. })));
        assert_eq!(fs::read(home.path().join(STORE_FILE)).unwrap(), before);
    }

    #[test]
    fn remove_of_a_missing_name_changes_nothing() {
        let home = tempfile::tempdir().unwrap();
        let store = LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
        let before = fs::read(home.path().join(STORE_FILE)).unwrap();
        assert!(matches!(store.remove(&n("x")), Err(Error::NotFound { .. })));
        assert_eq!(fs::read(home.path().join(STORE_FILE)).unwrap(), before);
    }
}
