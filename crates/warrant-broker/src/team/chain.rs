//! The audit chain in `warrant.audit`: appends under the team lock, made
//! with `warrant_audit`'s own record code; export as a log file; checks in
//! place with `warrant_audit`'s own verifier.

use std::io::Write;

use tokio_postgres::{IsolationLevel, Transaction};
use warrant_audit::{ChainCheck, Event, Head, Record, Verification};

use super::{Error, Op, TeamState, signed, unsigned};

/// Rows read per round trip by export and verification.
const PAGE: i64 = 5000;

/// How the table is named in verification errors.
const ORIGIN: &str = "warrant.audit (team state)";

impl Op<'_> {
    /// Appends `events` to the chain, in order, after its current end, as
    /// written by `user` and `pid`. They are kept only if the operation
    /// commits; the chain's head moves in the same transaction.
    pub async fn append(
        &mut self,
        events: Vec<Event>,
        user: &str,
        pid: u32,
    ) -> Result<Vec<Record>, Error> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let start = match self.head.take() {
            Some(head) => head,
            None => self.read_head().await?,
        };
        let time = warrant_audit::timestamp();
        let mut end = start.clone();
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            let record = Record::chained(&end, event, user, pid, time.clone());
            end = record.head();
            records.push(record);
        }
        let seqs: Vec<i64> = records.iter().map(|r| signed(r.seq)).collect();
        let lines: Vec<String> = records.iter().map(Record::to_line).collect();
        let hashes: Vec<&str> = records.iter().map(|r| r.hash.as_str()).collect();
        let prevs: Vec<&str> = records.iter().map(|r| r.prev.as_str()).collect();
        let db = |action| Error::db(self.dsn, action);
        self.tx
            .execute(
                "INSERT INTO warrant.audit (seq, line, hash, prev, daemon) \
                 SELECT seq, line, hash, prev, $5 \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) \
                     AS u(seq, line, hash, prev)",
                &[&seqs, &lines, &hashes, &prevs, &self.daemon],
            )
            .await
            .map_err(db("append to the audit chain"))?;
        // Guarded by the old end: a writer that bypassed the lock makes this
        // fail rather than fork the chain (the seq key already refuses a
        // second record at one place).
        let moved = self
            .tx
            .execute(
                "UPDATE warrant.audit_head SET seq = $1, hash = $2 WHERE seq = $3 AND hash = $4",
                &[&signed(end.seq), &end.hash, &signed(start.seq), &start.hash],
            )
            .await
            .map_err(db("move the audit head"))?;
        if moved != 1 {
            return Err(Error::Database {
                action: "move the audit head",
                message: "the head changed under the team lock (a writer bypassed it)".to_owned(),
            });
        }
        self.head = Some(end);
        Ok(records)
    }

    /// The chain's end as of now (under the lock: nobody else appends).
    pub async fn audit_head(&mut self) -> Result<Head, Error> {
        if let Some(head) = &self.head {
            return Ok(head.clone());
        }
        let head = self.read_head().await?;
        self.head = Some(head.clone());
        Ok(head)
    }

    async fn read_head(&self) -> Result<Head, Error> {
        read_head(&self.tx, self.dsn).await
    }
}

async fn read_head(
    tx: &Transaction<'_>,
    dsn: &warrant_dynamic::postgres::AdminDsn,
) -> Result<Head, Error> {
    let row = tx
        .query_one("SELECT seq, hash FROM warrant.audit_head", &[])
        .await
        .map_err(Error::db(dsn, "read the audit head"))?;
    Ok(Head {
        seq: unsigned("audit_head", "seq", row.get(0))?,
        hash: row.get(1),
    })
}

impl TeamState {
    /// Writes the chain as `audit.jsonl` holds it (one line per record,
    /// each ending in a newline) to `out`, and returns its head: written to
    /// `audit.head` ([`Head::to_file_bytes`]) next to the lines, the pair
    /// passes `warrant audit verify`. Reads one snapshot, without the lock.
    pub async fn export_audit(&mut self, out: &mut impl Write) -> Result<Head, Error> {
        self.each_audit_row(|row| {
            out.write_all(row.line.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(Error::Export)
        })
        .await
    }

    /// Checks the chain in place with `warrant audit verify`'s checks, and
    /// its end against `warrant.audit_head` exactly (both move in one
    /// transaction, so no lag is a crash's trace). Also checks that each
    /// row's seq, hash and prev columns say what its line says.
    pub async fn verify_audit(&mut self) -> Result<Verification, Error> {
        let mut check = ChainCheck::new(ORIGIN);
        let mut before = Head::genesis();
        let head = self
            .each_audit_row(|row| {
                check.push(row.line.as_bytes())?;
                let last = check.last().expect("a line was checked");
                if row.seq != last.seq || row.hash != last.hash || row.prev != before.hash {
                    return Err(broken(
                        last.seq,
                        "the row's seq, hash or prev columns differ from its line",
                    ));
                }
                before = last;
                Ok(())
            })
            .await?;
        if before != head {
            return Err(broken(
                before.seq.max(1),
                format!(
                    "the chain ends at seq {} but warrant.audit_head says {} \
                     (records removed from the end, or the head altered)",
                    before.seq, head.seq
                ),
            ));
        }
        Ok(check.finish())
    }

    /// Calls `visit` with every audit row in seq order, from one snapshot
    /// (a read-only repeatable-read transaction); returns the head of the
    /// same snapshot.
    async fn each_audit_row(
        &mut self,
        mut visit: impl FnMut(AuditRow) -> Result<(), Error>,
    ) -> Result<Head, Error> {
        if self
            .client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            self.reconnect().await?;
        }
        let dsn = &self.dsn;
        let client = self.client.as_mut().expect("connected");
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(Error::db(dsn, "begin a transaction"))?;
        let head = read_head(&tx, dsn).await?;
        let mut after = 0i64;
        loop {
            let rows = tx
                .query(
                    "SELECT seq, line, hash, prev FROM warrant.audit \
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &PAGE],
                )
                .await
                .map_err(Error::db(dsn, "read the audit chain"))?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.get(0);
            for row in &rows {
                let seq: i64 = row.get(0);
                visit(AuditRow {
                    seq: unsigned("audit", &seq.to_string(), seq)?,
                    line: row.get(1),
                    hash: row.get(2),
                    prev: row.get(3),
                })?;
            }
        }
        tx.commit().await.map_err(Error::db(dsn, "end the read"))?;
        Ok(head)
    }
}

/// One row of `warrant.audit`.
struct AuditRow {
    seq: u64,
    line: String,
    hash: String,
    prev: String,
}

fn broken(line: u64, reason: impl Into<String>) -> Error {
    Error::Audit(warrant_audit::Error::Chain {
        origin: ORIGIN.to_owned(),
        line,
        reason: reason.into(),
    })
}
