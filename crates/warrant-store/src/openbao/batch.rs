//! `set_many` over KV version 2, which has no multi-path transaction:
//! check every name, write each with check-and-set, undo on failure.

use std::collections::BTreeMap;

use reqwest::Method;
use warrant_secret::{SecretName, SecretValue};

use super::OpenBaoStore;
use super::http::{Call, Wiped};
use crate::Error;

/// A write made by the batch, and what was there before it.
struct Done<'a> {
    name: &'a SecretName,
    /// The version current before the write (0: no metadata at all).
    before: u64,
    /// Whether that version could be read (not deleted nor destroyed).
    before_live: bool,
    written: u64,
}

pub(super) fn set_many(
    store: &OpenBaoStore,
    entries: &[(SecretName, SecretValue)],
    overwrite: bool,
) -> Result<(), Error> {
    // name → (current version, readable), as seen before any write.
    let mut seen: BTreeMap<&SecretName, (u64, bool)> = BTreeMap::new();
    for (name, _) in entries {
        if seen.contains_key(name) {
            // A name twice in one batch is a clash too, unless overwriting.
            if !overwrite {
                return Err(Error::Exists { name: name.clone() });
            }
            continue;
        }
        let state = store
            .metadata(name)?
            .map_or((0, false), |m| (m.current_version, m.live()));
        if state.1 && !overwrite {
            return Err(Error::Exists { name: name.clone() });
        }
        seen.insert(name, state);
    }

    let mut done: Vec<Done<'_>> = Vec::new();
    for (name, value) in entries {
        let (current, live) = seen[name];
        match store.write(name, value, Some(current)) {
            Ok(written) => {
                // The first write of a name in the batch is what an undo restores.
                let first = done.iter().find(|d| d.name == name);
                let (before, before_live) =
                    first.map_or((current, live), |d| (d.before, d.before_live));
                done.retain(|d| d.name != name);
                done.push(Done {
                    name,
                    before,
                    before_live,
                    written,
                });
                seen.insert(name, (written, true));
            }
            Err(cause) => return Err(undo(store, done, cause)),
        }
    }
    Ok(())
}

/// Undoes `done` (latest first); returns `cause`, or [`Error::PartialBatch`]
/// naming what could not be undone.
fn undo(store: &OpenBaoStore, done: Vec<Done<'_>>, cause: Error) -> Error {
    let mut left: Vec<String> = Vec::new();
    for d in done.iter().rev() {
        if undo_one(store, d).is_err() {
            left.push(d.name.to_string());
        }
    }
    if left.is_empty() {
        cause
    } else {
        Error::PartialBatch {
            names: left.join(", "),
            cause: Box::new(cause),
        }
    }
}

fn undo_one(store: &OpenBaoStore, d: &Done<'_>) -> Result<(), Error> {
    if d.before == 0 {
        // New: delete it, unless someone wrote over the batch since.
        return match store.metadata(d.name)? {
            Some(meta) if meta.current_version == d.written => store.delete_all(d.name),
            _ => Err(Error::Conflict {
                name: d.name.clone(),
            }),
        };
    }
    if d.before_live {
        // Replaced: write the previous fields back over the batch's version.
        restore(store, d.name, d.before, d.written)?;
    }
    // Every version the batch wrote (a name can be twice in a batch).
    let ours: Vec<u64> = (d.before + 1..=d.written).collect();
    destroy(store, d.name, &ours)
}

/// Writes version `before`'s fields, as they were, as the next version.
fn restore(store: &OpenBaoStore, name: &SecretName, before: u64, over: u64) -> Result<(), Error> {
    let mut call = Call::new(Method::GET, store.paths.api("data", name.as_str()), "read");
    call.version = Some(before);
    let reply = store.client.send(&call)?;
    if !reply.ok() {
        return Err(store.client.server_error(&call, &reply, reply.status));
    }
    let data: super::kv::DataReply<'_> = reply
        .body
        .parse("secret reply")
        .map_err(|reason| store.client.bad_reply(&call, reply.status, reason))?;
    let raw = data
        .fields_raw()
        .ok_or_else(|| Error::NotFound { name: name.clone() })?;
    store.write_raw(name, &raw, Some(over))?;
    Ok(())
}

/// Destroys `versions` of `name`: their data is gone, their numbers stay.
fn destroy(store: &OpenBaoStore, name: &SecretName, versions: &[u64]) -> Result<(), Error> {
    let mut call = Call::new(
        Method::POST,
        store.paths.api("destroy", name.as_str()),
        "update",
    );
    call.body = Some(Wiped::json(&serde_json::json!({ "versions": versions })));
    let reply = store.client.send(&call)?;
    if !reply.ok() {
        return Err(store.client.server_error(&call, &reply, reply.status));
    }
    Ok(())
}
