//! One run: prepare, spawn, then supervise the child.
//!
//! Two threads. The calling thread runs one poll(2) loop over the child's
//! pipes (or the pty master), warrant's stdin (pty only), the child's pidfd
//! and a wake-up pipe: reads are 256 KiB, the redactor does the real work,
//! and only writes to warrant's own stdout/stderr block, as they would for
//! the child writing there directly. A second thread takes the signals and
//! forwards them at once, even while the loop is blocked writing output;
//! it asks the loop (through the wake-up pipe) for what touches the streams:
//! resizing the pty, stopping the drain.

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use rustix::process::PidfdFlags;

use crate::child::ChildHandle;
use crate::envp::{Argv, EnvBlock};
use crate::memfd::SecretFiles;
use crate::pty::{self, RawMode};
use crate::pump::{InputPump, OutputPump, Step};
use crate::signals::{CloseOnDrop, Events, SignalWatch};
use crate::spawn::{self, ChildStdio, SpawnError, SpawnRequest, Stage};
use crate::{
    ChildStatus, DRAIN_GRACE, Error, RunOutcome, RunSpec, Streams, TerminalMode, above_stdio,
    make_non_dumpable,
};

/// How often to check on the child when pidfds are not available.
const WAIT_TICK: Duration = Duration::from_millis(50);

pub(crate) fn run(
    spec: RunSpec,
    streams: Streams,
    on_spawn: &mut dyn FnMut(u32),
) -> Result<RunOutcome, Error> {
    make_non_dumpable()?;
    let RunSpec {
        program,
        args,
        env,
        secret_env,
        secret_files,
        redactor,
        terminal,
    } = spec;

    let path = crate::path::resolve(&program, EnvBlock::lookup(&env, "PATH").as_deref())?;
    let argv = Argv::new(&program, &args)?;
    let files = SecretFiles::create(secret_files)?;
    let block = EnvBlock::build(&env, &files.vars(), &secret_env)?;
    // From here the secret variables' values live only in `block`.
    drop(secret_env);

    let stdin = rustix::stdio::stdin();
    let stdout = streams
        .stdout
        .as_ref()
        .map_or(rustix::stdio::stdout(), AsFd::as_fd);
    let stderr = streams
        .stderr
        .as_ref()
        .map_or(rustix::stdio::stderr(), AsFd::as_fd);
    // Whatever the caller printed comes before the child's output.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();

    // Before the fork, so no signal can kill warrant once the child exists.
    // Declared first, so dropped last: after the child is reaped (or killed)
    // and the terminal restored.
    let mut signals = SignalWatch::install().map_err(|source| Error::Setup {
        what: "install signal handlers",
        source,
    })?;

    let (events, wake) = Events::new().map_err(Error::setup("create a pipe"))?;

    let cwd = streams
        .cwd
        .as_ref()
        .map(|dir| {
            std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()))
                .map_err(|_| Error::InvalidArgument { index: 0 })
        })
        .transpose()?;
    let argv_ptrs = argv.pointers();
    let envp_ptrs = block.pointers();
    let inherit = files.fds();
    let request = |stdio| SpawnRequest {
        path: &path,
        argv: &argv_ptrs,
        envp: &envp_ptrs,
        stdio,
        inherit: &inherit,
        cwd: cwd.as_deref(),
    };

    // A caller that takes the output itself gets pipes, never a terminal.
    let captured = streams.stdout.is_some() || streams.stderr.is_some();
    let use_pty = terminal == TerminalMode::Auto && !captured && rustix::termios::isatty(stdout);
    let mut raw_mode = None;
    let (pid, out, err, input) = if use_pty {
        let stdin_is_tty = rustix::termios::isatty(stdin);
        let settings_from = if stdin_is_tty { stdin } else { stdout };
        let pty = pty::open(settings_from, stdout, stdin_is_tty)
            .map_err(Error::setup("open a pseudo-terminal"))?;
        if stdin_is_tty {
            raw_mode =
                Some(RawMode::enter(stdin).map_err(Error::setup("set the terminal to raw mode"))?);
        }
        let pid = spawn::spawn(&request(ChildStdio::Pty {
            slave: pty.slave.as_fd(),
        }))
        .map_err(|e| spawn_error(&program, e))?;
        let input = InputPump::new((!stdin_is_tty).then_some(pty.eof_char));
        let out = OutputPump::new(pty.master, stdout, redactor.stream()).park_on_eof();
        (pid, out, None, Some(input))
    } else {
        let (out_r, out_w) = pipe().map_err(Error::setup("create a pipe"))?;
        let (err_r, err_w) = pipe().map_err(Error::setup("create a pipe"))?;
        // A terminal on warrant's stdin is passed on opened again, read-only:
        // the child reads it as before, but descriptor 0 is no way to write
        // to the terminal past the redactor. When it cannot be opened again
        // (another user's terminal), the child gets warrant's descriptor.
        let tty_stdin = streams
            .stdin
            .is_none()
            .then_some(stdin)
            .filter(|fd| rustix::termios::isatty(fd))
            .and_then(|fd| pty::reopen_read_only(fd).ok());
        let pid = spawn::spawn(&request(ChildStdio::Pipes {
            stdin: streams
                .stdin
                .as_ref()
                .or(tty_stdin.as_ref())
                .map(AsFd::as_fd),
            stdout: out_w.as_fd(),
            stderr: err_w.as_fd(),
        }))
        .map_err(|e| spawn_error(&program, e))?;
        let out = OutputPump::new(out_r, stdout, redactor.stream());
        let err = OutputPump::new(err_r, stderr, redactor.stream());
        (pid, out, Some(err), None)
    };
    // The child has exec'd: wipe the environment buffer, close warrant's
    // copies of the in-memory files and of the child's ends (the pty slave
    // went with `pty`, the pipe write ends at the end of their block).
    drop(envp_ptrs);
    drop(block);
    drop(inherit);
    drop(files);

    on_spawn(pid.as_raw_nonzero().get().unsigned_abs());
    let child = ChildHandle::new(pid);
    let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok();
    let mut session = Session {
        raw_mode,
        child: &child,
        pidfd,
        status: None,
        pty: use_pty,
        wake,
        events: &events,
        out,
        err,
        input,
    };
    let status = std::thread::scope(|scope| {
        let _close = CloseOnDrop(signals.handle());
        std::thread::Builder::new()
            .name("warrant-signals".to_owned())
            .spawn_scoped(scope, || signals.forward(&child, use_pty, &events))
            .map_err(|source| Error::Setup {
                what: "start the signal thread",
                source,
            })?;
        session.supervise()
    })?;
    let mut redactions = session.out.redactions();
    if let Some(err) = &session.err {
        for (label, count) in err.redactions() {
            *redactions.entry(label).or_insert(0) += count;
        }
    }
    Ok(RunOutcome {
        pid: pid.as_raw_nonzero().get().unsigned_abs(),
        status,
        redactions,
    })
}

/// A close-on-exec pipe whose read end is non-blocking.
fn pipe() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
    let (read, write) = (above_stdio(read)?, above_stdio(write)?);
    rustix::io::ioctl_fionbio(&read, true)?;
    let _ = rustix::pipe::fcntl_setpipe_size(&read, 1 << 20);
    Ok((read, write))
}

fn spawn_error(program: &OsStr, error: SpawnError) -> Error {
    match error {
        SpawnError::Parent(what, source) => Error::Setup { what, source },
        SpawnError::Child(Stage::Exec, source) => Error::Exec {
            program: program.to_string_lossy().into_owned(),
            source,
        },
        SpawnError::Child(stage, source) => Error::Setup {
            what: stage.describe(),
            source,
        },
    }
}

/// The running child and its streams.
struct Session<'a> {
    /// warrant's terminal in raw mode (pty with a terminal on stdin).
    #[expect(dead_code, reason = "held for its Drop")]
    raw_mode: Option<RawMode<'static>>,
    child: &'a ChildHandle,
    /// Readable when the child exits; `None` on kernels without pidfds.
    pidfd: Option<OwnedFd>,
    /// Set once the child is reaped.
    status: Option<ChildStatus>,
    pty: bool,
    /// Readable when the signal thread has set one of `events`.
    wake: OwnedFd,
    events: &'a Events,
    /// The child's stdout, or the pty master (both of its outputs).
    out: OutputPump<'a>,
    /// The child's stderr (pipes only).
    err: Option<OutputPump<'a>>,
    /// warrant's stdin to the pty master (pty only).
    input: Option<InputPump>,
}

/// Which polled descriptors are ready.
struct Ready {
    wake: bool,
    child: bool,
    out: bool,
    err: bool,
    stdin: bool,
    master_room: bool,
}

impl Session<'_> {
    fn supervise(&mut self) -> Result<ChildStatus, Error> {
        // After the child exits: stop when no data came for DRAIN_GRACE.
        let mut drain_until = Instant::now();
        let status = loop {
            let open = self.out.is_open() || self.err.as_ref().is_some_and(OutputPump::is_open);
            let timeout = match (self.status, &self.pidfd) {
                (Some(status), _) if !open => break status,
                (Some(status), _) => {
                    let left = drain_until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break status;
                    }
                    Some(left)
                }
                (None, Some(_)) => None,
                (None, None) => Some(WAIT_TICK),
            };
            let ready = match self.wait(timeout) {
                Ok(ready) => ready,
                Err(Errno::INTR) => continue,
                Err(errno) => {
                    return Err(Error::Supervise {
                        what: "wait for the child's output",
                        source: errno.into(),
                    });
                }
            };

            if ready.wake {
                let mut sink = [0u8; 64];
                while let Ok(1..) = rustix::io::read(&self.wake, &mut sink) {}
                if self.events.take_resize() {
                    if let Some(master) = self.out.source().filter(|_| self.pty) {
                        let _ = pty::copy_size(rustix::stdio::stdout(), master);
                    }
                }
            }
            if let Some(status) = self.status.filter(|_| self.events.interrupted()) {
                break status; // a terminating signal while draining
            }
            if self.status.is_none() && (ready.child || self.pidfd.is_none()) {
                let reaped = self.child.try_reap().map_err(|errno| Error::Supervise {
                    what: "wait for the child",
                    source: errno.into(),
                })?;
                if let Some(status) = reaped {
                    self.status = Some(status);
                    drain_until = Instant::now() + DRAIN_GRACE;
                    self.input = None;
                }
            }
            if ready.out {
                match self.out.pump() {
                    Step::Data if self.status.is_some() => {
                        drain_until = Instant::now() + DRAIN_GRACE
                    }
                    Step::SinkClosed if self.pty => self.input = None,
                    _ => {}
                }
            }
            if ready.err {
                if let Some(err) = &mut self.err {
                    if err.pump() == Step::Data && self.status.is_some() {
                        drain_until = Instant::now() + DRAIN_GRACE;
                    }
                }
            }
            if let Some(input) = &mut self.input {
                if ready.stdin {
                    input.read_stdin(rustix::stdio::stdin());
                }
                if ready.master_room {
                    if let Some(master) = self.out.source() {
                        input.write_master(master);
                    }
                }
            }
        };

        self.out.finish();
        if let Some(err) = &mut self.err {
            err.finish();
        }
        Ok(status)
    }

    /// Polls everything that is open; no allocation.
    fn wait(&self, timeout: Option<Duration>) -> Result<Ready, Errno> {
        let wake = self.wake.as_fd();
        let pidfd = self
            .pidfd
            .as_ref()
            .filter(|_| self.status.is_none())
            .map(AsFd::as_fd);
        let stdin = self
            .input
            .as_ref()
            .filter(|i| i.wants_input())
            .map(|_| rustix::stdio::stdin());
        let master = self
            .input
            .as_ref()
            .filter(|i| i.wants_output())
            .and(self.out.source());
        let wanted: [(Option<BorrowedFd<'_>>, PollFlags); 6] = [
            (Some(wake), PollFlags::IN),
            (pidfd, PollFlags::IN),
            (self.out.source(), PollFlags::IN),
            (
                self.err.as_ref().and_then(OutputPump::source),
                PollFlags::IN,
            ),
            (stdin, PollFlags::IN),
            (master, PollFlags::OUT),
        ];
        // Unused slots poll the wake-up pipe for nothing.
        let mut fds = wanted.map(|(fd, flags)| match fd {
            Some(fd) => PollFd::from_borrowed_fd(fd, flags),
            None => PollFd::from_borrowed_fd(wake, PollFlags::empty()),
        });
        let timeout = timeout.map(|t| {
            Timespec::try_from(t).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            })
        });
        rustix::event::poll(&mut fds, timeout.as_ref())?;
        let hit = |i: usize| {
            wanted[i].0.is_some()
                && fds[i]
                    .revents()
                    .intersects(wanted[i].1 | PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL)
        };
        Ok(Ready {
            wake: hit(0),
            child: hit(1),
            out: hit(2),
            err: hit(3),
            stdin: hit(4),
            master_room: hit(5),
        })
    }
}

impl Drop for Session<'_> {
    /// Supervision failed or panicked: do not leave the child running
    /// unsupervised (it would keep its values and its unredacted output).
    fn drop(&mut self) {
        self.child.kill_and_reap();
    }
}
