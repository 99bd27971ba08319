//! The OpenBao / HashiCorp Vault backend (feature `openbao`): a KV version 2
//! mount as a [`SecretStore`], and the token and database calls that
//! dynamic credentials need.
//!
//! - [`OpenBaoConfig`]: address, mount, prefix, namespace, CA file, auth;
//!   no secret in it. The token (or AppRole secret id) is handed to
//!   [`OpenBaoStore::connect`] as a `SecretString`.
//! - [`OpenBaoStore`]: the name `app/db` is the KV path `<prefix>/app/db`
//!   of the mount; its value is the field `value` (configurable; a value
//!   that is not UTF-8 goes base64-encoded to `value_base64`). Other fields
//!   of a multi-field secret are read with [`OpenBaoStore::get_field`],
//!   older versions with [`OpenBaoStore::get_version`].
//! - Child tokens and revocation ([`OpenBaoStore::create_child_token`],
//!   [`OpenBaoStore::revoke_self`], ...) and database credentials
//!   ([`OpenBaoStore::read_database_creds`]).
//!
//! The client is blocking (the trait is synchronous): call it from a plain
//! thread or `spawn_blocking`, never on an async runtime's worker. It never
//! follows a redirect nor goes through a proxy, so the token reaches only
//! the configured server; the token travels in a header marked sensitive.
//! Error messages name the address and the API path, never a token or a
//! value, and the server's own messages are left out of errors about
//! requests that carried a value. Request and reply bodies are held in
//! buffers wiped on drop; the HTTP stack's own buffers (hyper, rustls) are
//! beyond reach and are not.
//!
//! What KV cannot do: it has no transaction over several paths, so
//! [`SecretStore::set_many`] is not atomic for readers (see its notes), and
//! a description sits in the secret's `custom_metadata`, written just
//! after the value.
//!
//! ```no_run
//! use secrecy::SecretString;
//! use warrant_secret::SecretName;
//! use warrant_store::SecretStore;
//! use warrant_store::openbao::{OpenBaoConfig, OpenBaoStore};
//!
//! let config: OpenBaoConfig = serde_json::from_str(
//!     r#"{"address": "https://bao.example:8200", "auth": {"method": "token"}}"#,
//! )?;
//! let token = SecretString::from(std::env::var("BAO_TOKEN")?);
//! let store = OpenBaoStore::connect(&config, token)?;
//! let name = SecretName::new("app/db")?;
//! let password = store.get_field(&name, "password")?;
//! # drop(password);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod config;
mod database;
mod http;
mod kv;
mod tls;
mod token;

use std::collections::BTreeMap;
use std::fmt;

use reqwest::Method;
use secrecy::SecretString;
use serde_json::value::RawValue;
use warrant_secret::{SecretName, SecretValue};

pub use config::{OpenBaoAuth, OpenBaoConfig};
pub use database::DatabaseCreds;
pub use token::{ChildToken, TokenInfo};

use crate::{Error, SecretMeta, SecretStore};
use http::{Call, Client, Wiped};
use kv::{Cas, Metadata, Paths, WriteBody};

/// A KV version 2 mount of an OpenBao or Vault server.
pub struct OpenBaoStore {
    client: Client,
    paths: Paths,
    field: String,
    database_mount: String,
}

impl fmt::Debug for OpenBaoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenBaoStore")
            .field("address", &self.client.address)
            .field("mount", &self.paths.mount)
            .field("prefix", &self.paths.prefix)
            .finish_non_exhaustive()
    }
}

impl OpenBaoStore {
    /// A store for `config`. `credential` is the token (`auth = token`) or
    /// the AppRole secret id (`auth = approle`). Checks the configuration
    /// and reads the CA file; talks to the server only on first use.
    pub fn connect(config: &OpenBaoConfig, credential: SecretString) -> Result<Self, Error> {
        let checked = config.check()?;
        let client = Client::new(config, &checked, credential)?;
        Ok(Self {
            client,
            paths: Paths {
                mount: checked.mount,
                prefix: checked.prefix,
            },
            field: checked.field,
            database_mount: checked.database_mount,
        })
    }

    /// The server's address, as configured.
    pub fn address(&self) -> &str {
        &self.client.address
    }

    /// The field `field` of the latest version of `name`: a string field's
    /// text, or the JSON text of a number, boolean or object.
    pub fn get_field(&self, name: &SecretName, field: &str) -> Result<SecretValue, Error> {
        self.with_fields(name, None, |fields| match fields.get(field) {
            Some(raw) => kv::field_value(raw).map(Some),
            None => Ok(None),
        })?
        .ok_or_else(|| Error::MissingField {
            name: name.clone(),
            field: field.to_owned(),
        })
    }

    /// The value of `name` as it was in `version` (1 is the first write).
    pub fn get_version(&self, name: &SecretName, version: u64) -> Result<SecretValue, Error> {
        self.value(name, Some(version))
    }

    fn value(&self, name: &SecretName, version: Option<u64>) -> Result<SecretValue, Error> {
        self.with_fields(name, version, |fields| {
            kv::stored_value(fields, &self.field).transpose()
        })?
        .ok_or_else(|| Error::MissingField {
            name: name.clone(),
            field: self.field.clone(),
        })
    }

    /// Reads `name` (at `version`) and hands its fields to `f`, the reply
    /// body being wiped afterwards.
    fn with_fields<T>(
        &self,
        name: &SecretName,
        version: Option<u64>,
        f: impl FnOnce(&BTreeMap<String, &RawValue>) -> Result<T, String>,
    ) -> Result<T, Error> {
        let mut call = Call::new(Method::GET, self.paths.api("data", name.as_str()), "read");
        call.version = version;
        let reply = self.client.send(&call)?;
        if reply.status == 404 {
            return Err(not_found(name));
        }
        let bad = |reason| self.client.bad_reply(&call, reply.status, reason);
        if !reply.ok() {
            return Err(self.client.server_error(&call, &reply, reply.status));
        }
        let data: kv::DataReply<'_> = reply.body.parse("secret reply").map_err(bad)?;
        let raw = data.fields_raw().ok_or_else(|| not_found(name))?;
        let fields = kv::fields(raw).map_err(bad)?;
        f(&fields).map_err(bad)
    }

    /// The metadata of `name`, `None` when the server has none.
    fn metadata(&self, name: &SecretName) -> Result<Option<Metadata>, Error> {
        let call = Call::new(
            Method::GET,
            self.paths.api("metadata", name.as_str()),
            "read",
        );
        let reply = self.client.send(&call)?;
        if reply.status == 404 {
            return Ok(None);
        }
        let meta: kv::MetadataReply = http::expect_ok(&self.client, &call, &reply, "metadata")?;
        Ok(Some(meta.data))
    }

    /// Writes `data` (a JSON object) as the new version of `name`; with
    /// `cas`, only over that version. Returns the version written.
    fn write_raw(
        &self,
        name: &SecretName,
        data: &impl serde::Serialize,
        cas: Option<u64>,
    ) -> Result<u64, Error> {
        let mut call = Call::new(
            Method::POST,
            self.paths.api("data", name.as_str()),
            "create",
        );
        call.body = Some(Wiped::json(&WriteBody {
            options: cas.map(|cas| Cas { cas }),
            data,
        }));
        call.carries_value = true;
        let reply = self.client.send(&call)?;
        if reply.status == 400 && reply.errors().contains("check-and-set") {
            return Err(Error::Conflict { name: name.clone() });
        }
        let written: kv::WriteReply = http::expect_ok(&self.client, &call, &reply, "write reply")?;
        Ok(written.data.version)
    }

    fn write(
        &self,
        name: &SecretName,
        value: &SecretValue,
        cas: Option<u64>,
    ) -> Result<u64, Error> {
        let (key, text) = kv::encode(&self.field, value);
        self.write_raw(name, &BTreeMap::from([(key, text.as_str())]), cas)
    }

    fn set_description(&self, name: &SecretName, description: &str) -> Result<(), Error> {
        let mut call = Call::new(
            Method::PATCH,
            self.paths.api("metadata", name.as_str()),
            "patch",
        );
        call.body = Some(Wiped::json(&serde_json::json!({
            "custom_metadata": { "description": description }
        })));
        call.merge_patch = true;
        let reply = self.client.send(&call)?;
        if !reply.ok() {
            return Err(self.client.server_error(&call, &reply, reply.status));
        }
        Ok(())
    }

    /// Deletes `name` with every version and its metadata.
    fn delete_all(&self, name: &SecretName) -> Result<(), Error> {
        let call = Call::new(
            Method::DELETE,
            self.paths.api("metadata", name.as_str()),
            "delete",
        );
        let reply = self.client.send(&call)?;
        if !reply.ok() && reply.status != 404 {
            return Err(self.client.server_error(&call, &reply, reply.status));
        }
        Ok(())
    }

    /// Every key under `folder` (relative to the prefix, `""` or ending in
    /// `/`), depth first.
    fn walk(&self, folder: &str, out: &mut Vec<String>) -> Result<(), Error> {
        let mut call = Call::new(Method::GET, self.paths.api("metadata", folder), "list");
        call.query = "?list=true";
        let reply = self.client.send(&call)?;
        if reply.status == 404 {
            return Ok(());
        }
        let list: kv::ListReply = http::expect_ok(&self.client, &call, &reply, "listing")?;
        for key in list.data.keys {
            let path = format!("{folder}{key}");
            if key.ends_with('/') {
                self.walk(&path, out)?;
            } else {
                out.push(path);
            }
        }
        Ok(())
    }
}

fn not_found(name: &SecretName) -> Error {
    Error::NotFound { name: name.clone() }
}

impl SecretStore for OpenBaoStore {
    fn get(&self, name: &SecretName) -> Result<SecretValue, Error> {
        self.value(name, None)
    }

    /// Walks the mount (under the prefix) with LIST, then reads each
    /// secret's metadata: one request per folder and per secret. Paths that
    /// are not valid secret names, and secrets whose latest version is
    /// deleted, are left out.
    fn list(&self) -> Result<Vec<SecretMeta>, Error> {
        let mut paths = Vec::new();
        self.walk("", &mut paths)?;
        let mut metas = Vec::new();
        for path in paths {
            let Ok(name) = SecretName::new(path) else {
                continue;
            };
            if let Some(meta) = self.metadata(&name)?.filter(Metadata::live) {
                metas.push(meta.meta(name));
            }
        }
        metas.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(metas)
    }

    /// Writes a new version (last writer wins, without check-and-set: a
    /// mount with `cas_required` refuses it); then, with a description,
    /// sets `custom_metadata.description` (capability `patch` on the
    /// metadata path).
    fn set(
        &self,
        name: &SecretName,
        value: &SecretValue,
        description: Option<&str>,
    ) -> Result<(), Error> {
        self.write(name, value, None)?;
        if let Some(description) = description {
            self.set_description(name, description)?;
        }
        Ok(())
    }

    /// KV has no transaction over several paths. This checks every name
    /// first (nothing is written if one exists and `overwrite` is false),
    /// then writes each with check-and-set against the version it saw; on
    /// a failure it undoes the writes already made (a new secret is
    /// deleted, a replaced one is restored from its previous version and
    /// the batch's version destroyed). Readers may see part of the batch
    /// while it runs, and a crash in the middle leaves that part written.
    /// Undo failures are reported as [`Error::PartialBatch`].
    fn set_many(
        &self,
        entries: &[(SecretName, SecretValue)],
        overwrite: bool,
    ) -> Result<(), Error> {
        batch::set_many(self, entries, overwrite)
    }

    /// Deletes the secret's metadata and every version.
    fn remove(&self, name: &SecretName) -> Result<(), Error> {
        match self.metadata(name)? {
            Some(meta) if meta.live() => self.delete_all(name),
            _ => Err(not_found(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<OpenBaoStore>();
    }
}
