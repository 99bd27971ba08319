//! The hash chain: canonical JSON, record hashes, the check of one line
//! against the one before it, and the check of the log's end against
//! `audit.head`.
//!
//! Checks work on raw JSON values, never on the typed [`crate::Event`], so
//! that records of kinds a later version added verify all the same.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

/// `audit.head`: the seq and hash of the last record, rewritten atomically
/// after every append. It catches records cut from the end of the log,
/// which the chain alone cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: String,
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
