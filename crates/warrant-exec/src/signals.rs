//! Which signals warrant catches while the child runs, and what it does with them.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use libc::c_int;
use rustix::pipe::PipeFlags;
use rustix::process::Signal;
use signal_hook::iterator::Signals;
use signal_hook::iterator::backend::Handle;

use crate::above_stdio;
use crate::child::ChildHandle;
use crate::spawn::{self, Disposition};

/// Caught from before the fork until the run ends.
pub(crate) const CAUGHT: [c_int; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGWINCH,
    libc::SIGTSTP,
    libc::SIGCONT,
];

/// What to do with one received signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send it to the child's pid.
    ToChild(c_int),
    /// Send it to the child's process group (the child's pid as a group id).
    ToGroup(c_int),
    /// Stop the child's process group, then warrant itself (job control:
    /// `^Z`, then `fg` or `bg` sends `SIGCONT`).
    Suspend,
    /// Stop warrant only, as `SIGTSTP`'s default action would.
    StopSelf,
    /// Copy warrant's window size to the child's terminal.
    Resize,
    /// Nothing to do.
    Ignore,
}

/// The signal rule.
///
/// Either way the child is in a session of its own, so nothing that the
/// kernel sends to warrant's terminal's foreground process group (`^C`,
/// `^Z`, a hang-up) reaches it by itself, and nothing is received twice.
///
/// With pipes the child has no terminal: warrant stands in for it, and
/// every signal goes to the child's whole process group, as a terminal's
/// signals would have (a shell's `sh -c 'a; b'` and its running `a` alike).
/// `SIGTSTP` becomes `SIGSTOP`: the child's group is orphaned (its parent,
/// warrant, is in another session), and the kernel discards `SIGTSTP` sent
/// to a process of an orphaned group whose action is the default one.
///
/// With a pseudo-terminal the child's own terminal does job control: a
/// signal goes to the child's pid, `SIGWINCH` becomes a resize, `SIGTSTP`
/// stops warrant only and `SIGCONT` is not passed on.
pub(crate) fn decide(signal: c_int, pty: bool) -> Action {
    match (pty, signal) {
        (true, libc::SIGWINCH) => Action::Resize,
        (true, libc::SIGTSTP) => Action::StopSelf,
        (true, libc::SIGCONT) => Action::Ignore,
        (true, _) => Action::ToChild(signal),
        (false, libc::SIGTSTP) => Action::Suspend,
        (false, _) => Action::ToGroup(signal),
    }
}

/// Whether `signal` makes warrant stop draining output after the child exited.
pub(crate) fn is_interrupt(signal: c_int) -> bool {
    matches!(
        signal,
        libc::SIGINT | libc::SIGTERM | libc::SIGHUP | libc::SIGQUIT
    )
}

/// Process-wide bookkeeping shared by concurrent runs.
struct Global {
    /// Runs currently holding a [`SignalWatch`].
    active: usize,
    /// Per [`CAUGHT`] signal: the "default action when idle" is in place.
    fallback: [bool; CAUGHT.len()],
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    active: 0,
    fallback: [false; CAUGHT.len()],
});

/// True while no run is active.
static IDLE: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(true)));

/// The caught signals, handled by a thread of their own ([`SignalWatch::forward`])
/// so that forwarding never waits behind a blocked write of output.
///
/// signal-hook never uninstalls its low-level handler, so once a run has
/// caught `SIGTERM`, a later `SIGTERM` would be swallowed for the rest of the
/// process's life (a long-lived host such as a daemon could then no longer be
/// stopped). So, the first time a signal whose disposition is `SIG_DFL` is
/// caught, an extra action is registered that runs the default action
/// whenever no run is active: outside runs, the process behaves as before.
pub(crate) struct SignalWatch {
    signals: Signals,
}

impl SignalWatch {
    /// Installs the handlers. A signal that is ignored right now (`nohup`, a
    /// background job of a non-interactive shell) is left ignored, so the
    /// child inherits that too.
    pub(crate) fn install() -> std::io::Result<Self> {
        let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wanted = Vec::with_capacity(CAUGHT.len());
        for (i, &signal) in CAUGHT.iter().enumerate() {
            if global.fallback[i] {
                wanted.push(signal);
                continue;
            }
            match spawn::disposition(signal) {
                Disposition::Ignore => {}
                Disposition::Default => {
                    signal_hook::flag::register_conditional_default(signal, Arc::clone(&IDLE))?;
                    global.fallback[i] = true;
                    wanted.push(signal);
                }
                // Someone else's handler: signal-hook calls it after ours.
                Disposition::Handler => wanted.push(signal),
            }
        }
        let signals = Signals::new(wanted)?;
        global.active += 1;
        IDLE.store(false, Ordering::SeqCst);
        Ok(Self { signals })
    }

    /// Ends [`SignalWatch::forward`] when closed.
    pub(crate) fn handle(&self) -> Handle {
        self.signals.handle()
    }

    /// The signal thread: applies [`decide`] to every signal until the
    /// handle is closed. Signals received before it started (between
    /// [`SignalWatch::install`] and the fork) are handled first.
    pub(crate) fn forward(&mut self, child: &ChildHandle, pty: bool, events: &Events) {
        for signal in self.signals.forever() {
            let live = match decide(signal, pty) {
                Action::ToChild(raw) => match Signal::from_named_raw(raw) {
                    Some(signal) => child.signal(signal),
                    None => child.is_live(),
                },
                Action::ToGroup(raw) => match Signal::from_named_raw(raw) {
                    Some(signal) => child.signal_group(signal),
                    None => child.is_live(),
                },
                Action::Suspend => {
                    let live = child.signal_group(Signal::STOP);
                    stop_self();
                    live
                }
                Action::StopSelf => {
                    stop_self();
                    child.is_live()
                }
                Action::Resize => {
                    events.resize.store(true, Ordering::SeqCst);
                    events.notify();
                    child.is_live()
                }
                Action::Ignore => child.is_live(),
            };
            if !live && is_interrupt(signal) {
                events.interrupted.store(true, Ordering::SeqCst);
                events.notify();
            }
        }
    }
}

/// Stops warrant (every thread) until it gets `SIGCONT`: what `SIGTSTP`
/// would have done had warrant not caught it.
fn stop_self() {
    let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::STOP);
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
        global.active -= 1;
        if global.active == 0 {
            IDLE.store(true, Ordering::SeqCst);
        }
    }
}

/// What the signal thread asks of the run loop, with a pipe to wake it.
pub(crate) struct Events {
    /// Copy warrant's window size to the child's terminal.
    resize: AtomicBool,
    /// A terminating signal came after the child was reaped: stop draining.
    interrupted: AtomicBool,
    wake: OwnedFd,
}

impl Events {
    /// The events, and the read end of their wake-up pipe (non-blocking).
    pub(crate) fn new() -> rustix::io::Result<(Self, OwnedFd)> {
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        let (read, wake) = (above_stdio(read)?, above_stdio(write)?);
        let events = Self {
            resize: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            wake,
        };
        Ok((events, read))
    }

    fn notify(&self) {
        // A full pipe already wakes the loop.
        let _ = rustix::io::write(&self.wake, &[1]);
    }

    /// Whether a resize was asked for since the last call.
    pub(crate) fn take_resize(&self) -> bool {
        self.resize.swap(false, Ordering::SeqCst)
    }

    pub(crate) fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// Closes a [`Handle`] on drop, so the signal thread ends even on a panic
/// (a scoped thread that never ends would hang the unwinding).
pub(crate) struct CloseOnDrop(pub(crate) Handle);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_forward_everything_to_the_group_and_suspend_on_sigtstp() {
        for signal in CAUGHT {
            let expected = if signal == libc::SIGTSTP {
                Action::Suspend
            } else {
                Action::ToGroup(signal)
            };
            assert_eq!(decide(signal, false), expected);
        }
    }

    #[test]
    fn pty_forwards_to_the_child_and_leaves_job_control_to_its_terminal() {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            assert_eq!(decide(signal, true), Action::ToChild(signal));
        }
        assert_eq!(decide(libc::SIGWINCH, true), Action::Resize);
        assert_eq!(decide(libc::SIGTSTP, true), Action::StopSelf);
        assert_eq!(decide(libc::SIGCONT, true), Action::Ignore);
    }

    #[test]
    fn only_terminating_signals_end_the_drain() {
        let interrupts: Vec<c_int> = CAUGHT.into_iter().filter(|&s| is_interrupt(s)).collect();
        assert_eq!(
            interrupts,
            [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT]
        );
    }

    #[test]
    fn forwards_a_signal_sent_with_kill_to_the_childs_group() {
        use std::os::unix::process::CommandExt;
        let mut watch = SignalWatch::install().unwrap();
        let (events, _wake) = Events::new().unwrap();
        // Its own process group, as a child with pipes has (it leads its session).
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = rustix::process::Pid::from_raw(sleeper.id().try_into().unwrap()).unwrap();
        let child = ChildHandle::new(pid);
        let handle = watch.handle();
        std::thread::scope(|scope| {
            scope.spawn(|| watch.forward(&child, false, &events));
            // Caught while the watch exists: this process survives it.
            rustix::process::kill_process(rustix::process::getpid(), Signal::TERM).unwrap();
            let status = sleeper.wait().unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGTERM));
            handle.close();
        });
    }
}
