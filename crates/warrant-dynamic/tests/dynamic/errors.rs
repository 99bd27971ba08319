//! Clear errors that never carry a password or the admin connection string.

use secrecy::ExposeSecret;
use warrant_dynamic::Error;
use warrant_dynamic::postgres::Issuer;
use warrant_secret::SecretValue;
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

use crate::{
    cluster_with_app, in_minutes, issuer, login, password_of, read_orders, role_exists, template,
};

/// Display and Debug of `err` hold none of `secrets`.
fn assert_clean(err: &Error, secrets: &[&str]) {
    for secret in secrets {
        assert!(!err.to_string().contains(secret), "Display leaks: {err}");
        assert!(!format!("{err:?}").contains(secret), "Debug leaks: {err:?}");
    }
}

fn dsn(cluster: &Cluster, user: &str, password: &str, db: &str) -> SecretValue {
    SecretValue::from(
        cluster
            .dsn_for(user, password, db)
            .expose_secret()
            .to_owned(),
    )
}

fn no_warrant_roles(cluster: &Cluster) -> bool {
    cluster.sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'warrant\\_%' AND rolname <> 'warrant_admin'")
        == "0"
}

#[tokio::test]
async fn wrong_admin_password_is_an_authentication_error() {
    let cluster = cluster_with_app();
    let wrong = format!("wrong-{}", warrant_testkit::random_hex(8));
    let issuer = Issuer::new(&dsn(&cluster, ADMIN_USER, &wrong, "app"), read_orders()).unwrap();
    let err = issuer.issue("g1", in_minutes(5)).await.unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    assert!(err.to_string().contains("warrant_admin"), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", cluster.port())),
        "{err}"
    );
    assert_clean(&err, &[&wrong, cluster.admin_password().expose_secret()]);
}

#[tokio::test]
async fn unreachable_server_names_host_and_port() {
    let password = warrant_testkit::random_hex(12);
    let port = warrant_testkit::free_port();
    let admin = SecretValue::from(format!("postgres://adm:{password}@127.0.0.1:{port}/db"));
    let err = Issuer::new(&admin, read_orders())
        .unwrap()
        .issue("g1", in_minutes(5))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert_clean(&err, &[&password]);
}

#[tokio::test]
async fn tls_is_never_silently_downgraded() {
    // The test cluster has no TLS: asking for it must fail, not fall back.
    let cluster = cluster_with_app();
    let password = cluster.admin_password().expose_secret().to_owned();
    for mode in ["require", "verify-full"] {
        let admin = SecretValue::from(format!(
            "{}?sslmode={mode}",
            cluster.admin_dsn().expose_secret()
        ));
        let err = Issuer::new(&admin, read_orders())
            .unwrap()
            .issue("g1", in_minutes(5))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{mode}: {err:?}");
        assert!(
            err.to_string().to_lowercase().contains("tls"),
            "{mode}: {err}"
        );
        assert_clean(&err, &[&password]);
    }
}

#[tokio::test]
async fn admin_without_createrole_is_insufficient_privilege() {
    let cluster = cluster_with_app();
    let password = warrant_testkit::random_hex(12);
    cluster.sql(&format!("CREATE ROLE plain LOGIN PASSWORD '{password}'"));
    let issuer = Issuer::new(&dsn(&cluster, "plain", &password, "app"), read_orders()).unwrap();
    let err = issuer.issue("g1", in_minutes(5)).await.unwrap_err();
    assert!(
        matches!(err, Error::InsufficientPrivilege { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("\"plain\" may not create roles"),
        "{err}"
    );
    assert_clean(&err, &[&password, "SCRAM-SHA-256"]);
    assert!(no_warrant_roles(&cluster));
}

#[tokio::test]
async fn failing_template_statement_names_its_index_and_leaves_nothing() {
    let cluster = cluster_with_app();
    let issuer = issuer(
        &cluster,
        template(
            r#"
            database = "app"
            grants = [
                "GRANT USAGE ON SCHEMA public TO {{name}}",
                "GRANT SELECT ON public.no_such_table TO {{name}}",
            ]
            "#,
        ),
    );
    let err = issuer.issue("g1", in_minutes(5)).await.unwrap_err();
    match &err {
        Error::Statement {
            index,
            message,
            database,
            ..
        } => {
            assert_eq!((*index, database.as_str()), (1, "app"));
            assert!(message.contains("no_such_table"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_clean(
        &err,
        &[cluster.admin_password().expose_secret(), "SCRAM-SHA-256"],
    );
    assert!(no_warrant_roles(&cluster), "the transaction left a role");
}

#[tokio::test]
async fn template_cannot_lift_the_expiry_or_elevate() {
    let cluster = cluster_with_app();
    for statement in [
        "ALTER ROLE {{name}} VALID UNTIL 'infinity'",
        "ALTER ROLE {{name}} CREATEDB",
    ] {
        let issuer = issuer(
            &cluster,
            template(&format!("database = \"app\"\ngrants = [\"{statement}\"]")),
        );
        let err = issuer.issue("g1", in_minutes(5)).await.unwrap_err();
        assert!(matches!(err, Error::TemplateWeakened { .. }), "{err:?}");
        assert!(no_warrant_roles(&cluster));
    }
}

#[tokio::test]
async fn createrole_admin_that_is_not_superuser_can_issue_and_revoke() {
    // The recommended setup: a dedicated CREATEROLE admin, not a superuser.
    let cluster = cluster_with_app();
    let password = warrant_testkit::random_hex(12);
    cluster.sql(&format!(
        "CREATE ROLE broker LOGIN CREATEROLE PASSWORD '{password}'"
    ));
    cluster.sql_in("app", "ALTER TABLE orders OWNER TO broker; GRANT USAGE, CREATE ON SCHEMA public TO broker WITH GRANT OPTION");
    let template = template(
        r#"
        database = "app"
        grants = [
            "GRANT USAGE, CREATE ON SCHEMA public TO {{name}}",
            "GRANT SELECT ON public.orders TO {{name}}",
        ]
        on_drop = { action = "reassign", to = "broker" }
        "#,
    );
    let issuer = Issuer::new(&dsn(&cluster, "broker", &password, "app"), template).unwrap();
    let issued = issuer.issue("g1", in_minutes(5)).await.unwrap();
    let session = login(&issued.dsn).await.unwrap();
    assert_eq!(
        session
            .query("SELECT * FROM orders", &[])
            .await
            .unwrap()
            .len(),
        2
    );
    session
        .batch_execute("CREATE TABLE agent_table (x int)")
        .await
        .unwrap();
    assert!(issuer.revoke(&issued.role).await.unwrap());
    assert!(!role_exists(&cluster, &issued.role));
    assert_eq!(
        cluster.sql_in(
            "app",
            "SELECT tableowner FROM pg_tables WHERE tablename = 'agent_table'"
        ),
        "broker"
    );
    let _ = password_of(&issued.dsn);
}
