//! The hash chain: canonical JSON, record hashes, the check of one line
//! against the one before it, and the check of the log's end against
//! `audit.head`.
//!
//! Checks work on raw JSON values, never on the typed [`crate::Event`], so
//! that records of kinds a later version added verify all the same.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{AnyEvent, Error, Record, Verification};

/// `prev` of the first record.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Compact JSON with object keys sorted by their bytes, at every depth.
/// Sorting here, rather than trusting `serde_json::Map` to be a `BTreeMap`,
/// keeps hashes stable even if some dependency turns on `preserve_order`.
pub(crate) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => canonical_object(map, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn canonical_object(map: &Map<String, Value>, out: &mut String) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(key.as_str()).to_string());
        out.push(':');
        canonical(value, out);
    }
    out.push('}');
}

/// Hex SHA-256 of the canonical JSON of `fields` (a record without `hash`).
pub(crate) fn hash_fields(fields: &Map<String, Value>) -> String {
    let mut text = String::new();
    canonical_object(fields, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What the next record needs to know about a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) seq: u64,
    pub(crate) prev: String,
    pub(crate) hash: String,
}

/// Parses one line and checks that its hash covers its content. Does not
/// look at its neighbours. The error is the reason to report.
pub(crate) fn parse_link(line: &[u8]) -> Result<Link, String> {
    if line.is_empty() {
        return Err("empty line".to_owned());
    }
    let value: Value =
        serde_json::from_slice(line).map_err(|e| format!("unparsable JSON ({e})"))?;
    let Value::Object(mut fields) = value else {
        return Err("not a JSON object".to_owned());
    };
    let hash = match fields.remove("hash") {
        Some(Value::String(hash)) => hash,
        _ => return Err("no hash field".to_owned()),
    };
    let seq = fields
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("no seq field")?;
    let prev = fields
        .get("prev")
        .and_then(Value::as_str)
        .ok_or("no prev field")?
        .to_owned();
    if hash_fields(&fields) != hash {
        return Err("record was altered (hash mismatch)".to_owned());
    }
    Ok(Link { seq, prev, hash })
}

/// Checks that `link` follows `before` (`None`: it is the first record).
pub(crate) fn check_follows(link: &Link, before: Option<&Link>) -> Result<(), String> {
    let expected = before.map_or(1, |b| b.seq + 1);
    if link.seq != expected {
        return Err(format!(
            "record missing or reordered (expected seq {expected}, found {})",
            link.seq
        ));
    }
    let expected_prev = before.map_or(GENESIS, |b| b.hash.as_str());
    if link.prev != expected_prev {
        return Err(match before {
            Some(b) => format!("prev hash does not match record {}", b.seq),
            None => "prev of the first record is not 64 zeros".to_owned(),
        });
    }
    Ok(())
}

/// Where a chain ends: the seq and hash of its last record. As a file,
/// `audit.head` (this struct as JSON and a newline), rewritten atomically
/// after every append; it catches records cut from the end of the log,
/// which the chain alone cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The last record's seq (0 for an empty chain).
    pub seq: u64,
    /// The last record's hash (64 zeros for an empty chain).
    pub hash: String,
}

impl Head {
    /// The head of an empty chain: the first record follows it.
    pub fn genesis() -> Head {
        Head {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }

    /// The contents of an `audit.head` file naming this head.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).expect("a head serializes to JSON");
        bytes.push(b'\n');
        bytes
    }
}

impl Record {
    /// The record that follows `after` (seq one more, `prev` its hash),
    /// with its hash computed: how every writer of a chain (the log file,
    /// a database table) makes its records, so one verifier checks all.
    pub fn chained(
        after: &Head,
        event: impl Into<AnyEvent>,
        user: &str,
        pid: u32,
        time: String,
    ) -> Record {
        let mut record = Record {
            seq: after.seq + 1,
            time,
            user: user.to_owned(),
            pid,
            event: event.into(),
            prev: after.hash.clone(),
            hash: String::new(),
        };
        let Ok(Value::Object(mut fields)) = serde_json::to_value(&record) else {
            unreachable!("a record serializes to a JSON object");
        };
        fields.remove("hash");
        record.hash = hash_fields(&fields);
        record
    }

    /// The line the log holds for this record: its JSON, without the
    /// newline. Verification needs these exact bytes only up to JSON
    /// equality (the hash covers canonical JSON), but writers keep them as
    /// they are so that an export matches the log byte for byte.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record serializes to JSON")
    }

    /// This record as a chain's end.
    pub fn head(&self) -> Head {
        Head {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// Checks a chain handed over line by line (from a database table, an
/// export), with the same checks `warrant audit verify` makes of the log
/// file: each line's hash covers its content, seq runs 1, 2, 3... and each
/// `prev` is the hash before. Comparing the end with a head is the
/// caller's: [`ChainCheck::finish`] returns it.
#[derive(Debug)]
pub struct ChainCheck {
    origin: String,
    lines: u64,
    last: Option<Link>,
}

impl ChainCheck {
    /// A check of the chain from `origin` (named in errors).
    pub fn new(origin: impl Into<String>) -> ChainCheck {
        ChainCheck {
            origin: origin.into(),
            lines: 0,
            last: None,
        }
    }

    /// Checks the next line (without its newline) against the one before.
    pub fn push(&mut self, line: &[u8]) -> Result<(), Error> {
        self.lines += 1;
        let broken = |reason: String| Error::Chain {
            origin: self.origin.clone(),
            line: self.lines,
            reason,
        };
        let link = parse_link(line).map_err(broken)?;
        check_follows(&link, self.last.as_ref()).map_err(broken)?;
        self.last = Some(link);
        Ok(())
    }

    /// The last record checked: its seq and hash.
    pub fn last(&self) -> Option<Head> {
        self.last.as_ref().map(|l| Head {
            seq: l.seq,
            hash: l.hash.clone(),
        })
    }

    /// The chain checked so far: its length and last hash (no head file
    /// here: the caller vouches for the end, e.g. a team store's own head).
    pub fn finish(self) -> Verification {
        let records = self.last.as_ref().map_or(0, |l| l.seq);
        Verification {
            records,
            head: self.last.map(|l| l.hash),
            vouched: records,
            unvouched: None,
        }
    }
}

/// Checks every line of a chain with [`ChainCheck`].
pub fn verify_lines<L: AsRef<[u8]>>(
    origin: &str,
    lines: impl IntoIterator<Item = L>,
) -> Result<Verification, Error> {
    let mut check = ChainCheck::new(origin);
    for line in lines {
        check.push(line.as_ref())?;
    }
    Ok(check.finish())
}

/// Checks the log's last record against the head. A head one record behind
/// is the trace of a crash between writing a record and the head, and is
/// accepted; so is a missing head for a log of at most one record.
pub(crate) fn check_head(last: Option<&Link>, head: Option<&Head>) -> Result<(), String> {
    match (last, head) {
        (None, None) => Ok(()),
        (None, Some(h)) => Err(format!(
            "log is empty but audit.head says seq {} (records removed from the end)",
            h.seq
        )),
        (Some(l), None) if l.seq <= 1 => Ok(()),
        (Some(l), None) => Err(format!(
            "audit.head is missing for a log of {} records",
            l.seq
        )),
        (Some(l), Some(h)) if l.seq == h.seq && l.hash == h.hash => Ok(()),
        (Some(l), Some(h)) if l.seq == h.seq + 1 && l.prev == h.hash => Ok(()),
        (Some(l), Some(h)) if l.seq < h.seq => Err(format!(
            "log ends at seq {} but audit.head says {} (records removed from the end)",
            l.seq, h.seq
        )),
        (Some(l), Some(h)) if l.seq == h.seq => Err(format!(
            "last record (seq {}) does not match audit.head (hash differs)",
            l.seq
        )),
        (Some(l), Some(h)) => Err(format!(
            "log goes on to seq {} but audit.head says {} (records added without the head)",
            l.seq, h.seq
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys_at_every_depth() {
        let value: Value =
            serde_json::from_str(r#"{"b":1,"a":{"z":[{"y":2,"x":"é\n"}],"c":null}}"#).unwrap();
        let mut out = String::new();
        canonical(&value, &mut out);
        assert_eq!(out, r#"{"a":{"c":null,"z":[{"x":"é\n","y":2}]},"b":1}"#);
    }

    fn line(seq: u64, prev: &str) -> (Vec<u8>, Link) {
        let mut fields = Map::new();
        fields.insert("seq".into(), seq.into());
        fields.insert("prev".into(), prev.into());
        fields.insert("event".into(), "x".into());
        let hash = hash_fields(&fields);
        fields.insert("hash".into(), hash.clone().into());
        let link = Link {
            seq,
            prev: prev.to_owned(),
            hash,
        };
        (serde_json::to_vec(&fields).unwrap(), link)
    }

    #[test]
    fn links_check_hash_seq_and_prev() {
        let (one, l1) = line(1, GENESIS);
        let (two, l2) = line(2, &l1.hash);
        assert_eq!(parse_link(&one).unwrap(), l1);
        assert_eq!(parse_link(&two).unwrap(), l2);
        assert!(check_follows(&l1, None).is_ok());
        assert!(check_follows(&l2, Some(&l1)).is_ok());
        assert!(
            check_follows(&l2, None)
                .unwrap_err()
                .contains("expected seq 1, found 2")
        );
        let (bad_prev, l2b) = line(2, GENESIS);
        assert!(parse_link(&bad_prev).is_ok());
        assert!(
            check_follows(&l2b, Some(&l1))
                .unwrap_err()
                .contains("prev hash does not match record 1")
        );
        let altered = String::from_utf8(one).unwrap().replace("\"x\"", "\"y\"");
        assert!(
            parse_link(altered.as_bytes())
                .unwrap_err()
                .contains("hash mismatch")
        );
        assert!(parse_link(b"{").unwrap_err().contains("unparsable JSON"));
        assert!(parse_link(b"[]").unwrap_err().contains("not a JSON object"));
    }

    #[test]
    fn chained_records_verify_as_lines_and_as_a_log() {
        let mut end = Head::genesis();
        let mut lines = Vec::new();
        for name in ["a", "b", "c"] {
            let event = crate::Event::SecretSet { name: name.into() };
            let record = Record::chained(&end, event, "ana", 7, "2026-05-01T12:00:00Z".into());
            assert_eq!(record.seq, end.seq + 1);
            assert_eq!(record.prev, end.hash);
            end = record.head();
            lines.push(record.to_line());
        }
        let verified = verify_lines("test", &lines).unwrap();
        assert_eq!(verified.records, 3);
        assert_eq!(verified.head.as_deref(), Some(end.hash.as_str()));

        // The same lines as a log file, with their head, pass the file's verifier.
        let home = tempfile::tempdir().unwrap();
        let mut file = lines.join("\n");
        file.push('\n');
        std::fs::write(home.path().join("audit.jsonl"), file).unwrap();
        std::fs::write(home.path().join("audit.head"), end.to_file_bytes()).unwrap();
        assert_eq!(
            crate::AuditLog::new(home.path()).verify().unwrap().records,
            3
        );

        let mut reordered = lines.clone();
        reordered.swap(1, 2);
        let err = verify_lines("table t", &reordered).unwrap_err().to_string();
        assert!(err.contains("table t is broken at record 2"), "{err}");
        let altered: Vec<String> = lines.iter().map(|l| l.replace("\"b\"", "\"x\"")).collect();
        let err = verify_lines("t", &altered).unwrap_err().to_string();
        assert!(err.contains("hash mismatch"), "{err}");
        assert_eq!(verify_lines("t", Vec::<String>::new()).unwrap().records, 0);
    }

    #[test]
    fn head_checks() {
        let (_, l1) = line(1, GENESIS);
        let (_, l2) = line(2, &l1.hash);
        let h1 = Head {
            seq: 1,
            hash: l1.hash.clone(),
        };
        let h2 = Head {
            seq: 2,
            hash: l2.hash.clone(),
        };
        assert!(check_head(None, None).is_ok());
        assert!(check_head(Some(&l1), None).is_ok());
        assert!(check_head(Some(&l2), None).is_err());
        assert!(check_head(Some(&l2), Some(&h2)).is_ok());
        assert!(
            check_head(Some(&l2), Some(&h1)).is_ok(),
            "crash before the head was written"
        );
        assert!(
            check_head(Some(&l1), Some(&h2))
                .unwrap_err()
                .contains("removed from the end")
        );
        assert!(
            check_head(None, Some(&h1))
                .unwrap_err()
                .contains("removed from the end")
        );
        let forged = Head {
            seq: 2,
            hash: GENESIS.into(),
        };
        assert!(
            check_head(Some(&l2), Some(&forged))
                .unwrap_err()
                .contains("hash differs")
        );
    }
}
