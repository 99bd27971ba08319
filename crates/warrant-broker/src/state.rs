//! Durable grant state in `$WARRANT_HOME/state.redb`.
//!
//! redb is an embedded, crash-safe key-value store: a commit is atomic and
//! durable when it returns, so a daemon killed at any point restarts with
//! every grant as of its last acknowledged change. Records are JSON so a
//! later version can read them; they hold names and scope, never values.

use std::path::{Path, PathBuf};

use redb::backends::FileBackend;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use warrant_dynamic::stores::CredentialRecord;

use crate::error::Error;
use crate::grant::{Grant, GrantProcess};

/// The state file's name under the home.
pub const STATE_FILE: &str = "state.redb";

const GRANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("grants");
const TASKS: TableDefinition<&str, &[u8]> = TableDefinition::new("tasks");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CREDENTIALS: TableDefinition<&str, &[u8]> = TableDefinition::new("credentials");

/// redb's page cache.
const CACHE_BYTES: usize = 16 << 20;

/// The meta key holding the hash of the policy an approver accepted.
pub const ACCEPTED_POLICY: &str = "accepted_policy";
/// The meta key holding the text of the policy an approver accepted: until
/// a changed policy is accepted, each decision is the stricter of the two.
pub const ACCEPTED_POLICY_TEXT: &str = "accepted_policy_text";
/// The meta key holding the hash of the policy last loaded.
pub const LAST_POLICY: &str = "last_policy";

/// A running `warrant task`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// `t_` and ten random characters.
    pub id: String,
    /// The actor every process under it acts as.
    pub actor: String,
    /// Why it runs.
    pub reason: String,
    /// The agent command's name.
    pub command: String,
    /// The `warrant task` process: every process under it belongs to the task.
    pub root: GrantProcess,
    /// When it started (Unix ms).
    pub started_ms: u64,
    /// Values reach this task's processes only through the proxy or MCP
    /// `http_request`: a `Use`, which hands values to a process, is refused.
    #[serde(default)]
    pub proxy_only: bool,
}

/// One change in a commit.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "changes live briefly in a staging vector; most are grants anyway"
)]
pub enum Change {
    /// Insert or replace a grant.
    Grant(Grant),
    /// Insert or replace a task.
    Task(Task),
    /// Remove a task.
    RemoveTask(String),
    /// Set a meta value.
    Meta(&'static str, String),
    /// A dynamic credential made (recorded before it is handed out).
    Credential(CredentialRecord),
    /// A dynamic credential ended.
    RemoveCredential(CredentialRecord),
}

/// The key of a credential record: grant, store, role and login.
pub fn credential_key(record: &CredentialRecord) -> String {
    format!(
        "{}/{}/{}/{}",
        record.grant, record.store, record.role, record.login
    )
}

/// The open state database.
pub struct StateDb {
    db: Database,
    path: PathBuf,
}

impl StateDb {
    /// Opens (or creates) the state file under `home`. Only one process can
    /// hold it: a second daemon fails here.
    pub fn open(home: &Path) -> Result<Self, Error> {
        let path = home.join(STATE_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode_0600()
            .open(&path)
            .map_err(|source| Error::Io {
                what: format!("cannot open {}", path.display()),
                source,
            })?;
        // The file lock means another daemon serves this home.
        let opened = |e: redb::DatabaseError| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::AlreadyRunning {
                home: home.to_owned(),
                socket: home.join(crate::protocol::SOCKET_FILE),
            },
            e => Error::state(&path, e),
        };
        let backend = FileBackend::new(file).map_err(opened)?;
        // redb caches pages in memory, up to 1 GiB by default; grant
        // records are small and the daemon keeps live ones itself.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(backend)
            .map_err(opened)?;
        let state = Self { db, path };
        // Create the tables, so readers never meet a missing one.
        state.commit(&[])?;
        Ok(state)
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `changes` in one durable transaction.
    pub fn commit(&self, changes: &[Change]) -> Result<(), Error> {
        let err = |e: redb::Error| Error::state(&self.path, e);
        let txn = self.db.begin_write().map_err(|e| err(e.into()))?;
        {
            let mut grants = txn.open_table(GRANTS).map_err(|e| err(e.into()))?;
            let mut tasks = txn.open_table(TASKS).map_err(|e| err(e.into()))?;
            let mut meta = txn.open_table(META).map_err(|e| err(e.into()))?;
            let mut credentials = txn.open_table(CREDENTIALS).map_err(|e| err(e.into()))?;
            for change in changes {
                match change {
                    Change::Grant(grant) => {
                        let bytes = serde_json::to_vec(grant).map_err(Error::encode)?;
                        grants
                            .insert(grant.id.as_str(), bytes.as_slice())
                            .map_err(|e| err(e.into()))?;
                    }
                    Change::Task(task) => {
                        let bytes = serde_json::to_vec(task).map_err(Error::encode)?;
                        tasks
                            .insert(task.id.as_str(), bytes.as_slice())
                            .map_err(|e| err(e.into()))?;
                    }
                    Change::RemoveTask(id) => {
                        tasks.remove(id.as_str()).map_err(|e| err(e.into()))?;
                    }
                    Change::Meta(key, value) => {
                        meta.insert(*key, value.as_bytes())
                            .map_err(|e| err(e.into()))?;
                    }
                    Change::Credential(record) => {
                        let bytes = serde_json::to_vec(record).map_err(Error::encode)?;
                        credentials
                            .insert(credential_key(record).as_str(), bytes.as_slice())
                            .map_err(|e| err(e.into()))?;
                    }
                    Change::RemoveCredential(record) => {
                        credentials
                            .remove(credential_key(record).as_str())
                            .map_err(|e| err(e.into()))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| err(e.into()))
    }

    /// Every grant, live or ended, in id order.
    pub fn grants(&self) -> Result<Vec<Grant>, Error> {
        self.scan(GRANTS)
    }

    /// Every task.
    pub fn tasks(&self) -> Result<Vec<Task>, Error> {
        self.scan(TASKS)
    }

    /// Every dynamic credential not yet ended.
    pub fn credentials(&self) -> Result<Vec<CredentialRecord>, Error> {
        self.scan(CREDENTIALS)
    }

    /// One grant.
    pub fn grant(&self, id: &str) -> Result<Option<Grant>, Error> {
        let err = |e: redb::Error| Error::state(&self.path, e);
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let table = txn.open_table(GRANTS).map_err(|e| err(e.into()))?;
        let Some(bytes) = table.get(id).map_err(|e| err(e.into()))? else {
            return Ok(None);
        };
        self.decode(id, bytes.value()).map(Some)
    }

    /// A meta value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        let err = |e: redb::Error| Error::state(&self.path, e);
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let table = txn.open_table(META).map_err(|e| err(e.into()))?;
        let value = table.get(key).map_err(|e| err(e.into()))?;
        Ok(value.map(|v| String::from_utf8_lossy(v.value()).into_owned()))
    }

    fn scan<T: serde::de::DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<T>, Error> {
        let err = |e: redb::Error| Error::state(&self.path, e);
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let table = txn.open_table(def).map_err(|e| err(e.into()))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| err(e.into()))? {
            let (key, value) = item.map_err(|e| err(e.into()))?;
            out.push(self.decode(key.value(), value.value())?);
        }
        Ok(out)
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
            path: self.path.clone(),
            reason: format!("record {key}: {e}"),
        })
    }
}

/// `mode(0o600)` on open options, in one place.
trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::GrantStatus;

    pub(crate) fn grant(id: &str) -> Grant {
        Grant {
            id: id.into(),
            actor: "codex".into(),
            task: None,
            secrets: vec!["db/dev/url".into()],
            reason: "tests".into(),
            command_scopes: vec![],
            hosts: vec![],
            secret_hosts: Default::default(),
            ttl_ms: 60_000,
            max_uses: None,
            uses: 0,
            status: GrantStatus::Pending,
            created_ms: 1,
            approved_ms: None,
            approved_by: None,
            expires_ms: 2,
            ended_ms: None,
            end_reason: None,
            rules: vec![3],
            policy_hash: "h".into(),
            terminate_on_expiry: true,
            grace_ms: 1000,
            processes: vec![],
            hardware_key: false,
            delivery: Vec::new(),
        }
    }

    #[test]
    fn commits_survive_reopening() {
        let home = tempfile::tempdir().unwrap();
        {
            let db = StateDb::open(home.path()).unwrap();
            let mut g = grant("g_1");
            db.commit(&[
                Change::Grant(g.clone()),
                Change::Meta(LAST_POLICY, "abc".into()),
            ])
            .unwrap();
            g.status = GrantStatus::Active;
            db.commit(&[Change::Grant(g)]).unwrap();
        }
        let db = StateDb::open(home.path()).unwrap();
        let grants = db.grants().unwrap();
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].status, GrantStatus::Active);
        assert_eq!(db.meta(LAST_POLICY).unwrap().as_deref(), Some("abc"));
        assert_eq!(db.grant("g_1").unwrap().unwrap().id, "g_1");
        assert!(db.grant("g_2").unwrap().is_none());
        let mode = std::fs::metadata(db.path()).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
    }

    #[test]
    fn tasks_are_added_and_removed() {
        let home = tempfile::tempdir().unwrap();
        let db = StateDb::open(home.path()).unwrap();
        let task = Task {
            id: "t_1".into(),
            actor: "codex".into(),
            reason: "r".into(),
            command: "codex".into(),
            root: GrantProcess {
                pid: 1,
                start_time: 2,
                host: String::new(),
            },
            started_ms: 3,
            proxy_only: true,
        };
        db.commit(&[Change::Task(task.clone())]).unwrap();
        assert_eq!(db.tasks().unwrap(), vec![task]);
        db.commit(&[Change::RemoveTask("t_1".into())]).unwrap();
        assert!(db.tasks().unwrap().is_empty());
    }
}
