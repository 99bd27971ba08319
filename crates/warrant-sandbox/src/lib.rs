//! Process ancestry, process termination and the Landlock sandbox for agent
//! tasks (Linux only).
//!
//! - [`proc`]: who a process is. A [`ProcessId`] is a pid plus the process's
//!   start time, so a recycled pid is never mistaken for the process it once
//!   named. The broker uses [`proc::ancestors`] and
//!   [`proc::is_descendant`] to tell whether a caller belongs to a task.
//! - [`terminate`]: ends processes when a grant is revoked or a task ends:
//!   `SIGTERM`, a grace period, then `SIGKILL` ([`terminate::terminate`],
//!   [`terminate::terminate_tree`]); a recycled pid is never signalled.
//! - [`sandbox`]: `warrant task` runs the agent under Landlock so that it
//!   cannot read or change warrant's own files
//!   ([`sandbox::restrict_self_hiding`]), while everything else stays as
//!   usable as before.
//! - [`peer`]: which processes hold the other end of a loopback TCP
//!   connection the daemon accepted ([`peer::tcp_peer`]), and which listen
//!   on an address it wants ([`peer::tcp_listener`]), read from
//!   `/proc/net/tcp*` and the fd tables in `/proc`.
//!
//! ```
//! use std::time::Duration;
//! use warrant_sandbox::{proc, terminate};
//!
//! let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
//! let id = proc::identify(child.id()).unwrap();
//! let me = proc::identify(std::process::id()).unwrap();
//! assert!(proc::is_descendant(id.pid, &me));
//!
//! let ended = terminate::terminate(&[id], Duration::from_secs(2));
//! assert_eq!(ended.terminated, 1);
//! child.wait().unwrap();
//! assert!(!proc::is_alive(&id));
//! ```

use std::io;
use std::path::PathBuf;

pub mod peer;
pub mod proc;
pub mod sandbox;
pub mod terminate;

pub use proc::ProcessId;
pub use sandbox::Status;
pub use terminate::Ended;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No process has this pid, or it has ended (a zombie counts as ended).
    #[error("no process with pid {pid}")]
    NoSuchProcess {
        /// The pid asked about.
        pid: u32,
    },
    /// A file under `/proc/PID` could not be read although the process
    /// exists (typically: it belongs to another user, or it is a kernel
    /// thread without an executable).
    #[error("cannot read /proc/{pid}/{file}: {source}")]
    Proc {
        /// The process.
        pid: u32,
        /// The file under `/proc/PID`, such as `stat` or `exe`.
        file: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A system-wide table in `/proc` could not be read: `/proc/net/tcp` or
    /// `/proc/net/tcp6` (also when a row has an unexpected format, as
    /// `InvalidData`), or the list of processes in `/proc` itself.
    #[error("cannot read {path}: {source}")]
    ProcTable {
        /// Such as `/proc/net/tcp`.
        path: &'static str,
        /// The OS error, or `InvalidData` for a malformed row.
        #[source]
        source: io::Error,
    },
    /// `/proc/PID/stat` does not have the layout of proc(5).
    #[error("/proc/{pid}/stat has an unexpected format")]
    MalformedStat {
        /// The process.
        pid: u32,
    },
    /// A path to hide does not exist or cannot be resolved.
    #[error("cannot hide {path}: {source}")]
    HiddenPath {
        /// The path as given.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A directory on the way to a hidden path, or an entry in it, could not
    /// be opened or listed to build the sandbox rules.
    #[error("cannot open {path} for the sandbox rules: {source}")]
    SandboxPath {
        /// The directory or entry.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The Landlock ruleset could not be built or enforced.
    #[error("cannot set up Landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// `PR_SET_CHILD_SUBREAPER` failed.
    #[error("cannot become a child subreaper: {source}")]
    Subreaper {
        /// The OS error.
        #[source]
        source: io::Error,
    },
}
