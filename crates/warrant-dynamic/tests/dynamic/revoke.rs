//! Ending roles: revoke (sessions, owned objects, idempotence) and sweep.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};
use warrant_dynamic::Error;

use crate::{cluster_with_app, in_minutes, issuer, login, role_exists, template};

/// USAGE and CREATE on `app`'s public schema, so the role can own a table.
fn creator(on_drop: &str) -> warrant_dynamic::postgres::RoleTemplate {
    template(&format!(
        r#"
        database = "app"
        grants = ["GRANT USAGE, CREATE ON SCHEMA public TO {{{{name}}}}"]
        on_drop = {on_drop}
        "#
    ))
}

#[tokio::test]
async fn revoke_ends_sessions_reassigns_objects_and_is_idempotent() {
    let cluster = cluster_with_app();
    cluster.create_database("other");
    let issuer = issuer(
        &cluster,
        creator(r#"{ action = "reassign", to = "warrant_admin" }"#),
    );
    let issued = issuer.issue("g-reassign", in_minutes(10)).await.unwrap();
    let session = login(&issued.dsn).await.unwrap();
    session
        .batch_execute("CREATE TABLE made_by_agent (x int)")
        .await
        .unwrap();
    // An object in a second database, outside the template's.
    cluster.sql_in(
        "other",
        &format!("GRANT CREATE ON SCHEMA public TO {}", issued.role),
    );
    let other_dsn = std::str::from_utf8(issued.dsn.expose_secret())
        .unwrap()
        .replace("/app", "/other");
    let other = login(&warrant_secret::SecretValue::from(other_dsn))
        .await
        .unwrap();
    other
        .batch_execute("CREATE TABLE also_made (x int)")
        .await
        .unwrap();

    assert!(
        issuer.revoke(&issued.role).await.unwrap(),
        "the role existed"
    );
    assert!(!role_exists(&cluster, &issued.role));
    // The open session was terminated.
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    assert!(
        session.batch_execute("SELECT 1").await.is_err(),
        "session still alive"
    );
    assert!(
        other.batch_execute("SELECT 1").await.is_err(),
        "session still alive"
    );
    // Its objects were kept, now owned by the target role, in both databases.
    let owner =
        "SELECT tableowner FROM pg_tables WHERE tablename IN ('made_by_agent', 'also_made')";
    assert_eq!(cluster.sql_in("app", owner), "warrant_admin");
    assert_eq!(cluster.sql_in("other", owner), "warrant_admin");
    // Again: already gone is success.
    assert!(!issuer.revoke(&issued.role).await.unwrap());
    // Login refused.
    assert!(login(&issued.dsn).await.is_err());
}

#[tokio::test]
async fn revoke_drops_owned_objects_when_the_template_says_so() {
    let cluster = cluster_with_app();
    let issuer = issuer(&cluster, creator(r#"{ action = "drop_owned" }"#));
    let issued = issuer.issue("g-drop", in_minutes(10)).await.unwrap();
    let session = login(&issued.dsn).await.unwrap();
    session
        .batch_execute("CREATE TABLE scratch (x int)")
        .await
        .unwrap();
    drop(session);
    assert!(issuer.revoke(&issued.role).await.unwrap());
    assert!(!role_exists(&cluster, &issued.role));
    assert_eq!(
        cluster.sql_in(
            "app",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'scratch'"
        ),
        "0"
    );
}

#[tokio::test]
async fn revoke_refuses_roles_warrant_does_not_create() {
    let cluster = cluster_with_app();
    let issuer = issuer(&cluster, creator(r#"{ action = "drop_owned" }"#));
    for name in ["warrant_admin", "postgres", "warrant_x_nothex0000"] {
        let err = issuer.revoke(name).await.unwrap_err();
        assert!(matches!(err, Error::NotWarrantRole { .. }), "{err:?}");
    }
    assert!(role_exists(&cluster, "warrant_admin"));
}

#[tokio::test]
async fn sweep_drops_leftovers_and_expired_roles_and_keeps_live_ones() {
    let cluster = cluster_with_app();
    let issuer = issuer(&cluster, creator(r#"{ action = "drop_owned" }"#));
    // A daemon issued these, then crashed.
    let forgotten = issuer.issue("crashed-1", in_minutes(10)).await.unwrap();
    let live = issuer.issue("live-1", in_minutes(10)).await.unwrap();
    let soon = OffsetDateTime::now_utc() + Duration::seconds(2);
    let expired = issuer.issue("expired-1", soon).await.unwrap();
    // Roles warrant did not create, even with a warrant-like name.
    cluster.sql("CREATE ROLE warrant_human LOGIN");
    cluster.sql("CREATE ROLE warrant_abc_0123456789 NOLOGIN");
    let session = login(&forgotten.dsn).await.unwrap();
    tokio::time::sleep(StdDuration::from_millis(3500)).await;

    let keep = vec![live.role.clone(), expired.role.clone()];
    let swept = issuer.sweep(&keep).await.unwrap();
    assert!(swept.failed.is_empty(), "{:?}", swept.failed);
    let mut want = vec![forgotten.role.clone(), expired.role.clone()];
    want.sort();
    assert_eq!(swept.dropped, want);
    assert!(!role_exists(&cluster, &forgotten.role));
    assert!(!role_exists(&cluster, &expired.role));
    assert!(role_exists(&cluster, &live.role));
    assert!(role_exists(&cluster, "warrant_human"));
    assert!(role_exists(&cluster, "warrant_abc_0123456789"));
    assert!(
        session.batch_execute("SELECT 1").await.is_err(),
        "session still alive"
    );
    login(&live.dsn).await.expect("the live role still logs in");

    // Nothing left to do.
    assert!(issuer.sweep(&keep).await.unwrap().dropped.is_empty());
}
