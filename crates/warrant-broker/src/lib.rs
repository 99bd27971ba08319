//! The grant broker: task-scoped, approval-bound, expiring access to
//! secrets, served by a daemon that holds the store key.
//!
//! - [`Broker`]: the decisions and their record (policy, grants, uses,
//!   approvals, tasks, expiry), without sockets.
//! - [`server::serve`]: the daemon, a Unix socket (0600) in the warrant home
//!   that checks each peer's uid and tells callers apart by process
//!   ancestry.
//! - [`Client`]: what every `warrant` command uses to talk to it.
//! - [`Daemon`]: an in-process handle on the running daemon, for services
//!   inside it (the approval page).
//! - [`StateDb`]: grant state in an embedded, crash-safe database.
//! - [`team`]: team mode's state and audit chain in PostgreSQL, shared by
//!   several daemons.
//! - [`protocol`]: the wire format; values travel only as raw frames, never
//!   inside JSON.
//!
//! A grant moves pending → active → expired | revoked (or pending →
//! denied | expired). A use is refused unless the grant is active, unexpired,
//! has uses left, covers every secret asked for, matches the command, and
//! belongs to the caller's task. Every step is in the audit log.

mod approver;
mod broker;
mod client;
mod error;
mod error_code;
mod grant;
pub mod handle;
mod ops;
mod policy_slot;
pub mod protocol;
pub mod server;
mod state;
pub mod team;

pub use approver::{MIN_PASSPHRASE_LEN, Throttle, Verifier};
pub use broker::{
    ApprovalTerms, Broker, Caller, Ending, HARDWARE_KEY_HINT, Outcome, Purpose, program_name,
};
pub use client::{Client, EgressSession, TaskSession, UseSession};
pub use error::Error;
pub use grant::{Grant, GrantProcess, GrantStatus, PENDING_LIFETIME_MS, new_id, now_ms};
pub use handle::{Daemon, Extension};
pub use state::{Change, StateDb, Task};
