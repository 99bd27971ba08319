//! fork/exec by hand: the only module of warrant with `unsafe`.
//!
//! Why not `std::process::Command`: it copies every environment value into
//! its own buffers, which are never wiped. Here the environment is prepared
//! by the caller in one wiped buffer ([`crate::envp::EnvBlock`]) and handed
//! to `execve` as is.
//!
//! Between `fork` and `execve` the child is a copy of a multi-threaded
//! process with only the forking thread: another thread may have held the
//! allocator's lock, so only async-signal-safe functions may run there. The
//! child code below calls only `dup2`, `setsid`, `chdir`, `ioctl`, `fcntl`,
//! `sigaction`, `sigprocmask`, `execve`, `write` and `_exit`, on data
//! prepared before the fork (C strings, pointer arrays, descriptor numbers),
//! and never allocates, locks or panics.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use rustix::pipe::PipeFlags;
use rustix::process::{Pid, WaitOptions};

use crate::above_stdio;

/// What the child's standard descriptors become.
pub(crate) enum ChildStdio<'a> {
    /// A new session without a controlling terminal (so `/dev/tty` does
    /// not open and no terminal signal reaches the child by itself); stdout
    /// and stderr onto these pipe ends; stdin from `stdin`, or inherited
    /// from warrant when `None`. As a session leader, the child also leads
    /// a process group of its own (its pid), so it and everything it starts
    /// can be signalled at once.
    Pipes {
        stdin: Option<BorrowedFd<'a>>,
        stdout: BorrowedFd<'a>,
        stderr: BorrowedFd<'a>,
    },
    /// A new session whose controlling terminal is this pty slave, on 0, 1 and 2.
    Pty { slave: BorrowedFd<'a> },
}

/// Everything the child needs, prepared before the fork.
pub(crate) struct SpawnRequest<'a> {
    /// The resolved program.
    pub(crate) path: &'a CStr,
    /// NULL-terminated.
    pub(crate) argv: &'a [*const c_char],
    /// NULL-terminated, pointing into the wiped environment buffer.
    pub(crate) envp: &'a [*const c_char],
    pub(crate) stdio: ChildStdio<'a>,
    /// Descriptors the child keeps across exec (they are close-on-exec in warrant).
    pub(crate) inherit: &'a [BorrowedFd<'a>],
    /// The child's working directory, when not warrant's.
    pub(crate) cwd: Option<&'a CStr>,
}

/// The step of the child's setup that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Exec = 1,
    Dup = 2,
    Session = 3,
    ControllingTerminal = 4,
    Inherit = 5,
    Cwd = 6,
}

impl Stage {
    fn from_raw(raw: i32) -> Option<Self> {
        [
            Self::Exec,
            Self::Dup,
            Self::Session,
            Self::ControllingTerminal,
            Self::Inherit,
            Self::Cwd,
        ]
        .into_iter()
        .find(|stage| *stage as i32 == raw)
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Exec => "execute the program",
            Self::Dup => "set up the child's standard descriptors",
            Self::Session => "start a new session for the child",
            Self::ControllingTerminal => "give the child its terminal",
            Self::Inherit => "pass in-memory files to the child",
            Self::Cwd => "enter the child's working directory",
        }
    }
}

/// Why spawning failed.
#[derive(Debug)]
pub(crate) enum SpawnError {
    /// In warrant, before or at the fork.
    Parent(&'static str, io::Error),
    /// In the child; it has been reaped.
    Child(Stage, io::Error),
}

/// What a signal does right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// `SIG_DFL`.
    Default,
    /// `SIG_IGN`.
    Ignore,
    /// Someone's handler (or the disposition could not be read).
    Handler,
}

/// Reads `signal`'s disposition without changing it.
pub(crate) fn disposition(signal: c_int) -> Disposition {
    // SAFETY: `sigaction` with a NULL new action only reads the current one
    // into `old`, a plain C struct for which all-zero bytes are a valid value
    // (handler 0 = SIG_DFL, empty mask, `sa_restorer` None). No safe wrapper
    // in our dependencies reads a disposition without changing it.
    let (rc, handler) = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        let rc = libc::sigaction(signal, std::ptr::null(), &mut old);
        (rc, old.sa_sigaction)
    };
    match (rc, handler) {
        (0, libc::SIG_DFL) => Disposition::Default,
        (0, libc::SIG_IGN) => Disposition::Ignore,
        _ => Disposition::Handler,
    }
}

/// Forks and execs the child. Returns once the child has exec'd (or failed
/// to, in which case it has been reaped and the error says why).
pub(crate) fn spawn(req: &SpawnRequest<'_>) -> Result<Pid, SpawnError> {
    assert!(
        req.argv.last().is_some_and(|p| p.is_null()),
        "argv ends with NULL"
    );
    assert!(
        req.envp.last().is_some_and(|p| p.is_null()),
        "envp ends with NULL"
    );

    // The child writes (stage, errno) here if it fails; close-on-exec, so a
    // successful exec closes it and warrant reads EOF.
    let (report_read, report_write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .and_then(|(r, w)| Ok((r, above_stdio(w)?)))
        .map_err(|e| SpawnError::Parent("create a pipe", e.into()))?;

    // Prepared here: nothing below the fork may allocate or take a lock.
    let child = ChildPlan {
        path: req.path.as_ptr(),
        argv: req.argv.as_ptr(),
        envp: req.envp.as_ptr(),
        stdio: match req.stdio {
            ChildStdio::Pipes {
                stdin,
                stdout,
                stderr,
            } => PlanStdio::Pipes {
                stdin: stdin.map_or(-1, |fd| fd.as_raw_fd()),
                stdout: stdout.as_raw_fd(),
                stderr: stderr.as_raw_fd(),
            },
            ChildStdio::Pty { slave } => PlanStdio::Pty(slave.as_raw_fd()),
        },
        inherit: req.inherit,
        cwd: req.cwd.map_or(std::ptr::null(), CStr::as_ptr),
        report: report_write.as_raw_fd(),
        max_signal: libc::SIGRTMAX(),
    };

    // SAFETY: sigset_t is a plain C struct; sigfillset/sigemptyset fully
    // initialise it; pthread_sigmask only changes this thread's mask.
    // All signals are blocked across the fork so that no handler of warrant's
    // (signal-hook's, or another library's) runs in the child before it has
    // reset its dispositions; the parent restores its mask right after.
    let old = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    };

    // SAFETY: fork is unsafe because the child of a multi-threaded process
    // may only make async-signal-safe calls until it execs. `child.run`
    // does exactly that (see its comment), using only `child`, which was
    // built above, and never returns (it execs or `_exit`s). The parent
    // branch continues normally.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: see above; we are the child.
        unsafe { child.run() }
    }
    let fork_error = io::Error::last_os_error();
    // SAFETY: restores the mask saved above, in this thread only.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
    if pid < 0 {
        return Err(SpawnError::Parent("fork", fork_error));
    }
    let pid = Pid::from_raw(pid).expect("fork returned a positive pid");
    drop(report_write);

    let mut report = [0u8; 8];
    let mut got = 0;
    while got < report.len() {
        match rustix::io::read(&report_read, &mut report[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(errno) => {
                // Cannot tell whether exec succeeded: do not leave a child behind.
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                reap(pid);
                return Err(SpawnError::Parent("read the exec report", errno.into()));
            }
        }
    }
    if got == 0 {
        return Ok(pid);
    }
    reap(pid);
    let stage = i32::from_ne_bytes(report[..4].try_into().expect("4 bytes"));
    let errno = i32::from_ne_bytes(report[4..].try_into().expect("4 bytes"));
    let stage = Stage::from_raw(stage).unwrap_or(Stage::Exec);
    let error = if got == report.len() {
        io::Error::from_raw_os_error(errno)
    } else {
        io::Error::other("the child died during setup")
    };
    Err(SpawnError::Child(stage, error))
}

fn reap(pid: Pid) {
    while let Err(rustix::io::Errno::INTR) =
        rustix::process::waitpid(Some(pid), WaitOptions::empty())
    {}
}

enum PlanStdio {
    /// `stdin` is -1 to keep warrant's.
    Pipes {
        stdin: RawFd,
        stdout: RawFd,
        stderr: RawFd,
    },
    Pty(RawFd),
}

/// Raw pointers and numbers only: what the child may touch.
struct ChildPlan<'a> {
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    stdio: PlanStdio,
    inherit: &'a [BorrowedFd<'a>],
    /// NULL to keep warrant's.
    cwd: *const c_char,
    report: RawFd,
    max_signal: c_int,
}

impl ChildPlan<'_> {
    /// Runs in the child between fork and exec.
    ///
    /// # Safety
    ///
    /// Only in the child right after `fork`, with all signals blocked. Every
    /// call here is async-signal-safe (POSIX.1-2017 §2.4.3 lists `dup2`,
    /// `setsid`, `chdir`, `fcntl`, `sigaction`, `sigprocmask`, `execve`,
    /// `write`, `_exit`; Linux's `ioctl(TIOCSCTTY)` and reading `errno` are plain
    /// system-call wrappers); nothing allocates, locks or can panic; the
    /// pointers were built by the parent and stay valid (the child has a
    /// copy of the parent's memory).
    unsafe fn run(&self) -> ! {
        unsafe {
            // 1. Descriptors, while all signals are still blocked.
            match self.stdio {
                PlanStdio::Pipes {
                    stdin,
                    stdout,
                    stderr,
                } => {
                    // No controlling terminal: warrant's terminal, if any,
                    // would be a way around the redactor (`/dev/tty`). A
                    // fresh child is never a process group leader, so this
                    // cannot fail with EPERM; it also makes the child the
                    // leader of a new process group (pgid = its pid).
                    if libc::setsid() < 0 {
                        self.fail(Stage::Session);
                    }
                    if (stdin >= 0 && libc::dup2(stdin, 0) < 0)
                        || libc::dup2(stdout, 1) < 0
                        || libc::dup2(stderr, 2) < 0
                    {
                        self.fail(Stage::Dup);
                    }
                }
                PlanStdio::Pty(slave) => {
                    if libc::setsid() < 0 {
                        self.fail(Stage::Session);
                    }
                    for fd in 0..3 {
                        if libc::dup2(slave, fd) < 0 {
                            self.fail(Stage::Dup);
                        }
                    }
                    if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                        self.fail(Stage::ControllingTerminal);
                    }
                }
            }
            if !self.cwd.is_null() && libc::chdir(self.cwd) < 0 {
                self.fail(Stage::Cwd);
            }
            // The originals stay close-on-exec; dup2's copies are not.
            for fd in self.inherit {
                if libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) < 0 {
                    self.fail(Stage::Inherit);
                }
            }

            // 2. Signals: default disposition for everything warrant catches
            //    (exec would do it, but a signal unblocked before exec would
            //    otherwise run warrant's handler here) and for SIGPIPE, which
            //    Rust ignores; an ignored signal stays ignored, as exec keeps
            //    it. Then an empty mask, which exec keeps.
            for signal in 1..=self.max_signal {
                if signal == libc::SIGKILL || signal == libc::SIGSTOP {
                    continue;
                }
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, std::ptr::null(), &mut old) != 0 {
                    continue; // signals reserved by the C library
                }
                let handled =
                    old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN;
                if handled || (signal == libc::SIGPIPE && old.sa_sigaction == libc::SIG_IGN) {
                    let mut default: libc::sigaction = std::mem::zeroed();
                    default.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(signal, &default, std::ptr::null_mut());
                }
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

            // 3. Exec; on success the report pipe closes with it.
            libc::execve(self.path, self.argv, self.envp);
            self.fail(Stage::Exec)
        }
    }

    /// Reports `errno` and the stage to the parent, then exits.
    ///
    /// # Safety
    ///
    /// Only in the child; see [`ChildPlan::run`].
    unsafe fn fail(&self, stage: Stage) -> ! {
        unsafe {
            let e = (*libc::__errno_location()).to_ne_bytes();
            let s = (stage as i32).to_ne_bytes();
            let report = [s[0], s[1], s[2], s[3], e[0], e[1], e[2], e[3]];
            // One write of 8 bytes to a pipe is atomic.
            libc::write(self.report, report.as_ptr().cast(), report.len());
            libc::_exit(127)
        }
    }
}

/// See [`crate::die_with_parent`].
pub(crate) fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and makes one
    // async-signal-safe system call (prctl); it allocates nothing.
    unsafe {
        command.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}
