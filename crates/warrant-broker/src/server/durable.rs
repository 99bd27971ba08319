//! Durable operations: an operation's answer never gets ahead of what is
//! recorded. In the embedded mode the operation runs in memory and one
//! writer commits what is staged in batches (group commit); in team mode
//! each operation is its own PostgreSQL transaction (`team`).

use std::sync::Arc;

use super::team::{self, Prefetch};
use super::{Shared, flat};
use crate::broker::Broker;
use crate::error::Error;
use crate::protocol::{ErrorBody, ErrorCode};

/// The last sequence number written, or why writing failed.
#[derive(Debug, Clone, Default)]
pub(super) struct Durable {
    pub(super) upto: u64,
    pub(super) error: Option<String>,
}

/// Runs an operation that changes something, then waits until what it
/// staged is durable: its answer must never get ahead of the disk.
///
/// Group commit without a writer thread: the first operation to find
/// something staged and nobody writing becomes the writer and writes
/// batches until none is left; the others wait for the batch that holds
/// theirs. Under load many operations share one sync, and no operation
/// waits on a thread switch it does not need.
pub(crate) async fn with_broker_durable<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&mut Broker) -> Result<Result<T, ErrorBody>, Error> + Send + 'static,
) -> Result<T, ErrorBody> {
    with_broker_reading(shared, Prefetch::Nothing, f).await
}

/// [`with_broker_durable`] for an operation that may look at grants that
/// are no longer live (in team mode they are read from the database first).
pub(crate) async fn with_broker_reading<T: Send + 'static>(
    shared: &Arc<Shared>,
    prefetch: Prefetch,
    f: impl FnOnce(&mut Broker) -> Result<Result<T, ErrorBody>, Error> + Send + 'static,
) -> Result<T, ErrorBody> {
    if let Some(team) = &shared.team {
        return team::with_broker(shared, team, prefetch, f).await;
    }
    let (result, ticket, lead) = {
        let mut broker = shared.lock();
        if let Some(failure) = broker.failure() {
            return Err(failure);
        }
        let result = flat(f(&mut broker));
        (result, broker.ticket(), broker.claim_writer())
    };
    if lead {
        tokio::task::block_in_place(|| write_batches(shared));
    }
    wait_durable(shared, ticket).await?;
    result
}

/// Writes batches until nothing is staged (the caller claimed the writer).
fn write_batches(shared: &Shared) {
    loop {
        let (batch, journal) = {
            let mut broker = shared.lock();
            let Some(batch) = broker.next_batch() else {
                return;
            };
            let Some(journal) = broker.journal() else {
                return;
            };
            (batch, journal)
        };
        let mut batch = batch;
        let upto = batch.upto;
        let published = || shared.durable.send_modify(|d| d.upto = upto);
        match journal.write(&mut batch, published) {
            Ok(()) => {}
            Err(e) => {
                let reason = e.to_string();
                eprintln!(
                    "warrant serve: error: cannot record decisions, refusing everything from now on: {reason}"
                );
                shared.lock().fail(reason.clone());
                shared.durable.send_modify(|d| d.error = Some(reason));
            }
        }
    }
}

async fn wait_durable(shared: &Arc<Shared>, ticket: u64) -> Result<(), ErrorBody> {
    let mut rx = shared.durable.subscribe();
    let durable = rx
        .wait_for(|d| d.upto >= ticket || d.error.is_some())
        .await
        .map(|d| d.clone())
        .unwrap_or_default();
    match durable.error {
        Some(reason) if durable.upto < ticket => Err(ErrorBody::new(
            ErrorCode::Internal,
            format!("the daemon could not record this: {reason}"),
            Some("fix the cause (disk full? permissions?) and restart `warrant serve`".into()),
        )),
        _ => Ok(()),
    }
}
