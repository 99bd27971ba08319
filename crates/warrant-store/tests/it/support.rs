//! Helpers shared by the test modules.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use secrecy::SecretString;
use warrant_secret::{SecretName, SecretValue};
use warrant_store::{KeyProtection, LocalStore};

pub fn name(text: &str) -> SecretName {
    SecretName::new(text).unwrap()
}

pub fn value(text: &str) -> SecretValue {
    SecretValue::from(text.as_bytes().to_vec())
}

pub fn passphrase(text: &str) -> SecretString {
    SecretString::from(text)
}

/// A passphrase store with test-only Argon2 costs.
pub fn init_passphrase(home: &Path, text: &str) -> LocalStore {
    LocalStore::dangerous_init_with_insecure_fast_kdf(
        home,
        KeyProtection::Passphrase(passphrase(text)),
    )
    .unwrap()
}

/// Every file under `dir` (not recursive) with its bytes: what must not change.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}
