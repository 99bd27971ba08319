//! `stores.toml`: the named stores beside the local one.
//!
//! ```toml
//! # warrant://team/app/db, warrant://team/app/db#password
//! [stores.team]
//! kind = "openbao"
//! credential = "bao/team"          # a local secret: the token, or the AppRole secret id
//! address = "https://bao.example.com:8200"
//! prefix = "warrant"
//! auth = { method = "approle", role_id = "0b7c..." }
//!
//! # warrant://pg/readonly: a login role made for each grant
//! [stores.pg]
//! kind = "postgres"
//! admin = "db/pg/admin"            # a secret holding the admin connection string
//! [stores.pg.roles.readonly]
//! grants = ["GRANT SELECT ON ALL TABLES IN SCHEMA public TO {{name}}"]
//!
//! # warrant://teamdb/readonly: OpenBao's database engine, one child token per grant
//! [stores.teamdb]
//! kind = "openbao-database"
//! store = "team"
//! [stores.teamdb.roles.readonly]
//! role = "readonly"
//! policies = ["db-readonly"]
//! dsn = "postgres://{{username}}:{{password}}@db.example.com:5432/app?sslmode=verify-full"
//! ```
//!
//! The file holds no secret: credentials are names of stored secrets.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use warrant_secret::SecretName;
use warrant_store::openbao::OpenBaoConfig;

use crate::Error;
use crate::postgres::RoleTemplate;

/// The file's name under the warrant home.
pub const STORES_FILE: &str = "stores.toml";

/// Every named store.
#[derive(Debug, Clone, Default)]
pub struct StoresConfig {
    /// By name: the first segment of the references that reach it.
    pub stores: BTreeMap<String, StoreDef>,
}

/// One named store.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreDef {
    /// An OpenBao / Vault KV v2 store.
    OpenBao {
        /// The secret holding its token or AppRole secret id.
        credential: SecretName,
        /// Where and how.
        config: Box<OpenBaoConfig>,
    },
    /// Native PostgreSQL login roles, one per grant.
    Postgres {
        /// The secret holding the admin connection string.
        admin: SecretName,
        /// Role templates by name (`warrant://STORE/ROLE`).
        roles: BTreeMap<String, RoleTemplate>,
    },
    /// OpenBao's database secrets engine, one child token per grant.
    OpenBaoDatabase {
        /// The `openbao` store whose server and login it uses.
        store: String,
        /// Roles by name (`warrant://STORE/ROLE`).
        roles: BTreeMap<String, BaoRole>,
    },
}

/// A role of an `openbao-database` store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaoRole {
    /// The database engine's role (`database/creds/ROLE`).
    pub role: String,
    /// The child token's policies: they must allow `read` on the role's
    /// creds path.
    pub policies: Vec<String>,
    /// The connection string handed out for the reference without a field,
    /// with `{{username}}` and `{{password}}` (percent-encoded when filled).
    #[serde(default)]
    pub dsn: Option<String>,
}

impl StoresConfig {
    /// Reads `stores.toml` under `home`; none there means no named store.
    pub fn load(home: &Path) -> Result<Self, Error> {
        let path = home.join(STORES_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::StoresConfig {
                path: path.display().to_string(),
                reason: format!("cannot read it: {e}"),
            }),
        }
    }

    /// Parses the text of `path`.
    pub fn parse(path: &str, text: &str) -> Result<Self, Error> {
        let fail = |reason: String| Error::StoresConfig {
            path: path.to_owned(),
            reason,
        };
        let mut top: toml::Table = toml::from_str(text).map_err(|e| fail(e.to_string()))?;
        let stores = match top.remove("stores") {
            Some(toml::Value::Table(stores)) => stores,
            Some(_) => return Err(fail("`stores` must be a table of [stores.NAME]".into())),
            None => toml::Table::new(),
        };
        if let Some(key) = top.keys().next() {
            return Err(fail(format!(
                "unknown key {key:?}; the file holds [stores.NAME] tables"
            )));
        }
        let mut out = BTreeMap::new();
        for (name, table) in stores {
            let toml::Value::Table(table) = table else {
                return Err(fail(format!("stores.{name} must be a table")));
            };
            let def =
                store(&name, table).map_err(|reason| fail(format!("stores.{name}: {reason}")))?;
            out.insert(name, def);
        }
        let config = Self { stores: out };
        config.check().map_err(fail)?;
        Ok(config)
    }

    /// Cross-references: an `openbao-database` store names an `openbao` one.
    fn check(&self) -> Result<(), String> {
        for (name, def) in &self.stores {
            if let StoreDef::OpenBaoDatabase { store, .. } = def
                && !matches!(self.stores.get(store), Some(StoreDef::OpenBao { .. }))
            {
                return Err(format!(
                    "stores.{name}: store = {store:?} names no store of kind \"openbao\""
                ));
            }
        }
        Ok(())
    }
}

fn store(name: &str, mut table: toml::Table) -> Result<StoreDef, String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || !name.chars().all(plain) || name == "." || name == ".." {
        return Err("a store name is one segment of letters, digits, '.', '_' or '-'".into());
    }
    let kind = match table.remove("kind") {
        Some(toml::Value::String(kind)) => kind,
        _ => return Err("needs kind = \"openbao\", \"postgres\" or \"openbao-database\"".into()),
    };
    let secret = |table: &mut toml::Table, key: &str, what: &str| -> Result<SecretName, String> {
        match table.remove(key) {
            Some(toml::Value::String(text)) => {
                let text = text
                    .strip_prefix(warrant_secret::REFERENCE_SCHEME)
                    .unwrap_or(&text);
                SecretName::new(text).map_err(|e| format!("{key}: {e}"))
            }
            _ => Err(format!(
                "needs {key} = \"NAME\", the stored secret holding {what}"
            )),
        }
    };
    match kind.as_str() {
        "openbao" => {
            let credential = secret(&mut table, "credential", "its token or AppRole secret id")?;
            let config = Box::new(
                toml::Value::Table(table)
                    .try_into::<OpenBaoConfig>()
                    .map_err(|e| e.to_string())?,
            );
            Ok(StoreDef::OpenBao { credential, config })
        }
        "postgres" => {
            let admin = secret(&mut table, "admin", "the admin connection string")?;
            let roles = roles::<RoleTemplate>(&mut table)?;
            for (role, template) in &roles {
                template
                    .validate()
                    .map_err(|e| format!("roles.{role}: {e}"))?;
            }
            refuse_rest(table)?;
            Ok(StoreDef::Postgres { admin, roles })
        }
        "openbao-database" => {
            let store = match table.remove("store") {
                Some(toml::Value::String(store)) => store,
                _ => return Err("needs store = \"NAME\" of an \"openbao\" store".into()),
            };
            let roles = roles::<BaoRole>(&mut table)?;
            refuse_rest(table)?;
            Ok(StoreDef::OpenBaoDatabase { store, roles })
        }
        other => Err(format!(
            "unknown kind {other:?}; expected \"openbao\", \"postgres\" or \"openbao-database\""
        )),
    }
}

fn roles<T: serde::de::DeserializeOwned>(
    table: &mut toml::Table,
) -> Result<BTreeMap<String, T>, String> {
    let Some(toml::Value::Table(roles)) = table.remove("roles") else {
        return Err("needs at least one [stores.NAME.roles.ROLE] table".into());
    };
    let mut out = BTreeMap::new();
    for (role, value) in roles {
        if SecretName::new(role.as_str()).is_err() || role.contains('/') {
            return Err(format!("role name {role:?} must be one segment"));
        }
        let parsed = value
            .try_into::<T>()
            .map_err(|e| format!("roles.{role}: {e}"))?;
        out.insert(role, parsed);
    }
    if out.is_empty() {
        return Err("needs at least one [stores.NAME.roles.ROLE] table".into());
    }
    Ok(out)
}

fn refuse_rest(table: toml::Table) -> Result<(), String> {
    match table.keys().next() {
        Some(key) => Err(format!("unknown key {key:?}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[stores.team]
kind = "openbao"
credential = "warrant://bao/team"
address = "http://127.0.0.1:8200"
auth = { method = "token" }

[stores.pg]
kind = "postgres"
admin = "db/pg/admin"
[stores.pg.roles.readonly]
grants = ["GRANT SELECT ON ALL TABLES IN SCHEMA public TO {{name}}"]

[stores.teamdb]
kind = "openbao-database"
store = "team"
[stores.teamdb.roles.ro]
role = "readonly"
policies = ["db-ro"]
"#;

    #[test]
    fn the_example_parses() {
        let config = StoresConfig::parse("stores.toml", EXAMPLE).unwrap();
        assert_eq!(config.stores.len(), 3);
        assert!(matches!(
            &config.stores["team"],
            StoreDef::OpenBao { credential, .. } if credential.as_str() == "bao/team"
        ));
        assert!(
            matches!(&config.stores["pg"], StoreDef::Postgres { roles, .. } if roles.contains_key("readonly"))
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (text, needle) in [
            ("[stores.x]\nkind = \"s3\"\n", "unknown kind"),
            ("[stores.x]\nkind = \"postgres\"\nadmin = \"a\"\n", "roles"),
            (
                "[stores.x]\nkind = \"openbao-database\"\nstore = \"nope\"\n[stores.x.roles.r]\nrole = \"r\"\npolicies = []\n",
                "names no store",
            ),
            ("[stores.\"a/b\"]\nkind = \"postgres\"\n", "one segment"),
            (
                "[stores.t]\nkind = \"openbao\"\ncredential = \"c\"\naddress = \"http://127.0.0.1:1\"\nauth = { method = \"token\" }\ntoken = \"pasted\"\n",
                "token",
            ),
            ("other = 1\n", "unknown key"),
        ] {
            let error = StoresConfig::parse("stores.toml", text)
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{text}: {error}");
            assert!(error.starts_with("stores.toml: "), "{error}");
        }
    }
}
