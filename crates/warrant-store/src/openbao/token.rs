//! Child tokens: one per grant, with the grant's TTL, revoked with it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroize;

use super::OpenBaoStore;
use super::http::{self, Call, Wiped};
use crate::Error;

/// A token minted for one grant. Its `token` is a credential: hand it only
/// to what the grant covers, and revoke it when the grant ends.
pub struct ChildToken {
    /// The token itself.
    pub token: SecretString,
    /// Its accessor: names the token for lookup and revocation without
    /// being usable to authenticate. Record it to sweep after a crash.
    pub accessor: String,
    /// Its lifetime, as the server granted it.
    pub ttl: Duration,
}

impl fmt::Debug for ChildToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildToken")
            .field("token", &"[REDACTED]")
            .field("accessor", &self.accessor)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// What the server knows about a token, looked up by accessor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The accessor.
    pub accessor: String,
    /// Its policies.
    pub policies: Vec<String>,
    /// Time left.
    pub ttl: Duration,
    /// When it expires (RFC 3339), if it does.
    pub expire_time: Option<String>,
    /// The metadata given at creation.
    pub meta: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct CreateReply {
    auth: CreateAuth,
}

#[derive(Deserialize)]
struct CreateAuth {
    client_token: String,
    accessor: String,
    #[serde(default)]
    lease_duration: u64,
}

#[derive(Deserialize)]
struct LookupReply {
    data: Lookup,
}

#[derive(Deserialize)]
struct Lookup {
    accessor: String,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    expire_time: Option<String>,
    #[serde(default)]
    meta: Option<BTreeMap<String, String>>,
}

/// Seconds, rounded up, at least 1: a TTL of 0 would mean "the default".
fn seconds(ttl: Duration) -> String {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    format!("{}s", secs.max(1))
}

impl OpenBaoStore {
    /// Creates a child of the store's token with `policies` (plus `default`,
    /// which lets it revoke itself), living `ttl` at most (not renewable),
    /// carrying `meta` (the grant's id, say; not secret).
    ///
    /// The policies must be a subset of the store's token's unless that
    /// token may `sudo` on `auth/token/create`. A child dies with its parent:
    /// with AppRole, a child cannot outlive the login token that made it.
    pub fn create_child_token(
        &self,
        policies: &[&str],
        ttl: Duration,
        meta: &BTreeMap<String, String>,
    ) -> Result<ChildToken, Error> {
        let mut call = Call::new(Method::POST, "auth/token/create".to_owned(), "update");
        call.body = Some(Wiped::json(&serde_json::json!({
            "policies": policies,
            "meta": meta,
            "ttl": seconds(ttl),
            "explicit_max_ttl": seconds(ttl),
            "renewable": false,
            "display_name": "warrant",
        })));
        let reply = self.client.send(&call)?;
        let created: CreateReply = http::expect_ok(&self.client, &call, &reply, "token reply")?;
        let CreateAuth {
            mut client_token,
            accessor,
            lease_duration,
        } = created.auth;
        let token = SecretString::from(client_token.as_str());
        client_token.zeroize();
        Ok(ChildToken {
            token,
            accessor,
            ttl: Duration::from_secs(lease_duration),
        })
    }

    /// Revokes `child_token` and every lease it created (database users
    /// included), using the token itself. A token that has already expired
    /// or been revoked is refused with [`Error::PermissionDenied`]: it is
    /// dead either way; use [`OpenBaoStore::revoke_accessor`] to be sure.
    pub fn revoke_self(&self, child_token: &SecretString) -> Result<(), Error> {
        let mut call = Call::new(Method::POST, "auth/token/revoke-self".to_owned(), "update");
        call.token = Some(child_token);
        let reply = self.client.send(&call)?;
        if !reply.ok() {
            return Err(self.client.server_error(&call, &reply, reply.status));
        }
        Ok(())
    }

    /// Revokes the token named by `accessor`, with its children and leases
    /// (the sweep after a crash). A token already gone is not an error.
    pub fn revoke_accessor(&self, accessor: &str) -> Result<(), Error> {
        let call = self.accessor_call("auth/token/revoke-accessor", accessor);
        let reply = self.client.send(&call)?;
        if reply.ok() || gone(&reply) {
            return Ok(());
        }
        Err(self.client.server_error(&call, &reply, reply.status))
    }

    /// What the server knows about the token named by `accessor`; `None`
    /// once it has expired or been revoked.
    pub fn lookup_accessor(&self, accessor: &str) -> Result<Option<TokenInfo>, Error> {
        let call = self.accessor_call("auth/token/lookup-accessor", accessor);
        let reply = self.client.send(&call)?;
        if gone(&reply) {
            return Ok(None);
        }
        let found: LookupReply = http::expect_ok(&self.client, &call, &reply, "token lookup")?;
        let data = found.data;
        Ok(Some(TokenInfo {
            accessor: data.accessor,
            policies: data.policies,
            ttl: Duration::from_secs(data.ttl),
            expire_time: data.expire_time,
            meta: data.meta.unwrap_or_default(),
        }))
    }

    fn accessor_call(&self, path: &str, accessor: &str) -> Call<'static> {
        let mut call = Call::new(Method::POST, path.to_owned(), "update");
        call.body = Some(Wiped::json(&serde_json::json!({ "accessor": accessor })));
        call
    }
}

/// The server's answer for an accessor it does not know (any more).
fn gone(reply: &http::Reply) -> bool {
    matches!(reply.status, 400 | 404) && reply.errors().contains("invalid accessor")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_in_whole_seconds_rounded_up() {
        assert_eq!(seconds(Duration::from_secs(900)), "900s");
        assert_eq!(seconds(Duration::from_millis(1500)), "2s");
        assert_eq!(seconds(Duration::ZERO), "1s");
    }

    #[test]
    fn debug_hides_the_token() {
        let child = ChildToken {
            token: SecretString::from("s.fake-child-token"),
            accessor: "acc".to_owned(),
            ttl: Duration::from_secs(60),
        };
        assert!(!format!("{child:?}").contains("fake-child-token"));
    }
}
