//! An in-process handle on the running daemon, for services that run
//! inside it beside its socket (the approval page).
//!
//! A [`Daemon`] calls the broker directly, under the same lock and with the
//! same group commit as the socket: every answer waits until what it
//! changed is on disk. It acts as the daemon's own process, named
//! `web:approver` in the audit log. Nothing here takes a value: the broker
//! holds names only.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::broadcast;
use zeroize::Zeroizing;

use crate::broker::{ApprovalTerms, Caller};
use crate::protocol::{ErrorBody, ErrorCode, GrantView, StatusView};
use crate::server::{
    Prefetch, Shared, check, end_all, with_broker, with_broker_durable, with_broker_reading,
};

/// A service started inside the daemon once its socket listens (see
/// [`crate::server::ServeOptions::extensions`]); it runs until the daemon
/// stops.
pub type Extension = Box<dyn FnOnce(Daemon) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// How the approval page is named in the audit log.
pub const WEB_USER: &str = "web:approver";

/// What the page's passphrase checks are audited as.
const SIGN_IN: &str = "sign in to the approval page";

/// A cloneable handle on the running daemon's broker.
#[derive(Clone)]
pub struct Daemon {
    shared: Arc<Shared>,
    caller: Caller,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("user", &self.caller.user)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let pid = shared.pid;
        let caller = Caller {
            uid: rustix::process::getuid().as_raw(),
            pid,
            ancestry: warrant_sandbox::proc::ancestors(pid).unwrap_or_default(),
            user: WEB_USER.to_owned(),
        };
        Self { shared, caller }
    }

    /// Counts and settings, as `warrant status` shows them.
    pub async fn status(&self) -> Result<StatusView, ErrorBody> {
        with_broker_durable(&self.shared, |b| b.status().map(Ok)).await
    }

    /// Pending and active grants, or every grant with `all`.
    pub async fn grants(&self, all: bool) -> Result<Vec<GrantView>, ErrorBody> {
        let c = self.caller.clone();
        let prefetch = if all {
            Prefetch::All
        } else {
            Prefetch::Nothing
        };
        with_broker_reading(&self.shared, prefetch, move |b| b.grants(&c, all).map(Ok)).await
    }

    /// One grant.
    pub async fn show(&self, id: &str) -> Result<GrantView, ErrorBody> {
        let id = id.to_owned();
        let p = Prefetch::Grant(id.clone());
        with_broker_reading(&self.shared, p, move |b| b.show(&id)).await
    }

    /// Checks the approver passphrase (to sign in to the page). Shares the
    /// approvals' lockout; a wrong one is audited.
    pub async fn verify_approver(&self, passphrase: &SecretString) -> Result<(), ErrorBody> {
        let c = self.caller.clone();
        let verifier = with_broker(&self.shared, move |b| {
            b.check_outside_task(&c, SIGN_IN)?;
            if let Some(wait) = b.throttle_wait() {
                return Err(ErrorBody::new(
                    ErrorCode::Throttled,
                    format!(
                        "locked for {} s after wrong passphrases",
                        wait.as_secs().max(1)
                    ),
                    Some("wait, then try again with the right passphrase".into()),
                ));
            }
            Ok(b.approver())
        })
        .await?;
        let Some(verifier) = verifier else {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "no approver passphrase is set, so nobody can sign in",
                Some("set one with `warrant approver set`".into()),
            ));
        };
        let ok = check(verifier, bytes(passphrase)).await?;
        let c = self.caller.clone();
        with_broker_durable(&self.shared, move |b| b.passphrase_checked(&c, SIGN_IN, ok)).await
    }

    /// Approves a pending grant with the approver passphrase, on `terms`.
    /// `terms.security_key` names the security key whose assertion the
    /// caller verified for this approval; a grant whose policy asks for a
    /// key is refused without one.
    pub async fn approve(
        &self,
        id: &str,
        passphrase: &SecretString,
        terms: ApprovalTerms,
    ) -> Result<GrantView, ErrorBody> {
        let (c, i, with_key) = (
            self.caller.clone(),
            id.to_owned(),
            terms.security_key.is_some(),
        );
        let p = Prefetch::Grant(i.clone());
        let verifier = with_broker_reading(&self.shared, p, move |b| {
            b.approve_check_with(&c, &i, with_key)
        })
        .await?;
        let ok = check(verifier, bytes(passphrase)).await?;
        let (c, id) = (self.caller.clone(), id.to_owned());
        let p = Prefetch::Grant(id.clone());
        with_broker_reading(&self.shared, p, move |b| {
            b.approve_finish_with(&c, &id, terms, ok)
        })
        .await
    }

    /// Refuses a pending grant.
    pub async fn deny(&self, id: &str, reason: Option<String>) -> Result<GrantView, ErrorBody> {
        let (c, id) = (self.caller.clone(), id.to_owned());
        let p = Prefetch::Grant(id.clone());
        with_broker_reading(&self.shared, p, move |b| b.deny(&c, &id, reason)).await
    }

    /// Ends a pending or active grant now, and the processes running
    /// under it.
    pub async fn revoke(&self, id: &str, reason: Option<String>) -> Result<GrantView, ErrorBody> {
        let (c, id) = (self.caller.clone(), id.to_owned());
        let (view, ending) =
            with_broker_reading(&self.shared, Prefetch::Grant(id.clone()), move |b| {
                b.revoke(&c, &id, reason)
            })
            .await?;
        end_all(vec![ending]);
        Ok(view)
    }

    /// Records that a security key was registered (names only).
    pub async fn security_key_added(&self, name: &str, credential: &str) -> Result<(), ErrorBody> {
        let (name, credential) = (name.to_owned(), credential.to_owned());
        with_broker_durable(&self.shared, move |b| {
            b.security_key_added(&name, &credential)
        })
        .await
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
