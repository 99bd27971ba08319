//! Admin connections, and turning client errors into [`Error`]s that carry
//! no secret.

use std::error::Error as _;

use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

use super::dsn::{AdminDsn, TlsMode};
use super::tls;
use crate::Error;

/// Connects as `dsn`'s user to `database`, with `dsn`'s TLS settings. The
/// connection runs on a spawned task, so this needs a Tokio runtime; it
/// ends when the client is dropped ([`Client::is_closed`] tells a lost one).
///
/// tokio-postgres keeps its own copy of the admin password in its `Config`,
/// which it does not wipe; the config lives only for this call.
pub async fn connect(dsn: &AdminDsn, database: &str) -> Result<Client, Error> {
    let mut config = Config::new();
    config
        .host(&dsn.host)
        .port(dsn.port)
        .user(&dsn.user)
        .dbname(database)
        .application_name("warrant")
        .connect_timeout(dsn.connect_timeout);
    if let Some(password) = &dsn.password {
        config.password(password.expose_secret());
    }
    let result = if dsn.tls == TlsMode::Disable {
        config.ssl_mode(SslMode::Disable);
        match config.connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                Ok(client)
            }
            Err(e) => Err(e),
        }
    } else {
        config.ssl_mode(SslMode::Require);
        match config.connect(tls::connector(dsn)?).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                Ok(client)
            }
            Err(e) => Err(e),
        }
    };
    drop(config);
    result.map_err(|e| connect_error(dsn, database, &e))
}

fn connect_error(dsn: &AdminDsn, database: &str, e: &tokio_postgres::Error) -> Error {
    let reason = describe(e, dsn);
    let auth = matches!(
        e.code(),
        Some(&SqlState::INVALID_PASSWORD) | Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
    ) || e.to_string().starts_with("authentication error");
    if auth {
        Error::Authentication {
            user: dsn.user.clone(),
            host: dsn.host.clone(),
            port: dsn.port,
            reason,
        }
    } else {
        Error::Connect {
            host: dsn.host.clone(),
            port: dsn.port,
            database: database.to_owned(),
            reason,
        }
    }
}

/// The server's message, or the client's error and its causes, with the
/// password scrubbed out should it ever appear.
pub fn describe(e: &tokio_postgres::Error, dsn: &AdminDsn) -> String {
    let text = match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.contains(&cause_text) {
                    text.push_str(": ");
                    text.push_str(&cause_text);
                }
                source = cause.source();
            }
            text
        }
    };
    match &dsn.password {
        Some(password) => scrub(text, &[password.expose_secret()]),
        None => text,
    }
}

/// Replaces every occurrence of each (non-empty) secret in `text`.
pub(crate) fn scrub(text: String, secrets: &[&[u8]]) -> String {
    let mut text = text;
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if let Ok(secret) = std::str::from_utf8(secret) {
            if text.contains(secret) {
                text = text.replace(secret, "[REDACTED]");
            }
        }
    }
    text
}

/// Whether the error is the server's `code`.
pub(crate) fn is(e: &tokio_postgres::Error, code: &SqlState) -> bool {
    e.code() == Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_secrets() {
        let text = "bad token abc123 near abc123".to_owned();
        assert_eq!(
            scrub(text, &[b"abc123", b""]),
            "bad token [REDACTED] near [REDACTED]"
        );
    }
}
