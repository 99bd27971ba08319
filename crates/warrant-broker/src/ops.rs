//! Each operation a person or an agent asks of the daemon, once.
//!
//! The socket ([`crate::server`]) and the approval page (through
//! [`crate::Daemon`]) decode their requests, identify their caller (the
//! socket by `SO_PEERCRED`, the page by the process behind its TCP
//! connection), call one of these, and encode the answer. They decide
//! nothing: which caller may do what, the passphrase gate and its lockout,
//! and what is audited are here and in the [`Broker`], so the two
//! transports cannot drift apart.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::approver::Verifier;
use crate::broker::{ApprovalTerms, Broker, Caller, Purpose};
use crate::protocol::{ErrorBody, ErrorCode, GrantView, PolicyView, StatusView};
use crate::server::{
    Prefetch, Shared, end_all, internal, with_broker, with_broker_durable, with_broker_reading,
};

/// Counts and settings, as `warrant status` shows them.
pub(crate) async fn status(shared: &Arc<Shared>) -> Result<StatusView, ErrorBody> {
    with_broker_durable(shared, |b| b.status().map(Ok)).await
}

/// Pending and active grants (every one with `all`) the caller may see.
// Reads wait for what is staged too: nobody sees a state the disk might
// not have after a crash.
pub(crate) async fn grants(
    shared: &Arc<Shared>,
    caller: &Caller,
    all: bool,
) -> Result<Vec<GrantView>, ErrorBody> {
    let c = caller.clone();
    let prefetch = if all {
        Prefetch::All
    } else {
        Prefetch::Nothing
    };
    with_broker_reading(shared, prefetch, move |b| b.grants(&c, all).map(Ok)).await
}

/// One grant.
pub(crate) async fn show(shared: &Arc<Shared>, id: &str) -> Result<GrantView, ErrorBody> {
    let id = id.to_owned();
    with_broker_reading(shared, Prefetch::Grant(id.clone()), move |b| b.show(&id)).await
}

/// How many passphrase checks may wait for their turn; more are refused.
const MAX_WAITING: usize = 64;

/// Checks the approver passphrase for `purpose`: the gate
/// ([`Broker::passphrase_begin`]), the slow check off the lock, the result
/// ([`Broker::passphrase_end`]). `Ok` when it is right, or when there is
/// nothing to check (no approver yet, and the purpose is to set one).
///
/// Checks take turns, one at a time: a check waits for the one before it
/// to be recorded, then passes the gate, which refuses it unchecked if
/// that one locked approvals. So guesses sent together are checked one by
/// one and stop at the first wrong one, while a person approving several
/// grants at once (with the right passphrase) only waits a little.
pub(crate) async fn check_passphrase(
    shared: &Arc<Shared>,
    caller: &Caller,
    purpose: Purpose,
    passphrase: Zeroizing<Vec<u8>>,
) -> Result<(), ErrorBody> {
    use std::sync::atomic::Ordering;
    let waiting = shared.passphrase_queue.fetch_add(1, Ordering::SeqCst);
    let turn = if waiting < MAX_WAITING {
        Arc::clone(&shared.passphrase_turn)
            .acquire_owned()
            .await
            .ok()
    } else {
        None
    };
    shared.passphrase_queue.fetch_sub(1, Ordering::SeqCst);
    let Some(turn) = turn else {
        return Err(ErrorBody::new(
            ErrorCode::Throttled,
            "too many passphrase checks are waiting",
            Some("try again in a moment".into()),
        ));
    };
    let prefetch = match &purpose {
        Purpose::Approve { grant, .. } => Prefetch::Grant(grant.clone()),
        _ => Prefetch::Nothing,
    };
    let (c, p) = (caller.clone(), purpose.clone());
    let verifier =
        with_broker_reading(shared, prefetch, move |b| b.passphrase_begin(&c, &p)).await?;
    let Some(verifier) = verifier else {
        return Ok(());
    };
    // In a task of its own: a caller that hangs up mid-check (a page
    // request dropped with its connection) still has its result recorded
    // and the check slot given back.
    let (shared, caller) = (Arc::clone(shared), caller.clone());
    tokio::spawn(async move {
        // The turn ends once the result is recorded.
        let _turn = turn;
        match verify(verifier, passphrase).await {
            Ok(ok) => {
                with_broker_durable(&shared, move |b| b.passphrase_end(&caller, &purpose, ok)).await
            }
            Err(body) => {
                with_broker(&shared, Broker::passphrase_abandon).await;
                Err(body)
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        Err(ErrorBody::new(
            ErrorCode::Internal,
            "the passphrase check stopped",
            None,
        ))
    })
}

/// Runs Argon2 on the blocking pool.
async fn verify(verifier: Verifier, passphrase: Zeroizing<Vec<u8>>) -> Result<bool, ErrorBody> {
    match tokio::task::spawn_blocking(move || verifier.verify(&passphrase)).await {
        Ok(checked) => checked.map_err(|e| internal(&e)),
        Err(_) => Err(ErrorBody::new(
            ErrorCode::Internal,
            "the passphrase check panicked",
            None,
        )),
    }
}

/// Approves a pending grant on `terms`, with the approver passphrase.
/// `terms.security_key` is set only by the page, after it verified a
/// security key's assertion for this very grant.
pub(crate) async fn approve(
    shared: &Arc<Shared>,
    caller: &Caller,
    id: &str,
    passphrase: Zeroizing<Vec<u8>>,
    terms: ApprovalTerms,
) -> Result<GrantView, ErrorBody> {
    let purpose = Purpose::Approve {
        grant: id.to_owned(),
        with_key: terms.security_key.is_some(),
    };
    check_passphrase(shared, caller, purpose, passphrase).await?;
    let (c, id) = (caller.clone(), id.to_owned());
    with_broker_reading(shared, Prefetch::Grant(id.clone()), move |b| {
        b.approve_grant(&c, &id, terms)
    })
    .await
}

/// Refuses a pending grant.
pub(crate) async fn deny(
    shared: &Arc<Shared>,
    caller: &Caller,
    id: &str,
    reason: Option<String>,
) -> Result<GrantView, ErrorBody> {
    let (c, id) = (caller.clone(), id.to_owned());
    with_broker_reading(shared, Prefetch::Grant(id.clone()), move |b| {
        b.deny(&c, &id, reason)
    })
    .await
}

/// Ends a pending or active grant now, and the processes running under it
/// (off the broker's lock).
pub(crate) async fn revoke(
    shared: &Arc<Shared>,
    caller: &Caller,
    id: &str,
    reason: Option<String>,
) -> Result<GrantView, ErrorBody> {
    let (c, id) = (caller.clone(), id.to_owned());
    let (view, ending) = with_broker_reading(shared, Prefetch::Grant(id.clone()), move |b| {
        b.revoke(&c, &id, reason)
    })
    .await?;
    end_all(vec![ending]);
    Ok(view)
}

/// Replaces the approver passphrase (`current` is empty when none is set).
pub(crate) async fn set_approver(
    shared: &Arc<Shared>,
    caller: &Caller,
    current: Zeroizing<Vec<u8>>,
    new: Zeroizing<Vec<u8>>,
    insecure_fast_kdf: bool,
) -> Result<(), ErrorBody> {
    check_passphrase(shared, caller, Purpose::SetApprover, current).await?;
    let verifier = tokio::task::spawn_blocking(move || Verifier::create(&new, insecure_fast_kdf))
        .await
        .map_err(|_| ErrorBody::new(ErrorCode::Internal, "hashing the passphrase failed", None))?
        .map_err(|e| ErrorBody::new(ErrorCode::BadRequest, e.to_string(), None))?;
    let c = caller.clone();
    with_broker_durable(shared, move |b| b.set_approver(&c, verifier)).await
}

/// Accepts the policy as it is now, with the approver passphrase.
pub(crate) async fn accept_policy(
    shared: &Arc<Shared>,
    caller: &Caller,
    passphrase: Zeroizing<Vec<u8>>,
) -> Result<PolicyView, ErrorBody> {
    check_passphrase(shared, caller, Purpose::AcceptPolicy, passphrase).await?;
    let c = caller.clone();
    with_broker_durable(shared, move |b| b.policy_accept(&c)).await
}

/// Records a security key registered on the page (names only).
pub(crate) async fn security_key_added(
    shared: &Arc<Shared>,
    caller: &Caller,
    name: &str,
    credential: &str,
) -> Result<(), ErrorBody> {
    let (c, name, credential) = (caller.clone(), name.to_owned(), credential.to_owned());
    with_broker_durable(shared, move |b| {
        b.security_key_added(&c, &name, &credential)
    })
    .await
}
