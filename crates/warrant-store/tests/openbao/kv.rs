//! KV v2 as a store: the conformance suite with token and AppRole auth,
//! the layout on the server, fields, versions, listing, batches.

use secrecy::ExposeSecret;
use serde_json::json;
use warrant_store::openbao::{OpenBaoAuth, OpenBaoConfig, OpenBaoStore};
use warrant_store::{Error, SecretStore, conformance};

use crate::support::{config, name, server, store, store_with, value};

#[test]
fn conformance_with_a_token() {
    let bao = server();
    conformance::run(&store(&bao));
}

#[test]
fn conformance_with_approle() {
    let bao = server();
    bao.enable_approle();
    let role = bao.create_approle("warrant", &["warrant-store"], "10m");
    let auth = OpenBaoAuth::AppRole {
        role_id: role.role_id,
        mount: "approle".to_owned(),
    };
    let store = OpenBaoStore::connect(&config(&bao, auth), role.secret_id).unwrap();
    conformance::run(&store);
}

#[test]
fn conformance_at_the_root_of_the_default_mount() {
    let bao = server();
    let config: OpenBaoConfig = serde_json::from_value(json!({
        "address": bao.address(),
        "auth": { "method": "token" },
    }))
    .unwrap();
    conformance::run(&OpenBaoStore::connect(&config, bao.root_token()).unwrap());
}

#[test]
fn values_sit_in_the_value_field_under_the_prefix() {
    let bao = server();
    let store = store(&bao);
    store
        .set(&name("app/db"), &value("fake-url"), Some("the app's db"))
        .unwrap();
    let raw = bao.api("GET", "team/data/warrant/app/db", None);
    assert_eq!(raw["data"]["data"], json!({ "value": "fake-url" }));
    let meta = bao.api("GET", "team/metadata/warrant/app/db", None);
    assert_eq!(
        meta["data"]["custom_metadata"]["description"],
        "the app's db"
    );

    // Bytes that are not UTF-8 go base64-encoded to value_base64.
    let binary = vec![0xff, 0x00, 0xfe];
    store
        .set(&name("bin"), &binary.clone().into(), None)
        .unwrap();
    let raw = bao.api("GET", "team/data/warrant/bin", None);
    assert_eq!(raw["data"]["data"], json!({ "value_base64": "/wD+" }));
    assert_eq!(store.get(&name("bin")).unwrap().expose_secret(), binary);
}

#[test]
fn one_field_of_a_multi_field_secret() {
    let bao = server();
    let body = json!({ "data": { "username": "app", "password": "fake-pw-7", "port": 5432 } });
    bao.api("POST", "team/data/warrant/app/db", Some(&body));
    let store = store(&bao);
    let db = name("app/db");
    assert_eq!(
        store.get_field(&db, "password").unwrap().expose_secret(),
        b"fake-pw-7"
    );
    assert_eq!(
        store.get_field(&db, "port").unwrap().expose_secret(),
        b"5432"
    );
    let missing = store.get_field(&db, "nope").unwrap_err();
    assert!(matches!(&missing, Error::MissingField { field, .. } if field == "nope"));
    // No `value` field: get says which field it looked for.
    let no_value = store.get(&db).unwrap_err();
    assert!(matches!(&no_value, Error::MissingField { field, .. } if field == "value"));
    assert!(!format!("{no_value} {no_value:?} {missing} {missing:?}").contains("fake-pw-7"));
    assert!(matches!(
        store.get_field(&name("app/none"), "password"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn versions() {
    let bao = server();
    let store = store(&bao);
    let n = name("rotated");
    store.set(&n, &value("fake-1"), None).unwrap();
    store.set(&n, &value("fake-2"), None).unwrap();
    assert_eq!(store.get_version(&n, 1).unwrap().expose_secret(), b"fake-1");
    assert_eq!(store.get_version(&n, 2).unwrap().expose_secret(), b"fake-2");
    assert_eq!(store.get(&n).unwrap().expose_secret(), b"fake-2");
    assert!(matches!(
        store.get_version(&n, 9),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn list_keeps_to_the_prefix_and_to_valid_names() {
    let bao = server();
    let body = json!({ "data": { "value": "fake" } });
    for path in ["warrant/a/b", "warrant/has%20space", "outside/x"] {
        bao.api("POST", &format!("team/data/{path}"), Some(&body));
    }
    // Soft-deleted: neither listed nor readable.
    bao.api("POST", "team/data/warrant/deleted", Some(&body));
    bao.api("DELETE", "team/data/warrant/deleted", None);
    let (store, _) = store_with(&bao, &["warrant-store"]);
    let names: Vec<String> = store
        .list()
        .unwrap()
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(names, ["a/b"]);
    assert!(matches!(
        store.get(&name("deleted")),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.remove(&name("deleted")),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn a_failed_batch_is_undone() {
    let bao = server();
    // The store may not write under `locked/`.
    bao.write_policy(
        "no-locked",
        r#"path "team/data/warrant/locked/*" { capabilities = ["deny"] }"#,
    );
    let (store, _) = store_with(&bao, &["warrant-store", "no-locked"]);
    let (fresh, old, locked) = (name("fresh"), name("old"), name("locked/x"));
    store.set(&old, &value("fake-old"), Some("kept")).unwrap();

    let batch = [
        (fresh.clone(), value("fake-new-1")),
        (old.clone(), value("fake-new-2")),
        (locked.clone(), value("fake-new-3")),
    ];
    let error = store.set_many(&batch, true).unwrap_err();
    assert!(matches!(error, Error::PermissionDenied { .. }), "{error}");

    assert!(matches!(store.get(&fresh), Err(Error::NotFound { .. })));
    assert_eq!(store.get(&old).unwrap().expose_secret(), b"fake-old");
    // The batch's version of `old` is destroyed, not merely superseded.
    let meta = bao.api("GET", "team/metadata/warrant/old", None);
    assert_eq!(meta["data"]["versions"]["2"]["destroyed"], true);
    assert_eq!(meta["data"]["custom_metadata"]["description"], "kept");
}

#[test]
fn a_batch_that_names_an_existing_secret_writes_nothing() {
    let bao = server();
    let store = store(&bao);
    store.set(&name("b"), &value("fake-b"), None).unwrap();
    let batch = [(name("a"), value("fake-a")), (name("b"), value("fake-b2"))];
    assert!(
        matches!(store.set_many(&batch, false), Err(Error::Exists { name }) if name.as_str() == "b")
    );
    assert!(matches!(
        bao.raw(
            "GET",
            "team/metadata/warrant/a",
            Some(&bao.root_token()),
            None
        ),
        Ok((404, _))
    ));
    let twice = [(name("c"), value("fake-c")), (name("c"), value("fake-c2"))];
    assert!(matches!(
        store.set_many(&twice, false),
        Err(Error::Exists { .. })
    ));
    store.set_many(&twice, true).unwrap();
    assert_eq!(store.get(&name("c")).unwrap().expose_secret(), b"fake-c2");
}

#[test]
fn approle_logs_in_again_when_its_token_is_revoked() {
    let bao = server();
    bao.enable_approle();
    let role = bao.create_approle("warrant", &["warrant-store"], "10m");
    let auth = OpenBaoAuth::AppRole {
        role_id: role.role_id,
        mount: "approle".to_owned(),
    };
    let store = OpenBaoStore::connect(&config(&bao, auth), role.secret_id).unwrap();
    store.set(&name("a"), &value("fake-a"), None).unwrap();
    // Every token AppRole handed out is revoked: the next call gets a 403.
    bao.api("POST", "sys/leases/revoke-prefix/auth/approle/login", None);
    assert_eq!(store.get(&name("a")).unwrap().expose_secret(), b"fake-a");
}

#[test]
fn secret_id_stays_out_of_the_config_and_errors() {
    let bao = server();
    bao.enable_approle();
    let role = bao.create_approle("warrant", &["warrant-store"], "10m");
    let auth = OpenBaoAuth::AppRole {
        role_id: role.role_id,
        mount: "approle".to_owned(),
    };
    let wrong = secrecy::SecretString::from("fake-wrong-secret-id");
    let store = OpenBaoStore::connect(&config(&bao, auth), wrong).unwrap();
    let error = store.get(&name("a")).unwrap_err();
    assert!(matches!(error, Error::Login { .. }), "{error}");
    crate::support::assert_hides(
        &error,
        &["fake-wrong-secret-id", role.secret_id.expose_secret()],
    );
}

#[test]
fn a_namespace_is_its_own_world() {
    let bao = server();
    bao.api("POST", "sys/namespaces/ns1", None);
    // A namespace's API is its path prefix too.
    bao.api(
        "POST",
        "ns1/sys/mounts/team",
        Some(&json!({ "type": "kv", "options": { "version": "2" } })),
    );
    let in_ns = |namespace: Option<&str>| {
        let config: OpenBaoConfig = serde_json::from_value(json!({
            "address": bao.address(),
            "mount": "team",
            "namespace": namespace,
            "auth": { "method": "token" },
        }))
        .unwrap();
        OpenBaoStore::connect(&config, bao.root_token()).unwrap()
    };
    in_ns(Some("ns1"))
        .set(&name("app/db"), &value("fake-ns"), None)
        .unwrap();
    let raw = bao.api("GET", "ns1/team/data/app/db", None);
    assert_eq!(raw["data"]["data"]["value"], "fake-ns");
    assert!(matches!(
        in_ns(None).get(&name("app/db")),
        Err(Error::NotFound { .. })
    ));
}
