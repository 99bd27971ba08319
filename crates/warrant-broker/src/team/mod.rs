//! Team mode's storage: grants, tasks, meta values, dynamic-credential
//! records and one audit chain in PostgreSQL, shared by several daemons.
//!
//! - [`TeamState`]: one daemon's connection (reconnected when lost). On
//!   [`TeamState::connect`] it creates or migrates the schema `warrant`,
//!   idempotently and under the advisory lock.
//! - [`Op`]: one broker operation as one PostgreSQL transaction, started by
//!   [`TeamState::begin`]: `BEGIN` (read committed) and
//!   `pg_advisory_xact_lock(`[`LOCK_KEY`]`)`, which serialises operations
//!   across every daemon and is released at commit or rollback, so a killed
//!   daemon never holds it. Inside, the daemon reads what other daemons
//!   changed ([`Op::changes_since`]), decides in memory, writes its
//!   [`Change`](crate::Change)s ([`Op::apply`]) and appends its audit records
//!   ([`Op::append`]), then [`Op::commit`]s. Dropped without a commit, or
//!   cut off by a lost connection, it leaves nothing.
//! - Each write bumps one global version; rows carry the version that wrote
//!   them; removed tasks and credentials stay as tombstones (a row without
//!   a record), so [`Op::changes_since`] returns exactly what changed.
//! - The audit chain is the table `warrant.audit`, one row per record
//!   holding the record's line exactly as the log file would, chained with
//!   `warrant_audit`'s own code; [`TeamState::export_audit`] writes it as a
//!   log file that `warrant audit verify` accepts, [`TeamState::verify_audit`]
//!   checks it in place.
//!
//! The design and its guarantees: `docs/design/team.md`.
//!
//! ```no_run
//! # async fn example(dsn: warrant_secret::SecretValue) -> Result<(), warrant_broker::team::Error> {
//! use warrant_broker::team::TeamState;
//!
//! let mut team = TeamState::connect(&dsn, "host-a/4242").await?;
//! let mut seen = 0;
//! let mut op = team.begin().await?;
//! let delta = op.changes_since(seen).await?; // merge into memory
//! // decide in memory, then:
//! op.apply(&[]).await?;
//! op.append(vec![warrant_audit::Event::DaemonStopped {}], "ana", 4242).await?;
//! seen = op.commit().await?;
//! # let _ = (delta, seen);
//! # Ok(()) }
//! ```

mod chain;
mod rows;
mod schema;

use std::fmt;
use std::time::Duration;

use tokio_postgres::{Client, IsolationLevel, Transaction};
use warrant_audit::Head;
use warrant_dynamic::postgres::{AdminDsn, connect, describe};
use warrant_secret::SecretValue;

pub use rows::Delta;
pub use schema::{SCHEMA, SCHEMA_VERSION};

/// The advisory lock every team operation takes (`"warrant\0"` as a
/// big-endian `bigint`; in `pg_locks` as classid 2002874994, objid
/// 1634628608). One key for the whole database: every operation of every
/// daemon is serialised.
pub const LOCK_KEY: i64 = i64::from_be_bytes(*b"warrant\0");

/// How long an operation waits for the lock before it fails.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a daemon may sit idle inside a transaction before the server
/// ends its session (and so releases the lock): a daemon that hangs
/// mid-operation stops the others for at most this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What can go wrong with the team state. Messages name hosts, users,
/// tables and keys; never the connection string or its password (server
/// messages are scrubbed of it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string is unusable, or the server cannot be reached
    /// or refused the login.
    #[error(transparent)]
    Connect(warrant_dynamic::Error),
    /// A statement failed (the connection may be lost: the next
    /// [`TeamState::begin`] reconnects).
    #[error("cannot {action} in the team state: {message}")]
    Database {
        /// What was being done.
        action: &'static str,
        /// The server's or the client library's message.
        message: String,
    },
    /// The schema was made by a later warrant.
    #[error(
        "the team state's schema is version {found}, newer than this warrant knows ({known}); \
         upgrade warrant"
    )]
    SchemaTooNew {
        /// The version found.
        found: i32,
        /// The latest version this warrant knows.
        known: i32,
    },
    /// A row does not decode.
    #[error("the team state is corrupt: {table} row {key}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode a team state record: {0}")]
    Encode(String),
    /// The audit chain is broken, or its end does not match its head.
    #[error(transparent)]
    Audit(#[from] warrant_audit::Error),
    /// Writing an export failed.
    #[error("cannot write the audit export: {0}")]
    Export(#[source] std::io::Error),
}

impl Error {
    fn db(dsn: &AdminDsn, action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
        move |e| Error::Database {
            action,
            message: describe(&e, dsn),
        }
    }

    fn corrupt(table: &'static str, key: &str, reason: impl fmt::Display) -> Error {
        Error::Corrupt {
            table,
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// One daemon's connection to the team state.
pub struct TeamState {
    dsn: AdminDsn,
    daemon: String,
    /// `None` after a failed reconnect.
    client: Option<Client>,
    backend_pid: i32,
}

impl fmt::Debug for TeamState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (host, port) = self.dsn.host_port();
        f.debug_struct("TeamState")
            .field("host", &host)
            .field("port", &port)
            .field("database", &self.dsn.database())
            .field("user", &self.dsn.user())
            .field("daemon", &self.daemon)
            .field("backend_pid", &self.backend_pid)
            .finish_non_exhaustive()
    }
}

impl TeamState {
    /// Connects to `dsn` (`postgres://user:password@host/db?sslmode=...`,
    /// TLS as for dynamic credentials: without `sslmode` only a loopback
    /// host) as daemon `daemon_id` (named in `application_name` and in each
    /// audit row), and creates or migrates the schema under the lock:
    /// daemons starting together do it once.
    pub async fn connect(dsn: &SecretValue, daemon_id: &str) -> Result<TeamState, Error> {
        let dsn = AdminDsn::parse(dsn).map_err(Error::Connect)?;
        let mut state = TeamState {
            dsn,
            daemon: daemon_id.to_owned(),
            client: None,
            backend_pid: 0,
        };
        state.reconnect().await?;
        let client = state.client.as_mut().expect("connected");
        schema::migrate(client, &state.dsn, &state.daemon).await?;
        Ok(state)
    }

    /// This daemon's id.
    pub fn daemon_id(&self) -> &str {
        &self.daemon
    }

    /// The server process serving this connection (`pg_backend_pid()`), for
    /// `pg_stat_activity` and `pg_terminate_backend`.
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Starts an operation: a transaction holding the advisory lock. Waits
    /// while another daemon's operation runs (at most [`LOCK_TIMEOUT`]).
    /// Reconnects first when the connection was lost; nothing of an
    /// operation cut off by the loss was kept.
    pub async fn begin(&mut self) -> Result<Op<'_>, Error> {
        // The connection task notices a connection the server ended while
        // it was idle, so `is_closed` tells; a half-open one shows as an
        // error here, and the next operation reconnects.
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.reconnect().await?;
        }
        let Self {
            dsn,
            daemon,
            client,
            ..
        } = self;
        let client = client.as_mut().expect("connected");
        let tx = start(client, dsn).await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await
            .map_err(Error::db(dsn, "take the team lock"))?;
        Ok(Op {
            tx,
            dsn,
            daemon,
            version: None,
            head: None,
        })
    }

    async fn reconnect(&mut self) -> Result<(), Error> {
        self.client = None;
        let client = connect(&self.dsn, self.dsn.database())
            .await
            .map_err(Error::Connect)?;
        let name: String = format!("warrant {}", self.daemon)
            .chars()
            .take(63)
            .collect();
        let lock = format!("{}ms", LOCK_TIMEOUT.as_millis());
        let idle = format!("{}ms", IDLE_TIMEOUT.as_millis());
        let row = client
            .query_one(
                "SELECT pg_backend_pid(), set_config('application_name', $1, false), \
                 set_config('lock_timeout', $2, false), \
                 set_config('idle_in_transaction_session_timeout', $3, false)",
                &[&name, &lock, &idle],
            )
            .await
            .map_err(Error::db(&self.dsn, "set up the session"))?;
        self.backend_pid = row.get(0);
        self.client = Some(client);
        Ok(())
    }
}

/// `BEGIN ISOLATION LEVEL READ COMMITTED`: each statement then sees what
/// was committed before it started, so what follows the lock sees every
/// operation that held it before. (Under REPEATABLE READ the snapshot would
/// date from the lock statement's start, before the lock was granted.)
async fn start<'a>(client: &'a mut Client, dsn: &AdminDsn) -> Result<Transaction<'a>, Error> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(Error::db(dsn, "begin a transaction"))
}

/// One operation: a transaction holding the team lock. Dropped without
/// [`Op::commit`], it is rolled back and leaves nothing.
pub struct Op<'a> {
    tx: Transaction<'a>,
    dsn: &'a AdminDsn,
    daemon: &'a str,
    /// The version this operation writes at, once it has written.
    version: Option<u64>,
    /// The audit chain's end, once read.
    head: Option<Head>,
}

impl fmt::Debug for Op<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op")
            .field("daemon", &self.daemon)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Op<'_> {
    /// Commits everything applied and appended. Returns the state version
    /// now: the daemon has seen every change up to it, provided it read
    /// [`Op::changes_since`] in this operation.
    pub async fn commit(self) -> Result<u64, Error> {
        let version = match self.version {
            Some(version) => version,
            None => rows::current(&self.tx, self.dsn).await?.version,
        };
        self.tx
            .commit()
            .await
            .map_err(Error::db(self.dsn, "commit"))?;
        Ok(version)
    }

    /// Rolls back: nothing applied or appended is kept.
    pub async fn rollback(self) -> Result<(), Error> {
        self.tx
            .rollback()
            .await
            .map_err(Error::db(self.dsn, "roll back"))
    }
}

/// Converts a version or seq read from a `bigint` column.
fn unsigned(table: &'static str, key: &str, value: i64) -> Result<u64, Error> {
    u64::try_from(value).map_err(|_| Error::corrupt(table, key, "negative number"))
}

/// Converts a version or seq for a `bigint` column.
fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
