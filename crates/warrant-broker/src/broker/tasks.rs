//! Tasks, and the tick that expires grants and ends orphaned tasks.

use warrant_audit::Event;
use warrant_sandbox::proc::{self, ProcessId};

use crate::error::Error;
use crate::grant::{self, GrantProcess, GrantStatus, now_ms};
use crate::protocol::{ErrorBody, ErrorCode, TaskEnded, TaskView};

use super::{Broker, Caller, Change, Ending, ORPHAN_GRACE, Outcome, bounded};
use crate::state::Task;

impl Broker {
    /// Starts a task rooted at the caller's process.
    pub fn task_start(
        &mut self,
        caller: &Caller,
        actor: String,
        reason: String,
        command: String,
        sandbox: String,
        proxy_only: bool,
    ) -> Result<Outcome<TaskView>, Error> {
        self.refresh_policy()?;
        if let Err(body) = bounded("a reason", &reason).and(bounded("a command name", &command)) {
            return Ok(Err(body));
        }
        let (reason, command) = (crate::text::shown(&reason), crate::text::shown(&command));
        if let Some(outer) = self.task_of(caller) {
            return Ok(Err(ErrorBody::new(
                ErrorCode::Forbidden,
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
                    ErrorCode::BadRequest,
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
                    ErrorCode::Denied,
                    self.policy.unavailable_reason(),
                    Some(self.policy.hint()),
                )));
            }
        }
        let Some(root) = caller.ancestry.first().copied() else {
            return Ok(Err(ErrorBody::new(
                ErrorCode::BadRequest,
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
            proxy_only,
        };
        self.record(Event::TaskStarted {
            task: task.id.clone(),
            actor: task.actor.clone(),
            command: task.command.clone(),
            reason: task.reason.clone(),
            root_pid: task.root.pid,
            sandbox,
            proxy_only,
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
            (Some(t), Some(me))
                if t.root.is_local()
                    && t.root.pid == me.pid
                    && t.root.start_time == me.start_time =>
            {
                Ok(TaskView {
                    task: t.id.clone(),
                    actor: t.actor.clone(),
                })
            }
            (Some(_), _) => Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!("only task {task}'s own `warrant task` process may attach to it"),
                None,
            )),
            (None, _) => Err(ErrorBody::new(
                ErrorCode::NotFound,
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
            // Another machine's processes are that machine's daemon's to watch.
            let gone = |p: &GrantProcess| p.is_local() && !proc::is_alive(&p.into());
            if grant.processes.iter().any(gone) {
                let mut grant = grant.clone();
                grant.processes.retain(|p| !gone(p));
                pruned.push(grant);
            }
        }
        for grant in pruned {
            self.stage(Change::Grant(grant.clone()));
            self.live.insert(grant.id.clone(), grant);
        }
        let mut orphaned = Vec::new();
        for task in self.tasks.values().filter(|t| t.root.is_local()) {
            let root = ProcessId::from(&task.root);
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
}
