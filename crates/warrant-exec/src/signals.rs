//! Which signals warrant catches while the child runs, and what it does with them.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use libc::c_int;
use rustix::pipe::PipeFlags;
use rustix::process::Signal;
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::backend::Handle;
use signal_hook::iterator::exfiltrator::WithRawSiginfo;

use crate::above_stdio;
use crate::child::ChildHandle;
use crate::spawn::{self, Disposition};

/// Caught from before the fork until the run ends.
pub(crate) const CAUGHT: [c_int; 5] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGWINCH,
];

/// What to do with one received signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send it to the child.
    Forward(c_int),
    /// Copy warrant's window size to the child's terminal.
    Resize,
    /// The child already got it from the kernel.
    Ignore,
}

/// The signal rule. `code` is the signal's `si_code`.
///
/// With pipes the child shares warrant's process group and terminal, so a
/// signal the kernel sent (`si_code` > 0, e.g. `SI_KERNEL` for `^C` or a
/// resize) reached it too: forward only what a process sent (`SI_USER`,
/// `SI_QUEUE`, `SI_TKILL`, all ≤ 0). With a pseudo-terminal the child is in
/// its own session and gets nothing by itself: forward everything, and turn
/// `SIGWINCH` into a resize.
pub(crate) fn decide(signal: c_int, code: c_int, pty: bool) -> Action {
    match (pty, signal) {
        (true, libc::SIGWINCH) => Action::Resize,
        (true, _) => Action::Forward(signal),
        (false, _) if code <= 0 => Action::Forward(signal),
        (false, _) => Action::Ignore,
    }
}

/// Whether `signal` makes warrant stop draining output after the child exited.
pub(crate) fn is_interrupt(signal: c_int) -> bool {
    signal != libc::SIGWINCH
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
    signals: SignalsInfo<WithRawSiginfo>,
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
        let signals = SignalsInfo::new(wanted)?;
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
        for info in self.signals.forever() {
            let (signal, code) = (info.si_signo, info.si_code);
            let live = match decide(signal, code, pty) {
                Action::Forward(signal) => match Signal::from_named_raw(signal) {
                    Some(signal) => child.signal(signal),
                    None => child.is_live(),
                },
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
    fn pipes_forward_only_what_a_process_sent() {
        for signal in CAUGHT {
            for code in [libc::SI_USER, libc::SI_QUEUE, libc::SI_TKILL] {
                assert_eq!(decide(signal, code, false), Action::Forward(signal));
            }
            assert_eq!(decide(signal, libc::SI_KERNEL, false), Action::Ignore);
        }
    }

    #[test]
    fn pty_forwards_everything_and_resizes_on_sigwinch() {
        for code in [libc::SI_USER, libc::SI_KERNEL] {
            assert_eq!(
                decide(libc::SIGINT, code, true),
                Action::Forward(libc::SIGINT)
            );
            assert_eq!(
                decide(libc::SIGHUP, code, true),
                Action::Forward(libc::SIGHUP)
            );
            assert_eq!(decide(libc::SIGWINCH, code, true), Action::Resize);
        }
    }

    #[test]
    fn forwards_a_signal_sent_with_kill_to_the_child() {
        let mut watch = SignalWatch::install().unwrap();
        let (events, _wake) = Events::new().unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
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
