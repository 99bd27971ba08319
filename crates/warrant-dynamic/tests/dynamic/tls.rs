//! The admin connection over TLS (rustls), with libpq's `sslmode` meanings.

use std::io::Write as _;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer as CertIssuer, KeyPair,
    KeyUsagePurpose,
};
use secrecy::ExposeSecret;
use warrant_dynamic::Error;
use warrant_dynamic::postgres::Issuer;
use warrant_secret::SecretValue;
use warrant_testkit::postgres::{ADMIN_USER, Cluster};

use crate::{in_minutes, template};

/// A CA: its PEM and an issuer for leaves.
fn ca(name: &str) -> (String, CertIssuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, CertIssuer::new(params, key))
}

/// Fails the template unless the admin connection runs over TLS.
fn only_over_tls() -> warrant_dynamic::postgres::RoleTemplate {
    template(
        r#"
        grants = ["""DO $$ BEGIN
            IF NOT (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) THEN
                RAISE EXCEPTION 'admin connection without tls';
            END IF;
        END $$ -- {{name}}"""]
        "#,
    )
}

#[tokio::test]
async fn sslmodes_follow_libpq_and_never_fall_back() {
    let (ca_pem, authority) = ca("warrant test CA");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &authority)
        .unwrap();
    let cluster = Cluster::start_with_tls(&leaf.pem(), &leaf_key.serialize_pem());
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    ca_file.write_all(ca_pem.as_bytes()).unwrap();
    let (other_pem, _) = ca("another CA");
    let mut other_file = tempfile::NamedTempFile::new().unwrap();
    other_file.write_all(other_pem.as_bytes()).unwrap();

    let password = cluster.admin_password().expose_secret().to_owned();
    let admin = |host: &str, query: &str| {
        SecretValue::from(format!(
            "postgres://{ADMIN_USER}:{password}@{host}:{}/postgres?{query}",
            cluster.port()
        ))
    };
    let root = ca_file.path().display().to_string();
    let issue = |dsn: SecretValue| async move {
        let issuer = Issuer::new(&dsn, only_over_tls())?;
        let issued = issuer.issue("tls", in_minutes(5)).await?;
        issuer.revoke(&issued.role).await?;
        Ok::<_, Error>(issued)
    };

    // verify-full: chain and name checked.
    let issued = issue(admin(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    ))
    .await
    .unwrap();
    let dsn = std::str::from_utf8(issued.dsn.expose_secret())
        .unwrap()
        .to_owned();
    assert!(
        dsn.contains("sslmode=verify-full&sslrootcert="),
        "the issued DSN keeps the TLS settings"
    );
    // verify-ca: the name may differ.
    issue(admin(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={root}"),
    ))
    .await
    .unwrap();
    // require: encrypted, server not authenticated (libpq).
    issue(admin("127.0.0.1", "sslmode=require")).await.unwrap();

    // The template's check is real: plaintext fails it.
    let plain = issue(admin("127.0.0.1", "sslmode=disable"))
        .await
        .unwrap_err();
    assert!(
        plain.to_string().contains("admin connection without tls"),
        "{plain}"
    );

    // Refused: wrong name under verify-full, unknown issuer under verify-ca.
    let wrong_name = issue(admin(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    ))
    .await
    .unwrap_err();
    let other = other_file.path().display();
    let wrong_ca = issue(admin(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={other}"),
    ))
    .await
    .unwrap_err();
    for err in [wrong_name, wrong_ca] {
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert!(err.to_string().contains("TLS handshake"), "{err}");
        assert!(!err.to_string().contains(&password), "{err}");
        assert!(!format!("{err:?}").contains(&password), "{err:?}");
    }
}
