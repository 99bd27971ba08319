//! Asking for grants, listing them, and ending them by hand.

use std::collections::HashMap;
use std::time::Duration;

use warrant_audit::Event;
use warrant_dynamic::stores::Route;
use warrant_policy::{Approval, Decision};
use warrant_secret::SecretName;
use warrant_store::SecretMeta;

use warrant_sandbox::proc::ProcessId;

use crate::error::Error;
use crate::grant::{self, Delivery, Grant, GrantStatus, PENDING_LIFETIME_MS, now_ms};
use crate::protocol::{ErrorBody, ErrorCode, GrantRequest, GrantView, SecretInfo};

use super::{Broker, Caller, Change, Ending, MAX_LIST, MAX_REASON, Outcome, bounded, not_found};

impl Broker {
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
                    ErrorCode::Forbidden,
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
                    ErrorCode::BadRequest,
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
            Ok(Err(ErrorBody::new(ErrorCode::Denied, reason, hint)))
        };
        let Some(policy) = self.policy.current() else {
            let reason = self.policy.unavailable_reason();
            return deny(self, reason, Some(self.policy.hint()));
        };
        let mut names = Vec::new();
        for secret in &req.secrets {
            match SecretName::new(secret) {
                Ok(name) => names.push(name),
                Err(e) => {
                    return Ok(Err(ErrorBody::new(
                        ErrorCode::BadRequest,
                        e.to_string(),
                        None,
                    )));
                }
            }
        }
        if names.is_empty() {
            return Ok(Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "no secrets asked for",
                Some("name them with --secret NAME".into()),
            )));
        }
        if req.ttl_ms == 0 {
            return Ok(Err(ErrorBody::new(
                ErrorCode::BadRequest,
                "ttl must be more than zero",
                None,
            )));
        }
        // What a request carries ends up in the audit log and the state:
        // keep it to the size of a request, not of a file.
        if req.reason.trim().is_empty() || bounded("a reason", &req.reason).is_err() {
            return Ok(Err(ErrorBody::new(
                ErrorCode::BadRequest,
                format!("a reason is needed, of at most {MAX_REASON} characters"),
                Some("say in a sentence what the task needs the secrets for".into()),
            )));
        }
        if names.len() > MAX_LIST || req.commands.len() > MAX_LIST || req.hosts.len() > MAX_LIST {
            return Ok(Err(ErrorBody::new(
                ErrorCode::BadRequest,
                format!("at most {MAX_LIST} secrets, commands and hosts per request"),
                None,
            )));
        }
        let asked = warrant_policy::Request {
            actor: &actor,
            secrets: &names,
            commands: &req.commands,
            hosts: &req.hosts,
            ttl: Duration::from_millis(req.ttl_ms),
        };
        let decision = policy.decide(&asked);
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
        // A changed policy is never weaker before an approver accepts it:
        // the accepted one must allow the request too, and the grant gets
        // the stricter terms of the two.
        let accepted_version = self.stricter_than(&policy).cloned();
        let (terms, accepted_terms) = match &accepted_version {
            None => (terms, None),
            Some(old) => match old.decide(&asked) {
                Decision::Allow(old_terms) => (terms.stricter(&old_terms), Some(old_terms)),
                Decision::Deny(denial) => {
                    return deny(
                        self,
                        format!(
                            "{} changed and is not accepted yet, and the accepted version does not \
                             allow this: {}",
                            policy.path().display(),
                            denial.reason
                        ),
                        Some(
                            "an approver reviews the change and runs `warrant policy accept`"
                                .into(),
                        ),
                    );
                }
            },
        };
        // What the accepted version's covering rule of `secret` says, if
        // the change is not accepted.
        let accepted_rule = |secret: &SecretName| {
            let old = accepted_version.as_ref()?;
            let line = accepted_terms
                .as_ref()?
                .coverage
                .iter()
                .find(|c| &c.secret == secret)?
                .rule;
            old.rule_at(line)
        };
        // Local names must exist; a named store's are checked when used
        // (no network round trip under the broker's lock), dynamic ones are
        // made then.
        let stored: Vec<SecretName> = self
            .store
            .local()
            .list()?
            .into_iter()
            .map(|m| m.name)
            .collect();
        for name in &names {
            match self.store.route(name) {
                Ok(Route::Local) if !stored.contains(name) => {
                    return deny(
                        self,
                        format!("no secret named {name} in the store"),
                        Some(format!("add it with `warrant secret set {name}`")),
                    );
                }
                Ok(_) => {}
                Err(e) => return deny(self, e.to_string(), None),
            }
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
                let mut patterns = policy
                    .rule_at(c.rule)
                    .map(|r| r.hosts.patterns().to_vec())
                    .unwrap_or_default();
                if let Some(old) = accepted_rule(&c.secret) {
                    patterns = warrant_policy::narrower_hosts(&patterns, old.hosts.patterns());
                }
                (
                    c.secret.to_string(),
                    asked_hosts(&patterns, &terms.hosts, &req.hosts),
                )
            })
            .collect();
        // What each rule says about the way its secrets travel, for hosts
        // the grant keeps.
        let delivery = terms
            .coverage
            .iter()
            .filter_map(|c| {
                let rule = policy.rule_at(c.rule)?;
                let name = c.secret.to_string();
                let inject = rule
                    .inject
                    .iter()
                    .filter(|i| i.secret == name)
                    .filter(|i| {
                        req.hosts.is_empty()
                            || warrant_policy::host_matches(
                                &terms.hosts,
                                warrant_policy::split_port(&i.host).map_or("", |(h, _)| h),
                            )
                    })
                    .cloned()
                    .collect();
                let mut delivery = Delivery {
                    allow_http: rule.allow_http,
                    substitute_in: rule.substitute_in,
                    inject,
                };
                if let Some(old) = accepted_rule(&c.secret) {
                    delivery.allow_http &= old.allow_http;
                    delivery.substitute_in.query &= old.substitute_in.query;
                    delivery.substitute_in.body &= old.substitute_in.body;
                    delivery.inject.retain(|i| old.inject.contains(i));
                }
                (delivery != Delivery::default()).then_some((name, delivery))
            })
            .collect();
        let mut grant = Grant {
            id,
            actor: actor.clone(),
            task: task_id.clone(),
            secrets: names.iter().map(ToString::to_string).collect(),
            reason: crate::text::shown(&req.reason),
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
            hardware_key: terms.approval == Approval::HardwareKey,
            delivery,
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
                max_uses: grant.max_uses,
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
                .stored_grants()?
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

    /// Refuses a pending grant.
    pub fn deny(
        &mut self,
        caller: &Caller,
        id: &str,
        reason: Option<String>,
    ) -> Result<Outcome<GrantView>, Error> {
        if let Err(body) = bounded("a reason", reason.as_deref().unwrap_or_default()) {
            return Ok(Err(body));
        }
        let reason = reason.as_deref().map(crate::text::shown);
        let by = self.who(caller);
        let Some(grant) = self.live.get(id) else {
            return Ok(Err(self.ended_or_missing(id)?));
        };
        if grant.status != GrantStatus::Pending {
            return Ok(Err(ErrorBody::new(
                ErrorCode::NotPending,
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
        if let Err(body) = bounded("a reason", reason.as_deref().unwrap_or_default()) {
            return Ok(Err(body));
        }
        let reason = reason.as_deref().map(crate::text::shown);
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
    pub(super) fn end_grant(
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
                grant
                    .processes
                    .iter()
                    .filter(|p| p.is_local())
                    .map(ProcessId::from)
                    .collect()
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
        // Nobody listening is fine: no proxy holds this grant's values.
        let _ = self.ended.send((id.to_owned(), reason.to_owned()));
        Ok((GrantView::of(&grant, now), ending))
    }

    /// The secrets in the store that the caller's actor may ask for, with
    /// the hosts each may be sent to. Secrets no rule lets it use are not
    /// listed: an agent learns only what it could be granted.
    pub fn secrets_for(
        &mut self,
        caller: &Caller,
        claimed: Option<String>,
    ) -> Result<Outcome<Vec<SecretInfo>>, Error> {
        self.refresh_policy()?;
        let actor = match (self.task_of(caller), claimed) {
            (Some(task), _) => task.actor.clone(),
            (None, Some(actor)) => actor,
            (None, None) => {
                return Ok(Err(ErrorBody::new(
                    ErrorCode::BadRequest,
                    "no actor: outside a task, say who asks",
                    Some("pass --actor NAME, or run the agent under `warrant task`".into()),
                )));
            }
        };
        let Some(policy) = self.policy.current() else {
            return Ok(Err(ErrorBody::new(
                ErrorCode::Denied,
                self.policy.unavailable_reason(),
                Some(self.policy.hint()),
            )));
        };
        let mut out = Vec::new();
        let dynamic = self
            .store
            .dynamic_names()
            .into_iter()
            .map(|name| SecretMeta {
                name,
                description: Some("a credential made for the grant".into()),
                created: String::new(),
                updated: String::new(),
            });
        for meta in self.store.local().list()?.into_iter().chain(dynamic) {
            let name = meta.name.to_string();
            let rules: Vec<_> = policy
                .rules()
                .iter()
                .filter(|r| r.actors.iter().any(|a| a == &actor) && r.secrets.is_match(&name))
                .collect();
            if rules.is_empty() {
                continue;
            }
            let mut hosts: Vec<String> = rules
                .iter()
                .flat_map(|r| r.hosts.patterns().iter().cloned())
                .collect();
            hosts.sort();
            hosts.dedup();
            out.push(SecretInfo {
                name,
                description: meta.description,
                hosts,
            });
        }
        self.record(Event::SecretsListed {
            actor,
            secrets: out.iter().map(|s| s.name.clone()).collect(),
        })?;
        Ok(Ok(out))
    }

    /// [`Broker::show`] for an agent, recorded.
    pub fn check(&self, id: &str) -> Result<Outcome<GrantView>, Error> {
        let view = self.show(id)?;
        if let Ok(view) = &view {
            self.record(Event::GrantChecked {
                grant: view.id.clone(),
                status: view.status.clone(),
            })?;
        }
        Ok(view)
    }
}

/// The hosts a secret of a new grant may go to: its rule's patterns, or
/// the hosts the request named (normalised in `named`), each with the port
/// of the rule pattern that allows it, so asking for a host by name never
/// widens the rule's port.
fn asked_hosts(patterns: &[String], named: &[String], asked: &[String]) -> Vec<String> {
    if asked.is_empty() {
        return patterns.to_vec();
    }
    let mut hosts = Vec::new();
    for host in named {
        for pattern in patterns {
            if warrant_policy::host_matches_pattern(pattern, host) {
                let kept = warrant_policy::with_port_of(pattern, host);
                if !hosts.contains(&kept) {
                    hosts.push(kept);
                }
            }
        }
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::asked_hosts;

    #[test]
    fn asking_for_a_host_keeps_the_rules_port() {
        let rule = ["api.test".to_owned(), "*.svc.test:8443".to_owned()];
        assert_eq!(asked_hosts(&rule, &[], &[]), rule);
        let named = ["api.test".to_owned(), "a.svc.test".to_owned()];
        assert_eq!(
            asked_hosts(&rule, &named, &named),
            ["api.test", "a.svc.test:8443"]
        );
    }
}
