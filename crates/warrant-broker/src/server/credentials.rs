//! Dynamic credentials in the daemon: made on a grant's first use of a
//! dynamic name, recorded before they are handed out, shared by the grant's
//! later uses, and ended when the grant ends.
//!
//! A credential stops working on its own at the grant's expiry (PostgreSQL
//! `VALID UNTIL`, the OpenBao token's TTL), so a daemon killed before it
//! could end one leaves nothing usable past the grant. At start and every
//! [`SWEEP`] the daemon ends what it recorded for grants that are over, and
//! drops the login roles it made but could not record (a crash in between).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use warrant_dynamic::stores::{Credential, CredentialRecord, Route};
use warrant_secret::{SecretName, SecretValue};

use super::{Shared, with_broker, with_broker_durable};
use crate::protocol::{ErrorBody, ErrorCode};

/// How often credentials of ended grants are looked for (an end that the
/// daemon missed, or that failed: the server was down).
const SWEEP: Duration = Duration::from_secs(30);

/// Credentials made by this daemon, by `grant/store/role`.
#[derive(Default)]
pub(super) struct Minted {
    cells: Mutex<HashMap<String, Arc<OnceCell<Arc<Credential>>>>>,
    /// Held (shared) from making a credential until it is recorded, and
    /// (exclusive) while dropping roles no record holds: such a sweep must
    /// not drop a role made a moment ago and about to be recorded.
    making: tokio::sync::RwLock<()>,
    /// Leftovers of a crash were dropped since this daemon started.
    swept_leftovers: std::sync::atomic::AtomicBool,
}

impl Minted {
    fn cell(&self, key: &str) -> Arc<OnceCell<Arc<Credential>>> {
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(cells.entry(key.to_owned()).or_default())
    }

    /// Forgets (and so wipes, once no use holds them) a grant's credentials.
    fn take_grant(&self, grant: &str) -> Vec<Arc<Credential>> {
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        let prefix = format!("{grant}/");
        let keys: Vec<String> = cells
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        keys.into_iter()
            .filter_map(|k| cells.remove(&k))
            .filter_map(|cell| cell.get().cloned())
            .collect()
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> ErrorBody {
    ErrorBody::new(ErrorCode::Store, format!("{what}: {e}"), None)
}

/// The value of dynamic `name` for `grant`: its credential, made now if the
/// grant has none yet.
pub(super) async fn value(
    shared: &Arc<Shared>,
    grant: &str,
    name: &SecretName,
) -> Result<SecretValue, ErrorBody> {
    let Ok(Route::Dynamic { store, role, field }) = shared.stores.route(name) else {
        return Err(failed("not a dynamic credential", name));
    };
    let key = format!("{grant}/{store}/{role}");
    let cell = shared.minted.cell(&key);
    let credential = cell
        .get_or_try_init(|| make(shared, grant, &store, &role))
        .await?;
    credential
        .value(field.as_deref())
        .map_err(|e| failed(&format!("cannot read {name}"), e))
}

/// Makes a credential for `grant` and records it; one made for a grant that
/// ended meanwhile is ended at once.
async fn make(
    shared: &Arc<Shared>,
    grant: &str,
    store: &str,
    role: &str,
) -> Result<Arc<Credential>, ErrorBody> {
    let _making = shared.minted.making.read().await;
    let g = grant.to_owned();
    let expires_ms = with_broker(shared, move |b| b.expires_ms(&g))
        .await
        .ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::NotActive,
                format!("grant {grant} is not live"),
                None,
            )
        })?;
    let made = shared
        .stores
        .issue(store, role, grant, expires_ms)
        .await
        .map_err(|e| failed(&format!("cannot make a credential of {store}/{role}"), e))?;
    let record = made.record.clone();
    if let Err(body) = with_broker_durable(shared, move |b| b.credential_made(record)).await {
        end(
            shared,
            &made.record,
            Some(&made),
            "its grant ended while it was made",
        )
        .await;
        return Err(body);
    }
    Ok(Arc::new(made))
}

/// Ends one credential and records it; a failure is kept for the next sweep.
async fn end(
    shared: &Arc<Shared>,
    record: &CredentialRecord,
    made: Option<&Credential>,
    reason: &str,
) {
    match shared.stores.revoke(record, made).await {
        Ok(()) => {
            let (r, why) = (record.clone(), reason.to_owned());
            if let Err(body) =
                with_broker_durable(shared, move |b| b.credential_ended(&r, &why)).await
            {
                eprintln!(
                    "warrant serve: cannot record the end of a credential: {}",
                    body.message
                );
            }
        }
        Err(e) => eprintln!(
            "warrant serve: cannot end the credential {} of grant {} yet (retried every {} s): {e}",
            record.login,
            record.grant,
            SWEEP.as_secs()
        ),
    }
}

/// Ends every credential whose grant is over: those the daemon holds, and
/// those recorded before a restart. Then, once after a start, drops the
/// roles a crash left made but not recorded.
async fn sweep(shared: &Arc<Shared>, reason: &str) {
    let records = with_broker(shared, |b| b.credentials_to_end()).await;
    for record in &records {
        let made = shared.minted.take_grant(&record.grant);
        let held = made.iter().find(|c| c.record == *record).map(Arc::as_ref);
        end(shared, record, held, reason).await;
    }
    let minted = &shared.minted;
    if minted
        .swept_leftovers
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        return;
    }
    // No credential is being made meanwhile: every role not recorded now
    // is a crash's leftover.
    let _sweeping = minted.making.write().await;
    let all = with_broker(shared, |b| b.credentials()).await;
    match shared.stores.sweep(&all).await {
        Ok(dropped) => {
            minted
                .swept_leftovers
                .store(true, std::sync::atomic::Ordering::SeqCst);
            for role in dropped {
                eprintln!("warrant serve: dropped the leftover role {role}");
            }
        }
        Err(e) => eprintln!("warrant serve: cannot sweep leftover roles yet: {e}"),
    }
}

/// Ends credentials as their grants end; sweeps at start and every [`SWEEP`].
pub(super) async fn end_loop(shared: Arc<Shared>) {
    let mut ended = with_broker(&shared, |b| b.subscribe_ended()).await;
    if has_dynamic(&shared) {
        sweep(&shared, "swept after a restart").await;
    }
    let mut every = tokio::time::interval(SWEEP);
    every.tick().await;
    loop {
        tokio::select! {
            gone = ended.recv() => match gone {
                Ok((grant, reason)) => {
                    let made = shared.minted.take_grant(&grant);
                    let records: Vec<CredentialRecord> = with_broker(&shared, |b| b.credentials_to_end())
                        .await
                        .into_iter()
                        .filter(|r| r.grant == grant)
                        .collect();
                    for record in &records {
                        let held = made.iter().find(|c| c.record == *record).map(Arc::as_ref);
                        end(&shared, record, held, &format!("grant {reason}")).await;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    sweep(&shared, "its grant ended").await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = every.tick() => {
                if has_dynamic(&shared) {
                    sweep(&shared, "its grant ended").await;
                }
            }
        }
    }
}

fn has_dynamic(shared: &Shared) -> bool {
    shared
        .stores
        .config()
        .stores
        .values()
        .any(|d| !matches!(d, warrant_dynamic::stores::StoreDef::OpenBao { .. }))
}
