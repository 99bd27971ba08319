//! A grant: one task's access to named secrets, and its lifecycle
//! pending → active → expired | revoked (or pending → denied | expired).

use serde::{Deserialize, Serialize};
use warrant_sandbox::proc::ProcessId;

/// How long a grant may wait for approval before it expires unapproved.
pub const PENDING_LIFETIME_MS: u64 = 60 * 60 * 1000;

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Waiting for an approver.
    Pending,
    /// Usable until it expires, is revoked, or is used up.
    Active,
    /// Refused by an approver.
    Denied,
    /// Ended by someone, or by the end of its task.
    Revoked,
    /// Reached its expiry (approved or not).
    Expired,
}

impl GrantStatus {
    /// Pending or active: the grant may still be used some day.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Active)
    }

    /// The lowercase name used in output and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Denied => "denied",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl std::fmt::Display for GrantStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A process started under a grant, named so a recycled pid is never ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantProcess {
    /// Its pid.
    pub pid: u32,
    /// Its start time in clock ticks since boot.
    pub start_time: u64,
    /// The machine it runs on (its daemon's `host_id`): in team mode daemons on
    /// several machines share grants and tasks, and a pid means something
    /// only on its own machine. Empty in embedded mode (and in records made
    /// before team mode), where every process is local.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
}

impl GrantProcess {
    /// Whether it runs on this machine: only then may the daemon look at it
    /// in `/proc`, match it as an ancestor, or end it.
    pub fn is_local(&self) -> bool {
        self.host == host_id()
    }
}

static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// This machine's id as recorded with its processes: empty unless
/// [`set_host_id`] was called (team mode does, once at start).
pub fn host_id() -> &'static str {
    HOST.get().map_or("", String::as_str)
}

/// Sets this machine's id (team mode: the host name and the kernel's boot
/// id, so a reboot, which recycles pids, is another host). Only the first
/// call counts.
pub fn set_host_id(id: String) {
    let _ = HOST.set(id);
}

/// The id team mode gives this machine: `hostname/boot-id-prefix`.
pub fn machine_id() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let boot: String = boot.trim().chars().take(8).collect();
    format!("{name}/{boot}")
}

impl From<ProcessId> for GrantProcess {
    fn from(id: ProcessId) -> Self {
        Self {
            pid: id.pid,
            start_time: id.start_time,
            host: host_id().to_owned(),
        }
    }
}

impl From<&GrantProcess> for ProcessId {
    fn from(p: &GrantProcess) -> Self {
        ProcessId {
            pid: p.pid,
            start_time: p.start_time,
        }
    }
}

/// A grant as the broker keeps it. Holds names and scope, never a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// `g_` and ten random base32 characters.
    pub id: String,
    /// The actor it is for.
    pub actor: String,
    /// The task it belongs to, when it was asked for inside `warrant task`.
    pub task: Option<String>,
    /// Secret names it covers.
    pub secrets: Vec<String>,
    /// Why it was asked for.
    pub reason: String,
    /// Each use's command must match one pattern of every scope; empty
    /// means any command.
    pub command_scopes: Vec<Vec<String>>,
    /// Hosts its secrets may be sent to (all of them, for display).
    pub hosts: Vec<String>,
    /// Hosts each secret may be sent to: a secret covered by one rule must
    /// not travel to a host only another secret's rule allows.
    /// (A list of pairs, not a map: a grant holds a few secrets, and a
    /// map's node costs hundreds of bytes in each of many live grants.)
    #[serde(default)]
    pub secret_hosts: Vec<(String, Vec<String>)>,
    /// Lifetime once active, in milliseconds.
    pub ttl_ms: u64,
    /// Use limit.
    pub max_uses: Option<u64>,
    /// Uses so far.
    pub uses: u64,
    /// Where it is in its life.
    pub status: GrantStatus,
    /// When it was asked for (Unix ms).
    pub created_ms: u64,
    /// When it was approved (Unix ms).
    pub approved_ms: Option<u64>,
    /// Who approved it (`policy` for automatic approval).
    pub approved_by: Option<String>,
    /// When it stops: the approval deadline while pending, the end of its
    /// lifetime once active (Unix ms).
    pub expires_ms: u64,
    /// When it ended (Unix ms).
    pub ended_ms: Option<u64>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// Lines of the policy rules it was granted under.
    pub rules: Vec<u64>,
    /// SHA-256 of the policy it was granted under.
    pub policy_hash: String,
    /// End its processes at expiry (true) or let them finish.
    pub terminate_on_expiry: bool,
    /// SIGTERM → SIGKILL grace, in milliseconds.
    pub grace_ms: u64,
    /// Processes running under it now.
    pub processes: Vec<GrantProcess>,
    /// Approval needs a security key (policy `approval = "hardware_key"`):
    /// only the approval page, with a registered key, can approve it.
    #[serde(default)]
    pub hardware_key: bool,
    /// How each secret travels over HTTP, from its rule, where that is more
    /// than HTTPS with placeholders in headers only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivery: Vec<(String, Delivery)>,
}

/// How one secret of a grant may travel over HTTP (its rule's
/// `allow_http`, `substitute_in` and `inject`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Plain HTTP too, not only HTTPS.
    #[serde(default)]
    pub allow_http: bool,
    /// Placeholders replaced in URLs and bodies too, not only headers.
    #[serde(default)]
    pub substitute_in: warrant_policy::SubstituteIn,
    /// What the egress adds to requests by itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inject: Vec<warrant_policy::Injection>,
}

impl Grant {
    /// How `secret` may travel (the default when its rule says nothing).
    pub fn delivery_of(&self, secret: &str) -> Delivery {
        self.delivery
            .iter()
            .find(|(name, _)| name == secret)
            .map(|(_, d)| d.clone())
            .unwrap_or_default()
    }

    /// Milliseconds left, 0 once past expiry.
    pub fn remaining_ms(&self, now_ms: u64) -> u64 {
        self.expires_ms.saturating_sub(now_ms)
    }

    /// Whether `now_ms` is at or past its expiry.
    pub fn is_due(&self, now_ms: u64) -> bool {
        self.status.is_live() && now_ms >= self.expires_ms
    }

    /// Whether it has uses left.
    pub fn has_uses_left(&self) -> bool {
        self.max_uses.is_none_or(|max| self.uses < max)
    }
}

/// A new grant id: `g_` and ten characters of Crockford base32 (50 random
/// bits; ids are not secrets, only names).
pub fn new_id(prefix: &str) -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes)?;
    let mut id = String::with_capacity(prefix.len() + 11);
    id.push_str(prefix);
    id.push('_');
    for b in bytes {
        id.push(ALPHABET[usize::from(b & 31)] as char);
    }
    Ok(id)
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = new_id("g").unwrap();
        let b = new_id("g").unwrap();
        assert!(a.starts_with("g_") && a.len() == 12, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn liveness() {
        assert!(GrantStatus::Pending.is_live());
        assert!(GrantStatus::Active.is_live());
        assert!(!GrantStatus::Revoked.is_live());
        assert_eq!(GrantStatus::Expired.to_string(), "expired");
    }
}
