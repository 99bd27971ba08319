//! Ending processes: `SIGTERM`, a grace period, then `SIGKILL`.
//!
//! The broker ends a task's processes when its grant is revoked or expires,
//! and `warrant task` ends the agent's leftovers when the agent exits.
//!
//! - [`terminate`] ends a given list of processes.
//! - [`terminate_tree`] ends a process and everything under it.
//! - [`set_child_subreaper`] and [`reap_children`] keep orphans in reach:
//!   a process that double-forks to escape its parent is re-parented to the
//!   nearest subreaper instead of pid 1, so `warrant task` can still find it
//!   among its own [`descendants`](crate::proc::descendants) and end it
//!   ([`contain::end_children`](crate::contain::end_children)).
//!
//! A recycled pid is never signalled: each target is opened as a pidfd, and
//! kept only if its pid still has the target's start time after the pidfd
//! was opened. A pid is not reused while its process exists, so the pidfd
//! then refers to the target itself, and signals sent through it can only
//! reach that process (or fail once it is gone). Where `pidfd_open` is not
//! available, the start time is checked right before `kill(2)` instead,
//! which leaves a window of a few microseconds.
//!
//! A zombie counts as ended: its parent (perhaps not us) only has to collect
//! its status. The calling process is never signalled, even if it is listed
//! or under the root.
//!
//! ```
//! use std::time::Duration;
//! use warrant_sandbox::{proc, terminate};
//!
//! let mut child = std::process::Command::new("sh")
//!     .args(["-c", "sleep 30 & sleep 30; true"])
//!     .spawn()
//!     .unwrap();
//! let root = proc::identify(child.id()).unwrap();
//! while proc::descendants(&root).len() < 2 {
//!     std::thread::sleep(Duration::from_millis(10));
//! }
//! let ended = terminate::terminate_tree(&root, Duration::from_secs(2));
//! assert_eq!(ended, terminate::Ended { terminated: 3, killed: 0 });
//! child.wait().unwrap();
//! ```

use std::os::fd::OwnedFd;
use std::thread;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{
    Pid, PidfdFlags, Signal, WaitOptions, kill_process, pidfd_open, pidfd_send_signal,
};

use crate::Error;
use crate::proc::{self, ProcessId};

/// How often the targets are checked while waiting.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// How long to wait for `SIGKILL` to take effect before returning.
pub(crate) const KILL_WAIT: Duration = Duration::from_millis(100);

/// How long one freeze of the tree waits in all for the processes it sent
/// `SIGSTOP` to actually stop (normally well under a millisecond each).
const STOP_WAIT: Duration = Duration::from_millis(200);

/// How many times [`terminate_tree`] looks for new children of stopped
/// processes before it stops looking (each round can only find processes
/// forked before the previous round stopped their parents).
const FREEZE_ROUNDS: usize = 16;

/// How many processes were ended, and how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ended {
    /// Gone after `SIGTERM`, within the grace period.
    pub terminated: usize,
    /// Still there when the grace period ran out (or found only then), and
    /// sent `SIGKILL`.
    pub killed: usize,
}

/// Sends `SIGTERM` (and `SIGCONT`, so that a stopped process can act on it)
/// to every target that is still alive, waits up to `grace` (checking every
/// ~10 ms) for them to be gone, then sends `SIGKILL` to the rest and waits
/// up to 100 ms more for them to go.
///
/// Targets already gone (or whose pid now names another process) are
/// counted in neither field of the result. Never blocks much longer than
/// `grace` + 100 ms.
pub fn terminate(targets: &[ProcessId], grace: Duration) -> Ended {
    let deadline = Instant::now() + grace;
    let mut open: Vec<Target> = Vec::new();
    for id in targets {
        if !open.iter().any(|t| t.id == *id) {
            open.extend(Target::open(*id));
        }
    }
    for target in &open {
        target.signal(Signal::TERM);
        target.signal(Signal::CONT);
    }
    let total = open.len();
    let mut left = wait_gone(open, deadline);
    for target in &left {
        target.signal(Signal::KILL);
    }
    let killed = left.len();
    left = wait_gone(left, Instant::now() + KILL_WAIT);
    drop(left);
    Ended {
        terminated: total - killed,
        killed,
    }
}

/// Ends `root` and every process under it, all together: `SIGTERM`, up to
/// `grace`, then `SIGKILL`, as [`terminate`] does. Nothing happens when
/// `root` has already ended.
///
/// The grace period starts with the call. Freezing the tree (below) after
/// it can add up to 200 ms of waiting for processes to stop plus a few
/// milliseconds per read of `/proc`, so on a loaded machine with many
/// processes this blocks somewhat longer than `grace` + 100 ms.
///
/// A process forking while the tree is read must not slip through, so the
/// tree under the root is frozen first: every process found is sent
/// `SIGSTOP` (which it cannot catch or ignore); once they have actually
/// stopped (a process preempted in the middle of `fork(2)` finishes it
/// first), the tree is read again to find children forked in the meantime,
/// until a round finds nothing new. Only then does everyone get `SIGTERM`
/// and `SIGCONT`. When the grace period runs out, the processes still there
/// are frozen and the tree read again the same way, which also catches
/// children forked during shutdown (a `TERM` handler that starts a cleanup
/// command, a loop that ignores `TERM` and keeps starting commands); all of
/// those get `SIGKILL`.
///
/// The root itself is never stopped: its parent is outside the tree, and an
/// interactive shell that sees its foreground job stop takes the terminal
/// back, after which an agent restoring the terminal on `SIGTERM` would be
/// stopped again by `SIGTTOU` and never finish its cleanup.
///
/// What this cannot reach: a child whose parent ended *before* it was found
/// has been re-parented away from the tree (to the nearest child subreaper,
/// else pid 1); so can a child the root forks between the last read and its
/// own end. A supervisor that marks itself with [`set_child_subreaper`] gets
/// those orphans as its own children and ends them with
/// [`contain::end_children`](crate::contain::end_children).
pub fn terminate_tree(root: &ProcessId, grace: Duration) -> Ended {
    // The grace period includes the time spent freezing the tree.
    let deadline = Instant::now() + grace;
    let Some(root_target) = Target::open(*root) else {
        return Ended::default();
    };
    let members = freeze(vec![root_target], root);
    for target in &members {
        target.signal(Signal::TERM);
        target.signal(Signal::CONT);
    }
    let total = members.len();
    let left = wait_gone(members, deadline);
    let terminated = total - left.len();
    if left.is_empty() {
        return Ended {
            terminated,
            killed: 0,
        };
    }
    let left = freeze(left, root);
    for target in &left {
        target.signal(Signal::KILL);
    }
    let killed = left.len();
    drop(wait_gone(left, Instant::now() + KILL_WAIT));
    Ended { terminated, killed }
}

/// Stops every member but `root`, then adds and stops their descendants
/// until a read of `/proc` finds no new one (or [`FREEZE_ROUNDS`] have).
pub(crate) fn freeze(mut members: Vec<Target>, root: &ProcessId) -> Vec<Target> {
    let stop = |targets: &[Target]| {
        for target in targets.iter().filter(|t| t.id != *root) {
            target.signal(Signal::STOP);
        }
    };
    let stop_deadline = Instant::now() + STOP_WAIT;
    stop(&members);
    for _ in 0..FREEZE_ROUNDS {
        wait_stopped(&members, root, stop_deadline);
        let ids: Vec<ProcessId> = members.iter().map(|t| t.id).collect();
        let new: Vec<Target> = proc::descendants_of(&ids)
            .into_iter()
            .filter(|id| !ids.contains(id))
            .filter_map(Target::open)
            .collect();
        if new.is_empty() {
            break;
        }
        stop(&new);
        members.extend(new);
    }
    members
}

/// Waits until every member but `root` has actually stopped (or ended), or
/// `deadline` passes.
///
/// `SIGSTOP` takes effect only when a process is on its way back to user
/// space: one preempted in the middle of `fork(2)` first finishes it, and
/// its child appears in `/proc` only then. Reading the tree before every
/// member has stopped could miss that child for good.
fn wait_stopped(members: &[Target], root: &ProcessId, deadline: Instant) {
    let mut pending: Vec<ProcessId> = members
        .iter()
        .map(|t| t.id)
        .filter(|id| id != root)
        .collect();
    loop {
        pending.retain(|id| !proc::is_settled(id));
        if pending.is_empty() || Instant::now() >= deadline {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until every target is gone or `deadline` passes; returns the ones
/// still there.
pub(crate) fn wait_gone(mut targets: Vec<Target>, deadline: Instant) -> Vec<Target> {
    loop {
        targets.retain(|t| proc::is_alive(&t.id));
        let now = Instant::now();
        if targets.is_empty() || now >= deadline {
            return targets;
        }
        thread::sleep(POLL.min(deadline - now));
    }
}

/// A process to signal, held through a pidfd where possible.
pub(crate) struct Target {
    pub(crate) id: ProcessId,
    pidfd: Option<OwnedFd>,
}

impl Target {
    /// `None` when `id` is gone, is the calling process, or its pid names
    /// another process now.
    pub(crate) fn open(id: ProcessId) -> Option<Target> {
        if id.pid == std::process::id() {
            return None;
        }
        let pid = Pid::from_raw(i32::try_from(id.pid).ok()?)?;
        let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(Errno::SRCH) => return None,
            // Old kernel or out of descriptors: fall back to kill(2).
            Err(_) => None,
        };
        // Checked after opening the pidfd: see the module docs.
        proc::is_alive(&id).then_some(Target { id, pidfd })
    }

    /// Sends `signal`; a target that is gone is left alone.
    pub(crate) fn signal(&self, signal: Signal) {
        match &self.pidfd {
            Some(pidfd) => {
                let _ = pidfd_send_signal(pidfd, signal);
            }
            None => {
                if proc::is_alive(&self.id) {
                    if let Some(pid) = i32::try_from(self.id.pid).ok().and_then(Pid::from_raw) {
                        let _ = kill_process(pid, signal);
                    }
                }
            }
        }
    }
}

/// Marks the calling process as a child subreaper (`PR_SET_CHILD_SUBREAPER`):
/// orphaned descendants are re-parented to it instead of pid 1, so they stay
/// among its [`descendants`](crate::proc::descendants). It must then reap
/// them: see [`reap_children`].
pub fn set_child_subreaper() -> Result<(), Error> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| Error::Subreaper { source: e.into() })
}

/// Reaps every child of the calling process that has ended, without
/// blocking (`wait` with `WNOHANG` until none is left); returns how many.
///
/// This collects *any* ended child, including one that other code holds as
/// a [`std::process::Child`] and would `wait` for later (that `wait` then
/// fails with `ECHILD`). Call it only where no other code waits for specific
/// children, or after those waits are done.
pub fn reap_children() -> usize {
    let mut reaped = 0;
    loop {
        // Not `waitpid(None, ..)`, which reaps only children in this
        // process group: a `setsid` child would stay a zombie.
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => reaped += 1,
            Err(Errno::INTR) => {}
            // No ended child left, or no child at all.
            Ok(None) | Err(_) => return reaped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calling_process_is_never_a_target() {
        let me = proc::identify(std::process::id()).unwrap();
        assert!(Target::open(me).is_none());
        assert_eq!(terminate(&[me], Duration::ZERO), Ended::default());
    }

    #[test]
    fn a_gone_target_is_not_counted() {
        let gone = ProcessId {
            pid: u32::MAX,
            start_time: 1,
        };
        assert!(Target::open(gone).is_none());
        assert_eq!(terminate(&[gone], Duration::ZERO), Ended::default());
        assert_eq!(terminate_tree(&gone, Duration::ZERO), Ended::default());
    }

    #[test]
    fn duplicate_targets_are_signalled_once() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let id = proc::identify(child.id()).unwrap();
        let ended = terminate(&[id, id], Duration::from_secs(5));
        assert_eq!(
            ended,
            Ended {
                terminated: 1,
                killed: 0
            }
        );
        child.wait().unwrap();
    }
}
