//! The daemon in team mode: each operation is one PostgreSQL transaction.
//!
//! `begin` takes the team lock (every daemon's operations are serialised),
//! the broker absorbs what other daemons changed since this one last
//! looked, runs the operation in memory, and what it staged is applied,
//! appended to the one audit chain and committed before the answer goes
//! out. A failed operation is answered with an error and the next one
//! starts from a full snapshot (memory may be ahead of what committed);
//! unlike the file mode, that is not fatal.

use std::sync::Arc;

use warrant_secret::SecretValue;

use super::{Shared, end_all, flat};
use crate::broker::Broker;
use crate::error::Error;
use crate::protocol::{ErrorBody, ErrorCode};
use crate::team::TeamState;

/// Ended grants an operation may read: only the live ones are in memory.
#[derive(Debug, Clone)]
pub(crate) enum Prefetch {
    /// None.
    Nothing,
    /// One grant, by id (show, check, approve, deny, revoke, uses).
    Grant(String),
    /// Every grant (`grants --all`).
    All,
}

/// The team session: one connection, and the version last seen.
pub(crate) struct Team {
    session: tokio::sync::Mutex<Session>,
}

struct Session {
    state: TeamState,
    seen: u64,
    /// The last operation failed: read a full snapshot next.
    stale: bool,
}

impl Team {
    pub(crate) fn new(state: TeamState, seen: u64) -> Self {
        Self {
            session: tokio::sync::Mutex::new(Session {
                state,
                seen,
                stale: false,
            }),
        }
    }
}

/// Connects to the team state as this machine's daemon `daemon`.
pub(crate) async fn connect(dsn: &SecretValue) -> Result<TeamState, Error> {
    crate::grant::set_host_id(crate::grant::machine_id());
    let daemon = format!("{}/{}", crate::grant::host_id(), std::process::id());
    Ok(TeamState::connect(dsn, &daemon).await?)
}

/// Runs an operation in its own transaction; answers once it committed.
pub(crate) async fn with_broker<T: Send + 'static>(
    shared: &Arc<Shared>,
    team: &Team,
    prefetch: Prefetch,
    f: impl FnOnce(&mut Broker) -> Result<Result<T, ErrorBody>, Error> + Send + 'static,
) -> Result<T, ErrorBody> {
    let mut session = team.session.lock().await;
    let since = if session.stale { 0 } else { session.seen };
    match operation(shared, &mut session.state, since, prefetch, f).await {
        Ok((result, seen)) => {
            session.seen = seen;
            session.stale = false;
            result
        }
        Err(e) => {
            session.stale = true;
            eprintln!("warrant serve: a team operation failed: {e}");
            Err(ErrorBody::new(
                ErrorCode::Internal,
                format!("the daemon could not record this in the team state: {e}"),
                Some("nothing of it was kept; try again (is PostgreSQL reachable?)".into()),
            ))
        }
    }
}

type Done<T> = (Result<T, ErrorBody>, u64);

async fn operation<T>(
    shared: &Shared,
    state: &mut TeamState,
    since: u64,
    prefetch: Prefetch,
    f: impl FnOnce(&mut Broker) -> Result<Result<T, ErrorBody>, Error>,
) -> Result<Done<T>, Error> {
    let mut op = state.begin().await?;
    let delta = op.changes_since(since).await?;
    // Memory is current once the delta is in: a grant live there needs no
    // read (the common case: uses, revocations, approvals).
    let (endings, fetch) = {
        let mut broker = shared.lock();
        let endings = broker.absorb(delta);
        let fetch = match prefetch {
            Prefetch::Grant(id) if broker.expires_ms(&id).is_some() => Prefetch::Nothing,
            other => other,
        };
        (endings, fetch)
    };
    let read = match &fetch {
        Prefetch::Nothing => Vec::new(),
        Prefetch::Grant(id) => op.grant(id).await?.into_iter().collect(),
        Prefetch::All => op.grants().await?,
    };
    let (result, batch) = {
        let mut broker = shared.lock();
        broker.prefetched(read);
        let result = flat(f(&mut broker));
        broker.forget_read();
        (result, broker.take_batch())
    };
    end_all(endings);
    if let Some(batch) = batch {
        op.apply(&batch.changes).await?;
        let user = warrant_audit::user_name();
        op.append(batch.events, user, shared.pid).await?;
    }
    let seen = op.commit().await?;
    Ok((result, seen))
}
