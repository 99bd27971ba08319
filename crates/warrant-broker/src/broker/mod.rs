//! The broker's decisions, without sockets: who may have which grant, for
//! which commands, for how long; and the record of every step.
//!
//! Every change is audited first and committed to the state database
//! second, so a crash between the two leaves the log saying more than the
//! state did, never less: a grant the state shows active always has its
//! approval in the log. Values are read from the store only for a use that
//! passed every check.
//!
//! Operations change memory and stage their records; one writer at a time
//! commits what is staged in batches (see [`Journal`]), and the daemon
//! answers only once an operation's batch is on disk. The operations live
//! in `grants` (request, list, deny, revoke), `usage` (a use and its run),
//! `approval` (approving, the approver, the policy's acceptance) and `tasks`
//! (tasks and the tick that expires grants).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use warrant_audit::{AuditLog, Event};
use warrant_dynamic::stores::Stores;
use warrant_sandbox::proc::ProcessId;

use crate::approver::{Throttle, Verifier};
use crate::error::Error;
use crate::grant::{Grant, GrantStatus, now_ms};
use crate::policy_slot::PolicySlot;
mod approval;
pub use approval::{ApprovalTerms, HARDWARE_KEY_HINT};
mod credentials;
mod grants;
mod passphrase;
pub use passphrase::Purpose;
mod tasks;
mod team;
mod usage;

use crate::protocol::{ErrorBody, ErrorCode, StatusView};
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

/// Refuses free text (a reason) longer than [`MAX_REASON`] characters:
/// what a caller sends ends up in the audit log and the state.
fn bounded(what: &str, text: &str) -> Outcome<()> {
    if text.chars().count() > MAX_REASON {
        return Err(ErrorBody::new(
            ErrorCode::BadRequest,
            format!("{what} is limited to {MAX_REASON} characters"),
            None,
        ));
    }
    Ok(())
}

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

/// Where the broker's changes go and ended grants are read from.
enum Backend {
    /// The embedded default: `audit.jsonl` and `state.redb` under the home,
    /// written by the server's one writer ([`Journal::write`]).
    File(Arc<Journal>),
    /// Team mode: PostgreSQL, written by the server in the operation's own
    /// transaction. Grants that are not live are read before the operation
    /// (ended ones are not kept in memory) and handed in here.
    Team(RefCell<HashMap<String, Grant>>),
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
    backend: Backend,
    store: Arc<Stores>,
    policy: PolicySlot,
    live: HashMap<String, Grant>,
    tasks: HashMap<String, Task>,
    approver: Option<Verifier>,
    throttle: Throttle,
    started_ms: u64,
    accepted_policy: Option<String>,
    /// The accepted policy itself, when its text was kept.
    accepted_rules: Option<warrant_policy::Policy>,
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
    /// Dynamic credentials made and not yet ended, by record key.
    credentials: HashMap<String, warrant_dynamic::stores::CredentialRecord>,
    /// Ids of grants as they end, for the proxies holding their values.
    ended: tokio::sync::broadcast::Sender<(String, String)>,
    /// Ids of grants as they change (asked for, approved, used, ended),
    /// staged but maybe not yet durable: for the approval page's live view.
    changed: tokio::sync::broadcast::Sender<String>,
}

impl Broker {
    /// Opens the state under `home`, expires every grant whose time passed
    /// while no daemon ran, and records the start (written before this
    /// returns). Returns the broker and the processes of expired grants that
    /// must be ended.
    pub fn start(
        home: &Path,
        store: Arc<Stores>,
        policy: Option<PathBuf>,
    ) -> Result<(Self, Vec<Ending>), Error> {
        let state = StateDb::open(home)?;
        let audit = AuditLog::new(home);
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
        let credentials = state
            .credentials()?
            .into_iter()
            .map(|c| (crate::state::credential_key(&c), c))
            .collect();
        let accepted_policy = state.meta(ACCEPTED_POLICY)?;
        let accepted_text = state.meta(crate::state::ACCEPTED_POLICY_TEXT)?;
        let last_policy = state.meta(LAST_POLICY)?;
        let journal = Arc::new(Journal { audit, state });
        let mut broker = Self::empty(home, Backend::File(Arc::clone(&journal)), store, policy)?;
        broker.live = live;
        broker.tasks = tasks;
        broker.credentials = credentials;
        broker.accepted_rules = approval::accepted_rules(accepted_policy.as_deref(), accepted_text);
        broker.accepted_policy = accepted_policy;
        broker.last_policy = last_policy;
        let endings = broker.started()?;
        if let Some(mut batch) = broker.take_batch() {
            journal.write(&mut batch, || {})?;
        }
        Ok((broker, endings))
    }

    /// A broker holding nothing yet.
    fn empty(
        home: &Path,
        backend: Backend,
        store: Arc<Stores>,
        policy: Option<PathBuf>,
    ) -> Result<Self, Error> {
        Ok(Self {
            home: home.to_owned(),
            backend,
            store,
            policy: PolicySlot::new(policy),
            live: HashMap::new(),
            tasks: HashMap::new(),
            approver: Verifier::load(home)?,
            throttle: Throttle::default(),
            started_ms: now_ms(),
            accepted_policy: None,
            accepted_rules: None,
            last_policy: None,
            pending: RefCell::new(Pending::default()),
            failed: None,
            writing: false,
            members: HashMap::new(),
            credentials: HashMap::new(),
            ended: tokio::sync::broadcast::channel(1024).0,
            changed: tokio::sync::broadcast::channel(256).0,
        })
    }

    /// Expires what became due while no daemon ran and records the start
    /// (staged); returns the processes to end.
    fn started(&mut self) -> Result<Vec<Ending>, Error> {
        let due = self
            .live
            .values()
            .filter(|g| g.is_due(self.started_ms))
            .count();
        let endings = self.tick(self.started_ms)?;
        self.record(Event::DaemonStarted {
            expired: due as u64,
        })?;
        self.refresh_policy()?;
        Ok(endings)
    }

    /// Where batches go (for the writer): `None` in team mode, where the
    /// server writes each operation's changes in its own transaction.
    pub fn journal(&self) -> Option<Arc<Journal>> {
        match &self.backend {
            Backend::File(journal) => Some(Arc::clone(journal)),
            Backend::Team(_) => None,
        }
    }

    /// Grants as they end (id, reason). Subscribe before checking a grant is
    /// live, so that no end is missed in between.
    pub fn subscribe_ended(&self) -> tokio::sync::broadcast::Receiver<(String, String)> {
        self.ended.subscribe()
    }

    /// When grant `id` expires (Unix ms), while it is live.
    pub fn expires_ms(&self, id: &str) -> Option<u64> {
        self.live.get(id).map(|g| g.expires_ms)
    }

    /// Ids of grants as they change. A receiver that lags should read the
    /// grants afresh; reading through the daemon waits for the disk.
    pub fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.changed.subscribe()
    }

    /// Whether grant `id` is active and unexpired now.
    pub fn is_active(&self, id: &str) -> bool {
        self.live
            .get(id)
            .is_some_and(|g| g.status == crate::grant::GrantStatus::Active && !g.is_due(now_ms()))
    }

    /// The store (values are read outside the broker's lock).
    pub fn store(&self) -> Arc<Stores> {
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
        if let Change::Grant(grant) = &change
            && self.changed.receiver_count() > 0
        {
            let _ = self.changed.send(grant.id.clone());
        }
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
                ErrorCode::Internal,
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
        match (staged, &self.backend) {
            (Some(grant), _) => Ok(Some(grant)),
            (None, Backend::File(journal)) => journal.state.grant(id),
            (None, Backend::Team(read)) => Ok(read.borrow().get(id).cloned()),
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
            self.tasks.values().find(|t| {
                t.root.is_local() && t.root.pid == p.pid && t.root.start_time == p.start_time
            })
        })
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
            secrets: self.store.local().list()?.len(),
            approver_set: self.approver.is_some(),
        })
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
                ErrorCode::Forbidden,
                format!("grant {} is not task {}'s", grant.id, task.id),
                None,
            )),
            _ => Ok(()),
        }
    }

    fn ended_or_missing(&self, id: &str) -> Result<ErrorBody, Error> {
        Ok(match self.lookup(id)? {
            Some(g) => ErrorBody::new(
                ErrorCode::NotActive,
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
        ErrorCode::NotFound,
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
