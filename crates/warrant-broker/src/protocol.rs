//! The daemon's wire protocol: length-prefixed frames over a Unix socket.
//!
//! Each frame is a 4-byte big-endian length and that many bytes. A message
//! is one frame of JSON. Values never travel inside JSON: a reply that
//! carries values (to `use`) lists their names and lengths, and the raw
//! bytes follow as one frame each, read straight into wiped buffers; the
//! same goes for passphrases sent to `approve`.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use crate::error_code::{ErrorClass, ErrorCode};
use crate::grant::Grant;

/// The largest frame either side accepts (values and requests are far
/// smaller; this only bounds what a broken peer can make us allocate).
pub const MAX_FRAME: usize = 4 << 20;

/// The socket's file name under the warrant home.
pub const SOCKET_FILE: &str = "warrant.sock";

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Is the daemon up, and what does it hold (counts only).
    Status,
    /// Ask for a grant.
    Request(GrantRequest),
    /// List grants.
    Grants {
        /// Include ended grants, not just pending and active ones.
        all: bool,
    },
    /// One grant.
    Show {
        /// Its id.
        id: String,
    },
    /// One grant, for an agent (the MCP server's `access_status`): like
    /// [`Request::Show`], and recorded in the audit log.
    Check {
        /// Its id.
        id: String,
    },
    /// Approve a pending grant; one frame with the approver passphrase follows.
    Approve {
        /// The grant.
        id: String,
        /// A shorter lifetime than asked for, in milliseconds.
        ttl_ms: Option<u64>,
        /// Fewer uses than the policy allows.
        #[serde(default)]
        max_uses: Option<u64>,
    },
    /// Refuse a pending grant.
    Deny {
        /// The grant.
        id: String,
        /// Why.
        reason: Option<String>,
    },
    /// End a pending or active grant now.
    Revoke {
        /// The grant.
        id: String,
        /// Why.
        reason: Option<String>,
    },
    /// Use a grant: the reply carries the values. The connection then stays
    /// open for [`Request::Spawned`] and [`Request::Finished`].
    Use(UseRequest),
    /// Use a grant through the daemon's egress: the daemon starts a proxy
    /// of its own for the caller's command and answers with its address
    /// and access secret, warrant's CA certificate and one placeholder per
    /// secret ([`EgressReply`]); the values never leave the daemon. The
    /// connection stays open for the command's life: the proxy stops when
    /// the caller hangs up, or when the grant ends (one [`LeaseEnd`]
    /// frame, then the daemon hangs up).
    Egress(EgressRequest),
    /// A proxy serving a grant refused a request (a placeholder aimed at
    /// another host, host confusion): record it. For proxies that cannot
    /// write the audit log themselves (inside `warrant task`).
    ProxyBlocked(ProxyBlockedReport),
    /// The process that holds the values started (no reply).
    Spawned {
        /// Its pid.
        pid: u32,
    },
    /// The process ended.
    Finished(RunResult),
    /// Start a task for the caller's process tree. The connection stays open
    /// for the task's life.
    TaskStart {
        /// The actor its processes act as.
        actor: String,
        /// Why it runs.
        reason: String,
        /// The agent command's name.
        command: String,
        /// `landlock`, or why there is no sandbox.
        sandbox: String,
        /// Refuse every `Use` under this task: values only as placeholders.
        #[serde(default)]
        proxy_only: bool,
    },
    /// Reattach to a task after the daemon restarted.
    TaskAttach {
        /// The task id.
        task: String,
    },
    /// The task's agent exited: revoke its grants, end its processes.
    TaskEnd {
        /// The task id.
        task: String,
        /// The agent's exit code, if it exited.
        exit_code: Option<i32>,
    },
    /// The secrets the caller's actor may ask for, with where each may be
    /// sent. Names and descriptions only.
    Secrets {
        /// The actor claimed; ignored in favour of the task's inside a task.
        actor: Option<String>,
    },
    /// Set the approver passphrase; two frames follow: the current one
    /// (empty when none is set) and the new one.
    ApproverSet,
    /// Accept the policy as it is now; one frame with the approver
    /// passphrase follows.
    PolicyAccept,
}

/// The fields of a grant request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantRequest {
    /// Secret names.
    pub secrets: Vec<String>,
    /// Why (shown to the approver and audited).
    pub reason: String,
    /// Lifetime asked for, in milliseconds.
    pub ttl_ms: u64,
    /// Commands the grant is for (names or absolute paths).
    pub commands: Vec<String>,
    /// Hosts the secrets will be sent to.
    pub hosts: Vec<String>,
    /// The actor claimed; ignored in favour of the task's actor inside a task.
    pub actor: Option<String>,
}

/// The fields of a use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UseRequest {
    /// The grant.
    pub grant: String,
    /// `argv[0]` as given.
    pub program: String,
    /// The program's absolute path, resolved by the client through `PATH`.
    pub resolved: Option<String>,
    /// Secret names wanted (each must be in the grant).
    pub secrets: Vec<String>,
    /// Which of them are delivered as files (for the audit log).
    pub file_secrets: Vec<String>,
}

/// What a proxy refused, by name and host only (never a value).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxyBlockedReport {
    /// The grant the proxy serves.
    pub grant: String,
    /// The host the request was aimed at.
    pub host: String,
    /// The HTTP method.
    pub method: String,
    /// The request's path.
    pub path: String,
    /// Secrets whose placeholders it carried.
    pub secrets: Vec<String>,
    /// Why it was refused.
    pub reason: String,
}

/// The fields of an egress session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EgressRequest {
    /// The grant.
    pub grant: String,
    /// Secret names the command gets placeholders for (each must be in the
    /// grant and may go to at least one host).
    pub secrets: Vec<String>,
    /// Let tunnels to hosts no secret needs through, untouched.
    #[serde(default)]
    pub passthrough: bool,
    /// Substitute placeholders in request bodies too.
    #[serde(default)]
    pub substitute_in_body: bool,
}

/// The reply to [`Request::Egress`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EgressReply {
    /// The grant.
    pub grant: String,
    /// The proxy's URL with its access secret as credentials
    /// (`http://warrant:SECRET@127.0.0.1:PORT`): give it to the command
    /// through its environment only.
    pub proxy: String,
    /// warrant's CA certificate (PEM) that the proxy signs with.
    pub ca_pem: String,
    /// `(secret name, placeholder)`, one per secret asked for.
    pub placeholders: Vec<(String, String)>,
    /// When the grant expires (Unix ms).
    pub expires_ms: u64,
}

/// What the daemon's egress holds for one session (see
/// [`crate::Broker::egress_begin`]); it never leaves the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// The grant.
    pub grant: String,
    /// Secret names the proxy substitutes (each must be in the grant).
    pub secrets: Vec<String>,
}

/// What the broker answers to a lease check (inside the daemon).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseReply {
    /// The grant.
    pub grant: String,
    /// Its actor.
    pub actor: String,
    /// Names of the values the session holds, in order.
    pub names: Vec<String>,
    /// When the grant expires (Unix ms).
    pub expires_ms: u64,
    /// Hosts each secret may be sent to.
    pub secret_hosts: Vec<(String, Vec<String>)>,
}

/// Substitutions the egress made under a lease, recorded as they happen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubstitutedReport {
    /// One per request that carried values.
    pub entries: Vec<SubstitutionRecord>,
}

/// One request a proxy put values into.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubstitutionRecord {
    /// Secrets substituted.
    pub secrets: Vec<String>,
    /// The host the request went to.
    pub host: String,
    /// The HTTP method.
    pub method: String,
    /// Where exactly: scheme, port and path (without the query).
    #[serde(default)]
    pub at: Option<Destination>,
}

/// Where a request with values went, beyond its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// `https` or `http`.
    pub scheme: String,
    /// The port.
    pub port: u16,
    /// The path, without the query (at most 200 characters kept).
    pub path: String,
}

impl Destination {
    /// The destination, its path shortened for the log.
    pub fn new(scheme: &str, port: u16, path: &str) -> Self {
        let path = match path.char_indices().nth(200) {
            Some((end, _)) => format!("{}...", &path[..end]),
            None => path.to_owned(),
        };
        Self {
            scheme: scheme.to_owned(),
            port,
            path,
        }
    }
}

/// The daemon's last frame on an egress session: the grant ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseEnd {
    /// Why (`revoked`, `expired`, `its task ended`, ...).
    pub reason: String,
}

/// The fields of a substitution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubstituteRequest {
    /// The grant.
    pub grant: String,
    /// Secret names to substitute.
    pub secrets: Vec<String>,
    /// The request's host (each secret must be allowed to go there).
    pub host: String,
    /// The HTTP method (for the audit log).
    pub method: String,
    /// Scheme, port and path (for the audit log).
    #[serde(default)]
    pub at: Option<Destination>,
}

/// How a granted run ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunResult {
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Signal, when a signal ended it.
    pub signal: Option<i32>,
    /// Redactions per secret name.
    pub redactions_by: BTreeMap<String, u64>,
}

/// The reply to [`Request::Use`]; the values follow as frames, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UseReply {
    /// The grant.
    pub grant: String,
    /// Its actor.
    pub actor: String,
    /// Which use this is.
    pub use_number: u64,
    /// Names of the values that follow, in order.
    pub names: Vec<String>,
}

/// Every reply: a result, or an error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// It worked.
    Ok(serde_json::Value),
    /// It did not.
    Err(ErrorBody),
}

/// Why the daemon refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable kind (see [`ErrorCode`]).
    pub code: ErrorCode,
    /// What went wrong (lowercase, one layer).
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl ErrorBody {
    /// An error with a hint.
    pub fn new(code: ErrorCode, message: impl Into<String>, hint: Option<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint,
        }
    }
}

/// A grant as clients see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantView {
    /// Its id.
    pub id: String,
    /// `pending`, `active`, `denied`, `revoked`, `expired`.
    pub status: String,
    /// Its actor.
    pub actor: String,
    /// Its task.
    pub task: Option<String>,
    /// Secret names.
    pub secrets: Vec<String>,
    /// Why it was asked for.
    pub reason: String,
    /// Command scopes (a use must match one pattern of each).
    pub commands: Vec<Vec<String>>,
    /// Hosts.
    pub hosts: Vec<String>,
    /// Hosts per secret (each secret only to its own rule's hosts).
    #[serde(default)]
    pub secret_hosts: std::collections::BTreeMap<String, Vec<String>>,
    /// Lifetime once active, in seconds.
    pub ttl_secs: u64,
    /// Seconds until it expires (0 once ended).
    pub remaining_secs: u64,
    /// Uses so far.
    pub uses: u64,
    /// Use limit.
    pub max_uses: Option<u64>,
    /// Created (RFC 3339).
    pub created: String,
    /// When its lifetime ends, or ended (RFC 3339): the approval deadline
    /// while pending.
    pub expires: String,
    /// When it ended, if it did (RFC 3339).
    pub ended: Option<String>,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// Processes running under it now.
    pub processes: usize,
    /// SHA-256 of the policy it was granted under.
    pub policy: String,
    /// Lines of the rules that allowed it.
    pub rules: Vec<u64>,
    /// Approval needs a security key on the approval page.
    #[serde(default)]
    pub hardware_key: bool,
}

impl GrantView {
    /// The view of `grant` at `now_ms`.
    pub fn of(grant: &Grant, now_ms: u64) -> Self {
        Self {
            id: grant.id.clone(),
            // A grant past its expiry is shown expired even before the
            // daemon's next tick records it so (uses check the time too).
            status: if grant.is_due(now_ms) {
                "expired".to_owned()
            } else {
                grant.status.as_str().to_owned()
            },
            actor: grant.actor.clone(),
            task: grant.task.clone(),
            secrets: grant.secrets.clone(),
            reason: grant.reason.clone(),
            commands: grant.command_scopes.clone(),
            hosts: grant.hosts.clone(),
            secret_hosts: grant.secret_hosts.iter().cloned().collect(),
            ttl_secs: grant.ttl_ms / 1000,
            remaining_secs: if grant.status.is_live() {
                grant.remaining_ms(now_ms).div_ceil(1000)
            } else {
                0
            },
            uses: grant.uses,
            max_uses: grant.max_uses,
            created: rfc3339(grant.created_ms),
            expires: rfc3339(grant.expires_ms),
            ended: grant.ended_ms.map(rfc3339),
            approved_by: grant.approved_by.clone(),
            end_reason: grant.end_reason.clone(),
            processes: grant.processes.len(),
            policy: grant.policy_hash.clone(),
            rules: grant.rules.clone(),
            hardware_key: grant.hardware_key,
        }
    }
}

/// What `status` reports: counts and settings, never a value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    /// The daemon's pid.
    pub pid: u32,
    /// Its version.
    pub version: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// The warrant home it serves.
    pub home: String,
    /// The policy it applies.
    pub policy: Option<PolicyView>,
    /// Grants waiting for approval.
    pub pending: usize,
    /// Grants usable now.
    pub active: usize,
    /// Tasks running.
    pub tasks: usize,
    /// Processes running under grants.
    pub processes: usize,
    /// Secrets in the store.
    pub secrets: usize,
    /// Whether an approver passphrase is set.
    pub approver_set: bool,
}

/// The policy the daemon applies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyView {
    /// Its file.
    pub path: String,
    /// SHA-256 of its bytes.
    pub hash: String,
    /// Whether an approver accepted this version (until then every grant
    /// under it needs approval, whatever its rules say).
    pub accepted: bool,
    /// Why it could not be loaded, when it could not (the last good version
    /// stays in force).
    pub error: Option<String>,
}

/// A secret an actor may ask for (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Hosts it may be sent to (host patterns of the rules that cover it).
    pub hosts: Vec<String>,
}

/// What `task_start` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskView {
    /// The task id.
    pub task: String,
    /// Its actor.
    pub actor: String,
}

/// What `task_end` answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskEnded {
    /// Grants revoked.
    pub grants_revoked: u64,
    /// Processes ended.
    pub processes_ended: u64,
}

/// Formats Unix milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(bytes)?;
    Ok(())
}

/// Reads one frame into a buffer that is wiped when dropped. `Ok(None)` at
/// a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is larger than {MAX_FRAME}"),
        ));
    }
    let mut buf = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

/// Async counterparts for the daemon.
pub mod nonblocking {
    use std::io;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use zeroize::Zeroizing;

    use super::MAX_FRAME;

    /// Writes one frame.
    pub async fn write_frame(w: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> io::Result<()> {
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|&n| n as usize <= MAX_FRAME)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
        w.write_all(&len.to_be_bytes()).await?;
        w.write_all(bytes).await?;
        Ok(())
    }

    /// Reads one frame; `Ok(None)` at a clean end of stream.
    pub async fn read_frame(
        r: &mut (impl AsyncRead + Unpin),
    ) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
        let mut len = [0u8; 4];
        match r.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("frame of {len} bytes is larger than {MAX_FRAME}"),
            ));
        }
        let mut buf = Zeroizing::new(vec![0u8; len]);
        r.read_exact(&mut buf).await?;
        Ok(Some(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_bound_their_size() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"hello").unwrap();
        write_frame(&mut wire, b"").unwrap();
        let mut r = &wire[..];
        assert_eq!(&read_frame(&mut r).unwrap().unwrap()[..], b"hello");
        assert_eq!(&read_frame(&mut r).unwrap().unwrap()[..], b"");
        assert!(read_frame(&mut r).unwrap().is_none());

        let huge = (MAX_FRAME as u32 + 1).to_be_bytes();
        assert!(read_frame(&mut &huge[..]).is_err());
    }

    #[test]
    fn requests_are_tagged_by_op() {
        let json = serde_json::to_value(Request::Grants { all: true }).unwrap();
        assert_eq!(json["op"], "grants");
        let back: Request = serde_json::from_str(r#"{"op":"status"}"#).unwrap();
        assert!(matches!(back, Request::Status));
    }
}
