//! The broker's decisions, without sockets: who may have which grant, for
//! which commands, for how long; and the record of every step.
//!
//! Every change is audited first and committed to the state database
//! second, so a crash between the two leaves the log saying more than the
//! state did, never less: a grant the state shows active always has its
//! approval in the log. Values are read from the store only for a use that
//! passed every check.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use warrant_audit::{AuditLog, Event};
use warrant_policy::{Approval, Decision, Policy};
use warrant_sandbox::proc::{self, ProcessId};
use warrant_secret::SecretName;
use warrant_store::SecretStore;

use crate::approver::{Throttle, Verifier};
use crate::error::Error;
use crate::grant::{self, Grant, GrantProcess, GrantStatus, PENDING_LIFETIME_MS, now_ms};
use crate::policy_slot::PolicySlot;
use crate::protocol::{
    ErrorBody, GrantRequest, GrantView, RunResult, StatusView, TaskEnded, TaskView, UseReply,
    UseRequest,
};
use crate::state::{ACCEPTED_POLICY, Change, LAST_POLICY, StateDb, Task};

/// Who is calling, as the kernel and `/proc` tell it (not as it claims).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The peer's uid.
    pub uid: u32,
    /// The peer's pid.
    pub pid: u32,
    /// The peer's ancestry, itself first.
    pub ancestry: Vec<ProcessId>,
    /// The OS user name (for the audit log).
    pub user: String,
}

/// Processes to end, and how gently.
#[derive(Debug, Default)]
pub struct Ending {
    /// Roots of the process trees to end.
    pub processes: Vec<ProcessId>,
    /// SIGTERM → SIGKILL grace.
    pub grace: Duration,
}

/// The longest reason a request may give.
const MAX_REASON: usize = 1000;
/// The most secrets, commands or hosts one request may name.
const MAX_LIST: usize = 64;

/// SIGTERM → SIGKILL grace for what a vanished `warrant task` left behind.
const ORPHAN_GRACE: Duration = Duration::from_secs(2);

/// Result type of the broker's operations: refusals are [`ErrorBody`]s
/// that go back to the client as they are.
pub type Outcome<T> = Result<T, ErrorBody>;

/// Audit records and state changes made in memory and not yet written.
#[derive(Default)]
struct Pending {
    events: Vec<Event>,
    changes: Vec<Change>,
    /// Sequence number of the last staged item.
    staged: u64,
}

/// A batch to write: audit records first, then state changes; everything
/// staged up to `upto` is durable once both are written.
pub struct Batch {
    /// Audit records, in order.
    pub events: Vec<Event>,
    /// State changes, in order.
    pub changes: Vec<Change>,
    /// The last sequence number it covers.
    pub upto: u64,
}

/// Where batches are written: shared between the broker (which reads the
/// state database) and the one writer that commits batches.
pub struct Journal {
    /// The audit log.
    pub audit: AuditLog,
    /// The state database.
    pub state: StateDb,
}

impl Journal {
    /// Writes a batch: the audit records, then the state changes, each with
    /// one sync. A grant the state shows changed always has its record in
    /// the log. `durable` runs once both are on disk, before the log's head
    /// is updated (which is off the critical path).
    pub fn write(&self, batch: &mut Batch, durable: impl FnOnce()) -> Result<(), Error> {
        let (_, head) = self
            .audit
            .append_all_head_later(std::mem::take(&mut batch.events))?;
        if !batch.changes.is_empty() {
            self.state.commit(&batch.changes)?;
        }
        durable();
        if let Some(head) = head {
            head.write()?;
        }
        Ok(())
    }
}

/// The broker's state in memory: live grants and tasks (ended grants stay
/// only in the database, so memory follows what is live, not history).
///
/// Operations change memory and stage their audit records and state
/// changes; one writer commits staged items in batches (group commit), and
/// the daemon answers an operation, or hands out values, only once
/// everything it staged is durable ([`Broker::ticket`]).
pub struct Broker {
    home: PathBuf,
    journal: Arc<Journal>,
    store: Arc<dyn SecretStore + Send + Sync>,
    policy: PolicySlot,
    live: HashMap<String, Grant>,
    tasks: HashMap<String, Task>,
    approver: Option<Verifier>,
    throttle: Throttle,
    started_ms: u64,
    accepted_policy: Option<String>,
    last_policy: Option<String>,
    pending: RefCell<Pending>,
    /// Set when a batch could not be written: from then on every operation
    /// fails (memory may be ahead of the disk; only a restart is safe).
    failed: Option<String>,
    /// Whether some operation is writing batches now (the leader).
    writing: bool,
    /// Each task's processes as last seen: if its `warrant task` dies
    /// without warning, they are reparented away from it and ancestry can no
    /// longer find them, so the daemon ends what it saw last.
    members: HashMap<String, Vec<ProcessId>>,
}

impl Broker {
    /// Opens the state under `home`, expires every grant whose time passed
    /// while no daemon ran, and records the start (written before this
    /// returns). Returns the broker and the processes of expired grants that
    /// must be ended.
    pub fn start(
        home: &Path,
        store: Arc<dyn SecretStore + Send + Sync>,
        policy: Option<PathBuf>,
    ) -> Result<(Self, Vec<Ending>), Error> {
        let state = StateDb::open(home)?;
        let audit = AuditLog::new(home);
        let approver = Verifier::load(home)?;
        let mut live = HashMap::new();
        for grant in state.grants()? {
            if grant.status.is_live() {
                live.insert(grant.id.clone(), grant);
            }
        }
        let tasks = state
            .tasks()?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        let accepted_policy = state.meta(ACCEPTED_POLICY)?;
        let last_policy = state.meta(LAST_POLICY)?;
        let mut broker = Self {
            home: home.to_owned(),
            journal: Arc::new(Journal { audit, state }),
            store,
            policy: PolicySlot::new(policy),
            live,
            tasks,
            approver,
            throttle: Throttle::default(),
            started_ms: now_ms(),
            accepted_policy,
            last_policy,
            pending: RefCell::new(Pending::default()),
            failed: None,
            writing: false,
            members: HashMap::new(),
        };
        let due = broker
            .live
            .values()
            .filter(|g| g.is_due(broker.started_ms))
            .count();
        let endings = broker.tick(broker.started_ms)?;
        broker.record(Event::DaemonStarted {
            expired: due as u64,
        })?;
        broker.refresh_policy()?;
        if let Some(mut batch) = broker.take_batch() {
            broker.journal.write(&mut batch, || {})?;
        }
        Ok((broker, endings))
    }

    /// The warrant home.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Where batches go (for the writer).
    pub fn journal(&self) -> Arc<Journal> {
        Arc::clone(&self.journal)
    }

    /// The store (values are read outside the broker's lock).
    pub fn store(&self) -> Arc<dyn SecretStore + Send + Sync> {
        Arc::clone(&self.store)
    }

    /// Stages an audit record.
    fn record(&self, event: Event) -> Result<(), Error> {
        let mut pending = self.pending.borrow_mut();
        pending.events.push(event);
        pending.staged += 1;
        Ok(())
    }

    /// Stages a state change.
    fn stage(&self, change: Change) {
        let mut pending = self.pending.borrow_mut();
        pending.changes.push(change);
        pending.staged += 1;
    }

    /// The sequence number an operation must see durable before its answer
    /// goes out: everything staged so far.
    pub fn ticket(&self) -> u64 {
        self.pending.borrow().staged
    }

    /// Whether anything waits to be written.
    pub fn has_pending(&self) -> bool {
        let pending = self.pending.borrow();
        !pending.events.is_empty() || !pending.changes.is_empty()
    }

    /// Makes the caller the writer unless one is active: the caller then
    /// writes batches with [`Broker::next_batch`] until it returns `None`.
    pub fn claim_writer(&mut self) -> bool {
        if self.writing || !self.has_pending() {
            return false;
        }
        self.writing = true;
        true
    }

    /// The writer's next batch; `None` ends its turn (under the same lock
    /// that stages, so nothing staged is left without a writer).
    pub fn next_batch(&mut self) -> Option<Batch> {
        let batch = self.take_batch();
        if batch.is_none() {
            self.writing = false;
        }
        batch
    }

    /// Takes what is staged.
    pub fn take_batch(&mut self) -> Option<Batch> {
        let pending = self.pending.get_mut();
        if pending.events.is_empty() && pending.changes.is_empty() {
            return None;
        }
        Some(Batch {
            events: std::mem::take(&mut pending.events),
            changes: std::mem::take(&mut pending.changes),
            upto: pending.staged,
        })
    }

    /// Records that a batch could not be written: the broker refuses
    /// everything from now on.
    pub fn fail(&mut self, reason: String) {
        self.failed = Some(reason);
    }

    /// Why the broker stopped working, if it did.
    pub fn failure(&self) -> Option<ErrorBody> {
        self.failed.as_ref().map(|reason| {
            ErrorBody::new(
                "internal",
                format!("the daemon can no longer record its decisions: {reason}"),
                Some("fix the cause (disk full? permissions?) and restart `warrant serve`".into()),
            )
        })
    }

    /// A grant as it stands now: live, staged, or in the database.
    fn lookup(&self, id: &str) -> Result<Option<Grant>, Error> {
        if let Some(grant) = self.live.get(id) {
            return Ok(Some(grant.clone()));
        }
        let staged = self
            .pending
            .borrow()
            .changes
            .iter()
            .rev()
            .find_map(|c| match c {
                Change::Grant(g) if g.id == id => Some(g.clone()),
                _ => None,
            });
        match staged {
            Some(grant) => Ok(Some(grant)),
            None => self.journal.state.grant(id),
        }
    }

    /// Records a clean stop (the caller writes the last batch).
    pub fn stop(&self) -> Result<(), Error> {
        self.record(Event::DaemonStopped {})?;
        Ok(())
    }

    /// Audits a refused connection.
    pub fn peer_refused(&self, uid: u32, pid: u32, reason: &str) -> Result<(), Error> {
        self.record(Event::PeerRefused {
            peer_uid: uid,
            peer_pid: pid,
            reason: reason.to_owned(),
        })?;
        Ok(())
    }

    /// The task a caller's process belongs to: the innermost task whose
    /// root is among its ancestors.
    pub fn task_of(&self, caller: &Caller) -> Option<&Task> {
        caller.ancestry.iter().find_map(|p| {
            self.tasks
                .values()
                .find(|t| t.root.pid == p.pid && t.root.start_time == p.start_time)
        })
    }

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
            self.stage(Change::Meta(ACCEPTED_POLICY, current.clone()));
            self.accepted_policy = Some(current);
        }
        Ok(())
    }

    fn policy_accepted(&self, policy: &Policy) -> Result<bool, Error> {
        Ok(self.accepted_policy.as_deref() == Some(policy.hash()))
    }

    /// Asks for a grant.
    pub fn request(
        &mut self,
        caller: &Caller,
        req: GrantRequest,
    ) -> Result<Outcome<GrantView>, Error> {
        self.refresh_policy()?;
        let task = self.task_of(caller).cloned();
        let actor = match (&task, &req.actor) {
            (Some(task), Some(claimed)) if claimed != &task.actor => {
                return Ok(Err(ErrorBody::new(
                    "forbidden",
                    format!(
                        "inside task {} every process acts as {}; it cannot claim actor {claimed}",
                        task.id, task.actor
                    ),
                    Some("leave out --actor inside a task".into()),
                )));
            }
            (Some(task), _) => task.actor.clone(),
            (None, Some(claimed)) => claimed.clone(),
            (None, None) => {
                return Ok(Err(ErrorBody::new(
                    "bad_request",
                    "no actor: outside a task, say who asks",
                    Some("pass --actor NAME (an actor of the policy), or run the agent under `warrant task`".into()),
                )));
            }
        };
        let task_id = task.as_ref().map(|t| t.id.clone());
        let deny = |this: &Self,
                    reason: String,
                    hint: Option<String>|
         -> Result<Outcome<GrantView>, Error> {
            this.record(Event::RequestDenied {
                actor: actor.clone(),
                task: task_id.clone(),
                secrets: req.secrets.clone(),
                reason: reason.clone(),
            })?;
            Ok(Err(ErrorBody::new("denied", reason, hint)))
        };
        let Some(policy) = self.policy.current() else {
            let reason = self.policy.unavailable_reason();
            return deny(self, reason, Some(self.policy.hint()));
        };
        let mut names = Vec::new();
        for secret in &req.secrets {
            match SecretName::new(secret) {
                Ok(name) => names.push(name),
                Err(e) => return Ok(Err(ErrorBody::new("bad_request", e.to_string(), None))),
            }
        }
        if names.is_empty() {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                "no secrets asked for",
                Some("name them with --secret NAME".into()),
            )));
        }
        if req.ttl_ms == 0 {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                "ttl must be more than zero",
                None,
            )));
        }
        // What a request carries ends up in the audit log and the state:
        // keep it to the size of a request, not of a file.
        if req.reason.trim().is_empty() || req.reason.chars().count() > MAX_REASON {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                format!("a reason is needed, of at most {MAX_REASON} characters"),
                Some("say in a sentence what the task needs the secrets for".into()),
            )));
        }
        if names.len() > MAX_LIST || req.commands.len() > MAX_LIST || req.hosts.len() > MAX_LIST {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                format!("at most {MAX_LIST} secrets, commands and hosts per request"),
                None,
            )));
        }
        let decision = policy.decide(&warrant_policy::Request {
            actor: &actor,
            secrets: &names,
            commands: &req.commands,
            hosts: &req.hosts,
            ttl: Duration::from_millis(req.ttl_ms),
        });
        let terms = match decision {
            Decision::Allow(terms) => terms,
            Decision::Deny(denial) => {
                let hint = format!(
                    "see why with `warrant policy explain --actor {actor} --secret {}`",
                    denial
                        .secret
                        .as_ref()
                        .map_or_else(|| req.secrets[0].clone(), |s| s.to_string())
                );
                return deny(self, denial.reason, Some(hint));
            }
        };
        let stored: Vec<SecretName> = self.store.list()?.into_iter().map(|m| m.name).collect();
        if let Some(missing) = names.iter().find(|n| !stored.contains(n)) {
            return deny(
                self,
                format!("no secret named {missing} in the store"),
                Some(format!("add it with `warrant secret set {missing}`")),
            );
        }
        let accepted = self.policy_accepted(&policy)?;
        let auto = terms.approval == Approval::Auto && accepted;
        let now = now_ms();
        let ttl_ms = u64::try_from(terms.ttl.as_millis()).unwrap_or(u64::MAX);
        let id = grant::new_id("g").map_err(|e| Error::Random(e.to_string()))?;
        // Each secret keeps its own rule's hosts (or the hosts asked for,
        // which every covering rule allowed).
        let secret_hosts = terms
            .coverage
            .iter()
            .map(|c| {
                let hosts = if req.hosts.is_empty() {
                    policy
                        .rule_at(c.rule)
                        .map(|r| r.hosts.patterns().to_vec())
                        .unwrap_or_default()
                } else {
                    terms.hosts.clone()
                };
                (c.secret.to_string(), hosts)
            })
            .collect();
        let mut grant = Grant {
            id,
            actor: actor.clone(),
            task: task_id.clone(),
            secrets: names.iter().map(ToString::to_string).collect(),
            reason: req.reason.clone(),
            command_scopes: terms.command_scopes.clone(),
            hosts: terms.hosts.clone(),
            secret_hosts,
            ttl_ms,
            max_uses: terms.max_uses,
            uses: 0,
            status: GrantStatus::Pending,
            created_ms: now,
            approved_ms: None,
            approved_by: None,
            expires_ms: now.saturating_add(PENDING_LIFETIME_MS),
            ended_ms: None,
            end_reason: None,
            rules: terms.rules.iter().map(|&l| l as u64).collect(),
            policy_hash: policy.hash().to_owned(),
            terminate_on_expiry: terms.on_expiry == warrant_policy::OnExpiry::Terminate,
            grace_ms: u64::try_from(terms.grace.as_millis()).unwrap_or(u64::MAX),
            processes: Vec::new(),
        };
        if auto {
            grant.status = GrantStatus::Active;
            grant.approved_ms = Some(now);
            grant.approved_by = Some("policy".into());
            grant.expires_ms = now.saturating_add(ttl_ms);
        }
        self.record(Event::GrantRequested {
            grant: grant.id.clone(),
            actor,
            task: task_id,
            secrets: grant.secrets.clone(),
            commands: grant.command_scopes.iter().flatten().cloned().collect(),
            hosts: grant.hosts.clone(),
            ttl_secs: ttl_ms / 1000,
            max_uses: grant.max_uses,
            reason: req.reason,
            status: grant.status.as_str().to_owned(),
            rules: grant.rules.clone(),
            policy: grant.policy_hash.clone(),
        })?;
        if auto {
            self.record(Event::GrantApproved {
                grant: grant.id.clone(),
                by: "policy".into(),
                ttl_secs: ttl_ms / 1000,
            })?;
        }
        self.stage(Change::Grant(grant.clone()));
        let view = GrantView::of(&grant, now);
        self.live.insert(grant.id.clone(), grant);
        Ok(Ok(view))
    }

    /// Every live grant, or every grant ever with `all`, oldest first.
    pub fn grants(&self, caller: &Caller, all: bool) -> Result<Vec<GrantView>, Error> {
        let now = now_ms();
        let task = self.task_of(caller).map(|t| t.id.clone());
        let mut grants: Vec<Grant> = if all {
            // The database, overlaid with what is staged and what is live.
            let mut by_id: HashMap<String, Grant> = self
                .journal
                .state
                .grants()?
                .into_iter()
                .map(|g| (g.id.clone(), g))
                .collect();
            for change in &self.pending.borrow().changes {
                if let Change::Grant(g) = change {
                    by_id.insert(g.id.clone(), g.clone());
                }
            }
            for g in self.live.values() {
                by_id.insert(g.id.clone(), g.clone());
            }
            by_id.into_values().collect()
        } else {
            self.live.values().cloned().collect()
        };
        // Inside a task, an agent sees its own task's grants only.
        if let Some(task) = &task {
            grants.retain(|g| g.task.as_ref() == Some(task));
        }
        grants.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(grants.iter().map(|g| GrantView::of(g, now)).collect())
    }

    /// One grant.
    pub fn show(&self, id: &str) -> Result<Outcome<GrantView>, Error> {
        let grant = self.lookup(id)?;
        Ok(grant
            .map(|g| GrantView::of(&g, now_ms()))
            .ok_or_else(|| not_found(id)))
    }

    /// First half of an approval: may this caller try, and against what.
    /// The passphrase is checked outside the broker's lock (Argon2 is slow
    /// on purpose), then [`Broker::approve_finish`] applies the result.
    pub fn approve_check(&mut self, caller: &Caller, id: &str) -> Result<Outcome<Verifier>, Error> {
        if let Some(task) = self.task_of(caller).cloned() {
            return self.approval_refused(
                caller,
                id,
                format!(
                    "asked from inside task {} ({}): an agent cannot approve",
                    task.id, task.actor
                ),
                "forbidden",
                Some("approve from a terminal that is not running under `warrant task`".into()),
            );
        }
        if let Some(wait) = self.throttle.wait(std::time::Instant::now()) {
            return self.approval_refused(
                caller,
                id,
                format!(
                    "locked for {} s after {} wrong passphrase(s)",
                    wait.as_secs().max(1),
                    self.throttle.failures()
                ),
                "throttled",
                Some("wait, then try again with the right passphrase".into()),
            );
        }
        let Some(verifier) = self.approver.clone() else {
            return Ok(Err(ErrorBody::new(
                "forbidden",
                "no approver passphrase is set, so nothing can be approved",
                Some("set one with `warrant approver set` (outside any agent task)".into()),
            )));
        };
        match self.live.get(id) {
            Some(g) if g.status == GrantStatus::Pending => Ok(Ok(verifier)),
            Some(g) => Ok(Err(ErrorBody::new(
                "not_pending",
                format!("grant {id} is {}, not pending", g.status),
                None,
            ))),
            None => Ok(Err(self.ended_or_missing(id)?)),
        }
    }

    /// Second half of an approval, once the passphrase was checked.
    pub fn approve_finish(
        &mut self,
        caller: &Caller,
        id: &str,
        ttl_ms: Option<u64>,
        passphrase_ok: bool,
    ) -> Result<Outcome<GrantView>, Error> {
        if !passphrase_ok {
            let lockout = self.throttle.failed(std::time::Instant::now());
            return self.approval_refused(
                caller,
                id,
                "wrong approver passphrase".into(),
                "wrong_passphrase",
                Some(format!(
                    "approval is locked for {} s; the lock doubles with each wrong passphrase",
                    lockout.as_secs()
                )),
            );
        }
        self.throttle.succeeded();
        let now = now_ms();
        let Some(grant) = self.live.get(id) else {
            return Ok(Err(self.ended_or_missing(id)?));
        };
        if grant.status != GrantStatus::Pending || grant.is_due(now) {
            return Ok(Err(ErrorBody::new(
                "not_pending",
                format!("grant {id} is no longer pending"),
                None,
            )));
        }
        let mut grant = grant.clone();
        let ttl = ttl_ms.map_or(grant.ttl_ms, |t| t.min(grant.ttl_ms));
        if ttl == 0 {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                "ttl must be more than zero",
                None,
            )));
        }
        grant.status = GrantStatus::Active;
        grant.ttl_ms = ttl;
        grant.approved_ms = Some(now);
        grant.approved_by = Some(caller.user.clone());
        grant.expires_ms = now.saturating_add(ttl);
        self.record(Event::GrantApproved {
            grant: id.to_owned(),
            by: caller.user.clone(),
            ttl_secs: ttl / 1000,
        })?;
        self.stage(Change::Grant(grant.clone()));
        let view = GrantView::of(&grant, now);
        self.live.insert(grant.id.clone(), grant);
        Ok(Ok(view))
    }

    fn approval_refused<T>(
        &self,
        caller: &Caller,
        id: &str,
        reason: String,
        code: &str,
        hint: Option<String>,
    ) -> Result<Outcome<T>, Error> {
        self.record(Event::ApprovalRefused {
            grant: id.to_owned(),
            by: caller.user.clone(),
            reason: reason.clone(),
        })?;
        Ok(Err(ErrorBody::new(code, reason, hint)))
    }

    /// Refuses a pending grant.
    pub fn deny(
        &mut self,
        caller: &Caller,
        id: &str,
        reason: Option<String>,
    ) -> Result<Outcome<GrantView>, Error> {
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON)
        {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                format!("a reason is limited to {MAX_REASON} characters"),
                None,
            )));
        }
        let by = self.who(caller);
        let Some(grant) = self.live.get(id) else {
            return Ok(Err(self.ended_or_missing(id)?));
        };
        if grant.status != GrantStatus::Pending {
            return Ok(Err(ErrorBody::new(
                "not_pending",
                format!("grant {id} is {}, not pending", grant.status),
                Some(format!("end an active grant with `warrant revoke {id}`")),
            )));
        }
        if let Err(refusal) = self.may_touch(caller, grant) {
            return Ok(Err(refusal));
        }
        let mut grant = grant.clone();
        let now = now_ms();
        grant.status = GrantStatus::Denied;
        grant.ended_ms = Some(now);
        grant.end_reason = Some(reason.clone().unwrap_or_else(|| format!("denied by {by}")));
        self.record(Event::GrantDenied {
            grant: id.to_owned(),
            by,
            reason,
        })?;
        self.stage(Change::Grant(grant.clone()));
        self.live.remove(id);
        Ok(Ok(GrantView::of(&grant, now)))
    }

    /// Ends a live grant now; returns the processes to end with it.
    pub fn revoke(
        &mut self,
        caller: &Caller,
        id: &str,
        reason: Option<String>,
    ) -> Result<Outcome<(GrantView, Ending)>, Error> {
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON)
        {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                format!("a reason is limited to {MAX_REASON} characters"),
                None,
            )));
        }
        let by = self.who(caller);
        let Some(grant) = self.live.get(id) else {
            return Ok(Err(self.ended_or_missing(id)?));
        };
        if let Err(refusal) = self.may_touch(caller, grant) {
            return Ok(Err(refusal));
        }
        let reason = reason.unwrap_or_else(|| "revoked".into());
        let (view, ending) = self.end_grant(id, GrantStatus::Revoked, &by, &reason, true)?;
        Ok(Ok((view, ending)))
    }

    /// Ends grant `id` (which must be live) with `status`, auditing it.
    fn end_grant(
        &mut self,
        id: &str,
        status: GrantStatus,
        by: &str,
        reason: &str,
        terminate: bool,
    ) -> Result<(GrantView, Ending), Error> {
        let mut grant = self
            .live
            .get(id)
            .cloned()
            .expect("caller checked it is live");
        let now = now_ms();
        let ending = Ending {
            processes: if terminate {
                grant.processes.iter().map(|&p| p.into()).collect()
            } else {
                Vec::new()
            },
            grace: Duration::from_millis(grant.grace_ms),
        };
        let ended = ending.processes.len() as u64;
        match status {
            GrantStatus::Expired => self.record(Event::GrantExpired {
                grant: id.to_owned(),
                processes_ended: ended,
            })?,
            _ => self.record(Event::GrantRevoked {
                grant: id.to_owned(),
                by: by.to_owned(),
                reason: reason.to_owned(),
                processes_ended: ended,
            })?,
        };
        grant.status = status;
        grant.ended_ms = Some(now);
        grant.end_reason = Some(reason.to_owned());
        if terminate {
            grant.processes.clear();
        }
        self.stage(Change::Grant(grant.clone()));
        self.live.remove(id);
        Ok((GrantView::of(&grant, now), ending))
    }

    /// Checks a use and counts it. The caller reads the values from the
    /// store (outside the lock) and sends them only once the use's record
    /// is durable.
    pub fn use_begin(
        &mut self,
        caller: &Caller,
        req: &UseRequest,
    ) -> Result<Outcome<UseReply>, Error> {
        let now = now_ms();
        let command = program_name(&req.program);
        let task = self.task_of(caller).cloned();
        let caller_actor = task.as_ref().map(|t| t.actor.clone());
        let refuse =
            |this: &Self, actor: &str, reason: String, code: &str, hint: Option<String>| {
                this.record(Event::UseRefused {
                    grant: req.grant.clone(),
                    actor: actor.to_owned(),
                    command: command.clone(),
                    reason: reason.clone(),
                })?;
                Ok(Err(ErrorBody::new(code, reason, hint)))
            };
        let Some(grant) = self.live.get(&req.grant) else {
            let body = self.ended_or_missing(&req.grant)?;
            let actor = caller_actor.unwrap_or_else(|| caller.user.clone());
            return refuse(self, &actor, body.message, &body.code, body.hint);
        };
        let actor = grant.actor.clone();
        if grant.status == GrantStatus::Pending {
            return refuse(
                self,
                &actor,
                format!("grant {} is pending approval", grant.id),
                "not_active",
                Some(format!("an approver runs `warrant approve {}`", grant.id)),
            );
        }
        if grant.is_due(now) {
            return refuse(
                self,
                &actor,
                format!("grant {} has expired", grant.id),
                "not_active",
                None,
            );
        }
        if let Some(task) = &task {
            if grant.task.as_ref() != Some(&task.id) && grant.actor != task.actor {
                return refuse(
                    self,
                    &actor,
                    format!(
                        "grant {} is not for task {} ({})",
                        grant.id, task.id, task.actor
                    ),
                    "forbidden",
                    None,
                );
            }
        }
        if let Some(owner) = &grant.task {
            if task.as_ref().map(|t| &t.id) != Some(owner) {
                return refuse(
                    self,
                    &actor,
                    format!(
                        "grant {} belongs to task {owner}; only its processes may use it",
                        grant.id
                    ),
                    "forbidden",
                    None,
                );
            }
        }
        if let Some(missing) = req.secrets.iter().find(|s| !grant.secrets.contains(s)) {
            return refuse(
                self,
                &actor,
                format!("grant {} does not cover {missing}", grant.id),
                "out_of_scope",
                Some(format!("it covers: {}", grant.secrets.join(", "))),
            );
        }
        let resolved = req.resolved.as_deref().map(Path::new);
        if !warrant_policy::command_matches(&grant.command_scopes, &req.program, resolved) {
            let scopes: Vec<String> = grant.command_scopes.iter().map(|s| s.join(" | ")).collect();
            return refuse(
                self,
                &actor,
                format!("command {command} is outside grant {}'s scope", grant.id),
                "out_of_scope",
                Some(format!("the grant allows: {}", scopes.join("; and "))),
            );
        }
        if !grant.has_uses_left() {
            return refuse(
                self,
                &actor,
                format!("grant {} is used up ({} uses)", grant.id, grant.uses),
                "not_active",
                Some("ask for a new grant".into()),
            );
        }
        let mut grant = grant.clone();
        grant.uses += 1;
        let (env_secrets, file_secrets): (Vec<String>, Vec<String>) = req
            .secrets
            .iter()
            .cloned()
            .partition(|s| !req.file_secrets.contains(s));
        self.record(Event::GrantUsed {
            grant: grant.id.clone(),
            actor: actor.clone(),
            command,
            use_number: grant.uses,
            env_secrets,
            file_secrets,
        })?;
        self.stage(Change::Grant(grant.clone()));
        let reply = UseReply {
            grant: grant.id.clone(),
            actor,
            use_number: grant.uses,
            names: req.secrets.clone(),
        };
        self.live.insert(grant.id.clone(), grant);
        Ok(Ok(reply))
    }

    /// The process holding a use's values started. When the grant ended in
    /// the meantime, the process is returned to be ended at once.
    pub fn use_spawned(
        &mut self,
        grant_id: &str,
        process: ProcessId,
    ) -> Result<Option<Ending>, Error> {
        let Some(grant) = self.live.get(grant_id) else {
            let grace = Duration::from_secs(1);
            return Ok(Some(Ending {
                processes: vec![process],
                grace,
            }));
        };
        let mut grant = grant.clone();
        grant.processes.push(GrantProcess::from(process));
        self.stage(Change::Grant(grant.clone()));
        self.live.insert(grant.id.clone(), grant);
        Ok(None)
    }

    /// The process of a use ended (or its `warrant run` went away).
    pub fn use_finished(
        &mut self,
        use_reply: &UseReply,
        req: &UseRequest,
        process: Option<ProcessId>,
        result: Option<RunResult>,
    ) -> Result<(), Error> {
        if let (Some(process), Some(grant)) = (process, self.live.get(&use_reply.grant)) {
            let still_running = result.is_none() && proc::is_alive(&process);
            if !still_running {
                let mut grant = grant.clone();
                grant
                    .processes
                    .retain(|p| p.pid != process.pid || p.start_time != process.start_time);
                self.stage(Change::Grant(grant.clone()));
                self.live.insert(grant.id.clone(), grant);
            }
        }
        let result = result.unwrap_or_default();
        let (env_secrets, file_secrets): (Vec<String>, Vec<String>) = req
            .secrets
            .iter()
            .cloned()
            .partition(|s| !req.file_secrets.contains(s));
        self.record(Event::Run {
            command: program_name(&req.program),
            child_pid: process.map(|p| p.pid),
            env_secrets,
            file_secrets,
            exit_code: result.exit_code,
            signal: result.signal,
            redactions: result.redactions_by.values().sum(),
            redactions_by: result.redactions_by,
            grant: Some(use_reply.grant.clone()),
            actor: Some(use_reply.actor.clone()),
        })?;
        Ok(())
    }

    /// Starts a task rooted at the caller's process.
    pub fn task_start(
        &mut self,
        caller: &Caller,
        actor: String,
        reason: String,
        command: String,
        sandbox: String,
    ) -> Result<Outcome<TaskView>, Error> {
        self.refresh_policy()?;
        if reason.chars().count() > MAX_REASON || command.chars().count() > MAX_REASON {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                format!("the reason and command name are limited to {MAX_REASON} characters"),
                None,
            )));
        }
        if let Some(outer) = self.task_of(caller) {
            return Ok(Err(ErrorBody::new(
                "forbidden",
                format!(
                    "already inside task {} (actor {}); tasks do not nest",
                    outer.id, outer.actor
                ),
                Some("run `warrant task` from a terminal outside the agent".into()),
            )));
        }
        match self.policy.current() {
            Some(policy) if policy.actor(&actor).is_none() => {
                let known: Vec<String> = policy.actors().map(|a| a.name.clone()).collect();
                return Ok(Err(ErrorBody::new(
                    "bad_request",
                    format!(
                        "actor {actor} is not in the policy {}",
                        policy.path().display()
                    ),
                    Some(format!(
                        "define [actors.{actor}], or use one of: {}",
                        known.join(", ")
                    )),
                )));
            }
            Some(_) => {}
            None => {
                return Ok(Err(ErrorBody::new(
                    "denied",
                    self.policy.unavailable_reason(),
                    Some(self.policy.hint()),
                )));
            }
        }
        let Some(root) = caller.ancestry.first().copied() else {
            return Ok(Err(ErrorBody::new(
                "bad_request",
                "cannot identify the calling process",
                None,
            )));
        };
        let task = Task {
            id: grant::new_id("t").map_err(|e| Error::Random(e.to_string()))?,
            actor,
            reason,
            command,
            root: root.into(),
            started_ms: now_ms(),
        };
        self.record(Event::TaskStarted {
            task: task.id.clone(),
            actor: task.actor.clone(),
            command: task.command.clone(),
            reason: task.reason.clone(),
            root_pid: task.root.pid,
            sandbox,
        })?;
        self.stage(Change::Task(task.clone()));
        let view = TaskView {
            task: task.id.clone(),
            actor: task.actor.clone(),
        };
        self.tasks.insert(task.id.clone(), task);
        Ok(Ok(view))
    }

    /// Whether a caller may reattach to a task: it must be the task's root.
    pub fn task_attach(&self, caller: &Caller, task: &str) -> Outcome<TaskView> {
        match (self.tasks.get(task), caller.ancestry.first()) {
            (Some(t), Some(me)) if t.root.pid == me.pid && t.root.start_time == me.start_time => {
                Ok(TaskView {
                    task: t.id.clone(),
                    actor: t.actor.clone(),
                })
            }
            (Some(_), _) => Err(ErrorBody::new(
                "forbidden",
                format!("only task {task}'s own `warrant task` process may attach to it"),
                None,
            )),
            (None, _) => Err(ErrorBody::new(
                "not_found",
                format!("no running task {task}"),
                None,
            )),
        }
    }

    /// Ends a task: revokes its live grants; returns what to end.
    pub fn task_end(
        &mut self,
        task_id: &str,
        exit_code: Option<i32>,
    ) -> Result<(TaskEnded, Vec<Ending>), Error> {
        if !self.tasks.contains_key(task_id) {
            return Ok((TaskEnded::default(), Vec::new()));
        }
        let ids: Vec<String> = self
            .live
            .values()
            .filter(|g| g.task.as_deref() == Some(task_id))
            .map(|g| g.id.clone())
            .collect();
        let mut endings = Vec::new();
        let mut processes = 0;
        for id in &ids {
            let (_, ending) =
                self.end_grant(id, GrantStatus::Revoked, "task", "its task ended", true)?;
            processes += ending.processes.len() as u64;
            endings.push(ending);
        }
        let members = self.members.remove(task_id).unwrap_or_default();
        if exit_code.is_none() {
            // Not ended by its own `warrant task` (which ends what is left
            // itself): that process died, and what ran under it was
            // reparented away. End what was last seen under it.
            let alive: Vec<ProcessId> = members.into_iter().filter(proc::is_alive).collect();
            processes += alive.len() as u64;
            endings.push(Ending {
                processes: alive,
                grace: ORPHAN_GRACE,
            });
        }
        let summary = TaskEnded {
            grants_revoked: ids.len() as u64,
            processes_ended: processes,
        };
        self.record(Event::TaskEnded {
            task: task_id.to_owned(),
            exit_code,
            grants_revoked: summary.grants_revoked,
            processes_ended: summary.processes_ended,
        })?;
        self.stage(Change::RemoveTask(task_id.to_owned()));
        self.tasks.remove(task_id);
        Ok((summary, endings))
    }

    /// Expires what is due, forgets processes that ended, and ends tasks
    /// whose root process is gone. Returns what to end.
    pub fn tick(&mut self, now: u64) -> Result<Vec<Ending>, Error> {
        let mut endings = Vec::new();
        let due: Vec<String> = self
            .live
            .values()
            .filter(|g| g.is_due(now))
            .map(|g| g.id.clone())
            .collect();
        for id in due {
            let grant = &self.live[&id];
            let terminate = grant.terminate_on_expiry || grant.status == GrantStatus::Pending;
            let reason = if grant.status == GrantStatus::Pending {
                "not approved in time"
            } else {
                "its lifetime ended"
            };
            let (_, ending) =
                self.end_grant(&id, GrantStatus::Expired, "expiry", reason, terminate)?;
            endings.push(ending);
        }
        let mut pruned = Vec::new();
        for grant in self.live.values() {
            if grant.processes.iter().any(|&p| !proc::is_alive(&p.into())) {
                let mut grant = grant.clone();
                grant.processes.retain(|&p| proc::is_alive(&p.into()));
                pruned.push(grant);
            }
        }
        for grant in pruned {
            self.stage(Change::Grant(grant.clone()));
            self.live.insert(grant.id.clone(), grant);
        }
        let mut orphaned = Vec::new();
        for task in self.tasks.values() {
            let root = ProcessId::from(task.root);
            if proc::is_alive(&root) {
                self.members
                    .insert(task.id.clone(), proc::descendants(&root));
            } else {
                orphaned.push(task.id.clone());
            }
        }
        for id in orphaned {
            let (_, more) = self.task_end(&id, None)?;
            endings.extend(more);
        }
        Ok(endings)
    }

    /// When the next grant expires (Unix ms), if any is live.
    pub fn next_expiry(&self) -> Option<u64> {
        self.live.values().map(|g| g.expires_ms).min()
    }

    /// Counts for `warrant status`.
    pub fn status(&mut self) -> Result<StatusView, Error> {
        self.refresh_policy()?;
        let policy = match (self.policy.current(), self.policy.path()) {
            (Some(p), _) => Some(crate::protocol::PolicyView {
                path: p.path().display().to_string(),
                hash: p.hash().to_owned(),
                accepted: self.policy_accepted(&p)?,
                error: None,
            }),
            (None, Some(path)) => Some(crate::protocol::PolicyView {
                path: path.display().to_string(),
                hash: String::new(),
                accepted: false,
                error: Some(self.policy.unavailable_reason()),
            }),
            (None, None) => None,
        };
        let count = |s: GrantStatus| self.live.values().filter(|g| g.status == s).count();
        Ok(StatusView {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started: crate::protocol::rfc3339(self.started_ms),
            home: self.home.display().to_string(),
            policy,
            pending: count(GrantStatus::Pending),
            active: count(GrantStatus::Active),
            tasks: self.tasks.len(),
            processes: self.live.values().map(|g| g.processes.len()).sum(),
            secrets: self.store.list()?.len(),
            approver_set: self.approver.is_some(),
        })
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
                "forbidden",
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

    /// May this caller set the approver or accept a policy at all.
    pub fn check_outside_task(&self, caller: &Caller, what: &str) -> Outcome<()> {
        match self.task_of(caller) {
            Some(task) => Err(ErrorBody::new(
                "forbidden",
                format!(
                    "asked from inside task {} ({}): an agent cannot {what}",
                    task.id, task.actor
                ),
                None,
            )),
            None => Ok(()),
        }
    }

    /// Throttle state, shared by every passphrase check.
    pub fn throttle_wait(&self) -> Option<Duration> {
        self.throttle.wait(std::time::Instant::now())
    }

    /// Records the result of a passphrase check that is not an approval.
    pub fn passphrase_checked(
        &mut self,
        caller: &Caller,
        what: &str,
        ok: bool,
    ) -> Result<Outcome<()>, Error> {
        if ok {
            self.throttle.succeeded();
            return Ok(Ok(()));
        }
        let lockout = self.throttle.failed(std::time::Instant::now());
        self.approval_refused(
            caller,
            what,
            "wrong approver passphrase".into(),
            "wrong_passphrase",
            Some(format!("locked for {} s", lockout.as_secs())),
        )
    }

    /// Accepts the current policy (its automatic approvals apply again).
    pub fn policy_accept(
        &mut self,
        caller: &Caller,
    ) -> Result<Outcome<crate::protocol::PolicyView>, Error> {
        self.refresh_policy()?;
        let Some(policy) = self.policy.current() else {
            return Ok(Err(ErrorBody::new(
                "not_found",
                self.policy.unavailable_reason(),
                Some(self.policy.hint()),
            )));
        };
        self.record(Event::PolicyAccepted {
            path: policy.path().display().to_string(),
            policy: policy.hash().to_owned(),
            by: caller.user.clone(),
        })?;
        self.stage(Change::Meta(ACCEPTED_POLICY, policy.hash().to_owned()));
        self.accepted_policy = Some(policy.hash().to_owned());
        Ok(Ok(crate::protocol::PolicyView {
            path: policy.path().display().to_string(),
            hash: policy.hash().to_owned(),
            accepted: true,
            error: None,
        }))
    }

    /// How a caller is named in the log: the user, or the task it is in.
    fn who(&self, caller: &Caller) -> String {
        match self.task_of(caller) {
            Some(task) => format!("{} (task {})", task.actor, task.id),
            None => caller.user.clone(),
        }
    }

    /// Inside a task, only the task's own grants may be denied or revoked.
    fn may_touch(&self, caller: &Caller, grant: &Grant) -> Outcome<()> {
        match self.task_of(caller) {
            Some(task) if grant.task.as_ref() != Some(&task.id) => Err(ErrorBody::new(
                "forbidden",
                format!("grant {} is not task {}'s", grant.id, task.id),
                None,
            )),
            _ => Ok(()),
        }
    }

    fn ended_or_missing(&self, id: &str) -> Result<ErrorBody, Error> {
        Ok(match self.lookup(id)? {
            Some(g) => ErrorBody::new(
                "not_active",
                format!(
                    "grant {id} is {}{}",
                    g.status,
                    g.end_reason
                        .filter(|r| r.as_str() != g.status.as_str())
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
                Some("ask for a new grant with `warrant request`".into()),
            ),
            None => not_found(id),
        })
    }
}

fn not_found(id: &str) -> ErrorBody {
    ErrorBody::new(
        "not_found",
        format!("no grant {id}"),
        Some("list grants with `warrant grants --all`".into()),
    )
}

/// `argv[0]`'s file name: what the log records of a command.
pub fn program_name(program: &str) -> String {
    Path::new(program)
        .file_name()
        .map_or_else(|| program.to_owned(), |n| n.to_string_lossy().into_owned())
}
