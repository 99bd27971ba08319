//! Child tokens for grants: created with a TTL and metadata, usable, then
//! revoked by themselves or by accessor, and looked up by accessor.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::json;
use warrant_store::openbao::{OpenBaoAuth, OpenBaoStore};

use crate::support::{config, server};

/// What a broker's token needs to manage grant tokens.
const BROKER_POLICY: &str = r#"
path "auth/token/create" { capabilities = ["update"] }
path "auth/token/revoke-accessor" { capabilities = ["update"] }
path "auth/token/lookup-accessor" { capabilities = ["update"] }
"#;

const READ_APP: &str = r#"path "team/data/warrant/app/*" { capabilities = ["read"] }"#;

fn broker() -> (warrant_testkit::openbao::DevServer, OpenBaoStore) {
    let bao = server();
    bao.write_policy("broker", BROKER_POLICY);
    bao.write_policy("read-app", READ_APP);
    let token = bao.create_token(&["broker", "read-app"], "30m");
    let store = OpenBaoStore::connect(&config(&bao, OpenBaoAuth::Token), token).unwrap();
    bao.api(
        "POST",
        "team/data/warrant/app/db",
        Some(&json!({ "data": { "value": "fake-db" } })),
    );
    (bao, store)
}

#[test]
fn a_child_token_works_until_it_revokes_itself() {
    let (bao, store) = broker();
    let meta = BTreeMap::from([("grant".to_owned(), "g-123".to_owned())]);
    let child = store
        .create_child_token(&["read-app"], Duration::from_secs(120), &meta)
        .unwrap();
    assert!(child.ttl <= Duration::from_secs(120) && child.ttl > Duration::from_secs(100));
    assert!(!format!("{child:?}").contains(child.token.expose_secret()));

    let read = bao.api_as(&child.token, "GET", "team/data/warrant/app/db", None);
    assert_eq!(read["data"]["data"]["value"], "fake-db");
    let info = store.lookup_accessor(&child.accessor).unwrap().unwrap();
    assert!(info.policies.contains(&"read-app".to_owned()), "{info:?}");
    assert_eq!(info.meta.get("grant").map(String::as_str), Some("g-123"));
    assert!(info.ttl <= Duration::from_secs(120));
    assert!(info.expire_time.is_some());

    store.revoke_self(&child.token).unwrap();
    assert_eq!(store.lookup_accessor(&child.accessor).unwrap(), None);
    let denied = bao.raw("GET", "team/data/warrant/app/db", Some(&child.token), None);
    assert!(matches!(denied, Ok((403, _))), "{denied:?}");
}

#[test]
fn revoke_by_accessor_is_the_sweep_after_a_crash() {
    let (bao, store) = broker();
    let child = store
        .create_child_token(&["read-app"], Duration::from_secs(60), &BTreeMap::new())
        .unwrap();
    store.revoke_accessor(&child.accessor).unwrap();
    assert_eq!(store.lookup_accessor(&child.accessor).unwrap(), None);
    let denied = bao.raw("GET", "team/data/warrant/app/db", Some(&child.token), None);
    assert!(matches!(denied, Ok((403, _))), "{denied:?}");
    // Sweeping twice is fine.
    store.revoke_accessor(&child.accessor).unwrap();
}

#[test]
fn a_child_token_expires_with_its_ttl() {
    let (bao, store) = broker();
    let child = store
        .create_child_token(&["read-app"], Duration::from_secs(2), &BTreeMap::new())
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let denied = bao.raw("GET", "team/data/warrant/app/db", Some(&child.token), None);
    assert!(matches!(denied, Ok((403, _))), "{denied:?}");
    assert_eq!(store.lookup_accessor(&child.accessor).unwrap(), None);
}

#[test]
fn a_child_cannot_have_more_than_its_parent() {
    let (bao, store) = broker();
    bao.write_policy("admin", r#"path "*" { capabilities = ["sudo", "read"] }"#);
    let error = store
        .create_child_token(&["admin"], Duration::from_secs(60), &BTreeMap::new())
        .unwrap_err();
    // The server refuses (400 or 403); either way no token is made.
    let text = error.to_string();
    assert!(text.contains("auth/token/create"), "{text}");
}
