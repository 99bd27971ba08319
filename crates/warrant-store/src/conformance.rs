//! The suite every [`SecretStore`] backend must pass (feature `testing`).
//!
//! [`run`] works under its own name prefix, `conformance/`, and leaves the
//! store as it found it, so it can run against a shared backend. It panics
//! on the first failure; messages name secrets, never values (the values it
//! writes are fake anyway).

use warrant_secret::{SecretName, SecretValue};

use crate::{Error, SecretMeta, SecretStore};

const PREFIX: &str = "conformance/";

fn name(suffix: &str) -> SecretName {
    SecretName::new(format!("{PREFIX}{suffix}")).expect("conformance names are valid")
}

fn value(bytes: &[u8]) -> SecretValue {
    SecretValue::from(bytes.to_vec())
}

fn ours(store: &dyn SecretStore) -> Vec<SecretMeta> {
    store
        .list()
        .expect("list")
        .into_iter()
        .filter(|m| m.name.as_str().starts_with(PREFIX))
        .collect()
}

fn get(store: &dyn SecretStore, name: &SecretName) -> Vec<u8> {
    match store.get(name) {
        Ok(v) => v.expose_secret().to_vec(),
        Err(e) => panic!("get {name}: {e}"),
    }
}

fn meta(store: &dyn SecretStore, name: &SecretName) -> SecretMeta {
    ours(store)
        .into_iter()
        .find(|m| &m.name == name)
        .unwrap_or_else(|| panic!("{name} is not listed"))
}

/// Runs every check against `store`, which must not hold names under
/// `conformance/`. Panics on the first failure.
pub fn run(store: &dyn SecretStore) {
    assert!(
        ours(store).is_empty(),
        "the store already holds {PREFIX} names"
    );
    missing_names(store);
    round_trip(store);
    replace_keeps_created_and_description(store);
    set_many_is_all_or_nothing(store);
    list_is_sorted_and_remove_removes(store);
    assert!(
        ours(store).is_empty(),
        "the suite left {PREFIX} names behind"
    );
}

fn missing_names(store: &dyn SecretStore) {
    let missing = name("missing");
    assert!(matches!(store.get(&missing), Err(Error::NotFound { name }) if name == missing));
    assert!(matches!(store.remove(&missing), Err(Error::NotFound { name }) if name == missing));
}

fn round_trip(store: &dyn SecretStore) {
    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let cases: [(&str, &[u8]); 3] = [
        ("text", b"fake-token-0123456789"),
        ("binary", &binary),
        ("nested/deeper/name", b"\0\n\r\t x"),
    ];
    for (suffix, bytes) in cases {
        let n = name(suffix);
        store.set(&n, &value(bytes), None).expect("set");
        assert_eq!(get(store, &n), bytes, "{n} did not round-trip");
        assert_eq!(meta(store, &n).description, None);
        store.remove(&n).expect("remove");
    }
}

fn replace_keeps_created_and_description(store: &dyn SecretStore) {
    let n = name("replaced");
    store
        .set(&n, &value(b"fake-1"), Some("first"))
        .expect("set");
    let first = meta(store, &n);
    assert_eq!(first.description.as_deref(), Some("first"));
    assert!(first.updated >= first.created);

    store.set(&n, &value(b"fake-2"), None).expect("replace");
    let second = meta(store, &n);
    assert_eq!(get(store, &n), b"fake-2");
    assert_eq!(
        second.created, first.created,
        "created must survive a replace"
    );
    assert!(second.updated >= first.updated);
    assert_eq!(
        second.description.as_deref(),
        Some("first"),
        "None keeps the description"
    );

    store
        .set(&n, &value(b"fake-3"), Some("second"))
        .expect("replace");
    assert_eq!(meta(store, &n).description.as_deref(), Some("second"));
    store.remove(&n).expect("remove");
}

fn set_many_is_all_or_nothing(store: &dyn SecretStore) {
    let (a, b, c) = (name("many/a"), name("many/b"), name("many/c"));
    store
        .set_many(
            &[(a.clone(), value(b"fake-a")), (b.clone(), value(b"fake-b"))],
            false,
        )
        .expect("set_many");
    assert_eq!(get(store, &a), b"fake-a");
    assert_eq!(get(store, &b), b"fake-b");

    // `c` is new but `b` exists: nothing of the batch may land.
    let clash = [
        (c.clone(), value(b"fake-c")),
        (b.clone(), value(b"fake-b2")),
    ];
    assert!(matches!(store.set_many(&clash, false), Err(Error::Exists { name }) if name == b));
    assert!(
        matches!(store.get(&c), Err(Error::NotFound { .. })),
        "a failed batch wrote {c}"
    );
    assert_eq!(get(store, &b), b"fake-b");

    store.set_many(&clash, true).expect("set_many overwrite");
    assert_eq!(get(store, &b), b"fake-b2");
    assert_eq!(get(store, &c), b"fake-c");
    store.set_many(&[], false).expect("empty batch");
    for n in [a, b, c] {
        store.remove(&n).expect("remove");
    }
}

fn list_is_sorted_and_remove_removes(store: &dyn SecretStore) {
    let names = [
        name("sort/b"),
        name("sort/a"),
        name("sort/c/x"),
        name("sort/B"),
    ];
    for n in &names {
        store
            .set(n, &value(b"fake-v"), Some("described"))
            .expect("set");
    }
    let listed: Vec<String> = ours(store)
        .into_iter()
        .map(|m| m.name.to_string())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "list must be sorted by name");
    assert_eq!(listed.len(), names.len());
    let debug = format!("{:?}", store.list().expect("list"));
    assert!(!debug.contains("fake-v"), "list must never carry a value");

    store.remove(&names[0]).expect("remove");
    assert!(matches!(store.get(&names[0]), Err(Error::NotFound { .. })));
    assert!(ours(store).iter().all(|m| m.name != names[0]));
    for n in &names[1..] {
        store.remove(n).expect("remove");
    }
}
