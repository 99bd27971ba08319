//! Database credentials against a real PostgreSQL: a user minted under a
//! grant's child token, dropped when the token revokes itself.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::json;
use warrant_store::openbao::{OpenBaoAuth, OpenBaoStore};
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

use crate::support::{config, server};

fn role_count(cluster: &Cluster, user: &str) -> String {
    cluster.sql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{}'",
        user.replace('\'', "''")
    ))
}

#[test]
fn a_database_user_dies_with_the_child_token() {
    let cluster = Cluster::start();
    let bao = server();
    bao.enable_database();
    let connection = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": format!(
            "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode=disable",
            cluster.port()
        ),
        "username": ADMIN_USER,
        "password": cluster.admin_password().expose_secret(),
        "allowed_roles": "app",
    });
    bao.api("POST", "database/config/pg", Some(&connection));
    let role = json!({
        "db_name": "pg",
        "creation_statements": [
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
        ],
        "default_ttl": "5m",
        "max_ttl": "10m",
    });
    bao.api("POST", "database/roles/app", Some(&role));
    bao.write_policy(
        "app-db",
        r#"path "database/creds/app" { capabilities = ["read"] }"#,
    );
    bao.write_policy(
        "broker",
        r#"path "auth/token/create" { capabilities = ["update"] }"#,
    );
    let token = bao.create_token(&["broker", "app-db"], "30m");
    let store = OpenBaoStore::connect(&config(&bao, OpenBaoAuth::Token), token).unwrap();

    let child = store
        .create_child_token(&["app-db"], Duration::from_secs(300), &BTreeMap::new())
        .unwrap();
    let creds = store.read_database_creds(&child.token, "app").unwrap();
    assert!(!creds.lease_id.is_empty());
    assert!(creds.lease_duration > Duration::ZERO);
    assert!(!format!("{creds:?}").contains(creds.password.expose_secret()));
    assert_eq!(role_count(&cluster, &creds.username), "1");

    store.revoke_self(&child.token).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while role_count(&cluster, &creds.username) != "0" {
        assert!(
            Instant::now() < deadline,
            "{} was not dropped",
            creds.username
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
