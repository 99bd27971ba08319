//! warrant-dynamic against real PostgreSQL clusters (warrant-testkit).

mod errors;
mod issue;
mod revoke;
mod tls;

use secrecy::ExposeSecret;
use time::{Duration, OffsetDateTime};
use tokio_postgres::{Client, NoTls};
use warrant_dynamic::postgres::{Issuer, RoleTemplate};
use warrant_secret::SecretValue;
use warrant_testkit::postgres::Cluster;

/// A cluster with database `app` holding `orders` (2 rows) and `secrets`.
fn cluster_with_app() -> Cluster {
    let cluster = Cluster::start();
    cluster.create_database("app");
    cluster.sql_in(
        "app",
        "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2);
         CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ('x');",
    );
    cluster
}

fn admin(cluster: &Cluster) -> SecretValue {
    SecretValue::from(cluster.admin_dsn().expose_secret().to_owned())
}

fn template(toml_text: &str) -> RoleTemplate {
    toml::from_str(toml_text).expect("template TOML")
}

/// SELECT on `app.orders`, nothing else.
fn read_orders() -> RoleTemplate {
    template(
        r#"
        database = "app"
        grants = [
            "GRANT USAGE ON SCHEMA public TO {{name}}",
            "GRANT SELECT ON public.orders TO {{name}}",
        ]
        "#,
    )
}

fn issuer(cluster: &Cluster, template: RoleTemplate) -> Issuer {
    Issuer::new(&admin(cluster), template).expect("issuer")
}

fn in_minutes(minutes: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::minutes(minutes)
}

/// Logs in with an issued DSN.
async fn login(dsn: &SecretValue) -> Result<Client, tokio_postgres::Error> {
    let text = std::str::from_utf8(dsn.expose_secret()).expect("UTF-8 DSN");
    let (client, connection) = tokio_postgres::connect(text, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The password in an issued DSN (for asserting it never leaks).
fn password_of(dsn: &SecretValue) -> String {
    let text = std::str::from_utf8(dsn.expose_secret()).unwrap();
    let after_scheme = text.strip_prefix("postgres://").unwrap();
    let userinfo = after_scheme.split('@').next().unwrap();
    userinfo.split_once(':').unwrap().1.to_owned()
}

fn role_exists(cluster: &Cluster, role: &str) -> bool {
    cluster.sql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{role}'"
    )) == "1"
}
