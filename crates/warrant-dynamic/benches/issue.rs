//! How long it takes to make a dynamic credential, natively and through
//! OpenBao's database engine, against the same PostgreSQL in one run; and
//! to end it. p50/p99 over `WARRANT_BENCH_N` (default 200) each.
//!
//! Natively: one admin connection, CREATE ROLE with a SCRAM verifier and
//! VALID UNTIL, the template's grants and the guarantee checks, in one
//! transaction. Through OpenBao: a child token with the grant's TTL, then
//! `database/creds/ROLE` (OpenBao connects and runs the role's statements).
//!
//! `cargo bench -p warrant-dynamic --bench issue` (needs PostgreSQL and
//! `bao`, which `scripts/test.sh` installs).
#![expect(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret as _;
use serde_json::json;
use time::OffsetDateTime;
use warrant_dynamic::postgres::{Issuer, RoleTemplate};
use warrant_secret::SecretValue;
use warrant_store::openbao::{OpenBaoConfig, OpenBaoStore};
use warrant_testkit::openbao::DevServer;
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

fn main() {
    let n: usize = std::env::var("WARRANT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let pg = Cluster::start();
    pg.create_database("app");
    pg.sql_in("app", "CREATE TABLE items (n int)");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let template: RoleTemplate = toml::from_str(
        r#"
database = "app"
grants = ["GRANT SELECT ON items TO {{name}}"]
"#,
    )
    .unwrap();
    let admin = SecretValue::from(pg.admin_dsn().expose_secret().as_bytes().to_vec());
    let issuer = Issuer::new(&admin, template).unwrap();
    let (mut native_issue, mut native_end) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for i in 0..n {
            let expires = OffsetDateTime::now_utc() + Duration::from_secs(600);
            let start = Instant::now();
            let issued = issuer
                .issue(&format!("g_bench{i:05}"), expires)
                .await
                .unwrap();
            native_issue.push(start.elapsed());
            let start = Instant::now();
            issuer.revoke(&issued.role).await.unwrap();
            native_end.push(start.elapsed());
        }
    });

    let bao = DevServer::start();
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
        })),
    );
    bao.write_policy(
        "reader",
        r#"path "database/creds/reader" { capabilities = ["read"] }"#,
    );
    let config: OpenBaoConfig = serde_json::from_value(json!({
        "address": bao.address(),
        "auth": { "method": "token" },
    }))
    .unwrap();
    let store = OpenBaoStore::connect(&config, bao.root_token()).unwrap();
    let (mut bao_issue, mut bao_end) = (Vec::new(), Vec::new());
    for i in 0..n {
        let meta = BTreeMap::from([("warrant_grant".to_owned(), format!("g_bench{i:05}"))]);
        let start = Instant::now();
        let child = store
            .create_child_token(&["reader"], Duration::from_secs(600), &meta)
            .unwrap();
        let creds = store.read_database_creds(&child.token, "reader").unwrap();
        bao_issue.push(start.elapsed());
        drop(creds);
        let start = Instant::now();
        store.revoke_self(&child.token).unwrap();
        bao_end.push(start.elapsed());
    }
    // revoke-self returns before OpenBao has dropped the user: wait, so the
    // table shows what is left behind.
    let left = || {
        pg.sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-token-%'")
            .trim()
            .to_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while left() != "0" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }

    println!("dynamic credentials against one local PostgreSQL, {n} each, one at a time");
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "", "make p50", "make p99", "end p50", "end p99"
    );
    for (label, made, ended) in [
        (
            "native (warrant-dynamic)",
            &mut native_issue,
            &mut native_end,
        ),
        ("OpenBao database engine", &mut bao_issue, &mut bao_end),
    ] {
        made.sort();
        ended.sort();
        println!(
            "{:<34} {:>9} {:>9} {:>9} {:>9}",
            label,
            ms(percentile(made, 50.0)),
            ms(percentile(made, 99.0)),
            ms(percentile(ended, 50.0)),
            ms(percentile(ended, 99.0)),
        );
    }
    println!("OpenBao users left after its revocations: {}", left());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}
