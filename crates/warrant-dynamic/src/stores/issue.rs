//! Making, ending and sweeping the credentials of dynamic stores.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use warrant_secret::{SecretName, SecretValue};
use warrant_store::SecretStore as _;
use zeroize::Zeroizing;

use super::{StoreDef, Stores};
use crate::Error;
use crate::postgres::Issuer;

/// What the daemon keeps of a credential it made (durably, before it hands
/// the credential out): enough to end it after a restart. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// The grant it was made for.
    pub grant: String,
    /// The dynamic store.
    pub store: String,
    /// The store's role.
    pub role: String,
    /// How it was made.
    pub kind: CredentialKind,
    /// The login role (postgres) or the child token's accessor
    /// (openbao-database).
    pub login: String,
    /// When it stops working on its own (Unix ms): the grant's expiry.
    pub expires_ms: u64,
}

/// How a credential was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    /// A native PostgreSQL login role.
    Postgres,
    /// A database user of OpenBao's database engine, under a child token.
    OpenbaoDatabase,
}

/// A credential made for one grant.
pub struct Credential {
    /// What the daemon records of it.
    pub record: CredentialRecord,
    /// The user name (not secret).
    pub username: String,
    password: SecretValue,
    dsn: Option<SecretValue>,
    /// The child token, which revokes itself and its lease.
    token: Option<SecretString>,
}

impl Credential {
    /// The value a reference asks for: the connection string (no field),
    /// `username` or `password`.
    pub fn value(&self, field: Option<&str>) -> Result<SecretValue, Error> {
        match field {
            None => self
                .dsn
                .as_ref()
                .map(SecretValue::duplicate)
                .ok_or_else(|| Error::Reference {
                    reason: format!(
                        "{}/{} has no connection string: set dsn in its role, or use \
                         #username and #password",
                        self.record.store, self.record.role
                    ),
                }),
            Some("username") => Ok(SecretValue::from(self.username.as_bytes().to_vec())),
            Some("password") => Ok(self.password.duplicate()),
            Some(other) => Err(Error::Reference {
                reason: format!("a dynamic credential has no field #{other}"),
            }),
        }
    }
}

fn time_of(ms: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn now_ms() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn joined(e: tokio::task::JoinError) -> Error {
    Error::Reference {
        reason: format!("a store call failed: {e}"),
    }
}

impl Stores {
    /// Makes a credential of `store`'s `role` for `grant`, which stops
    /// working on its own at `expires_ms`. The caller records it durably
    /// and ends it with [`Stores::revoke`] when the grant ends.
    pub async fn issue(
        self: &std::sync::Arc<Self>,
        store: &str,
        role: &str,
        grant: &str,
        expires_ms: u64,
    ) -> Result<Credential, Error> {
        match self.config.stores.get(store) {
            Some(StoreDef::Postgres { .. }) => {
                let issuer = self.issuer(store, role).await?;
                let issued = issuer.issue(grant, time_of(expires_ms)).await?;
                Ok(Credential {
                    record: CredentialRecord {
                        grant: grant.to_owned(),
                        store: store.to_owned(),
                        role: role.to_owned(),
                        kind: CredentialKind::Postgres,
                        login: issued.role.clone(),
                        expires_ms,
                    },
                    username: issued.role,
                    password: issued.password,
                    dsn: Some(issued.dsn),
                    token: None,
                })
            }
            Some(StoreDef::OpenBaoDatabase { store: kv, roles }) => {
                let spec = roles[role].clone();
                let bao = std::sync::Arc::clone(self.kv(kv).map_err(|source| Error::Store {
                    what: format!("cannot make a credential of {store}/{role}"),
                    source,
                })?);
                let (grant, store, role) = (grant.to_owned(), store.to_owned(), role.to_owned());
                tokio::task::spawn_blocking(move || {
                    let ttl = Duration::from_millis(expires_ms.saturating_sub(now_ms()));
                    if ttl < Duration::from_secs(1) {
                        return Err(Error::Reference {
                            reason: format!("grant {grant} expires too soon for a credential"),
                        });
                    }
                    let meta = BTreeMap::from([("warrant_grant".to_owned(), grant.clone())]);
                    let policies: Vec<&str> = spec.policies.iter().map(String::as_str).collect();
                    let what = format!("cannot make a credential of {store}/{role}");
                    let child =
                        bao.create_child_token(&policies, ttl, &meta)
                            .map_err(|source| Error::Store {
                                what: what.clone(),
                                source,
                            })?;
                    let creds = match bao.read_database_creds(&child.token, &spec.role) {
                        Ok(creds) => creds,
                        Err(source) => {
                            let _ = bao.revoke_self(&child.token);
                            return Err(Error::Store { what, source });
                        }
                    };
                    let password =
                        SecretValue::from(creds.password.expose_secret().as_bytes().to_vec());
                    let dsn = spec
                        .dsn
                        .as_deref()
                        .map(|t| render_dsn(t, &creds.username, creds.password.expose_secret()));
                    Ok(Credential {
                        record: CredentialRecord {
                            grant,
                            store,
                            role,
                            kind: CredentialKind::OpenbaoDatabase,
                            login: child.accessor,
                            expires_ms,
                        },
                        username: creds.username,
                        password,
                        dsn,
                        token: Some(child.token),
                    })
                })
                .await
                .map_err(joined)?
            }
            _ => Err(Error::Reference {
                reason: format!("{store} is not a dynamic store"),
            }),
        }
    }

    /// Ends a credential: drops the role and its sessions, or revokes the
    /// child token and its lease. One already gone is fine. `made` is the
    /// credential itself when this daemon still holds it.
    pub async fn revoke(
        self: &std::sync::Arc<Self>,
        record: &CredentialRecord,
        made: Option<&Credential>,
    ) -> Result<(), Error> {
        match record.kind {
            CredentialKind::Postgres => {
                let issuer = self.issuer(&record.store, &record.role).await?;
                issuer.revoke(&record.login).await.map(|_| ())
            }
            CredentialKind::OpenbaoDatabase => {
                let Some(StoreDef::OpenBaoDatabase { store: kv, .. }) =
                    self.config.stores.get(&record.store)
                else {
                    return Err(Error::Reference {
                        reason: format!("store {} is gone from stores.toml", record.store),
                    });
                };
                let bao = std::sync::Arc::clone(self.kv(kv).map_err(|source| Error::Store {
                    what: format!("cannot end the credential {}", record.login),
                    source,
                })?);
                let token = made.and_then(|c| c.token.clone());
                let accessor = record.login.clone();
                tokio::task::spawn_blocking(move || {
                    // The token itself first (no privilege needed); by
                    // accessor when this daemon lost it (a restart).
                    if let Some(token) = token
                        && bao.revoke_self(&token).is_ok()
                    {
                        return Ok(());
                    }
                    bao.revoke_accessor(&accessor)
                        .map_err(|source| Error::Store {
                            what: format!("cannot revoke the token {accessor}"),
                            source,
                        })
                })
                .await
                .map_err(joined)?
            }
        }
    }

    /// After a crash: drops every role warrant made in each postgres store
    /// that no record in `live` holds (made just before a crash, or whose
    /// grant has ended). Returns the roles dropped.
    pub async fn sweep(
        self: &std::sync::Arc<Self>,
        live: &[CredentialRecord],
    ) -> Result<Vec<String>, Error> {
        let mut dropped = Vec::new();
        for (name, def) in &self.config.stores {
            let StoreDef::Postgres { roles, .. } = def else {
                continue;
            };
            let Some(role) = roles.keys().next() else {
                continue;
            };
            let keep: Vec<String> = live
                .iter()
                .filter(|r| r.kind == CredentialKind::Postgres && &r.store == name)
                .map(|r| r.login.clone())
                .collect();
            let swept = self.issuer(name, role).await?.sweep(&keep).await?;
            dropped.extend(swept.dropped);
            if let Some((role, error)) = swept.failed.into_iter().next() {
                return Err(Error::Reference {
                    reason: format!("cannot drop the leftover role {role}: {error}"),
                });
            }
        }
        Ok(dropped)
    }

    /// An issuer for a postgres store's role, with its admin connection
    /// string read from whichever store holds it.
    async fn issuer(self: &std::sync::Arc<Self>, store: &str, role: &str) -> Result<Issuer, Error> {
        let Some(StoreDef::Postgres { admin, roles }) = self.config.stores.get(store) else {
            return Err(Error::Reference {
                reason: format!("{store} is not a postgres store"),
            });
        };
        let Some(template) = roles.get(role).cloned() else {
            return Err(Error::Reference {
                reason: format!("store {store} has no role {role:?}"),
            });
        };
        let (stores, admin) = (std::sync::Arc::clone(self), admin.clone());
        let dsn = tokio::task::spawn_blocking(move || read(&stores, &admin))
            .await
            .map_err(joined)??;
        Issuer::new(&dsn, template)
    }
}

fn read(stores: &Stores, name: &SecretName) -> Result<SecretValue, Error> {
    stores.get(name).map_err(|source| Error::Store {
        what: format!("cannot read the admin connection string {name}"),
        source,
    })
}

/// Fills `{{username}}` and `{{password}}`, percent-encoded.
fn render_dsn(template: &str, username: &str, password: &str) -> SecretValue {
    let mut out = Zeroizing::new(String::with_capacity(
        template.len() + 3 * password.len() + 64,
    ));
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(tail) = after.strip_prefix("{{username}}") {
            let _ = write!(out, "{}", utf8_percent_encode(username, NON_ALPHANUMERIC));
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{{password}}") {
            let _ = write!(out, "{}", utf8_percent_encode(password, NON_ALPHANUMERIC));
            rest = tail;
        } else {
            out.push_str("{{");
            rest = &after[2..];
        }
    }
    out.push_str(rest);
    SecretValue::from(out.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_templates_are_filled_and_encoded() {
        let dsn = render_dsn(
            "postgres://{{username}}:{{password}}@h:5432/app",
            "v-x",
            "p@ss/w",
        );
        assert_eq!(
            dsn.expose_secret(),
            b"postgres://v%2Dx:p%40ss%2Fw@h:5432/app"
        );
        let odd = render_dsn("a{{b}}{{password}}", "u", "p");
        assert_eq!(odd.expose_secret(), b"a{{b}}p");
    }
}
