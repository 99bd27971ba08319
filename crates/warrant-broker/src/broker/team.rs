//! The broker in team mode: memory filled from, and kept in step with,
//! the shared state in PostgreSQL (`crate::team`).
//!
//! Each operation starts by [`Broker::absorb`]ing what other daemons
//! changed since this one last looked, under the team lock; so every
//! decision is made on the current state, and an expiry or approval
//! another daemon already recorded is never made twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use warrant_dynamic::stores::Stores;
use warrant_sandbox::proc::ProcessId;

use super::{Backend, Broker, Ending};
use crate::error::Error;
use crate::grant::{Grant, GrantStatus};
use crate::state::{ACCEPTED_POLICY, LAST_POLICY, credential_key};
use crate::team::{Delta, TeamState};

impl Broker {
    /// Starts in team mode: one operation reads the whole shared state,
    /// expires what became due while no daemon ran, and records the start.
    /// Returns the broker, the processes to end and the state version seen.
    pub async fn start_team(
        home: &Path,
        store: Arc<Stores>,
        policy: Option<PathBuf>,
        team: &mut TeamState,
    ) -> Result<(Self, Vec<Ending>, u64), Error> {
        let backend = Backend::Team(Default::default());
        let mut broker = Self::empty(home, backend, store, policy)?;
        let mut op = team.begin().await?;
        let delta = op.changes_since(0).await?;
        let mut endings = broker.absorb(delta);
        endings.extend(broker.started()?);
        if let Some(batch) = broker.take_batch() {
            op.apply(&batch.changes).await?;
            let user = warrant_audit::user_name();
            op.append(batch.events, user, std::process::id()).await?;
        }
        let seen = op.commit().await?;
        Ok((broker, endings, seen))
    }

    /// Merges what other daemons changed into memory. Grants they ended
    /// leave the live set and go out on the `ended` broadcast (proxies drop
    /// their values, dynamic credentials end); their processes on this
    /// machine are returned to be ended. A full snapshot replaces what
    /// memory holds of the shared state.
    pub fn absorb(&mut self, delta: Delta) -> Vec<Ending> {
        let mut endings = Vec::new();
        let Delta {
            full,
            grants,
            tasks,
            removed_tasks,
            credentials,
            removed_credentials,
            meta,
            ..
        } = delta;
        if full {
            let mut snapshot: HashMap<String, Grant> = grants
                .into_iter()
                .filter(|g| g.status.is_live())
                .map(|g| (g.id.clone(), g))
                .collect();
            let gone: Vec<Grant> = self
                .live
                .values()
                .filter(|g| !snapshot.contains_key(&g.id))
                .cloned()
                .collect();
            for grant in gone {
                endings.push(self.ended_elsewhere(grant, None));
            }
            std::mem::swap(&mut self.live, &mut snapshot);
            for id in self.live.keys() {
                self.changed_id(id);
            }
            self.tasks.clear();
            self.credentials.clear();
            self.accepted_policy = None;
            self.accepted_rules = None;
            self.last_policy = None;
        } else {
            for grant in grants {
                self.changed_id(&grant.id);
                if grant.status.is_live() {
                    self.live.insert(grant.id.clone(), grant);
                } else if let Some(old) = self.live.remove(&grant.id) {
                    endings.push(self.ended_elsewhere(old, Some(&grant)));
                }
            }
        }
        for id in removed_tasks {
            self.tasks.remove(&id);
            self.members.remove(&id);
        }
        for task in tasks {
            self.tasks.insert(task.id.clone(), task);
        }
        for key in removed_credentials {
            self.credentials.remove(&key);
        }
        for record in credentials {
            self.credentials.insert(credential_key(&record), record);
        }
        let mut accepted_text = None;
        for (key, value) in meta {
            match key.as_str() {
                ACCEPTED_POLICY => self.accepted_policy = Some(value),
                crate::state::ACCEPTED_POLICY_TEXT => accepted_text = Some(value),
                LAST_POLICY => self.last_policy = Some(value),
                _ => {}
            }
        }
        if let Some(text) = accepted_text {
            self.accepted_rules =
                super::approval::accepted_rules(self.accepted_policy.as_deref(), Some(text));
        }
        // What was last seen under a task is kept only while the task is.
        let tasks = &self.tasks;
        self.members.retain(|id, _| tasks.contains_key(id));
        endings.retain(|e| !e.processes.is_empty());
        endings
    }

    /// A live grant that another daemon ended (`now` is its record, when the
    /// delta carried it): told to listeners, and its processes on this
    /// machine are ended as that daemon decided (it could not end them).
    fn ended_elsewhere(&mut self, old: Grant, now: Option<&Grant>) -> Ending {
        let status = now.map_or(GrantStatus::Revoked, |g| g.status);
        let reason = now
            .and_then(|g| g.end_reason.clone())
            .unwrap_or_else(|| "ended".to_owned());
        let _ = self.ended.send((old.id.clone(), reason));
        let terminate = status != GrantStatus::Expired || old.terminate_on_expiry;
        let processes = if terminate {
            old.processes
                .iter()
                .filter(|p| p.is_local())
                .map(ProcessId::from)
                .collect()
        } else {
            Vec::new()
        };
        Ending {
            processes,
            grace: Duration::from_millis(old.grace_ms),
        }
    }

    fn changed_id(&self, id: &str) {
        if self.changed.receiver_count() > 0 {
            let _ = self.changed.send(id.to_owned());
        }
    }

    /// Hands in grants read from the team state for the next operation
    /// (ended ones it may look up); forgotten by [`Broker::forget_read`].
    pub fn prefetched(&mut self, grants: Vec<Grant>) {
        if let Backend::Team(read) = &self.backend {
            let mut read = read.borrow_mut();
            read.clear();
            read.extend(grants.into_iter().map(|g| (g.id.clone(), g)));
        }
    }

    /// Forgets what [`Broker::prefetched`] handed in.
    pub fn forget_read(&mut self) {
        if let Backend::Team(read) = &self.backend {
            read.borrow_mut().clear();
        }
    }

    /// Every grant stored (live or ended): the state file, or in team mode
    /// what was read for this operation.
    pub(super) fn stored_grants(&self) -> Result<Vec<Grant>, Error> {
        match &self.backend {
            Backend::File(journal) => journal.state.grants(),
            Backend::Team(read) => Ok(read.borrow().values().cloned().collect()),
        }
    }

    /// Whether this broker keeps its state in PostgreSQL.
    pub fn is_team(&self) -> bool {
        matches!(self.backend, Backend::Team(_))
    }
}
