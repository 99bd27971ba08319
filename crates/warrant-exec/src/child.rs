//! The child's pid, shared by the thread that reaps it and the one that
//! signals it: both go through one lock, so a signal can never reach a pid
//! that was reaped and perhaps reused.

use std::sync::{Mutex, MutexGuard, PoisonError};

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

use crate::ChildStatus;

pub(crate) struct ChildHandle {
    pid: Pid,
    /// False once reaped (by us, or by someone else: `ECHILD`).
    live: Mutex<bool>,
}

impl ChildHandle {
    pub(crate) fn new(pid: Pid) -> Self {
        Self {
            pid,
            live: Mutex::new(true),
        }
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the child has not been reaped yet.
    pub(crate) fn is_live(&self) -> bool {
        *self.lock()
    }

    /// Sends `signal` unless the child was reaped; returns whether it was live.
    pub(crate) fn signal(&self, signal: Signal) -> bool {
        let live = self.lock();
        if *live {
            let _ = rustix::process::kill_process(self.pid, signal);
        }
        *live
    }

    /// Sends `signal` to the child's process group (the child leads it)
    /// unless the child was reaped; returns whether it was live. While the
    /// child is unreaped its pid cannot be reused, so neither can the group id.
    pub(crate) fn signal_group(&self, signal: Signal) -> bool {
        let live = self.lock();
        if *live {
            let _ = rustix::process::kill_process_group(self.pid, signal);
        }
        *live
    }

    /// Reaps the child if it has exited; never blocks.
    pub(crate) fn try_reap(&self) -> Result<Option<ChildStatus>, Errno> {
        let mut live = self.lock();
        if !*live {
            return Ok(None);
        }
        loop {
            match rustix::process::waitpid(Some(self.pid), WaitOptions::NOHANG) {
                Ok(None) => return Ok(None),
                Ok(Some((_, status))) => {
                    let status = if let Some(code) = status.exit_status() {
                        ChildStatus::Exited(code)
                    } else if let Some(signal) = status.terminating_signal() {
                        ChildStatus::Signaled(signal)
                    } else {
                        // Stopped or continued: not reported without flags.
                        return Ok(None);
                    };
                    *live = false;
                    return Ok(Some(status));
                }
                Err(Errno::INTR) => {}
                Err(errno) => {
                    // ECHILD: reaped elsewhere; its pid may already be reused.
                    *live = false;
                    return Err(errno);
                }
            }
        }
    }

    /// Kills and reaps the child if it is still live (supervision failed).
    pub(crate) fn kill_and_reap(&self) {
        let mut live = self.lock();
        if *live {
            let _ = rustix::process::kill_process(self.pid, Signal::KILL);
            while let Err(Errno::INTR) =
                rustix::process::waitpid(Some(self.pid), WaitOptions::empty())
            {}
            *live = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    #[expect(clippy::zombie_processes, reason = "reaped through the handle")]
    fn no_signal_after_reaping() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let handle = ChildHandle::new(Pid::from_raw(child.id().try_into().unwrap()).unwrap());
        let status = loop {
            if let Some(status) = handle.try_reap().unwrap() {
                break status;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(status, ChildStatus::Exited(0));
        assert!(!handle.is_live());
        assert!(!handle.signal(Signal::TERM));
        assert_eq!(handle.try_reap(), Ok(None));
    }

    #[test]
    #[expect(clippy::zombie_processes, reason = "reaped through the handle")]
    fn kill_and_reap_ends_a_running_child() {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let handle = ChildHandle::new(Pid::from_raw(child.id().try_into().unwrap()).unwrap());
        assert_eq!(handle.try_reap(), Ok(None));
        handle.kill_and_reap();
        assert!(!handle.is_live());
    }
}
