//! The local store and the named stores of `stores.toml`, behind one
//! [`SecretStore`]: a name's first segment picks its store.
//!
//! - `db/dev/url`: the local store (no named store is called `db`).
//! - `team/app/db`, `team/app/db#password`: KV path `app/db` of the
//!   OpenBao store `team` (field `value`, or the field named).
//! - `pg/readonly`, `pg/readonly#password`: a dynamic credential, made for
//!   a grant ([`Stores::issue`]); reading one as a stored secret is refused.
//!
//! A named store shadows local names under its first segment; `warrant
//! secret set` refuses to create such names.

mod config;
mod issue;

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::SecretString;
use warrant_secret::{SecretName, SecretValue};
use warrant_store::openbao::OpenBaoStore;
use warrant_store::{Error as StoreError, SecretMeta, SecretStore};

pub use config::{BaoRole, STORES_FILE, StoreDef, StoresConfig};
pub use issue::{Credential, CredentialKind, CredentialRecord};

use crate::Error;

/// Where a name lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The local store, under this name.
    Local,
    /// An OpenBao KV store: its name, and the name inside it.
    Kv(String, SecretName),
    /// A dynamic store: its name, the role, and the field asked for.
    Dynamic {
        /// The store.
        store: String,
        /// The role.
        role: String,
        /// `None` for the connection string, or `username`, `password`.
        field: Option<String>,
    },
}

/// The local store and the named ones.
pub struct Stores {
    local: Arc<dyn SecretStore + Send + Sync>,
    config: StoresConfig,
    /// Each OpenBao store, or why it could not be opened: a store that is
    /// misconfigured fails the names that reach it, not every command.
    kv: BTreeMap<String, Result<Arc<OpenBaoStore>, String>>,
}

impl Stores {
    /// Opens the named stores of `config`: each OpenBao store logs in with
    /// the credential it names in `local` (read now; no network yet). A
    /// store that cannot be opened is kept with its error, returned by every
    /// use of a name in it.
    pub fn open(local: Arc<dyn SecretStore + Send + Sync>, config: StoresConfig) -> Self {
        let mut kv = BTreeMap::new();
        for (name, def) in &config.stores {
            if let StoreDef::OpenBao { credential, config } = def {
                let opened = open_openbao(local.as_ref(), name, credential, config)
                    .map(Arc::new)
                    .map_err(|e| e.to_string());
                kv.insert(name.clone(), opened);
            }
        }
        Self { local, config, kv }
    }

    /// Only the local store.
    pub fn local_only(local: Arc<dyn SecretStore + Send + Sync>) -> Self {
        Self {
            local,
            config: StoresConfig::default(),
            kv: BTreeMap::new(),
        }
    }

    /// The local store alone.
    pub fn local(&self) -> &(dyn SecretStore + Send + Sync) {
        self.local.as_ref()
    }

    /// `STORE/ROLE` for every role of every dynamic store.
    pub fn dynamic_names(&self) -> Vec<SecretName> {
        let mut out = Vec::new();
        for (store, def) in &self.config.stores {
            let roles: Vec<&String> = match def {
                StoreDef::Postgres { roles, .. } => roles.keys().collect(),
                StoreDef::OpenBaoDatabase { roles, .. } => roles.keys().collect(),
                StoreDef::OpenBao { .. } => continue,
            };
            out.extend(
                roles
                    .into_iter()
                    .filter_map(|role| SecretName::new(format!("{store}/{role}")).ok()),
            );
        }
        out
    }

    /// The configuration the stores were opened with.
    pub fn config(&self) -> &StoresConfig {
        &self.config
    }

    /// Where `name` lives.
    pub fn route(&self, name: &SecretName) -> Result<Route, Error> {
        let Some((first, rest)) = name.as_str().split_once('/') else {
            return Ok(Route::Local);
        };
        match self.config.stores.get(first) {
            None => Ok(Route::Local),
            Some(StoreDef::OpenBao { .. }) => {
                let inner = SecretName::new(rest).map_err(|e| Error::Reference {
                    reason: format!("{name}: {e}"),
                })?;
                Ok(Route::Kv(first.to_owned(), inner))
            }
            Some(StoreDef::Postgres { roles, .. }) => self.dynamic(name, first, rest, roles),
            Some(StoreDef::OpenBaoDatabase { roles, .. }) => self.dynamic(name, first, rest, roles),
        }
    }

    fn dynamic<T>(
        &self,
        name: &SecretName,
        store: &str,
        rest: &str,
        roles: &BTreeMap<String, T>,
    ) -> Result<Route, Error> {
        let (role, field) = match rest.split_once('#') {
            Some((role, field)) => (role, Some(field.to_owned())),
            None => (rest, None),
        };
        if !roles.contains_key(role) {
            return Err(Error::Reference {
                reason: format!(
                    "{name}: store {store} has no role {role:?} (it has: {})",
                    roles.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if let Some(field) = &field
            && !matches!(field.as_str(), "username" | "password")
        {
            return Err(Error::Reference {
                reason: format!(
                    "{name}: a dynamic credential has the fields #username and #password \
                     (or none, for its connection string)"
                ),
            });
        }
        Ok(Route::Dynamic {
            store: store.to_owned(),
            role: role.to_owned(),
            field,
        })
    }

    /// Whether `name` is made per grant rather than stored.
    pub fn is_dynamic(&self, name: &SecretName) -> bool {
        matches!(self.route(name), Ok(Route::Dynamic { .. }))
    }

    /// The OpenBao store `store`, or why it is unusable.
    pub(crate) fn kv(&self, store: &str) -> Result<&Arc<OpenBaoStore>, StoreError> {
        match self.kv.get(store) {
            Some(Ok(kv)) => Ok(kv),
            Some(Err(reason)) => Err(StoreError::Config {
                reason: reason.clone(),
            }),
            None => Err(StoreError::Config {
                reason: format!("no OpenBao store named {store} in stores.toml"),
            }),
        }
    }
}

fn routed(e: Error) -> StoreError {
    StoreError::Config {
        reason: e.to_string(),
    }
}

fn no_fields(name: &SecretName) -> StoreError {
    StoreError::Config {
        reason: format!(
            "{name} names a field (#{}), and the local store keeps one value per secret; \
             fields exist in OpenBao stores",
            name.field().unwrap_or_default()
        ),
    }
}

fn dynamic_refused(name: &SecretName) -> StoreError {
    StoreError::Config {
        reason: format!(
            "{name} is a dynamic credential, made for one grant: use it under a grant \
             (`warrant run --grant ID`), not as a stored secret"
        ),
    }
}

impl SecretStore for Stores {
    fn get(&self, name: &SecretName) -> Result<SecretValue, StoreError> {
        match self.route(name).map_err(routed)? {
            Route::Local if name.field().is_some() => Err(no_fields(name)),
            Route::Local => self.local.get(name),
            Route::Kv(store, inner) => {
                let kv = self.kv(&store)?;
                match inner.field() {
                    Some(field) => {
                        let path =
                            SecretName::new(inner.path()).map_err(|e| StoreError::Config {
                                reason: e.to_string(),
                            })?;
                        kv.get_field(&path, field)
                    }
                    None => kv.get(&inner),
                }
            }
            Route::Dynamic { .. } => Err(dynamic_refused(name)),
        }
    }

    fn list(&self) -> Result<Vec<SecretMeta>, StoreError> {
        let mut all = self.local.list()?;
        for (store, kv) in &self.kv {
            let Ok(kv) = kv else {
                // Listed by name only when it can be reached.
                continue;
            };
            for mut meta in kv.list()? {
                meta.name = SecretName::new(format!("{store}/{}", meta.name)).map_err(|e| {
                    StoreError::Config {
                        reason: e.to_string(),
                    }
                })?;
                all.push(meta);
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    fn set(
        &self,
        name: &SecretName,
        value: &SecretValue,
        description: Option<&str>,
    ) -> Result<(), StoreError> {
        match self.route(name).map_err(routed)? {
            Route::Local if name.field().is_some() => Err(no_fields(name)),
            Route::Local => self.local.set(name, value, description),
            Route::Kv(store, inner) if inner.field().is_none() => {
                self.kv(&store)?.set(&inner, value, description)
            }
            Route::Kv(..) => Err(StoreError::Config {
                reason: format!("{name}: write the whole secret, not one field"),
            }),
            Route::Dynamic { .. } => Err(dynamic_refused(name)),
        }
    }

    fn set_many(
        &self,
        entries: &[(SecretName, SecretValue)],
        overwrite: bool,
    ) -> Result<(), StoreError> {
        // One store per batch: a batch across stores could not be undone.
        let mut routes = entries.iter().map(|(n, _)| self.route(n));
        match routes.next() {
            None => Ok(()),
            Some(Ok(Route::Local))
                if routes.all(|r| matches!(r, Ok(Route::Local)))
                    && entries.iter().all(|(n, _)| n.field().is_none()) =>
            {
                self.local.set_many(entries, overwrite)
            }
            _ => Err(StoreError::Config {
                reason: "a batch writes to the local store only; set named stores' secrets \
                         one by one"
                    .into(),
            }),
        }
    }

    fn remove(&self, name: &SecretName) -> Result<(), StoreError> {
        match self.route(name).map_err(routed)? {
            Route::Local => self.local.remove(name),
            Route::Kv(store, inner) if inner.field().is_none() => self.kv(&store)?.remove(&inner),
            Route::Kv(..) => Err(StoreError::Config {
                reason: format!("{name}: remove the whole secret, not one field"),
            }),
            Route::Dynamic { .. } => Err(dynamic_refused(name)),
        }
    }
}

/// Logs an OpenBao store in with the credential stored in `local`.
fn open_openbao(
    local: &(dyn SecretStore + Send + Sync),
    name: &str,
    credential: &SecretName,
    config: &warrant_store::openbao::OpenBaoConfig,
) -> Result<OpenBaoStore, Error> {
    let what = format!("cannot open the OpenBao store {name}");
    let token = local.get(credential).map_err(|source| Error::Store {
        what: format!("{what}: its credential {credential}"),
        source,
    })?;
    let text = std::str::from_utf8(token.expose_secret()).map_err(|_| Error::Reference {
        reason: format!("{what}: the credential {credential} is not text"),
    })?;
    OpenBaoStore::connect(config, SecretString::from(text.trim()))
        .map_err(|source| Error::Store { what, source })
}
