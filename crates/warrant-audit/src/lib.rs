//! Append-only, hash-chained audit log that never holds a value.
//!
//! [`AuditLog`] writes `$WARRANT_HOME/audit.jsonl`, one JSON [`Record`] per
//! line (so `jq` reads it): `seq` (1-based), `time` (RFC 3339 UTC), `user`,
//! `pid`, the [`Event`]'s fields flattened (`"event": "run", ...`), `prev`
//! and `hash`. `hash` is the hex SHA-256 of the record's canonical JSON
//! (every field but `hash`, keys sorted, no spaces), and `prev` is the hash
//! of the record before (64 zeros for the first). Events hold names, counts
//! and codes only; never a value.
//!
//! [`AuditLog::verify`] recomputes the chain and names the first bad line:
//! a changed field breaks that record's hash, a removed or moved record
//! breaks the `seq`/`prev` links. Removing records from the *end* leaves a
//! valid chain, so every append also rewrites `audit.head` (seq and hash of
//! the last record, replaced atomically), and verify compares the two.
//!
//! Limits: the hashes are keyless. Whoever can write the files can rewrite
//! the log and `audit.head` together into a new valid chain; only an
//! anchor kept elsewhere (a head hash copied off the machine, a remote log)
//! detects that. The log is tamper-evident against partial edits, not
//! tamper-proof.
//!
//! Appends from several threads or processes are serialised by an
//! exclusive `flock` on `$WARRANT_HOME/.audit.lock`; each reads only the
//! log's last line, writes one line with `O_APPEND` and fsyncs it.
//!
//! ```
//! use warrant_audit::{AuditLog, Event};
//!
//! let home = tempfile::tempdir()?;
//! let log = AuditLog::new(home.path());
//! log.append(Event::SecretSet { name: "db/dev/url".into() })?;
//! let record = log.append(Event::SecretRemoved { name: "db/dev/url".into() })?;
//! assert_eq!(record.seq, 2);
//!
//! let verified = log.verify()?;
//! assert_eq!(verified.records, 2);
//! assert_eq!(verified.head.as_deref(), Some(record.hash.as_str()));
//! assert_eq!(log.records()?[0].event.kind(), "secret_set");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chain;
mod error;
mod event;
mod files;
pub mod report;

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use chain::Link;
pub use chain::{ChainCheck, Head, verify_lines};
pub use error::Error;
pub use event::{AnyEvent, Event, Record};
use files::Tail;
pub use report::{ActorExposure, Report, SecretExposure, parse_since};

/// The log file's name under the home.
const LOG_FILE: &str = "audit.jsonl";
/// The head file's name under the home.
const HEAD_FILE: &str = "audit.head";
/// The lock file serialising appends.
const LOCK_FILE: &str = ".audit.lock";

/// Result of a successful verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Records checked.
    pub records: u64,
    /// Hash of the last record, if any.
    pub head: Option<String>,
    /// The last record `audit.head` vouches for: `records` when the head
    /// names the last record, less when the head lags the log or is empty
    /// (0). The chain proves the records before it were not changed; only
    /// the head proves none were removed from the end.
    pub vouched: u64,
    /// Why the records after `vouched` cannot be vouched for, if any.
    pub unvouched: Option<String>,
}

/// An `audit.head` update still to write, holding the log's lock.
#[must_use = "the head must be written, or it lags the log"]
pub struct PendingHead<'a> {
    log: &'a AuditLog,
    _lock: warrant_fs::LockGuard,
    seq: u64,
    hash: String,
}

impl PendingHead<'_> {
    /// Writes the head and releases the log.
    pub fn write(self) -> Result<(), Error> {
        self.log.write_head(self.seq, &self.hash)
    }
}

/// The log at `$WARRANT_HOME/audit.jsonl`.
#[derive(Debug, Clone)]
pub struct AuditLog {
    home: PathBuf,
    path: PathBuf,
}

impl AuditLog {
    /// The log of the warrant home `home` (created on first append).
    pub fn new(home: &Path) -> Self {
        Self {
            home: home.to_owned(),
            path: home.join(LOG_FILE),
        }
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `audit.head`, the seq and hash of the last record.
    pub fn head_path(&self) -> PathBuf {
        self.home.join(HEAD_FILE)
    }

    /// Appends one record, chained to the last. Refuses ([`Error::Broken`])
    /// when the log's last record is damaged or does not match
    /// `audit.head`: chaining onto it would hide the damage.
    pub fn append(&self, event: Event) -> Result<Record, Error> {
        let mut records = self.append_all(vec![event])?;
        Ok(records.pop().expect("one record per event"))
    }

    /// Appends several records in order with one write, one fsync and one
    /// head update: how a busy writer (the broker daemon) commits a batch.
    /// All or none of them are acknowledged; a crash may leave a prefix.
    pub fn append_all(&self, events: Vec<Event>) -> Result<Vec<Record>, Error> {
        let (records, head) = self.append_all_head_later(events)?;
        if let Some(head) = head {
            head.write()?;
        }
        Ok(records)
    }

    /// [`AuditLog::append_all`], returning once the records are durable and
    /// before `audit.head` is updated: the caller writes the head when its
    /// own commit is done, off its critical path. The log stays locked for
    /// other writers until then. A crash before the head is written leaves
    /// it behind the log, which is accepted as the trace of a crash.
    pub fn append_all_head_later(
        &self,
        events: Vec<Event>,
    ) -> Result<(Vec<Record>, Option<PendingHead<'_>>), Error> {
        if events.is_empty() {
            return Ok((Vec::new(), None));
        }
        files::create_private_dir(&self.home)?;
        let lock = files::lock_exclusive(&self.home.join(LOCK_FILE))?;
        let last = self.last_link()?;
        let head = self.read_head()?;
        self.check_end(last.as_ref(), head.as_ref())?;
        // A head one record (or one batch) behind is the trace of a crash between the line
        // and the head; bring it up to date first, so that a second crash in
        // the same place still leaves the head at most one record behind.
        if let Some(last) = &last
            && head
                .as_ref()
                .is_none_or(|h| h.seq != last.seq || h.hash != last.hash)
        {
            self.write_head(last.seq, &last.hash)?;
        }

        let time = timestamp();
        let mut lines = Vec::new();
        let mut records = Vec::with_capacity(events.len());
        let mut end = match last {
            Some(l) => Head {
                seq: l.seq,
                hash: l.hash,
            },
            None => Head::genesis(),
        };
        for event in events {
            let record = Record::chained(
                &end,
                event,
                files::user_name(),
                std::process::id(),
                time.clone(),
            );
            lines.extend_from_slice(record.to_line().as_bytes());
            lines.push(b'\n');
            end = record.head();
            records.push(record);
        }

        let created = !self.path.exists();
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(files::FILE_MODE)
            .open(&self.path)
            .map_err(Error::io(&self.path))?;
        // One write of all the lines: with O_APPEND they land after every
        // earlier line even if something bypasses the lock.
        file.write_all(&lines)
            .and_then(|()| file.sync_data())
            .map_err(Error::io(&self.path))?;
        if created {
            files::sync_dir(&self.home)?;
        }
        let last = records.last().expect("at least one record");
        let head = PendingHead {
            log: self,
            _lock: lock,
            seq: last.seq,
            hash: last.hash.clone(),
        };
        Ok((records, Some(head)))
    }

    fn write_head(&self, seq: u64, hash: &str) -> Result<(), Error> {
        let head = Head {
            seq,
            hash: hash.to_owned(),
        };
        files::write_atomic(&self.home, HEAD_FILE, &head.to_file_bytes())
    }

    /// Checks, without writing, that [`AuditLog::append`] would accept a
    /// record now: the log's end is intact and matches `audit.head`. Costs
    /// a read of the tail, not of the whole log, so callers can refuse to
    /// act unaudited before they act.
    pub fn check_appendable(&self) -> Result<(), Error> {
        if !self.path.exists() && !self.head_path().exists() {
            return Ok(());
        }
        let _lock = files::lock_shared_if_exists(&self.home.join(LOCK_FILE))?;
        let last = self.last_link()?;
        let head = self.read_head()?;
        self.check_end(last.as_ref(), head.as_ref())
    }

    /// The log's end against `audit.head`. A head behind the log is the
    /// trace of a crash between a batch's lines and the head, accepted when
    /// the head names a record the log really has at that place: only
    /// removing records (a log shorter than its head) or changing them is
    /// damage. Whoever could move the head back could also rewrite it to
    /// any value, so accepting a lagging head gives an attacker nothing.
    fn check_end(&self, last: Option<&Link>, head: Option<&Head>) -> Result<(), Error> {
        let Err(reason) = chain::check_head(last, head) else {
            return Ok(());
        };
        if head.is_none() && self.head_is_torn() {
            return Ok(());
        }
        if let (Some(l), Some(h)) = (last, head)
            && l.seq > h.seq + 1
            && self.link_at(h.seq)?.is_some_and(|at| at.hash == h.hash)
        {
            return Ok(());
        }
        Err(self.broken(self.line_count(), reason))
    }

    /// The link of the record with `seq`, read from the start (only on the
    /// rare path after a crash).
    fn link_at(&self, seq: u64) -> Result<Option<Link>, Error> {
        let mut found = None;
        self.each_line(|number, line| {
            let link = chain::parse_link(line).map_err(|reason| self.broken(number, reason))?;
            if link.seq == seq {
                found = Some(link);
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Every record, parsed (not verified). Kinds this version does not
    /// know come back as [`AnyEvent::Unknown`].
    pub fn records(&self) -> Result<Vec<Record>, Error> {
        let _lock = files::lock_shared_if_exists(&self.home.join(LOCK_FILE))?;
        let mut records = Vec::new();
        self.each_line(|number, line| {
            let record = serde_json::from_slice(line)
                .map_err(|e| self.broken(number, format!("unparsable record ({e})")))?;
            records.push(record);
            Ok(())
        })?;
        Ok(records)
    }

    /// Checks the whole chain, then its end against `audit.head`, and
    /// reports the first bad line.
    pub fn verify(&self) -> Result<Verification, Error> {
        // Shared: an append in flight finishes first, so a half-written
        // line is never mistaken for damage.
        let _lock = files::lock_shared_if_exists(&self.home.join(LOCK_FILE))?;
        let mut last: Option<Link> = None;
        let lines = self.each_line(|number, line| {
            let link = chain::parse_link(line).map_err(|reason| self.broken(number, reason))?;
            chain::check_follows(&link, last.as_ref())
                .map_err(|reason| self.broken(number, reason))?;
            last = Some(link);
            Ok(())
        })?;
        let head = self.read_head()?;
        let records = last.as_ref().map_or(0, |l| l.seq);
        // A head behind the log, or an empty one, is what a crash leaves;
        // it is also what cutting records off the end and emptying the
        // head leaves. The chain cannot tell them apart: say so.
        let mut vouched = records;
        let mut unvouched = None;
        if let Err(reason) = chain::check_head(last.as_ref(), head.as_ref()) {
            let lagging = match (&last, &head) {
                (Some(l), Some(h)) if l.seq > h.seq + 1 => {
                    self.link_at(h.seq)?.is_some_and(|at| at.hash == h.hash)
                }
                (Some(_), None) => self.head_is_torn(),
                _ => false,
            };
            if !lagging {
                return Err(self.broken(lines.max(1), reason));
            }
        }
        match (&last, &head) {
            (Some(l), Some(h)) if h.seq < l.seq => {
                vouched = h.seq;
                unvouched = Some(format!(
                    "audit.head names record {} of {}: nothing shows whether records after {} \
                     were removed from the end",
                    h.seq, l.seq, l.seq
                ));
            }
            (Some(l), None) if l.seq > 1 || self.head_is_torn() => {
                vouched = 0;
                unvouched = Some(format!(
                    "audit.head is {}: nothing shows whether records after {} were removed \
                     from the end",
                    if self.head_is_torn() {
                        "empty"
                    } else {
                        "missing"
                    },
                    l.seq
                ));
            }
            _ => {}
        }
        Ok(Verification {
            records,
            head: last.map(|l| l.hash),
            vouched,
            unvouched,
        })
    }

    fn broken(&self, line: u64, reason: impl Into<String>) -> Error {
        Error::Broken {
            path: self.path.clone(),
            line,
            reason: reason.into(),
        }
    }

    /// Calls `visit` with each line (1-based number, bytes without the
    /// newline); returns the number of lines. A last line without its
    /// newline is a write cut short, and reported as such.
    fn each_line(
        &self,
        mut visit: impl FnMut(u64, &[u8]) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(&self.path)(e)),
        };
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        let mut number = 0;
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(Error::io(&self.path))?;
            if read == 0 {
                return Ok(number);
            }
            number += 1;
            if line.pop() != Some(b'\n') {
                return Err(self.broken(number, "last line is incomplete (a write was cut short)"));
            }
            visit(number, &line)?;
        }
    }

    /// The number of lines, counted only to report where the end is broken.
    fn line_count(&self) -> u64 {
        let Ok(file) = File::open(&self.path) else {
            return 1;
        };
        let count = BufReader::new(file).split(b'\n').count();
        u64::try_from(count).unwrap_or(u64::MAX).max(1)
    }

    /// The last record's link, read from the end of the log.
    fn last_link(&self) -> Result<Option<Link>, Error> {
        match files::read_tail(&self.path).map_err(Error::io(&self.path))? {
            Tail::Empty => Ok(None),
            Tail::Line(line) => chain::parse_link(&line)
                .map(Some)
                .map_err(|reason| self.broken(self.line_count(), reason)),
            Tail::Incomplete => Err(self.broken(
                self.line_count(),
                "last line is incomplete (a write was cut short)",
            )),
            Tail::TooLong => Err(self.broken(
                self.line_count(),
                format!("last line is longer than {} bytes", files::MAX_LINE),
            )),
        }
    }

    /// An empty `audit.head`: a crash between its rename and its data
    /// reaching the disk (its writes are not synced).
    fn head_is_torn(&self) -> bool {
        std::fs::metadata(self.head_path()).is_ok_and(|m| m.len() == 0)
    }

    /// The head, or `None` when it is missing or empty (see
    /// [`AuditLog::head_is_torn`]).
    fn read_head(&self) -> Result<Option<Head>, Error> {
        let path = self.head_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path)(e)),
        };
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Broken {
                path,
                line: 1,
                reason: format!("unparsable audit.head ({e})"),
            })
    }
}

/// The OS user's name, as records of this process name it: from
/// `/etc/passwd` by uid, else `$USER`, else the uid.
pub fn user_name() -> &'static str {
    files::user_name()
}

/// Now as records write it: RFC 3339 UTC to the millisecond.
pub fn timestamp() -> String {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond())
        .unwrap_or(now)
        .format(&Rfc3339)
        .expect("a UTC time between years 0 and 9999 always formats as RFC 3339")
}
