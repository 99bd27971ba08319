//! Approvals, the approver passphrase and acceptance of a changed policy.

use warrant_audit::Event;
use warrant_policy::Policy;

use crate::approver::Verifier;
use crate::error::Error;
use crate::grant::{GrantStatus, now_ms};
use crate::protocol::{ErrorBody, ErrorCode, GrantView};

use super::{Broker, Caller, Change, Outcome, Purpose};

/// What a refusal for want of a security key tells the approver.
pub const HARDWARE_KEY_HINT: &str =
    "approve it on the page with your security key (`warrant ui` prints its address)";

/// The terms an approver sets: at most what was asked for.
#[derive(Debug, Clone, Default)]
pub struct ApprovalTerms {
    /// A shorter lifetime than asked, in milliseconds.
    pub ttl_ms: Option<u64>,
    /// Fewer uses than the policy allows.
    pub max_uses: Option<u64>,
    /// The security key that was verified for this approval (its name),
    /// set only by the daemon's approval page after a WebAuthn assertion.
    pub security_key: Option<String>,
}
use crate::state::{ACCEPTED_POLICY, LAST_POLICY};

impl Broker {
    /// Reloads the policy if its file changed, auditing the change.
    pub fn refresh_policy(&mut self) -> Result<(), Error> {
        let Some(change) = self.policy.refresh() else {
            return Ok(());
        };
        let Some(current) = change.current else {
            return Ok(());
        };
        let path = self.policy.path_display();
        let previous = self.last_policy.clone();
        if previous.as_deref() == Some(current.as_str()) {
            return Ok(());
        }
        self.record(Event::PolicyChanged {
            path: path.clone(),
            previous: previous.clone(),
            current: current.clone(),
        })?;
        self.stage(Change::Meta(LAST_POLICY, current.clone()));
        self.last_policy = Some(current.clone());
        // The first policy a daemon ever loads is the one its operator
        // started it with; later versions need an approver's acceptance
        // before their automatic approvals apply.
        if previous.is_none() && self.accepted_policy.is_none() {
            self.record(Event::PolicyAccepted {
                path,
                policy: current.clone(),
                by: "daemon start".into(),
            })?;
            if let Some(policy) = self.policy.current() {
                self.set_accepted(&policy);
            }
        }
        Ok(())
    }

    /// Keeps `policy` as the accepted one: its hash, and its text for the
    /// stricter-of decisions while a later change waits for acceptance.
    fn set_accepted(&mut self, policy: &Policy) {
        let hash = policy.hash().to_owned();
        self.stage(Change::Meta(ACCEPTED_POLICY, hash.clone()));
        self.stage(Change::Meta(
            crate::state::ACCEPTED_POLICY_TEXT,
            policy.text().to_owned(),
        ));
        self.accepted_policy = Some(hash);
        self.accepted_rules = Some(policy.clone());
    }

    /// The accepted policy to hold a changed one to, while the change is
    /// not accepted: `None` when the current one is accepted (or when no
    /// accepted text was kept, by a daemon from before it was).
    pub(super) fn stricter_than(&self, current: &Policy) -> Option<&Policy> {
        if self.accepted_policy.as_deref() == Some(current.hash()) {
            return None;
        }
        self.accepted_rules.as_ref()
    }

    pub(super) fn policy_accepted(&self, policy: &Policy) -> Result<bool, Error> {
        Ok(self.accepted_policy.as_deref() == Some(policy.hash()))
    }

    /// First half of an approval over [`Broker::passphrase_begin`]: may
    /// this caller try, and against what. The passphrase is checked outside
    /// the broker's lock (Argon2 is slow on purpose), then
    /// [`Broker::approve_finish`] applies the result. A grant that needs a
    /// security key is refused here, before any passphrase is checked (see
    /// [`Broker::approve_check_with`]).
    pub fn approve_check(&mut self, caller: &Caller, id: &str) -> Result<Outcome<Verifier>, Error> {
        self.approve_check_with(caller, id, false)
    }

    /// [`Broker::approve_check`], where `with_key` says a security key
    /// was verified too (the approval page).
    pub fn approve_check_with(
        &mut self,
        caller: &Caller,
        id: &str,
        with_key: bool,
    ) -> Result<Outcome<Verifier>, Error> {
        let purpose = Purpose::Approve {
            grant: id.to_owned(),
            with_key,
        };
        Ok(self
            .passphrase_begin(caller, &purpose)?
            .and_then(|verifier| {
                verifier.ok_or_else(|| {
                    ErrorBody::new(ErrorCode::Internal, "no approver to check against", None)
                })
            }))
    }

    /// Second half of an approval, once the passphrase was checked.
    pub fn approve_finish(
        &mut self,
        caller: &Caller,
        id: &str,
        ttl_ms: Option<u64>,
        passphrase_ok: bool,
    ) -> Result<Outcome<GrantView>, Error> {
        let terms = ApprovalTerms {
            ttl_ms,
            ..ApprovalTerms::default()
        };
        self.approve_finish_with(caller, id, terms, passphrase_ok)
    }

    /// Second half of an approval with every term: records the passphrase
    /// check ([`Broker::passphrase_end`]), then [`Broker::approve_grant`].
    pub fn approve_finish_with(
        &mut self,
        caller: &Caller,
        id: &str,
        terms: ApprovalTerms,
        passphrase_ok: bool,
    ) -> Result<Outcome<GrantView>, Error> {
        let purpose = Purpose::Approve {
            grant: id.to_owned(),
            with_key: terms.security_key.is_some(),
        };
        if let Err(body) = self.passphrase_end(caller, &purpose, passphrase_ok)? {
            return Ok(Err(body));
        }
        self.approve_grant(caller, id, terms)
    }

    /// Makes a pending grant active on `terms`: a shorter lifetime, fewer
    /// uses, and whether a security key was verified (only the daemon's
    /// own approval page can say so; the socket never does). The caller's
    /// passphrase was checked through [`Broker::passphrase_begin`] and
    /// [`Broker::passphrase_end`]. A grant whose policy asks for a
    /// security key is refused without one.
    pub fn approve_grant(
        &mut self,
        caller: &Caller,
        id: &str,
        terms: ApprovalTerms,
    ) -> Result<Outcome<GrantView>, Error> {
        let now = now_ms();
        let Some(grant) = self.live.get(id) else {
            return Ok(Err(self.ended_or_missing(id)?));
        };
        if grant.status != GrantStatus::Pending || grant.is_due(now) {
            return Ok(Err(ErrorBody::new(
                ErrorCode::NotPending,
                format!("grant {id} is no longer pending"),
                None,
            )));
        }
        if grant.hardware_key && terms.security_key.is_none() {
            return self.approval_refused(
                caller,
                id,
                "the policy asks for a security key to approve this grant".into(),
                ErrorCode::HardwareKeyRequired,
                Some(HARDWARE_KEY_HINT.into()),
            );
        }
        let mut grant = grant.clone();
        let ttl = terms.ttl_ms.map_or(grant.ttl_ms, |t| t.min(grant.ttl_ms));
        if ttl == 0 || terms.max_uses == Some(0) {
            return Ok(Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "ttl and uses must be more than zero",
                None,
            )));
        }
        let max_uses = match (grant.max_uses, terms.max_uses) {
            (Some(policy), Some(asked)) => Some(policy.min(asked)),
            (policy, asked) => policy.or(asked),
        };
        let by = match &terms.security_key {
            Some(key) => format!("{} (security key {key})", caller.user),
            None => caller.user.clone(),
        };
        grant.status = GrantStatus::Active;
        grant.ttl_ms = ttl;
        grant.max_uses = max_uses;
        grant.approved_ms = Some(now);
        grant.approved_by = Some(by.clone());
        grant.expires_ms = now.saturating_add(ttl);
        self.record(Event::GrantApproved {
            grant: id.to_owned(),
            by,
            ttl_secs: ttl / 1000,
            max_uses,
        })?;
        self.stage(Change::Grant(grant.clone()));
        let view = GrantView::of(&grant, now);
        self.live.insert(grant.id.clone(), grant);
        Ok(Ok(view))
    }

    pub(super) fn approval_refused<T>(
        &self,
        caller: &Caller,
        id: &str,
        reason: String,
        code: ErrorCode,
        hint: Option<String>,
    ) -> Result<Outcome<T>, Error> {
        self.record(Event::ApprovalRefused {
            grant: id.to_owned(),
            by: caller.user.clone(),
            reason: reason.clone(),
        })?;
        Ok(Err(ErrorBody::new(code, reason, hint)))
    }

    /// The approver verifier, if set (to check a passphrase outside the lock).
    pub fn approver(&self) -> Option<Verifier> {
        self.approver.clone()
    }

    /// Installs a new approver verifier, checked by the caller.
    pub fn set_approver(
        &mut self,
        caller: &Caller,
        verifier: Verifier,
    ) -> Result<Outcome<()>, Error> {
        if let Some(task) = self.task_of(caller) {
            return Ok(Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!(
                    "asked from inside task {}: an agent cannot set the approver",
                    task.id
                ),
                None,
            )));
        }
        verifier.save(&self.home)?;
        self.record(Event::ApproverSet {
            replaced: self.approver.is_some(),
        })?;
        self.approver = Some(verifier);
        Ok(Ok(()))
    }

    /// Records a security key registered on the approval page (the page
    /// checked the approver passphrase, and an existing key if any).
    pub fn security_key_added(
        &self,
        caller: &Caller,
        name: &str,
        credential: &str,
    ) -> Result<Outcome<()>, Error> {
        if let Some(task) = self.task_of(caller) {
            return Ok(Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!(
                    "asked from inside task {}: an agent cannot register a security key",
                    task.id
                ),
                None,
            )));
        }
        self.record(Event::SecurityKeyAdded {
            name: name.to_owned(),
            credential: credential.to_owned(),
        })?;
        Ok(Ok(()))
    }

    /// Accepts the current policy (its automatic approvals apply again).
    pub fn policy_accept(
        &mut self,
        caller: &Caller,
    ) -> Result<Outcome<crate::protocol::PolicyView>, Error> {
        self.refresh_policy()?;
        let Some(policy) = self.policy.current() else {
            return Ok(Err(ErrorBody::new(
                ErrorCode::NotFound,
                self.policy.unavailable_reason(),
                Some(self.policy.hint()),
            )));
        };
        self.record(Event::PolicyAccepted {
            path: policy.path().display().to_string(),
            policy: policy.hash().to_owned(),
            by: caller.user.clone(),
        })?;
        self.set_accepted(&policy);
        Ok(Ok(crate::protocol::PolicyView {
            path: policy.path().display().to_string(),
            hash: policy.hash().to_owned(),
            accepted: true,
            error: None,
        }))
    }
}

/// The accepted policy from its kept text, if that text is the one whose
/// hash was accepted.
pub(super) fn accepted_rules(hash: Option<&str>, text: Option<String>) -> Option<Policy> {
    let text = text?;
    let policy = Policy::parse(std::path::Path::new("accepted warrant.toml"), &text).ok()?;
    (Some(policy.hash()) == hash).then_some(policy)
}
