//! Issuing: exactly the template's privileges, the expiry enforced by
//! PostgreSQL, the password never sent to the server.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};
use tokio_postgres::error::SqlState;
use warrant_dynamic::postgres::is_warrant_role;

use crate::{cluster_with_app, in_minutes, issuer, login, password_of, read_orders, template};

#[tokio::test]
async fn issued_role_has_exactly_the_template_privileges() {
    let cluster = cluster_with_app();
    let issuer = issuer(&cluster, read_orders());
    let issued = issuer.issue("grant-7f3a", in_minutes(10)).await.unwrap();
    assert!(is_warrant_role(&issued.role), "{}", issued.role);
    assert!(issued.role.starts_with("warrant_grant7f3a_"));

    let client = login(&issued.dsn).await.unwrap();
    let rows = client
        .query("SELECT id FROM orders ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, issued.role);
    for refused in [
        "INSERT INTO orders VALUES (3)",
        "DELETE FROM orders",
        "SELECT * FROM secrets",
        "CREATE TABLE mine (x int)",
    ] {
        let err = client.batch_execute(refused).await.expect_err(refused);
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{refused}: {err:?}"
        );
    }
    // No elevated attribute, and the expiry and comment warrant promises.
    let expiry = issued
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let attributes = cluster.sql(&format!(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin,
                rolvaliduntil = '{}'::timestamptz, shobj_description(oid, 'pg_authid')
         FROM pg_roles WHERE rolname = '{}'",
        expiry, issued.role
    ));
    assert_eq!(
        attributes,
        format!("f|f|f|f|f|t|t|warrant grant grant-7f3a expires {expiry}")
    );
    // The server holds a SCRAM verifier, never a plaintext password.
    let stored = cluster.sql(&format!(
        "SELECT rolpassword FROM pg_authid WHERE rolname = '{}'",
        issued.role
    ));
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"), "{stored}");
    assert_eq!(password_of(&issued.dsn).len(), 43);
}

#[tokio::test]
async fn group_roles_and_connection_limit() {
    let cluster = cluster_with_app();
    cluster.sql_in(
        "app",
        "CREATE ROLE readers NOLOGIN; GRANT SELECT ON secrets TO readers",
    );
    let template = template(
        r#"
        database = "app"
        in_roles = ["readers"]
        connection_limit = 1
        "#,
    );
    let issued = issuer(&cluster, template)
        .issue("g2", in_minutes(5))
        .await
        .unwrap();
    let client = login(&issued.dsn).await.unwrap();
    let rows = client.query("SELECT * FROM secrets", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    let second = login(&issued.dsn).await.expect_err("connection limit 1");
    assert_eq!(
        second.code(),
        Some(&SqlState::TOO_MANY_CONNECTIONS),
        "{second:?}"
    );
}

#[tokio::test]
async fn login_is_refused_once_the_expiry_passes() {
    let cluster = cluster_with_app();
    let issuer = issuer(&cluster, read_orders());
    let expires_at = OffsetDateTime::now_utc() + Duration::seconds(3);
    let issued = issuer.issue("short", expires_at).await.unwrap();
    login(&issued.dsn).await.expect("login before the expiry");
    let wait = issued.expires_at - OffsetDateTime::now_utc() + Duration::milliseconds(1500);
    tokio::time::sleep(StdDuration::try_from(wait).unwrap_or_default()).await;
    // Not revoked: PostgreSQL itself enforces VALID UNTIL.
    let err = login(&issued.dsn)
        .await
        .expect_err("login after the expiry");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");
}

#[tokio::test]
async fn the_password_never_reaches_the_server() {
    let cluster = cluster_with_app();
    cluster.sql("ALTER SYSTEM SET log_statement = 'all'");
    cluster.sql("SELECT pg_reload_conf()");
    std::thread::sleep(StdDuration::from_millis(300));
    let issued = issuer(&cluster, read_orders())
        .issue("logged", in_minutes(5))
        .await
        .unwrap();
    login(&issued.dsn).await.unwrap();
    let log = cluster.server_log();
    assert!(log.contains("CREATE ROLE"), "statements are logged:\n{log}");
    assert!(
        !log.contains(&password_of(&issued.dsn)),
        "the password is in the server log"
    );
}

#[tokio::test]
async fn expiry_in_the_past_is_refused() {
    let cluster = cluster_with_app();
    let issuer = issuer(&cluster, read_orders());
    let err = issuer.issue("late", in_minutes(-1)).await.unwrap_err();
    assert!(err.to_string().contains("is not in the future"), "{err}");
    let err = issuer.issue("bad id", in_minutes(1)).await.unwrap_err();
    assert!(err.to_string().contains("grant id"), "{err}");
}
