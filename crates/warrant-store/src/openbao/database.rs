//! Database credentials from the database secrets engine, minted under a
//! grant's child token so that revoking the token drops the user.

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroize;

use super::OpenBaoStore;
use super::http::{self, Call};
use crate::Error;

/// A database user minted for one grant.
pub struct DatabaseCreds {
    /// The user name (not secret: it shows in the database's own logs).
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// The lease, revoked with the child token that read it.
    pub lease_id: String,
    /// How long the lease lasts unless renewed or revoked.
    pub lease_duration: Duration,
}

impl fmt::Debug for DatabaseCreds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseCreds")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("lease_id", &self.lease_id)
            .field("lease_duration", &self.lease_duration)
            .finish()
    }
}

#[derive(Deserialize)]
struct CredsReply {
    lease_id: String,
    #[serde(default)]
    lease_duration: u64,
    data: Creds,
}

#[derive(Deserialize)]
struct Creds {
    username: String,
    password: String,
}

impl OpenBaoStore {
    /// Reads `<database_mount>/creds/<role>` with `child_token`, so the
    /// lease belongs to that token and dies with it
    /// ([`OpenBaoStore::revoke_self`]). The token's policy needs `read` on
    /// that path.
    pub fn read_database_creds(
        &self,
        child_token: &SecretString,
        role: &str,
    ) -> Result<DatabaseCreds, Error> {
        let role = super::config::path("database role", role)?;
        let mut call = Call::new(
            Method::GET,
            format!("{}/creds/{role}", self.database_mount),
            "read",
        );
        call.token = Some(child_token);
        let reply = self.client.send(&call)?;
        let creds: CredsReply = http::expect_ok(&self.client, &call, &reply, "credentials")?;
        let CredsReply {
            lease_id,
            lease_duration,
            data: Creds {
                username,
                mut password,
            },
        } = creds;
        let secret = SecretString::from(password.as_str());
        password.zeroize();
        Ok(DatabaseCreds {
            username,
            password: secret,
            lease_id,
            lease_duration: Duration::from_secs(lease_duration),
        })
    }
}
