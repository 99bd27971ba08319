//! State rows: what changed since a version, and writing [`Change`]s.

use std::collections::BTreeMap;

use tokio_postgres::Transaction;
use warrant_dynamic::postgres::AdminDsn;
use warrant_dynamic::stores::CredentialRecord;

use super::{Error, Op, signed, unsigned};
use crate::grant::Grant;
use crate::state::{Change, Task, credential_key};

/// What changed in the team state since a version a daemon saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    /// The version this brings the reader to.
    pub version: u64,
    /// A snapshot, not a difference: the reader replaces what it holds
    /// (its live grants, tasks, credentials, meta values) with this. Given
    /// for version 0, and when the version asked for is older than the
    /// tombstones kept or newer than the database (restored from a backup).
    pub full: bool,
    /// Grants written since (ended ones included: the reader drops them
    /// from its live set). In a snapshot, only live (pending, active) ones.
    pub grants: Vec<Grant>,
    /// Tasks started or changed since.
    pub tasks: Vec<Task>,
    /// Ids of tasks removed since (never in a snapshot).
    pub removed_tasks: Vec<String>,
    /// Dynamic credentials recorded since.
    pub credentials: Vec<CredentialRecord>,
    /// Keys (`crate::state::credential_key`) of credentials ended since.
    pub removed_credentials: Vec<String>,
    /// Meta values set since: (key, value).
    pub meta: Vec<(String, String)>,
}

impl Delta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
            && self.tasks.is_empty()
            && self.removed_tasks.is_empty()
            && self.credentials.is_empty()
            && self.removed_credentials.is_empty()
            && self.meta.is_empty()
    }
}

/// The `warrant.state` row.
pub(super) struct Current {
    pub(super) version: u64,
    pub(super) floor: u64,
}

pub(super) async fn current(tx: &Transaction<'_>, dsn: &AdminDsn) -> Result<Current, Error> {
    let row = tx
        .query_one("SELECT version, tombstone_floor FROM warrant.state", &[])
        .await
        .map_err(Error::db(dsn, "read the state version"))?;
    Ok(Current {
        version: unsigned("state", "version", row.get(0))?,
        floor: unsigned("state", "tombstone_floor", row.get(1))?,
    })
}

/// Every changed row, tagged by table; in a snapshot ($2) only what is live.
const CHANGES: &str = "
SELECT 'g', id, record::text FROM warrant.grants
    WHERE version > $1 AND (NOT $2 OR status IN ('pending', 'active'))
UNION ALL
SELECT 't', id, record::text FROM warrant.tasks
    WHERE version > $1 AND (NOT $2 OR record IS NOT NULL)
UNION ALL
SELECT 'c', key, record::text FROM warrant.credentials
    WHERE version > $1 AND (NOT $2 OR record IS NOT NULL)
UNION ALL
SELECT 'm', key, value FROM warrant.meta WHERE version > $1";

fn decode<T: serde::de::DeserializeOwned>(
    table: &'static str,
    key: &str,
    json: &str,
) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Error::corrupt(table, key, e))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Encode(e.to_string()))
}

impl Op<'_> {
    /// What other daemons (or this one) changed after `version`, the version
    /// this daemon last saw (0: never). Read under the lock, so nothing
    /// changes until this operation commits: a daemon that merges it
    /// decides on the latest state.
    pub async fn changes_since(&self, version: u64) -> Result<Delta, Error> {
        let current = current(&self.tx, self.dsn).await?;
        let full = version == 0 || version < current.floor || version > current.version;
        let mut delta = Delta {
            version: current.version,
            full,
            ..Delta::default()
        };
        if !full && version == current.version {
            return Ok(delta);
        }
        let since = if full { 0 } else { signed(version) };
        let rows = self
            .tx
            .query(CHANGES, &[&since, &full])
            .await
            .map_err(Error::db(self.dsn, "read the changes"))?;
        for row in rows {
            let (table, key, record): (&str, String, Option<String>) =
                (row.get(0), row.get(1), row.get(2));
            match (table, record) {
                ("g", Some(json)) => delta.grants.push(decode("grants", &key, &json)?),
                ("t", Some(json)) => delta.tasks.push(decode("tasks", &key, &json)?),
                ("t", None) => delta.removed_tasks.push(key),
                ("c", Some(json)) => delta.credentials.push(decode("credentials", &key, &json)?),
                ("c", None) => delta.removed_credentials.push(key),
                ("m", Some(value)) => delta.meta.push((key, value)),
                (table, _) => return Err(Error::corrupt("changes", &key, table)),
            }
        }
        Ok(delta)
    }

    /// One grant, live or ended.
    pub async fn grant(&self, id: &str) -> Result<Option<Grant>, Error> {
        let row = self
            .tx
            .query_opt(
                "SELECT record::text FROM warrant.grants WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(Error::db(self.dsn, "read a grant"))?;
        row.map(|row| decode("grants", id, row.get(0))).transpose()
    }

    /// Every grant, live or ended, in id order.
    pub async fn grants(&self) -> Result<Vec<Grant>, Error> {
        let rows = self
            .tx
            .query(
                "SELECT id, record::text FROM warrant.grants ORDER BY id",
                &[],
            )
            .await
            .map_err(Error::db(self.dsn, "read the grants"))?;
        rows.iter()
            .map(|row| decode("grants", row.get(0), row.get(1)))
            .collect()
    }

    /// Writes `changes` (what `StateDb::commit` takes) at this operation's
    /// version, bumped once per operation. Later changes to the same key
    /// win, as they would applied one by one.
    pub async fn apply(&mut self, changes: &[Change]) -> Result<(), Error> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut grants: BTreeMap<&str, &Grant> = BTreeMap::new();
        let mut tasks: BTreeMap<&str, Option<&Task>> = BTreeMap::new();
        let mut credentials: BTreeMap<String, Option<&CredentialRecord>> = BTreeMap::new();
        let mut meta: BTreeMap<&str, &str> = BTreeMap::new();
        for change in changes {
            match change {
                Change::Grant(grant) => _ = grants.insert(&grant.id, grant),
                Change::Task(task) => _ = tasks.insert(&task.id, Some(task)),
                Change::RemoveTask(id) => _ = tasks.insert(id, None),
                Change::Meta(key, value) => _ = meta.insert(key, value),
                Change::Credential(record) => {
                    _ = credentials.insert(credential_key(record), Some(record));
                }
                Change::RemoveCredential(record) => {
                    _ = credentials.insert(credential_key(record), None);
                }
            }
        }
        let version = signed(self.bump().await?);
        let db = |action| Error::db(self.dsn, action);
        if !grants.is_empty() {
            let ids: Vec<&str> = grants.keys().copied().collect();
            let statuses: Vec<&str> = grants.values().map(|g| g.status.as_str()).collect();
            let expires: Vec<i64> = grants.values().map(|g| signed(g.expires_ms)).collect();
            let records = grants.values().map(encode).collect::<Result<Vec<_>, _>>()?;
            self.tx
                .execute(
                    "INSERT INTO warrant.grants (id, version, status, expires_ms, record) \
                     SELECT id, $1, status, expires_ms, record::jsonb \
                     FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) \
                         AS u(id, status, expires_ms, record) \
                     ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, \
                         status = EXCLUDED.status, expires_ms = EXCLUDED.expires_ms, \
                         record = EXCLUDED.record",
                    &[&version, &ids, &statuses, &expires, &records],
                )
                .await
                .map_err(db("write grants"))?;
        }
        if !tasks.is_empty() {
            let ids: Vec<&str> = tasks.keys().copied().collect();
            let records = tasks
                .values()
                .map(|t| t.map(encode).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            self.upsert("tasks", "id", version, &ids, &records)
                .await
                .map_err(db("write tasks"))?;
        }
        if !credentials.is_empty() {
            let keys: Vec<&str> = credentials.keys().map(String::as_str).collect();
            let records = credentials
                .values()
                .map(|c| c.map(encode).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            self.upsert("credentials", "key", version, &keys, &records)
                .await
                .map_err(db("write credentials"))?;
        }
        if !meta.is_empty() {
            let keys: Vec<&str> = meta.keys().copied().collect();
            let values: Vec<&str> = meta.values().copied().collect();
            self.tx
                .execute(
                    "INSERT INTO warrant.meta (key, version, value) \
                     SELECT key, $1, value FROM unnest($2::text[], $3::text[]) AS u(key, value) \
                     ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version, \
                         value = EXCLUDED.value",
                    &[&version, &keys, &values],
                )
                .await
                .map_err(db("write meta values"))?;
        }
        Ok(())
    }

    /// Upserts rows of a table with tombstones (`record` NULL: removed).
    async fn upsert(
        &self,
        table: &str,
        key: &str,
        version: i64,
        keys: &[&str],
        records: &[Option<String>],
    ) -> Result<u64, tokio_postgres::Error> {
        // `table` and `key` are this module's constants, never input.
        let sql = format!(
            "INSERT INTO warrant.{table} ({key}, version, record) \
             SELECT k, $1, r::jsonb FROM unnest($2::text[], $3::text[]) AS u(k, r) \
             ON CONFLICT ({key}) DO UPDATE SET version = EXCLUDED.version, \
                 record = EXCLUDED.record"
        );
        self.tx.execute(&sql, &[&version, &keys, &records]).await
    }

    /// The version this operation writes at: the next one, taken on the
    /// first write (the row lock it takes is uncontended under the team
    /// lock).
    async fn bump(&mut self) -> Result<u64, Error> {
        if let Some(version) = self.version {
            return Ok(version);
        }
        let row = self
            .tx
            .query_one(
                "UPDATE warrant.state SET version = version + 1 RETURNING version",
                &[],
            )
            .await
            .map_err(Error::db(self.dsn, "take a state version"))?;
        let version = unsigned("state", "version", row.get(0))?;
        self.version = Some(version);
        Ok(version)
    }

    /// Deletes the tombstones (removed tasks and credentials) written at or
    /// before `version`; a daemon that last saw less than that gets a full
    /// snapshot from [`Op::changes_since`]. Returns how many were deleted.
    pub async fn prune_tombstones(&mut self, version: u64) -> Result<u64, Error> {
        let current = current(&self.tx, self.dsn).await?;
        let upto = signed(version.min(current.version));
        let db = |action| Error::db(self.dsn, action);
        let mut deleted = 0;
        for table in ["tasks", "credentials"] {
            let sql = format!("DELETE FROM warrant.{table} WHERE record IS NULL AND version <= $1");
            deleted += self
                .tx
                .execute(&sql, &[&upto])
                .await
                .map_err(db("prune tombstones"))?;
        }
        self.tx
            .execute(
                "UPDATE warrant.state SET tombstone_floor = greatest(tombstone_floor, $1)",
                &[&upto],
            )
            .await
            .map_err(db("prune tombstones"))?;
        Ok(deleted)
    }
}
