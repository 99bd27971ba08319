//! Named OpenBao stores end to end, against a real `bao server -dev`: KV v2
//! references (whole secrets and fields) resolve for `warrant run`, a
//! missing path fails naming it, and OpenBao's database engine makes a
//! credential per grant (under a child token) whose lease is revoked when
//! the grant ends.

use std::time::Duration;

use secrecy::ExposeSecret as _;
use serde_json::json;
use warrant_testkit::openbao::DevServer;
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

use crate::harness::{Home, fake_value, wait_until};

/// A home whose `stores.toml` names the dev server as store `team`, logging
/// in with a token limited to what warrant needs (kept in the local store
/// as `bao/team`), and `extra` appended.
pub(crate) fn home_with(bao: &DevServer, policies: &[&str], extra: &str) -> Home {
    bao.write_policy(
        "warrant",
        r#"
path "secret/data/*"     { capabilities = ["create", "read", "update"] }
path "secret/metadata/*" { capabilities = ["list", "read", "update", "delete"] }
path "auth/token/create" { capabilities = ["update"] }
path "auth/token/revoke-accessor" { capabilities = ["update"] }
"#,
    );
    let mut all = vec!["warrant"];
    all.extend(policies);
    let token = bao.create_token(&all, "1h");
    let home = Home::with_approver();
    home.set("bao/team", token.expose_secret());
    std::fs::write(
        home.path().join("stores.toml"),
        format!(
            r#"
[stores.team]
kind = "openbao"
credential = "bao/team"
address = "{}"
auth = {{ method = "token" }}
{extra}"#,
            bao.address()
        ),
    )
    .unwrap();
    home
}

#[test]
fn kv_references_resolve_whole_and_by_field() {
    let bao = DevServer::start();
    let home = home_with(&bao, &[], "");
    let (url, password) = (fake_value("url"), fake_value("pw"));
    bao.api(
        "POST",
        "secret/data/app/db",
        Some(&json!({ "data": { "value": url, "password": password } })),
    );
    // What the child should see is handed to it apart (EA, EB), to compare.
    let mut cmd = home.std_cmd();
    cmd.args([
        "run",
        "--no-tty",
        "--env",
        "A=warrant://team/app/db",
        "--env",
        "B=warrant://team/app/db#password",
        "--",
        "sh",
        "-c",
        "test \"$A\" = \"$EA\" && test \"$B\" = \"$EB\" && echo same; echo \"$B\"",
    ])
    .env("EA", &url)
    .env("EB", &password);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("same"), "{stdout}");
    // The output is redacted like any value's.
    assert!(!stdout.contains(&password), "{stdout}");
    assert!(
        stdout.contains("<redacted:team/app/db#password>"),
        "{stdout}"
    );

    let missing = home.run(&[
        "run",
        "--no-tty",
        "--env",
        "A=warrant://team/app/none",
        "--",
        "true",
    ]);
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("team/app/none"),
        "{}",
        missing.stderr
    );
    assert!(!missing.stderr.contains(&url));

    // Written through warrant, read back through OpenBao's own API.
    let stored = home.run_stdin(
        &["secret", "set", "team/app/new"],
        "written-by-warrant-0123",
    );
    assert_eq!(stored.code, 0, "{}", stored.stderr);
    let read = bao.api("GET", "secret/data/app/new", None);
    assert_eq!(read["data"]["data"]["value"], "written-by-warrant-0123");
}

/// OpenBao's database engine on `pg`'s database `app`: role `reader` (SELECT
/// on `items`), and a policy `db-reader` that may read its credentials.
pub(crate) fn database_engine(bao: &DevServer, pg: &Cluster) {
    bao.enable_database();
    bao.api(
        "POST",
        "database/config/pg",
        Some(&json!({
            "plugin_name": "postgresql-database-plugin",
            "connection_url": format!(
                "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/app?sslmode=disable",
                pg.port()
            ),
            "username": ADMIN_USER,
            "password": pg.admin_password().expose_secret(),
            "allowed_roles": "reader",
        })),
    );
    bao.api(
        "POST",
        "database/roles/reader",
        Some(&json!({
            "db_name": "pg",
            "creation_statements": [
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
                "GRANT SELECT ON items TO \"{{name}}\";"
            ],
            "default_ttl": "10m",
            "max_ttl": "1h",
        })),
    );
    bao.write_policy(
        "db-reader",
        r#"path "database/creds/reader" { capabilities = ["read"] }"#,
    );
}

/// How many leases of `database/creds/reader` OpenBao holds.
pub(crate) fn leases(bao: &DevServer) -> usize {
    bao.raw(
        "LIST",
        "sys/leases/lookup/database/creds/reader",
        Some(&bao.root_token()),
        None,
    )
    .map(|(_, v)| v["data"]["keys"].as_array().map_or(0, Vec::len))
    .unwrap_or(0)
}

/// OpenBao's database engine against a real PostgreSQL: a grant's use makes
/// a user under a child token; revoking the grant revokes the token, whose
/// lease OpenBao revokes by dropping the user.
#[test]
fn database_engine_credentials_end_with_their_grant() {
    let pg = Cluster::start();
    pg.create_database("app");
    pg.sql_in(
        "app",
        "CREATE TABLE items (n int); INSERT INTO items VALUES (7);",
    );
    let bao = DevServer::start();
    database_engine(&bao, &pg);
    let home = home_with(
        &bao,
        &["db-reader"],
        &format!(
            r#"
[stores.teamdb]
kind = "openbao-database"
store = "team"
[stores.teamdb.roles.reader]
role = "reader"
policies = ["db-reader"]
dsn = "postgres://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/app?sslmode=disable"
"#,
            pg.port()
        ),
    );
    home.write_policy(
        r#"
[actors.agent]
kind = "agent"

[[rules]]
actors   = ["agent"]
secrets  = ["teamdb/reader"]
max_ttl  = "1h"
approval = "auto"
"#,
    );
    let _daemon = home.serve();
    let users = || {
        pg.sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-token-%'")
            .trim()
            .to_owned()
    };
    assert_eq!(users(), "0");
    let (id, status) = home.request("agent", &["teamdb/reader"], &[]);
    assert_eq!(status, "active");
    let (code, out, err) = home.run_granted(
        &id,
        &["--env", "DSN=warrant://teamdb/reader"],
        "psql \"$DSN\" -XAtq -c 'SELECT n FROM items'",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "7");
    assert_eq!(users(), "1");
    let leases = || leases(&bao);
    assert_eq!(leases(), 1);
    assert_eq!(home.audit_events("credential_issued").len(), 1);

    assert_eq!(home.run(&["revoke", &id]).code, 0);
    assert!(
        wait_until(Duration::from_secs(20), || leases() == 0 && users() == "0"),
        "leases {} users {}",
        leases(),
        users()
    );
    assert_eq!(home.audit_events("credential_revoked").len(), 1);
}

/// A named store that cannot be opened (its credential is not stored) fails
/// the names that reach it, with the reason, and nothing else.
#[test]
fn a_broken_named_store_fails_only_its_own_names() {
    let home = Home::new();
    let local = fake_value("local");
    home.set("db/dev/url", &local);
    std::fs::write(
        home.path().join("stores.toml"),
        r#"
[stores.team]
kind = "openbao"
credential = "bao/missing"
address = "http://127.0.0.1:9"
auth = { method = "token" }
"#,
    )
    .unwrap();
    let ok = home.run(&[
        "run",
        "--no-tty",
        "--env",
        "A=warrant://db/dev/url",
        "--",
        "true",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let broken = home.run(&[
        "run",
        "--no-tty",
        "--env",
        "B=warrant://team/app/db",
        "--",
        "true",
    ]);
    assert_ne!(broken.code, 0);
    assert!(
        broken.stderr.contains("cannot open the OpenBao store team")
            && broken.stderr.contains("bao/missing"),
        "{}",
        broken.stderr
    );
}
