//! Using a grant: the checks, the count, and the record of the run.

use std::path::Path;
use std::time::Duration;

use warrant_audit::Event;
use warrant_sandbox::proc::{self, ProcessId};

use crate::error::Error;
use crate::grant::{GrantProcess, GrantStatus, now_ms};
use crate::protocol::{
    ErrorBody, ErrorCode, LeaseReply, LeaseRequest, ProxyBlockedReport, RunResult,
    SubstituteRequest, SubstitutedReport, UseReply, UseRequest,
};

use super::{Broker, Caller, Change, Ending, Outcome, program_name};

impl Broker {
    /// Every check of a use but the command scope (a substitution has no
    /// command): the grant exists and is active, unexpired, the caller's
    /// to use, covers every secret asked for, and has uses left. Refusals
    /// are audited under `command`.
    pub(super) fn usable(
        &mut self,
        caller: &Caller,
        req: &UseRequest,
        command: &str,
    ) -> Result<Outcome<()>, Error> {
        let now = now_ms();
        let command = command.to_owned();
        let task = self.task_of(caller).cloned();
        let caller_actor = task.as_ref().map(|t| t.actor.clone());
        let refuse =
            |this: &Self, actor: &str, reason: String, code: ErrorCode, hint: Option<String>| {
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
            return refuse(self, &actor, body.message, body.code, body.hint);
        };
        let actor = grant.actor.clone();
        if grant.status == GrantStatus::Pending {
            return refuse(
                self,
                &actor,
                format!("grant {} is pending approval", grant.id),
                ErrorCode::NotActive,
                Some(format!("an approver runs `warrant approve {}`", grant.id)),
            );
        }
        if grant.is_due(now) {
            return refuse(
                self,
                &actor,
                format!("grant {} has expired", grant.id),
                ErrorCode::NotActive,
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
                    ErrorCode::Forbidden,
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
                    ErrorCode::Forbidden,
                    None,
                );
            }
        }
        if let Some(missing) = req.secrets.iter().find(|s| !grant.secrets.contains(s)) {
            return refuse(
                self,
                &actor,
                format!("grant {} does not cover {missing}", grant.id),
                ErrorCode::OutOfScope,
                Some(format!("it covers: {}", grant.secrets.join(", "))),
            );
        }
        Ok(Ok(()))
    }

    /// Refuses (and audits) a use of a grant that has none left.
    pub(super) fn uses_left(&self, grant_id: &str, command: &str) -> Result<Outcome<()>, Error> {
        let grant = &self.live[grant_id];
        if grant.has_uses_left() {
            return Ok(Ok(()));
        }
        let reason = format!("grant {} is used up ({} uses)", grant.id, grant.uses);
        self.record(Event::UseRefused {
            grant: grant.id.clone(),
            actor: grant.actor.clone(),
            command: command.to_owned(),
            reason: reason.clone(),
        })?;
        Ok(Err(ErrorBody::new(
            ErrorCode::NotActive,
            reason,
            Some("ask for a new grant".into()),
        )))
    }

    /// Records a request a proxy serving a grant refused. Only a process
    /// that may use the grant (its task's, or any for a grant of no task)
    /// reports on it; the text is bounded like any other free text.
    pub fn proxy_blocked(
        &mut self,
        caller: &Caller,
        report: ProxyBlockedReport,
    ) -> Result<Outcome<()>, Error> {
        let texts = [&report.host, &report.method, &report.path, &report.reason];
        if let Some(Err(body)) = texts
            .iter()
            .map(|t| super::bounded("a report field", t))
            .find(Result::is_err)
        {
            return Ok(Err(body));
        }
        if report.secrets.len() > 64 || report.secrets.iter().any(|s| s.len() > 256) {
            return Ok(Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "too many or too long secret names",
                None,
            )));
        }
        let Some(grant) = self.live.get(&report.grant) else {
            return Ok(Err(ErrorBody::new(
                ErrorCode::NotFound,
                format!("no live grant {}", report.grant),
                None,
            )));
        };
        let caller_task = self.task_of(caller).map(|t| t.id.clone());
        if grant.task.is_some() && grant.task != caller_task {
            return Ok(Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!("grant {} belongs to another task", report.grant),
                None,
            )));
        }
        let actor = grant.actor.clone();
        self.record(Event::ProxyBlocked {
            host: report.host,
            method: report.method,
            path: report.path,
            secrets: report.secrets,
            reason: report.reason,
            grant: Some(report.grant),
            actor: Some(actor),
        })?;
        Ok(Ok(()))
    }

    /// Checks a use and counts it. The caller reads the values from the
    /// store (outside the lock) and sends them only once the use's record
    /// is durable.
    pub fn use_begin(
        &mut self,
        caller: &Caller,
        req: &UseRequest,
    ) -> Result<Outcome<UseReply>, Error> {
        let command = program_name(&req.program);
        if let Err(body) = self.usable(caller, req, &command)? {
            return Ok(Err(body));
        }
        let grant = &self.live[&req.grant];
        let actor = grant.actor.clone();
        // A task started with `--proxy` holds placeholders only: values go
        // on the wire through the proxy (or MCP `http_request`), never into
        // one of its processes.
        let proxy_task = [
            grant.task.as_deref(),
            self.task_of(caller).map(|t| t.id.as_str()),
        ]
        .into_iter()
        .flatten()
        .find(|t| self.tasks.get(*t).is_some_and(|t| t.proxy_only))
        .map(str::to_owned);
        if let Some(task) = proxy_task {
            let reason = format!("task {task} takes values only through the proxy");
            self.record(Event::UseRefused {
                grant: req.grant.clone(),
                actor,
                command,
                reason: reason.clone(),
            })?;
            return Ok(Err(ErrorBody::new(
                ErrorCode::Forbidden,
                reason,
                Some(format!(
                    "run it with `warrant run --proxy --grant {}`",
                    req.grant
                )),
            )));
        }
        let resolved = req.resolved.as_deref().map(Path::new);
        if !warrant_policy::command_matches(&grant.command_scopes, &req.program, resolved) {
            let scopes: Vec<String> = grant.command_scopes.iter().map(|s| s.join(" | ")).collect();
            let reason = format!("command {command} is outside grant {}'s scope", grant.id);
            self.record(Event::UseRefused {
                grant: req.grant.clone(),
                actor,
                command,
                reason: reason.clone(),
            })?;
            return Ok(Err(ErrorBody::new(
                ErrorCode::OutOfScope,
                reason,
                Some(format!("the grant allows: {}", scopes.join("; and "))),
            )));
        }
        if let Err(body) = self.uses_left(&req.grant, &command)? {
            return Ok(Err(body));
        }
        let grant = &self.live[&req.grant];
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
                grant.processes.retain(|p| {
                    !(p.is_local() && p.pid == process.pid && p.start_time == process.start_time)
                });
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

    /// Checks a substitution into an HTTP request and counts it as a use:
    /// the grant must be usable now by this caller, cover every secret, and
    /// allow each secret to go to `host`. A secret aimed at a host it may
    /// not reach is refused and audited as an attempt to send it elsewhere.
    pub fn substitute_begin(
        &mut self,
        caller: &Caller,
        req: &SubstituteRequest,
    ) -> Result<Outcome<UseReply>, Error> {
        let command = format!("http {} {}", req.method, req.host);
        if let Err(body) =
            self.usable_without_command(caller, &req.grant, &req.secrets, &command)?
        {
            return Ok(Err(body));
        }
        let grant = self.live[&req.grant].clone();
        let host = req.host.to_ascii_lowercase();
        for secret in &req.secrets {
            let allowed = grant
                .secret_hosts
                .iter()
                .find(|(name, _)| name == secret)
                .map(|(_, hosts)| hosts.as_slice())
                .unwrap_or(&[]);
            if !warrant_policy::host_matches(allowed, &host) {
                let reason = format!(
                    "exfiltration attempt: {secret} may not be sent to {host} (allowed: {})",
                    if allowed.is_empty() {
                        "no host".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                );
                self.record(Event::UseRefused {
                    grant: grant.id.clone(),
                    actor: grant.actor.clone(),
                    command,
                    reason: reason.clone(),
                })?;
                return Ok(Err(ErrorBody::new(
                    ErrorCode::Forbidden,
                    reason,
                    Some("a secret goes only to the hosts its policy rule lists".into()),
                )));
            }
        }
        if let Err(body) = self.uses_left(&req.grant, &command)? {
            return Ok(Err(body));
        }
        let mut grant = grant;
        grant.uses += 1;
        self.record(Event::Substituted {
            grant: grant.id.clone(),
            actor: grant.actor.clone(),
            secrets: req.secrets.clone(),
            host,
            method: req.method.clone(),
            use_number: grant.uses,
            scheme: req.at.as_ref().map(|a| a.scheme.clone()),
            port: req.at.as_ref().map(|a| a.port),
            path: req.at.as_ref().map(|a| a.path.clone()),
        })?;
        self.stage(Change::Grant(grant.clone()));
        let reply = UseReply {
            grant: grant.id.clone(),
            actor: grant.actor.clone(),
            use_number: grant.uses,
            names: req.secrets.clone(),
        };
        self.live.insert(grant.id.clone(), grant);
        Ok(Ok(reply))
    }

    /// Everything a use checks but the command scope (a substitution or a
    /// lease has no command), audited under `command`.
    fn usable_without_command(
        &mut self,
        caller: &Caller,
        grant: &str,
        secrets: &[String],
        command: &str,
    ) -> Result<Outcome<()>, Error> {
        let check = UseRequest {
            grant: grant.to_owned(),
            program: command.to_owned(),
            resolved: None,
            secrets: secrets.to_vec(),
            file_secrets: Vec::new(),
        };
        self.usable(caller, &check, command)
    }

    /// Checks a session of the daemon's egress like a substitution
    /// (everything a use checks but the command scope). A grant without a
    /// use limit is leased: checked once here and recorded
    /// (`proxy_lease`); its end is announced through
    /// [`Broker::subscribe_ended`]. A grant with a use limit is not leased:
    /// the answer's flag says so, and each of its requests is then checked
    /// and counted with [`Broker::substitute_begin`] before its value goes
    /// on the wire.
    pub fn egress_begin(
        &mut self,
        caller: &Caller,
        req: &LeaseRequest,
    ) -> Result<Outcome<(LeaseReply, bool)>, Error> {
        let command = "http proxy lease";
        if let Err(body) = self.usable_without_command(caller, &req.grant, &req.secrets, command)? {
            return Ok(Err(body));
        }
        let grant = &self.live[&req.grant];
        let limited = grant.max_uses.is_some();
        let reply = LeaseReply {
            grant: grant.id.clone(),
            actor: grant.actor.clone(),
            names: req.secrets.clone(),
            expires_ms: grant.expires_ms,
            secret_hosts: grant
                .secret_hosts
                .iter()
                .filter(|(name, _)| req.secrets.contains(name))
                .cloned()
                .collect(),
        };
        if !limited {
            self.record(Event::ProxyLease {
                grant: reply.grant.clone(),
                actor: reply.actor.clone(),
                secrets: reply.names.clone(),
                proxy_pid: caller.pid,
            })?;
        }
        Ok(Ok((reply, limited)))
    }

    /// Records what a proxy holding a lease on `grant` substituted; each
    /// entry counts as a use. Entries are bounded like any report; a grant
    /// that ended meanwhile still gets the records (the values left before).
    pub fn lease_substituted(
        &mut self,
        grant: &str,
        actor: &str,
        report: SubstitutedReport,
    ) -> Result<Outcome<()>, Error> {
        const MAX_ENTRIES: usize = 1024;
        let bounded = report.entries.len() <= MAX_ENTRIES
            && report.entries.iter().all(|e| {
                e.secrets.len() <= 64
                    && e.secrets.iter().all(|s| s.len() <= 256)
                    && e.host.len() <= 256
                    && e.method.len() <= 32
            });
        if !bounded {
            return Ok(Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "a substitution report is too long",
                None,
            )));
        }
        let mut live = self.live.get(grant).cloned();
        for entry in report.entries {
            let use_number = match &mut live {
                Some(g) => {
                    g.uses += 1;
                    g.uses
                }
                None => 0,
            };
            self.record(Event::Substituted {
                grant: grant.to_owned(),
                actor: actor.to_owned(),
                secrets: entry.secrets,
                host: entry.host.to_ascii_lowercase(),
                method: entry.method,
                use_number,
                scheme: entry.at.as_ref().map(|a| a.scheme.clone()),
                port: entry.at.as_ref().map(|a| a.port),
                path: entry.at.map(|a| a.path),
            })?;
        }
        if let Some(g) = live {
            self.stage(Change::Grant(g.clone()));
            self.live.insert(g.id.clone(), g);
        }
        Ok(Ok(()))
    }
}
