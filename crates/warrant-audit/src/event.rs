//! What the log records: [`Event`] for writers, [`Record`] and [`AnyEvent`]
//! for readers, who may meet kinds a later version wrote.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What happened. Holds names, counts and codes; never a value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A store was created.
    Init {
        /// `key_file` or `passphrase`.
        key: String,
    },
    /// A secret was created or replaced.
    SecretSet {
        /// Its name.
        name: String,
    },
    /// A secret was removed.
    SecretRemoved {
        /// Its name.
        name: String,
    },
    /// Secrets were imported from an env file.
    SecretsImported {
        /// The file they came from.
        file: String,
        /// The names they were stored under.
        names: Vec<String>,
    },
    /// `warrant run` ran a command with injected secrets.
    Run {
        /// The command (`argv[0]` only; arguments are not recorded).
        command: String,
        /// The child's pid.
        child_pid: Option<u32>,
        /// Secrets injected into the environment.
        env_secrets: Vec<String>,
        /// Secrets handed over as in-memory files.
        file_secrets: Vec<String>,
        /// Exit code, when the child exited.
        exit_code: Option<i32>,
        /// Signal number, when the child was killed by a signal.
        signal: Option<i32>,
        /// How many values were redacted from its output.
        redactions: u64,
        /// Redactions per secret name (absent in records of older versions).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        redactions_by: BTreeMap<String, u64>,
        /// The grant the run used, when it ran under one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grant: Option<String>,
        /// The actor the grant belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
    },
    /// Someone asked for a grant and the policy allowed it; it is pending
    /// (waiting for approval) or active (the policy approves it itself).
    GrantRequested {
        /// The grant's id.
        grant: String,
        /// Who it is for.
        actor: String,
        /// The task it belongs to, when asked from inside `warrant task`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<String>,
        /// Secret names it covers.
        secrets: Vec<String>,
        /// Command patterns it is limited to (empty: any the rules allow).
        commands: Vec<String>,
        /// Hosts its secrets may be sent to.
        hosts: Vec<String>,
        /// Lifetime asked for, after the rule's cap, in seconds.
        ttl_secs: u64,
        /// Use limit, when one applies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_uses: Option<u64>,
        /// Why the actor asked.
        reason: String,
        /// `pending` or `active`.
        status: String,
        /// Lines of the policy rules that allowed it.
        rules: Vec<u64>,
        /// SHA-256 of the policy file it was granted under.
        policy: String,
    },
    /// A request the policy refused; no grant was made.
    RequestDenied {
        /// Who asked.
        actor: String,
        /// The task it came from, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<String>,
        /// Secret names asked for.
        secrets: Vec<String>,
        /// Why it was refused.
        reason: String,
    },
    /// A pending grant was approved (by a person, or by the policy).
    GrantApproved {
        /// The grant's id.
        grant: String,
        /// Who approved it: an OS user, or `policy` for automatic approval.
        by: String,
        /// Lifetime from now, in seconds.
        ttl_secs: u64,
        /// The use limit it was approved with, if any (an approver may
        /// approve fewer uses than asked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_uses: Option<u64>,
    },
    /// A pending grant was refused by an approver.
    GrantDenied {
        /// The grant's id.
        grant: String,
        /// Who refused it.
        by: String,
        /// The reason given, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// An attempt to approve failed (wrong passphrase, throttled, asked from
    /// inside a task).
    ApprovalRefused {
        /// The grant's id.
        grant: String,
        /// The OS user who tried.
        by: String,
        /// Why it failed.
        reason: String,
    },
    /// A grant's values were handed to a process about to run.
    GrantUsed {
        /// The grant's id.
        grant: String,
        /// Its actor.
        actor: String,
        /// The command (`argv[0]`'s file name).
        command: String,
        /// Which use this is (1-based).
        use_number: u64,
        /// Secrets delivered as environment variables.
        env_secrets: Vec<String>,
        /// Secrets delivered as in-memory files.
        file_secrets: Vec<String>,
    },
    /// A grant's values were substituted into an HTTP request on its way to
    /// an allowed host: used without any process of the agent's holding them.
    Substituted {
        /// The grant's id.
        grant: String,
        /// Its actor.
        actor: String,
        /// Secrets substituted.
        secrets: Vec<String>,
        /// The host the request went to.
        host: String,
        /// The HTTP method.
        method: String,
        /// Which use of the grant this is (1-based).
        use_number: u64,
        /// `https` or `http` (absent in records written before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scheme: Option<String>,
        /// The port the request went to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// The request's path, without the query (placeholders, never values).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// A proxy took a grant's values to substitute until the grant ends
    /// (or the proxy stops): each substitution follows as
    /// [`Event::Substituted`], reported by the proxy as it happens.
    ProxyLease {
        /// The grant's id.
        grant: String,
        /// Its actor.
        actor: String,
        /// Secrets the proxy holds.
        secrets: Vec<String>,
        /// The proxy's process id (the record's `pid` is the daemon's).
        proxy_pid: u32,
    },
    /// A dynamic credential was made for a grant (a login role, or a
    /// database user under an OpenBao child token), valid until the grant's
    /// expiry at most.
    CredentialIssued {
        /// The grant's id.
        grant: String,
        /// The dynamic store.
        store: String,
        /// Its role.
        role: String,
        /// The login role or the child token's accessor (not secret).
        login: String,
    },
    /// A dynamic credential was ended: role dropped and its sessions ended,
    /// or token and lease revoked.
    CredentialRevoked {
        /// The grant's id.
        grant: String,
        /// The dynamic store.
        store: String,
        /// Its role.
        role: String,
        /// The login role or the child token's accessor.
        login: String,
        /// Why: the grant ended, or a sweep after a restart.
        reason: String,
    },
    /// An agent asked after a grant's status (through the MCP server).
    GrantChecked {
        /// The grant's id.
        grant: String,
        /// Its status then.
        status: String,
    },
    /// An actor was told which secrets it may ask for (names only).
    SecretsListed {
        /// Who asked.
        actor: String,
        /// The names it was shown.
        secrets: Vec<String>,
    },
    /// A use of a grant was refused (not active, out of scope, used up).
    UseRefused {
        /// The grant's id.
        grant: String,
        /// Who tried.
        actor: String,
        /// The command.
        command: String,
        /// Why it was refused.
        reason: String,
    },
    /// A grant reached its expiry.
    GrantExpired {
        /// The grant's id.
        grant: String,
        /// Processes ended because of it.
        processes_ended: u64,
    },
    /// A grant was revoked.
    GrantRevoked {
        /// The grant's id.
        grant: String,
        /// Who revoked it, or `task` when its task ended.
        by: String,
        /// Why.
        reason: String,
        /// Processes ended because of it.
        processes_ended: u64,
    },
    /// The daemon loaded a policy that differs from the one before.
    PolicyChanged {
        /// The policy file.
        path: String,
        /// SHA-256 of the previous version, if there was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
        /// SHA-256 of the new version.
        current: String,
    },
    /// An approver accepted the policy as it is now, which lets its
    /// automatic approvals take effect again.
    PolicyAccepted {
        /// The policy file.
        path: String,
        /// SHA-256 of the version accepted.
        policy: String,
        /// Who accepted it.
        by: String,
    },
    /// The daemon refused a connection.
    PeerRefused {
        /// The peer's uid.
        peer_uid: u32,
        /// The peer's pid.
        peer_pid: u32,
        /// Why.
        reason: String,
    },
    /// The daemon started.
    DaemonStarted {
        /// Grants it found past their expiry and expired.
        expired: u64,
    },
    /// The daemon stopped cleanly.
    DaemonStopped {},
    /// `warrant task` started an agent.
    TaskStarted {
        /// The task's id.
        task: String,
        /// The actor its processes act as.
        actor: String,
        /// The agent command (`argv[0]`'s file name).
        command: String,
        /// Why it runs.
        reason: String,
        /// pid of the task's root process.
        root_pid: u32,
        /// `landlock`, or why there is no sandbox.
        sandbox: String,
        /// Whether values reach it only as placeholders (`--proxy`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        proxy_only: bool,
    },
    /// A task's agent exited and its grants were revoked.
    TaskEnded {
        /// The task's id.
        task: String,
        /// The agent's exit code, if it exited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// Grants revoked at the end.
        grants_revoked: u64,
        /// Processes still running that were ended.
        processes_ended: u64,
    },
    /// The approver passphrase was set or changed.
    ApproverSet {
        /// Whether one existed before.
        replaced: bool,
    },
    /// A security key (WebAuthn) was registered on the approval page:
    /// grants whose policy asks for one can be approved with it.
    SecurityKeyAdded {
        /// The name the approver gave it.
        name: String,
        /// The start of its credential id (public), to tell keys apart.
        credential: String,
    },
    /// `warrant guard` stopped a prompt or tool call on its way to an
    /// agent's model because it carried a secret.
    GuardBlocked {
        /// The agent client (`claude-code`, `cursor`, ...).
        client: String,
        /// The client's hook event (`UserPromptSubmit`, ...).
        hook: String,
        /// What was found: rule ids, or `warrant://NAME` for store values.
        found: Vec<String>,
    },
    /// The proxy of a `warrant run --proxy` without a grant substituted
    /// values from the store into an HTTP request to an allowed host: used
    /// without the child holding them. (Under a grant the daemon records
    /// [`Event::Substituted`] instead.)
    ProxySubstituted {
        /// Secrets substituted.
        secrets: Vec<String>,
        /// The host the request went to.
        host: String,
        /// The HTTP method.
        method: String,
        /// `https` or `http` (absent in records written before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scheme: Option<String>,
        /// The port the request went to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// The request's path, without the query (placeholders, never values).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    /// The proxy refused a request that carried placeholders: aimed at a
    /// host not allowed for a secret, a host confusion trick, or a refused
    /// substitution. Nothing was sent upstream.
    ProxyBlocked {
        /// The host the request was aimed at.
        host: String,
        /// The HTTP method.
        method: String,
        /// The request's path (placeholders are not values).
        path: String,
        /// Secrets whose placeholders it carried.
        secrets: Vec<String>,
        /// Why it was refused.
        reason: String,
        /// The grant the proxy served, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grant: Option<String>,
        /// The grant's actor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
    },
}

impl Event {
    /// The `event` field of its records (`"run"`, `"secret_set"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Init { .. } => "init",
            Self::SecretSet { .. } => "secret_set",
            Self::SecretRemoved { .. } => "secret_removed",
            Self::SecretsImported { .. } => "secrets_imported",
            Self::Run { .. } => "run",
            Self::GrantRequested { .. } => "grant_requested",
            Self::RequestDenied { .. } => "request_denied",
            Self::GrantApproved { .. } => "grant_approved",
            Self::GrantDenied { .. } => "grant_denied",
            Self::ApprovalRefused { .. } => "approval_refused",
            Self::GrantUsed { .. } => "grant_used",
            Self::Substituted { .. } => "substituted",
            Self::ProxyLease { .. } => "proxy_lease",
            Self::CredentialIssued { .. } => "credential_issued",
            Self::CredentialRevoked { .. } => "credential_revoked",
            Self::SecretsListed { .. } => "secrets_listed",
            Self::GrantChecked { .. } => "grant_checked",
            Self::UseRefused { .. } => "use_refused",
            Self::GrantExpired { .. } => "grant_expired",
            Self::GrantRevoked { .. } => "grant_revoked",
            Self::PolicyChanged { .. } => "policy_changed",
            Self::PolicyAccepted { .. } => "policy_accepted",
            Self::PeerRefused { .. } => "peer_refused",
            Self::DaemonStarted { .. } => "daemon_started",
            Self::DaemonStopped { .. } => "daemon_stopped",
            Self::TaskStarted { .. } => "task_started",
            Self::TaskEnded { .. } => "task_ended",
            Self::ApproverSet { .. } => "approver_set",
            Self::SecurityKeyAdded { .. } => "security_key_added",
            Self::GuardBlocked { .. } => "guard_blocked",
            Self::ProxySubstituted { .. } => "proxy_substituted",
            Self::ProxyBlocked { .. } => "proxy_blocked",
        }
    }
}

/// The event part of a record as read back: typed when this version knows
/// its kind, raw JSON fields otherwise (a later version wrote it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
#[expect(
    clippy::large_enum_variant,
    reason = "records are read once per command; boxing the common case buys nothing"
)]
pub enum AnyEvent {
    /// A kind this version knows.
    Known(Event),
    /// Any other kind: its fields, `event` included, as written.
    Unknown(Map<String, Value>),
}

impl AnyEvent {
    /// The `event` field: the kind's name, known or not (`""` if absent).
    pub fn kind(&self) -> &str {
        match self {
            Self::Known(event) => event.kind(),
            Self::Unknown(fields) => fields.get("event").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The typed event, when this version knows its kind.
    pub fn known(&self) -> Option<&Event> {
        match self {
            Self::Known(event) => Some(event),
            Self::Unknown(_) => None,
        }
    }
}

impl From<Event> for AnyEvent {
    fn from(event: Event) -> Self {
        Self::Known(event)
    }
}

/// One line of the log, with the event's fields flattened into it:
///
/// ```json
/// {"seq":3,"time":"2026-05-01T12:00:00.123Z","user":"ana","pid":4242,
///  "event":"secret_set","name":"db/dev/url","prev":"9f…","hash":"c1…"}
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// 1-based position in the chain.
    pub seq: u64,
    /// RFC 3339 UTC time.
    pub time: String,
    /// OS user name.
    pub user: String,
    /// pid of the warrant process that wrote it.
    pub pid: u32,
    /// What happened.
    #[serde(flatten)]
    pub event: AnyEvent,
    /// Hash of the previous record (hex SHA-256; 64 zeros for the first).
    pub prev: String,
    /// Hash of this record: SHA-256 of the canonical JSON of every other field.
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_kinds_parse() {
        let known = r#"{"seq":1,"time":"t","user":"u","pid":1,"event":"secret_set","name":"a/b","prev":"p","hash":"h"}"#;
        let record: Record = serde_json::from_str(known).unwrap();
        assert_eq!(
            record.event,
            AnyEvent::Known(Event::SecretSet { name: "a/b".into() })
        );
        assert_eq!(record.event.kind(), "secret_set");

        let future = r#"{"seq":2,"time":"t","user":"u","pid":1,"event":"grant_escalated","grant":"g1","ttl":900,"prev":"p","hash":"h"}"#;
        let record: Record = serde_json::from_str(future).unwrap();
        assert_eq!(record.event.kind(), "grant_escalated");
        assert!(record.event.known().is_none());
        let AnyEvent::Unknown(fields) = &record.event else {
            panic!("expected an unknown kind");
        };
        assert_eq!(fields["ttl"], 900);
        assert!(!fields.contains_key("seq"));
    }

    /// An event's fields are flattened into its record: none may share a
    /// name with the record's own fields, or the record no longer parses.
    #[test]
    fn no_event_field_collides_with_a_record_field() {
        const RECORD: [&str; 6] = ["seq", "time", "user", "pid", "prev", "hash"];
        let path = std::path::Path::new(file!());
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src")
                .join(path.file_name().unwrap()),
        )
        .unwrap();
        let body = &source[source.find("pub enum Event {").unwrap()..];
        let body = &body[..body.find("\n}\n").unwrap()];
        for line in body.lines() {
            let line = line.trim();
            if let Some(field) = line.strip_suffix(',').and_then(|l| l.split(':').next())
                && !line.starts_with("///")
                && !line.starts_with("#[")
                && line.contains(": ")
            {
                assert!(
                    !RECORD.contains(&field.trim()),
                    "an Event field is named `{field}`, like a record field"
                );
            }
        }
    }

    #[test]
    fn event_kinds_match_their_tags() {
        let events = [
            Event::Init {
                key: "key_file".into(),
            },
            Event::SecretRemoved { name: "x".into() },
            Event::SecretsImported {
                file: ".env".into(),
                names: vec!["a".into()],
            },
            Event::Run {
                command: "cargo".into(),
                child_pid: Some(7),
                env_secrets: vec![],
                file_secrets: vec![],
                exit_code: Some(0),
                signal: None,
                redactions: 2,
                redactions_by: BTreeMap::new(),
                grant: None,
                actor: None,
            },
            Event::DaemonStopped {},
            Event::GrantExpired {
                grant: "g".into(),
                processes_ended: 1,
            },
        ];
        for event in events {
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["event"], event.kind());
        }
    }
}
