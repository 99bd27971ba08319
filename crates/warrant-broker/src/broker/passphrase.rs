//! Every check of the approver passphrase, whatever it is for and whichever
//! way it arrived (the socket or the approval page), goes through one gate:
//! refused inside a task, refused without an approver, refused while
//! locked or while another check runs, and audited when refused.

use std::time::Instant;

use crate::approver::{Busy, Verifier};
use crate::error::Error;
use crate::grant::GrantStatus;
use crate::protocol::{ErrorBody, ErrorCode};

use super::{Broker, Caller, HARDWARE_KEY_HINT, Outcome};

/// What a passphrase is checked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// Approving a pending grant.
    Approve {
        /// The grant.
        grant: String,
        /// Whether a security key was verified for this approval too (only
        /// the approval page can say so).
        with_key: bool,
    },
    /// Signing in to the approval page.
    SignIn,
    /// Replacing the approver passphrase (or setting the first one).
    SetApprover,
    /// Accepting a changed policy.
    AcceptPolicy,
    /// Registering a security key on the approval page.
    RegisterKey,
}

impl Purpose {
    /// What the caller tried, as refusals and the audit log say it.
    pub fn what(&self) -> &'static str {
        match self {
            Self::Approve { .. } => "approve",
            Self::SignIn => "sign in to the approval page",
            Self::SetApprover => "set the approver",
            Self::AcceptPolicy => "accept the policy",
            Self::RegisterKey => "register a security key",
        }
    }

    /// What the audit record of a refusal names: the grant, or the act.
    fn subject(&self) -> &str {
        match self {
            Self::Approve { grant, .. } => grant,
            other => other.what(),
        }
    }
}

impl Broker {
    /// First half of every passphrase check: may this caller try, now, for
    /// this purpose. On `Ok(Some(verifier))` the check slot is taken: check
    /// the passphrase outside the broker's lock (Argon2 is slow on
    /// purpose), then give the result to [`Broker::passphrase_end`], or
    /// call [`Broker::passphrase_abandon`] if the check could not run.
    /// `Ok(None)`: there is nothing to check (no approver yet, and the
    /// purpose is to set the first one).
    pub fn passphrase_begin(
        &mut self,
        caller: &Caller,
        purpose: &Purpose,
    ) -> Result<Outcome<Option<Verifier>>, Error> {
        if let Some(task) = self.task_of(caller).cloned() {
            return self.approval_refused(
                caller,
                purpose.subject(),
                format!(
                    "asked from inside task {} ({}): an agent cannot {}",
                    task.id,
                    task.actor,
                    purpose.what()
                ),
                ErrorCode::Forbidden,
                Some("do this from a terminal that is not running under `warrant task`".into()),
            );
        }
        let Some(verifier) = self.approver.clone() else {
            if *purpose == Purpose::SetApprover {
                return Ok(Ok(None));
            }
            return Ok(Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!(
                    "no approver passphrase is set, so nobody can {}",
                    purpose.what()
                ),
                Some("set one with `warrant approver set` (outside any agent task)".into()),
            )));
        };
        if let Purpose::Approve { grant, with_key } = purpose {
            match self.live.get(grant) {
                Some(g) if g.status == GrantStatus::Pending && g.hardware_key && !with_key => {
                    return self.approval_refused(
                        caller,
                        grant,
                        "the policy asks for a security key to approve this grant".into(),
                        ErrorCode::HardwareKeyRequired,
                        Some(HARDWARE_KEY_HINT.into()),
                    );
                }
                Some(g) if g.status == GrantStatus::Pending => {}
                Some(g) => {
                    return Ok(Err(ErrorBody::new(
                        ErrorCode::NotPending,
                        format!("grant {grant} is {}, not pending", g.status),
                        None,
                    )));
                }
                None => return Ok(Err(self.ended_or_missing(grant)?)),
            }
        }
        match self.throttle.begin(Instant::now()) {
            Ok(()) => Ok(Ok(Some(verifier))),
            Err(Busy::Locked(wait)) => self.approval_refused(
                caller,
                purpose.subject(),
                format!(
                    "locked for {} s after {} wrong passphrase(s)",
                    wait.as_secs().max(1),
                    self.throttle.failures()
                ),
                ErrorCode::Throttled,
                Some("wait, then try again with the right passphrase".into()),
            ),
            Err(Busy::Checking) => Ok(Err(ErrorBody::new(
                ErrorCode::Throttled,
                "another passphrase is being checked; one check runs at a time",
                Some("try again in a moment".into()),
            ))),
        }
    }

    /// Second half: records the check's result and gives the slot back. A
    /// wrong passphrase locks further checks (doubling each time) and is
    /// audited.
    pub fn passphrase_end(
        &mut self,
        caller: &Caller,
        purpose: &Purpose,
        ok: bool,
    ) -> Result<Outcome<()>, Error> {
        if ok {
            self.throttle.succeeded();
            return Ok(Ok(()));
        }
        let lockout = self.throttle.failed(Instant::now());
        self.approval_refused(
            caller,
            purpose.subject(),
            "wrong approver passphrase".into(),
            ErrorCode::WrongPassphrase,
            Some(format!(
                "passphrase checks are locked for {} s; the lock doubles with each wrong passphrase, up to 5 minutes",
                lockout.as_secs()
            )),
        )
    }

    /// Gives the check slot back when the check could not run at all.
    pub fn passphrase_abandon(&mut self) {
        self.throttle.abandon();
    }
}
