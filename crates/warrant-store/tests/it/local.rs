//! The local store's promises: round trips, wrong keys and corruption that
//! change nothing on disk, name binding, permissions, locking.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use warrant_store::{Error, KeyKind, KeyProtection, LocalStore, SecretStore, Unlock, conformance};

use crate::support::{init_passphrase, name, passphrase, snapshot, value};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn conformance_with_key_file() {
    let home = tempfile::tempdir().unwrap();
    conformance::run(&LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap());
}

#[test]
fn conformance_with_passphrase() {
    let home = tempfile::tempdir().unwrap();
    conformance::run(&init_passphrase(home.path(), "fake passphrase"));
}

#[test]
fn round_trip_through_reopen() {
    let home = tempfile::tempdir().unwrap();
    let store = init_passphrase(home.path(), "fake passphrase");
    store
        .set(&name("a/b"), &value("fake-1"), Some("desc"))
        .unwrap();
    drop(store);
    assert_eq!(
        LocalStore::key_kind(home.path()).unwrap(),
        KeyKind::Passphrase
    );
    let store = LocalStore::open(
        home.path(),
        Unlock::Passphrase(passphrase("fake passphrase")),
    )
    .unwrap();
    assert_eq!(store.get(&name("a/b")).unwrap().expose_secret(), b"fake-1");
    // The ciphertext, not the value, is on disk.
    let raw = fs::read(home.path().join("store.json")).unwrap();
    assert!(!raw.windows(6).any(|w| w == b"fake-1"));
}

#[test]
fn init_creates_private_files_and_refuses_a_second_init() {
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("home");
    LocalStore::init(&home, KeyProtection::KeyFile).unwrap();
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("key")), 0o600);
    assert_eq!(mode(&home.join("store.json")), 0o600);
    assert!(LocalStore::exists(&home));
    assert_eq!(LocalStore::key_kind(&home).unwrap(), KeyKind::KeyFile);
    let before = snapshot(&home);
    assert!(matches!(
        LocalStore::init(&home, KeyProtection::KeyFile),
        Err(Error::AlreadyInitialized { .. })
    ));
    assert_eq!(snapshot(&home), before);
}

#[test]
fn missing_store_and_key_are_named() {
    let home = tempfile::tempdir().unwrap();
    assert!(!LocalStore::exists(home.path()));
    assert!(matches!(
        LocalStore::open(home.path(), Unlock::KeyFile),
        Err(Error::NotInitialized { .. })
    ));
    assert!(matches!(
        LocalStore::key_kind(home.path()),
        Err(Error::NotInitialized { .. })
    ));
    LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
    fs::remove_file(home.path().join("key")).unwrap();
    assert!(matches!(
        LocalStore::open(home.path(), Unlock::KeyFile),
        Err(Error::KeyMissing { .. })
    ));
    assert!(LocalStore::open(home.path(), Unlock::MetadataOnly).is_ok());
}

#[test]
fn empty_passphrase_is_refused() {
    let home = tempfile::tempdir().unwrap();
    assert!(matches!(
        LocalStore::init(home.path(), KeyProtection::Passphrase(passphrase(""))),
        Err(Error::EmptyPassphrase)
    ));
    assert!(!LocalStore::exists(home.path()));
}

#[test]
fn wrong_passphrase_is_wrong_key_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    init_passphrase(home.path(), "right")
        .set(&name("x"), &value("fake"), None)
        .unwrap();
    let before = snapshot(home.path());
    let err = LocalStore::open(home.path(), Unlock::Passphrase(passphrase("wrong")))
        .err()
        .unwrap();
    assert!(matches!(err, Error::WrongKey { .. }), "{err}");
    assert!(matches!(
        LocalStore::open(home.path(), Unlock::KeyFile),
        Err(Error::PassphraseRequired)
    ));
    assert_eq!(snapshot(home.path()), before);
}

#[test]
fn passphrase_for_a_key_file_store_is_refused() {
    let home = tempfile::tempdir().unwrap();
    LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
    assert!(matches!(
        LocalStore::open(home.path(), Unlock::Passphrase(passphrase("x"))),
        Err(Error::NotPassphraseProtected { .. })
    ));
}

#[test]
fn key_file_of_another_store_is_wrong_key_and_changes_nothing() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    LocalStore::init(a.path(), KeyProtection::KeyFile)
        .unwrap()
        .set(&name("x"), &value("fake"), None)
        .unwrap();
    LocalStore::init(b.path(), KeyProtection::KeyFile).unwrap();
    fs::copy(b.path().join("key"), a.path().join("key")).unwrap();
    let before = snapshot(a.path());
    assert!(matches!(
        LocalStore::open(a.path(), Unlock::KeyFile),
        Err(Error::WrongKey { .. })
    ));
    // Same id, other key: caught by the key check before any entry is read.
    let key_a = fs::read_to_string(b.path().join("key")).unwrap();
    let id_of = |dir: &Path| -> String {
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("store.json")).unwrap()).unwrap();
        v["key_id"].as_str().unwrap().to_owned()
    };
    let forged = key_a.replace(&id_of(b.path()), &id_of(a.path()));
    fs::write(a.path().join("key"), forged).unwrap();
    let before_forged = snapshot(a.path());
    assert!(matches!(
        LocalStore::open(a.path(), Unlock::KeyFile),
        Err(Error::WrongKey { .. })
    ));
    assert_eq!(snapshot(a.path()), before_forged);
    assert_ne!(before, before_forged);
}

#[test]
fn open_key_file_is_refused_with_the_fix() {
    let home = tempfile::tempdir().unwrap();
    LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
    let key = home.path().join("key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let err = LocalStore::open(home.path(), Unlock::KeyFile)
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::InsecurePermissions { mode: 0o644, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("chmod 600 {}", key.display()))
    );
}

#[test]
fn metadata_only_lists_but_never_reveals() {
    let home = tempfile::tempdir().unwrap();
    LocalStore::init(home.path(), KeyProtection::KeyFile)
        .unwrap()
        .set(&name("a"), &value("fake"), Some("d"))
        .unwrap();
    let store = LocalStore::open(home.path(), Unlock::MetadataOnly).unwrap();
    assert!(store.is_locked());
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(matches!(store.get(&name("a")), Err(Error::Locked)));
    assert!(matches!(
        store.set(&name("b"), &value("v"), None),
        Err(Error::Locked)
    ));
    assert!(matches!(store.set_many(&[], true), Err(Error::Locked)));
    assert!(matches!(store.remove(&name("a")), Err(Error::Locked)));
}

/// Rewrites `store.json` through its JSON, for corruption tests.
fn edit_store(home: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = home.join("store.json");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn two_secrets(home: &Path) -> LocalStore {
    let store = LocalStore::init(home, KeyProtection::KeyFile).unwrap();
    store.set(&name("a"), &value("fake-value-a"), None).unwrap();
    store.set(&name("b"), &value("fake-value-b"), None).unwrap();
    store
}

fn assert_corrupt(result: Result<impl Sized, Error>) -> String {
    match result {
        Err(e @ Error::Corrupt { .. }) => {
            let text = format!("{e} {e:?}");
            assert!(!text.contains("fake-value"), "{text}");
            text
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("expected Corrupt, got Ok"),
    }
}

#[test]
fn flipped_ciphertext_byte_is_corrupt_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    two_secrets(home.path());
    edit_store(home.path(), |v| {
        let field = &mut v["secrets"]["a"]["ciphertext"];
        let mut bytes = STANDARD.decode(field.as_str().unwrap()).unwrap();
        bytes[3] ^= 0x40;
        *field = STANDARD.encode(bytes).into();
    });
    let before = snapshot(home.path());
    let store = LocalStore::open(home.path(), Unlock::KeyFile).unwrap();
    assert!(assert_corrupt(store.get(&name("a"))).contains("fails authentication"));
    assert_eq!(
        store.get(&name("b")).unwrap().expose_secret(),
        b"fake-value-b"
    );
    assert_eq!(snapshot(home.path()), before);
}

#[test]
fn names_are_bound_to_their_ciphertexts() {
    let home = tempfile::tempdir().unwrap();
    two_secrets(home.path());
    edit_store(home.path(), |v| {
        let secrets = v["secrets"].as_object_mut().unwrap();
        let a = secrets["a"].clone();
        let b = secrets["b"].clone();
        for (key, from) in [("a", &b), ("b", &a)] {
            for field in ["nonce", "ciphertext"] {
                secrets[key][field] = from[field].clone();
            }
        }
    });
    let store = LocalStore::open(home.path(), Unlock::KeyFile).unwrap();
    assert_corrupt(store.get(&name("a")));
    assert_corrupt(store.get(&name("b")));
}

#[test]
fn unreadable_store_files_are_corrupt_and_unchanged() {
    let home = tempfile::tempdir().unwrap();
    two_secrets(home.path());
    let path = home.path().join("store.json");
    let good = fs::read(&path).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("garbage", b"\x00\xffnot json at all".to_vec()),
        (
            "future version",
            String::from_utf8(good.clone())
                .unwrap()
                .replace("\"version\": 1", "\"version\": 99")
                .into_bytes(),
        ),
        (
            "short nonce",
            String::from_utf8(good.clone())
                .unwrap()
                .replacen("\"nonce\": \"", "\"nonce\": \"AAAA", 1)
                .into_bytes(),
        ),
    ];
    for (what, bytes) in cases {
        fs::write(&path, &bytes).unwrap();
        let before = snapshot(home.path());
        for unlock in [Unlock::KeyFile, Unlock::MetadataOnly] {
            assert_corrupt(LocalStore::open(home.path(), unlock));
        }
        assert_eq!(snapshot(home.path()), before, "{what}");
    }
    // A store opened before the damage refuses to write over it.
    fs::write(&path, &good).unwrap();
    let store = LocalStore::open(home.path(), Unlock::KeyFile).unwrap();
    fs::write(&path, b"{").unwrap();
    assert_corrupt(store.set(&name("c"), &value("fake-value-c"), None));
    assert_eq!(fs::read(&path).unwrap(), b"{");
}

#[test]
fn stale_temp_files_are_ignored_then_removed() {
    let home = tempfile::tempdir().unwrap();
    let store = two_secrets(home.path());
    let stale = home
        .path()
        .join(format!("{}store.json.999.0", warrant_fs::TEMP_PREFIX));
    fs::write(&stale, b"{\"half\": ").unwrap();
    let reopened = LocalStore::open(home.path(), Unlock::KeyFile).unwrap();
    assert_eq!(reopened.list().unwrap().len(), 2);
    store.set(&name("c"), &value("fake-c"), None).unwrap();
    assert!(!stale.exists());
    assert_eq!(reopened.list().unwrap().len(), 3);
}

#[test]
fn concurrent_writers_in_threads_lose_nothing() {
    let home = tempfile::tempdir().unwrap();
    LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
    let home = Arc::new(home.path().to_owned());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let home = Arc::clone(&home);
            std::thread::spawn(move || {
                let store = LocalStore::open(&home, Unlock::KeyFile).unwrap();
                for i in 0..10 {
                    let n = name(&format!("t{t}/s{i}"));
                    store
                        .set(&n, &value(&format!("fake-{t}-{i}")), None)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = LocalStore::open(&home, Unlock::KeyFile).unwrap();
    assert_eq!(store.list().unwrap().len(), 40);
    assert_eq!(
        store.get(&name("t3/s9")).unwrap().expose_secret(),
        b"fake-3-9"
    );
}
