//! Errors a user can act on, none showing a token or a value: permission
//! denied naming the path, missing names, a stopped server, a sealed one,
//! TLS with and without the right CA.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use warrant_store::openbao::{OpenBaoAuth, OpenBaoConfig, OpenBaoStore};
use warrant_store::{Error, SecretStore};
use warrant_testkit::openbao::DevServer;

use crate::support::{assert_hides, config, name, server, store_with, value};

#[test]
fn a_limited_token_is_denied_with_the_path_and_capability() {
    let bao = server();
    bao.write_policy(
        "read-other",
        r#"path "team/data/other/*" { capabilities = ["read"] }"#,
    );
    let body = json!({ "data": { "value": "fake-v-1" } });
    bao.api("POST", "team/data/warrant/app/db", Some(&body));
    let (store, token) = store_with(&bao, &["read-other"]);

    let error = store.get(&name("app/db")).unwrap_err();
    match &error {
        Error::PermissionDenied {
            path, capability, ..
        } => {
            assert_eq!(path, "team/data/warrant/app/db");
            assert_eq!(*capability, "read");
        }
        other => panic!("expected permission denied, got {other}"),
    }
    assert!(error.to_string().contains("team/data/warrant/app/db"));
    assert_hides(&error, &[token.expose_secret(), "fake-v-1"]);

    let error = store
        .set(&name("app/db"), &value("fake-v-2"), None)
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::PermissionDenied {
                capability: "create",
                ..
            }
        ),
        "{error}"
    );
    assert_hides(&error, &[token.expose_secret(), "fake-v-2"]);
    let error = store.list().unwrap_err();
    assert!(
        matches!(
            &error,
            Error::PermissionDenied {
                capability: "list",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_wrong_token_is_denied() {
    let bao = server();
    let wrong = SecretString::from("s.fake-not-a-token");
    let store = OpenBaoStore::connect(&config(&bao, OpenBaoAuth::Token), wrong).unwrap();
    let error = store.get(&name("a")).unwrap_err();
    assert!(matches!(error, Error::PermissionDenied { .. }), "{error}");
    assert_hides(
        &error,
        &["fake-not-a-token", bao.root_token().expose_secret()],
    );
}

#[test]
fn a_missing_name_is_not_found_by_name() {
    let bao = server();
    let (store, _) = store_with(&bao, &["warrant-store"]);
    let error = store.get(&name("app/missing")).unwrap_err();
    assert!(matches!(&error, Error::NotFound { name } if name.as_str() == "app/missing"));
    assert_eq!(error.to_string(), "no secret named app/missing");
}

#[test]
fn a_stopped_server_is_a_network_error_naming_the_address() {
    let bao = server();
    let (store, token) = store_with(&bao, &["warrant-store"]);
    let address = bao.address().to_owned();
    drop(bao);
    let error = store.get(&name("a")).unwrap_err();
    match &error {
        Error::Network { address: a, .. } => assert_eq!(a, &address),
        other => panic!("expected a network error, got {other}"),
    }
    assert!(error.to_string().contains(&address), "{error}");
    assert_hides(&error, &[token.expose_secret()]);
}

#[test]
fn a_sealed_server_says_so() {
    let bao = server();
    let (store, token) = store_with(&bao, &["warrant-store"]);
    store.set(&name("a"), &value("fake-a"), None).unwrap();
    bao.seal();
    let error = store.get(&name("a")).unwrap_err();
    assert!(matches!(error, Error::Sealed { .. }), "{error}");
    assert!(error.to_string().contains("sealed"));
    assert_hides(&error, &[token.expose_secret(), "fake-a"]);
    let error = store.set(&name("b"), &value("fake-b"), None).unwrap_err();
    assert!(matches!(error, Error::Sealed { .. }), "{error}");
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let config: OpenBaoConfig = serde_json::from_value(json!({
        "address": "http://10.11.12.13:8200",
        "auth": { "method": "token" },
    }))
    .unwrap();
    let error = OpenBaoStore::connect(&config, SecretString::from("s.fake")).unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
}

fn tls_config(bao: &DevServer, ca_file: Option<&std::path::Path>) -> OpenBaoConfig {
    serde_json::from_value(json!({
        "address": bao.address(),
        "ca_file": ca_file,
        "auth": { "method": "token" },
    }))
    .unwrap()
}

#[test]
fn tls_with_the_servers_ca_works_and_without_it_fails_as_tls() {
    let bao = DevServer::start_tls();
    assert!(bao.address().starts_with("https://"));
    let ca = bao.ca_file().unwrap();
    let store = OpenBaoStore::connect(&tls_config(&bao, Some(ca)), bao.root_token()).unwrap();
    store.set(&name("tls/a"), &value("fake-tls"), None).unwrap();
    assert_eq!(
        store.get(&name("tls/a")).unwrap().expose_secret(),
        b"fake-tls"
    );

    // The system's roots do not know the dev server's CA.
    let store = OpenBaoStore::connect(&tls_config(&bao, None), bao.root_token()).unwrap();
    let error = store.get(&name("tls/a")).unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error}");
    assert_hides(&error, &[bao.root_token().expose_secret(), "fake-tls"]);
}

#[test]
fn a_bad_ca_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let config: OpenBaoConfig = serde_json::from_value(json!({
        "address": "https://127.0.0.1:1",
        "ca_file": path,
        "auth": { "method": "token" },
    }))
    .unwrap();
    let error = OpenBaoStore::connect(&config, SecretString::from("s.fake")).unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
}
