//! Containment: nothing a supervisor started outlives what it supervises.
//!
//! Three supervisors start processes for an agent: `warrant task` (the
//! agent), `warrant run --grant` (a command that holds values) and the MCP
//! server's `run_command`. Each marks itself a child subreaper
//! ([`set_child_subreaper`](crate::terminate::set_child_subreaper)) before
//! it starts anything, so a process that leaves its parent (`setsid` and
//! exit, a double fork, a `TERM` handler that starts a survivor) is
//! re-parented to the supervisor instead of pid 1, and stays among its
//! [`descendants`](crate::proc::descendants). At the end the supervisor
//! calls [`end_descendants`]: `SIGTERM` (and `SIGCONT`) to every
//! descendant, a grace period in which those started meanwhile get the same,
//! then [`sweep`]: freeze and `SIGKILL` everything under it, and read
//! `/proc` again, until a read finds nothing. `SIGKILL` cannot be caught,
//! so no handler runs and nothing new starts from a killed process; it
//! also ends a stopped process; and a process frozen with `SIGSTOP` cannot
//! fork while the others are killed. The sweep does not return while a
//! descendant lives.
//!
//! [`Watch`] runs that for a single command: when the command ends (or a
//! timeout passes), what it left running is ended at once, even while the
//! supervisor is still reading the command's output.
//!
//! This holds as long as the supervisor lives. `warrant task` runs the
//! agent in a Landlock domain that cannot signal out of it (Landlock ABI 6,
//! Linux 6.12), so the agent cannot kill its supervisor to let its
//! processes escape; [`probe`] says whether this kernel does that.
//!
//! ```
//! use std::time::Duration;
//! use warrant_sandbox::{contain, proc};
//!
//! let mut child = std::process::Command::new("sh")
//!     .args(["-c", "trap '' TERM; sleep 30 & sleep 30"])
//!     .spawn()
//!     .unwrap();
//! let me = proc::identify(std::process::id()).unwrap();
//! while proc::descendants(&me).len() < 2 {
//!     std::thread::sleep(Duration::from_millis(10));
//! }
//! let ended = contain::end_descendants(&me, Duration::from_millis(100));
//! assert!(ended.terminated + ended.killed >= 2);
//! child.wait().unwrap();
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Signal, WaitOptions, wait};

use crate::proc::{self, ProcessId};
use crate::terminate::{self, Ended, KILL_WAIT, POLL, Target};

/// How often a [`Watch`] checks on its command.
const WATCH_TICK: Duration = Duration::from_millis(20);

/// The longest pause between two rounds of a [`sweep`] whose processes take
/// long to go (a process in uninterruptible sleep dies only when it wakes).
const SWEEP_BACKOFF: Duration = Duration::from_millis(50);

/// How processes are kept from outliving their task, grant or command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mechanism {
    /// The supervisor is a child subreaper and ends its descendants with a
    /// [`sweep`] that repeats until none is left.
    SubreaperSweep {
        /// Whether the agent of a task cannot signal the task's supervisor
        /// (Landlock signal scoping), which would otherwise let it kill the
        /// supervisor and hand its processes to pid 1.
        shielded: bool,
    },
}

impl Mechanism {
    /// A short name for machine-readable output: `subreaper sweep`.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::SubreaperSweep { .. } => "subreaper sweep",
        }
    }

    /// Whether what it contains cannot end its supervisor.
    pub fn shielded(&self) -> bool {
        match self {
            Mechanism::SubreaperSweep { shielded } => *shielded,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mechanism::SubreaperSweep { shielded: true } => f.write_str(
                "subreaper sweep (a task's agent cannot signal its supervisor: landlock signal scope)",
            ),
            Mechanism::SubreaperSweep { shielded: false } => f.write_str(
                "subreaper sweep (WARNING: this kernel lets a task's agent signal its supervisor; \
                 Linux 6.12 or later stops that)",
            ),
        }
    }
}

/// The mechanism this machine runs.
pub fn probe() -> Mechanism {
    Mechanism::SubreaperSweep {
        shielded: crate::sandbox::probe().confines_signals(),
    }
}

/// Kills every descendant of `root` (not `root` itself) and returns how
/// many: freezes the tree with `SIGSTOP`, sends `SIGKILL` to all of it,
/// and reads `/proc` again, until a read finds no live descendant.
///
/// Does not return while a read of `/proc` finds a descendant (see
/// [`end_children`] for what a read can miss). A process killed in
/// uninterruptible sleep stays until it wakes; rounds are then repeated
/// with a pause of up to 50 ms.
///
/// Only what is still under `root` can be found: give `root` the processes
/// that leave their parents by making it a child subreaper.
pub fn sweep(root: &ProcessId) -> usize {
    sweep_ids(root).len()
}

fn sweep_ids(root: &ProcessId) -> HashSet<ProcessId> {
    let mut killed = HashSet::new();
    let mut pause = Duration::from_millis(1);
    loop {
        let found: Vec<Target> = proc::descendants(root)
            .into_iter()
            .filter_map(Target::open)
            .collect();
        if found.is_empty() {
            return killed;
        }
        let members = terminate::freeze(found, root);
        for target in &members {
            target.signal(Signal::KILL);
        }
        killed.extend(members.iter().map(|t| t.id));
        let left = terminate::wait_gone(members, Instant::now() + KILL_WAIT);
        if !left.is_empty() {
            thread::sleep(pause);
            pause = (pause * 2).min(SWEEP_BACKOFF);
        }
    }
}

/// Ends every descendant of `root`: `SIGTERM` and `SIGCONT` to each (and to
/// those that appear during the grace period), up to `grace` for all of
/// them to be gone, then a [`sweep`]. Returns once no descendant is left.
///
/// A process counts as terminated when it went within the grace period,
/// and as killed when the sweep found it (whether or not it had been sent
/// `SIGTERM`). Zombies count as gone: their parent (with a subreaper
/// `root`, often `root` itself) reaps them.
pub fn end_descendants(root: &ProcessId, grace: Duration) -> Ended {
    let deadline = Instant::now() + grace;
    let mut told: HashSet<ProcessId> = HashSet::new();
    loop {
        let live = proc::descendants(root);
        if live.is_empty() {
            return Ended {
                terminated: told.len(),
                killed: 0,
            };
        }
        for id in live {
            if told.insert(id) {
                if let Some(target) = Target::open(id) {
                    target.signal(Signal::TERM);
                    target.signal(Signal::CONT);
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        thread::sleep(POLL.min(deadline - now));
    }
    let killed = sweep_ids(root);
    Ended {
        terminated: told.iter().filter(|id| !killed.contains(id)).count(),
        killed: killed.len(),
    }
}

/// Ends every descendant of the calling process, which must be a child
/// subreaper that no other code waits for children of: [`end_descendants`],
/// then reaps, and repeats the [`sweep`] until the kernel reports that the
/// calling process has no child left (`ECHILD`).
///
/// Reads of `/proc` are not atomic: a process that forks while it is read,
/// its child taking a pid below the read's position (pids wrap around),
/// and then exits, can leave a read that finds nothing while the child
/// lives. Under a subreaper that cannot last: every live descendant has a
/// live ancestor among the subreaper's own children (an orphan becomes one
/// itself), so "no child at all" means "no descendant", and the kernel says
/// that exactly.
pub fn end_children(grace: Duration) -> Ended {
    let Ok(me) = proc::identify(std::process::id()) else {
        return Ended::default();
    };
    let mut ended = end_descendants(&me, grace);
    let mut pause = Duration::from_millis(1);
    while has_children() {
        ended.killed += sweep(&me);
        thread::sleep(pause);
        pause = (pause * 2).min(SWEEP_BACKOFF);
    }
    ended
}

/// Reaps every ended child; whether any child (running, stopped) is left.
fn has_children() -> bool {
    loop {
        // `wait`, not `waitpid(None, ..)`: that one waits only for children
        // in the caller's process group, and a `setsid` child is in none.
        match wait(WaitOptions::NOHANG) {
            Ok(Some(_)) | Err(Errno::INTR) => {}
            Ok(None) => return true,
            Err(Errno::CHILD) => return false,
            // Not expected: treat as "still there" and let the sweep look.
            Err(_) => return true,
        }
    }
}

/// Watches one command started by the calling process (a child subreaper):
/// once the command has ended, or `timeout` has passed, everything the
/// calling process has under it is ended ([`end_descendants`]).
///
/// The calling process must have no other children than the command and
/// what it started: everything under it is ended.
pub struct Watch {
    child: mpsc::Sender<u32>,
    stop: Arc<AtomicBool>,
    timed_out: Arc<AtomicBool>,
    grace: Duration,
    me: Option<ProcessId>,
    thread: thread::JoinHandle<()>,
}

impl Watch {
    /// Starts watching; tell it the command's pid with [`Watch::spawned`].
    pub fn start(grace: Duration, timeout: Option<Duration>) -> Watch {
        let me = proc::identify(std::process::id()).ok();
        let (child, spawned) = mpsc::channel::<u32>();
        let stop = Arc::new(AtomicBool::new(false));
        let timed_out = Arc::new(AtomicBool::new(false));
        let deadline = timeout.map(|t| Instant::now() + t);
        let thread = {
            let (stop, timed_out) = (Arc::clone(&stop), Arc::clone(&timed_out));
            thread::spawn(move || {
                let Some(me) = me else { return };
                watch(&me, &spawned, &stop, &timed_out, deadline, grace);
            })
        };
        Watch {
            child,
            stop,
            timed_out,
            grace,
            me,
            thread,
        }
    }

    /// The command was started with this pid.
    pub fn spawned(&self, pid: u32) {
        let _ = self.child.send(pid);
    }

    /// Whether the timeout passed before the command ended.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }

    /// Stops watching, ends whatever is still under the calling process and
    /// reaps it ([`end_children`]): returns once it has no child left. Call
    /// it once the command itself has been reaped, since this reaps *any*
    /// ended child.
    pub fn finish(self) -> Ended {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        if self.me.is_none() {
            return Ended::default();
        }
        end_children(self.grace)
    }
}

fn watch(
    me: &ProcessId,
    spawned: &mpsc::Receiver<u32>,
    stop: &AtomicBool,
    timed_out: &AtomicBool,
    deadline: Option<Instant>,
    grace: Duration,
) {
    // None until the pid is known; Some(None) once it ended.
    let mut child: Option<Option<ProcessId>> = None;
    while !stop.load(Ordering::SeqCst) {
        if child.is_none() {
            if let Ok(pid) = spawned.try_recv() {
                child = Some(proc::identify(pid).ok());
            }
        }
        if deadline.is_some_and(|at| Instant::now() >= at) {
            timed_out.store(true, Ordering::SeqCst);
            end_descendants(me, grace);
            return;
        }
        if let Some(command) = child {
            if !command.is_some_and(|c| proc::is_alive(&c)) {
                end_descendants(me, grace);
                return;
            }
        }
        thread::sleep(WATCH_TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_root_has_nothing_to_sweep() {
        let gone = ProcessId {
            pid: u32::MAX,
            start_time: 1,
        };
        assert_eq!(sweep(&gone), 0);
        assert_eq!(end_descendants(&gone, Duration::ZERO), Ended::default());
    }

    #[test]
    fn the_mechanism_has_a_name() {
        assert_eq!(probe().name(), "subreaper sweep");
        assert!(probe().to_string().starts_with("subreaper sweep"));
    }
}
