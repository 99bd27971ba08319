//! The schema `warrant` and its migrations, applied under the team lock.
//!
//! Every table lives in one schema so that a team database can hold other
//! things, and so that one `DROP SCHEMA warrant CASCADE` ends team mode.
//! `warrant.schema_version` lists the migrations applied; a daemon refuses
//! a schema newer than it knows, rather than write rows a later version
//! reads differently.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use warrant_dynamic::postgres::AdminDsn;

use super::{Error, LOCK_KEY, start};

/// The PostgreSQL schema holding every table.
pub const SCHEMA: &str = "warrant";

/// The schema version this warrant writes.
pub const SCHEMA_VERSION: i32 = 1;

/// Made before anything else, so that the version can be read.
const BOOTSTRAP: &str = "
CREATE SCHEMA IF NOT EXISTS warrant;
CREATE TABLE IF NOT EXISTS warrant.schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL
);";

/// Migration `n` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: [&str; 1] = [V1];

/// Version 1.
///
/// - `state`: one row: the version the last write got, and the floor below
///   which tombstones may have been pruned (a reader that saw less than
///   that needs a full snapshot).
/// - `grants`, `tasks`, `credentials`, `meta`: the records `StateDb` keeps,
///   as JSON, each with the version that wrote it. A task or credential
///   removed stays as a tombstone: `record` NULL. Grants are never removed
///   (they end); `status` and `expires_ms` are copied out of the record for
///   queries and the live-grants index.
/// - `audit`: one row per record: its line exactly as the log file holds
///   it (text, not jsonb, so the bytes survive), its hash and prev (copies,
///   checked against the line by verification) and the daemon that wrote
///   it (outside the hash).
/// - `audit_head`: one row: the chain's end, updated with every append in
///   the same transaction.
const V1: &str = "
CREATE TABLE warrant.state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL CHECK (version >= 0),
    tombstone_floor bigint NOT NULL CHECK (tombstone_floor >= 0)
);
INSERT INTO warrant.state (version, tombstone_floor) VALUES (0, 0);

CREATE TABLE warrant.grants (
    id text PRIMARY KEY,
    version bigint NOT NULL,
    status text NOT NULL,
    expires_ms bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX grants_version ON warrant.grants (version);
CREATE INDEX grants_live ON warrant.grants (expires_ms) WHERE status IN ('pending', 'active');

CREATE TABLE warrant.tasks (
    id text PRIMARY KEY,
    version bigint NOT NULL,
    record jsonb
);
CREATE INDEX tasks_version ON warrant.tasks (version);

CREATE TABLE warrant.credentials (
    key text PRIMARY KEY,
    version bigint NOT NULL,
    record jsonb
);
CREATE INDEX credentials_version ON warrant.credentials (version);

CREATE TABLE warrant.meta (
    key text PRIMARY KEY,
    version bigint NOT NULL,
    value text NOT NULL
);

CREATE TABLE warrant.audit (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    line text NOT NULL,
    hash text NOT NULL,
    prev text NOT NULL,
    daemon text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warrant.audit_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL CHECK (seq >= 0),
    hash text NOT NULL
);
INSERT INTO warrant.audit_head (seq, hash)
    VALUES (0, '0000000000000000000000000000000000000000000000000000000000000000');
";

/// Creates or migrates the schema in one transaction under the team lock:
/// of daemons starting at once, the first creates it and the others find
/// it done. Refuses a schema newer than [`SCHEMA_VERSION`].
pub(super) async fn migrate(
    client: &mut Client,
    dsn: &AdminDsn,
    daemon: &str,
) -> Result<(), Error> {
    let tx = start(client, dsn).await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(Error::db(dsn, "take the team lock"))?;
    // Created only when missing: `CREATE SCHEMA IF NOT EXISTS` checks the
    // right to create in the database first, which daemons running as a
    // role that may only use the tables (after a first start by an owner)
    // lack.
    let found: Option<i32> = match tx
        .query_one("SELECT max(version) FROM warrant.schema_version", &[])
        .await
    {
        Ok(row) => row.get(0),
        Err(e)
            if e.code() == Some(&SqlState::UNDEFINED_TABLE)
                || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME) =>
        {
            // Not there yet: the failed statement aborted the transaction.
            drop(tx);
            return create(client, dsn, daemon).await;
        }
        Err(e) => return Err(Error::db(dsn, "read the schema version")(e)),
    };
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        apply(&tx, dsn, daemon, found).await?;
    }
    tx.commit()
        .await
        .map_err(Error::db(dsn, "commit the schema"))
}

/// The first start: the schema from nothing.
async fn create(client: &mut Client, dsn: &AdminDsn, daemon: &str) -> Result<(), Error> {
    let tx = start(client, dsn).await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(Error::db(dsn, "take the team lock"))?;
    tx.batch_execute(BOOTSTRAP)
        .await
        .map_err(Error::db(dsn, "create the schema"))?;
    let found: Option<i32> = tx
        .query_one("SELECT max(version) FROM warrant.schema_version", &[])
        .await
        .map_err(Error::db(dsn, "read the schema version"))?
        .get(0);
    // Another daemon may have created it between our two transactions.
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    apply(&tx, dsn, daemon, found).await?;
    tx.commit()
        .await
        .map_err(Error::db(dsn, "commit the schema"))
}

/// Applies the migrations after `found`, recording each.
async fn apply(
    tx: &tokio_postgres::Transaction<'_>,
    dsn: &AdminDsn,
    daemon: &str,
    found: i32,
) -> Result<(), Error> {
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(index + 1).expect("few migrations");
        if version <= found {
            continue;
        }
        tx.batch_execute(migration)
            .await
            .map_err(Error::db(dsn, "migrate the schema"))?;
        tx.execute(
            "INSERT INTO warrant.schema_version (version, applied_by) VALUES ($1, $2)",
            &[&version, &daemon],
        )
        .await
        .map_err(Error::db(dsn, "record the schema version"))?;
    }
    Ok(())
}
