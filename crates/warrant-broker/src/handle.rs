//! An in-process handle on the running daemon, for services that run
//! inside it beside its socket (the approval page).
//!
//! A [`Daemon`] calls the broker directly, under the same lock and with the
//! same group commit as the socket: every answer waits until what it
//! changed is on disk. It acts as the daemon's own process, named
//! `web:approver` in the audit log. Nothing here takes a value: the broker
//! holds names only.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::broadcast;
use zeroize::Zeroizing;

use warrant_sandbox::{peer, proc};

use crate::broker::{ApprovalTerms, Caller, Purpose};
use crate::ops;
use crate::protocol::{ErrorBody, ErrorCode, GrantView, StatusView};
use crate::server::{Shared, with_broker, with_broker_durable};

/// A service started inside the daemon once its socket listens (see
/// [`crate::server::ServeOptions::extensions`]); it runs until the daemon
/// stops.
pub type Extension = Box<dyn FnOnce(Daemon) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// How the approval page is named in the audit log.
pub const WEB_USER: &str = "web:approver";

/// A cloneable handle on the running daemon's broker.
#[derive(Clone)]
pub struct Daemon {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("pid", &self.shared.pid)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Who is behind a loopback TCP connection to the page (`local` is the
    /// page's end, `remote` the peer's): the processes holding the other
    /// end, found through its socket inode as `ss -p` does. Refused, like
    /// the socket refuses, when it belongs to another uid or when no
    /// holder can be seen (a process that hides its file descriptors is
    /// not taken on trust). Every holder's ancestry counts: one inside a
    /// task makes the caller so.
    pub async fn tcp_caller(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Caller, ErrorBody> {
        let found = tokio::task::spawn_blocking(move || peer::tcp_peer(local, remote))
            .await
            .map_err(|_| unidentified("the lookup stopped"))?
            .map_err(|e| unidentified(&e.to_string()))?;
        let Some(found) = found else {
            return Err(unidentified("its other end is closed"));
        };
        let uid = self.shared.uid;
        let first = found.pids.first().copied().unwrap_or(0);
        if found.uid != uid {
            let reason = format!("uid {} is not the daemon's uid {uid}", found.uid);
            let audited = reason.clone();
            let peer_uid = found.uid;
            let _ = with_broker_durable(&self.shared, move |b| {
                b.peer_refused(peer_uid, first, &audited).map(Ok)
            })
            .await;
            return Err(ErrorBody::new(ErrorCode::Forbidden, reason, None));
        }
        let ancestry: Vec<_> = found
            .pids
            .iter()
            .filter_map(|&pid| proc::ancestors(pid).ok())
            .flatten()
            .collect();
        if ancestry.is_empty() {
            return Err(unidentified(
                "no process holding it can be seen (one that hides its file descriptors is not taken on trust)",
            ));
        }
        Ok(Caller {
            uid,
            pid: first,
            ancestry,
            user: WEB_USER.to_owned(),
        })
    }

    /// Counts and settings, as `warrant status` shows them.
    pub async fn status(&self) -> Result<StatusView, ErrorBody> {
        ops::status(&self.shared).await
    }

    /// Pending and active grants, or every grant with `all`.
    pub async fn grants(&self, caller: &Caller, all: bool) -> Result<Vec<GrantView>, ErrorBody> {
        ops::grants(&self.shared, caller, all).await
    }

    /// One grant.
    pub async fn show(&self, id: &str) -> Result<GrantView, ErrorBody> {
        ops::show(&self.shared, id).await
    }

    /// Checks the approver passphrase for `purpose` (signing in,
    /// registering a key): the same gate, lockout and audit as every other
    /// passphrase check.
    pub async fn check_passphrase(
        &self,
        caller: &Caller,
        purpose: Purpose,
        passphrase: &SecretString,
    ) -> Result<(), ErrorBody> {
        ops::check_passphrase(&self.shared, caller, purpose, bytes(passphrase)).await
    }

    /// Approves a pending grant with the approver passphrase, on `terms`.
    /// `terms.security_key` names the security key whose assertion the
    /// caller verified for this approval; a grant whose policy asks for a
    /// key is refused without one.
    pub async fn approve(
        &self,
        caller: &Caller,
        id: &str,
        passphrase: &SecretString,
        terms: ApprovalTerms,
    ) -> Result<GrantView, ErrorBody> {
        ops::approve(&self.shared, caller, id, bytes(passphrase), terms).await
    }

    /// Refuses a pending grant.
    pub async fn deny(
        &self,
        caller: &Caller,
        id: &str,
        reason: Option<String>,
    ) -> Result<GrantView, ErrorBody> {
        ops::deny(&self.shared, caller, id, reason).await
    }

    /// Ends a pending or active grant now, and the processes running
    /// under it.
    pub async fn revoke(
        &self,
        caller: &Caller,
        id: &str,
        reason: Option<String>,
    ) -> Result<GrantView, ErrorBody> {
        ops::revoke(&self.shared, caller, id, reason).await
    }

    /// Records that a security key was registered (names only).
    pub async fn security_key_added(
        &self,
        caller: &Caller,
        name: &str,
        credential: &str,
    ) -> Result<(), ErrorBody> {
        ops::security_key_added(&self.shared, caller, name, credential).await
    }

    /// Ids of grants as they change. Read them through this handle, which
    /// waits for the disk; on [`broadcast::error::RecvError::Lagged`],
    /// read every grant afresh.
    pub async fn subscribe(&self) -> broadcast::Receiver<String> {
        with_broker(&self.shared, |b| b.subscribe_changes()).await
    }
}

/// The passphrase's bytes in a buffer wiped on drop.
fn bytes(passphrase: &SecretString) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(passphrase.expose_secret().as_bytes().to_vec())
}

fn unidentified(why: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Forbidden,
        format!("cannot tell which process is behind this connection: {why}"),
        Some("open the page in a browser you started yourself, outside any agent task".into()),
    )
}
