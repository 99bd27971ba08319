//! Helpers shared by the test modules: a dev server with a KV v2 mount
//! `team`, warrant's names under the prefix `warrant`, and a policy that
//! gives a store exactly what it needs there.

use secrecy::SecretString;
use serde_json::json;
use warrant_secret::{SecretName, SecretValue};
use warrant_store::openbao::{OpenBaoAuth, OpenBaoConfig, OpenBaoStore};
use warrant_testkit::openbao::DevServer;

/// What a store needs on `team/…/warrant/*`, and nothing else.
pub const STORE_POLICY: &str = r#"
path "team/data/warrant/*" { capabilities = ["create", "read", "update"] }
path "team/metadata/warrant/*" { capabilities = ["read", "list", "delete", "patch"] }
path "team/destroy/warrant/*" { capabilities = ["update"] }
"#;

pub fn name(text: &str) -> SecretName {
    SecretName::new(text).unwrap()
}

pub fn value(text: &str) -> SecretValue {
    SecretValue::from(text.as_bytes().to_vec())
}

/// A dev server with the mount `team` and the policy `warrant-store`.
pub fn server() -> DevServer {
    let bao = DevServer::start();
    bao.enable_kv2("team");
    bao.write_policy("warrant-store", STORE_POLICY);
    bao
}

/// The configuration of the `team` mount, prefix `warrant`, with `auth`.
pub fn config(bao: &DevServer, auth: OpenBaoAuth) -> OpenBaoConfig {
    serde_json::from_value::<OpenBaoConfig>(json!({
        "address": bao.address(),
        "mount": "team",
        "prefix": "warrant",
        "auth": { "method": "token" },
    }))
    .map(|c| OpenBaoConfig { auth, ..c })
    .unwrap()
}

/// A store with its own token holding only `policies`.
pub fn store_with(bao: &DevServer, policies: &[&str]) -> (OpenBaoStore, SecretString) {
    let token = bao.create_token(policies, "30m");
    let store = OpenBaoStore::connect(&config(bao, OpenBaoAuth::Token), token.clone()).unwrap();
    (store, token)
}

/// A store with a token holding only the `warrant-store` policy.
pub fn store(bao: &DevServer) -> OpenBaoStore {
    store_with(bao, &["warrant-store"]).0
}

/// Neither `Display` nor `Debug` of `error` shows any of `secrets`.
pub fn assert_hides(error: &dyn std::error::Error, secrets: &[&str]) {
    let mut texts = vec![format!("{error}"), format!("{error:?}")];
    let mut source = error.source();
    while let Some(e) = source {
        texts.push(e.to_string());
        source = e.source();
    }
    for text in texts {
        for secret in secrets {
            assert!(!text.contains(secret), "{text:?} shows a secret");
        }
    }
}
