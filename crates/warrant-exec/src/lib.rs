//! Runs one command with injected secrets, redacting everything it prints.
//!
//! This is the process runner behind `warrant run -- CMD`. [`run`] takes a
//! [`RunSpec`] (program, arguments, plain environment, secret environment
//! variables, secret files, a [`Redactor`]) and:
//!
//! 1. resolves the program on the child's `PATH`,
//! 2. writes each secret file into a sealed in-memory file,
//! 3. builds the child's environment in one buffer that is wiped on drop,
//! 4. forks and execs the child in a session of its own, with pipes (or a
//!    pseudo-terminal) on its stdout and stderr,
//! 5. forwards signals, copies stdin, passes every output byte through the
//!    redactor before writing it to warrant's own stdout/stderr,
//! 6. reaps the child and returns a [`RunOutcome`] (its status and how many
//!    replacements the redactor made).
//!
//! ```no_run
//! use warrant_exec::{RunSpec, TerminalMode, run};
//! use warrant_redact::RedactorBuilder;
//! use warrant_secret::SecretValue;
//!
//! let token = SecretValue::from(b"ghp_example_not_a_real_token".to_vec());
//! let redactor = RedactorBuilder::new()
//!     .add("github/token", token.expose_secret())
//!     .build()
//!     .unwrap();
//! let outcome = run(RunSpec {
//!     program: "gh".into(),
//!     args: vec!["api".into(), "user".into()],
//!     env: std::env::vars_os().collect(),
//!     secret_env: vec![("GH_TOKEN".to_owned(), token)],
//!     secret_files: Vec::new(),
//!     redactor,
//!     terminal: TerminalMode::Auto,
//! })
//! .unwrap();
//! std::process::exit(outcome.exit_code());
//! ```
//!
//! # Why fork/exec by hand
//!
//! `std::process::Command` copies every environment value into its own
//! buffers, which are never wiped. So the environment is built here instead,
//! once, as `K=V\0` entries back to back in a single
//! [`Zeroizing`](zeroize::Zeroizing) buffer sized exactly up front (no
//! reallocation leaves a stray copy behind); `envp` points into it. Each
//! [`SecretValue`] of `secret_env` is dropped (wiped) as soon as its bytes are
//! in that buffer, and the buffer itself is wiped as soon as the child has
//! exec'd (a `CLOEXEC` pipe tells the parent: EOF means exec succeeded; an
//! errno on it means it failed, and [`run`] returns [`Error::Exec`]).
//! Between `fork` and `exec` the child only makes async-signal-safe calls on
//! data prepared before the fork; all of that lives in the `spawn` module,
//! the only place in warrant where `unsafe` is allowed.
//!
//! [`run`] also makes warrant non-dumpable (`PR_SET_DUMPABLE` 0, see
//! [`make_non_dumpable`]): a process of the same user can no longer ptrace it
//! or read its memory through `/proc`, and it leaves no core dump. The
//! binary should call [`make_non_dumpable`] itself at startup, before it
//! holds any value; [`run`] does it again in case it did not.
//!
//! What is kept while the child runs: the [`Redactor`] (it needs the values to
//! find them; wiping its patterns is that crate's business) and the I/O
//! buffers, which may hold output bytes before redaction and are wiped on
//! drop.
//!
//! # Secret files
//!
//! Each `secret_files` entry becomes a `memfd` (named `warrant-VAR`, visible
//! in `/proc/PID/fd` links as `/memfd:warrant-VAR (deleted)`): never on any
//! filesystem path, sealed against writes, growing and shrinking. The
//! descriptor is inherited by the child (close-on-exec is cleared only in the
//! child) and the variable holds `/proc/self/fd/N`. That path names the file
//! for the child and for every descendant that inherits descriptor `N`
//! (the usual case: shells and most tools pass their descriptors on); a
//! process that closes it, or one that is not a descendant, cannot open it.
//! Opening the path gives a fresh read offset, so the file can be read any
//! number of times. warrant closes its own copy right after exec, so the
//! file disappears when the last process holding it ends.
//!
//! # Signals
//!
//! `SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGWINCH`, `SIGTSTP` and
//! `SIGCONT` are caught from before the fork until [`run`] returns, so
//! warrant does not die (or stop) from them while the child runs (a signal
//! that was ignored when [`run`] started, as under `nohup`, stays ignored,
//! for warrant and the child). The child starts with default dispositions
//! for every signal warrant catches (plus `SIGPIPE`, which Rust programs
//! ignore) and an empty signal mask.
//!
//! The child always runs in a session of its own (see [Terminals](#terminals)),
//! so nothing the kernel sends to warrant's terminal or process group (`^C`,
//! `^Z`, a hang-up, a `kill` of warrant's whole group) reaches it by itself,
//! and nothing reaches it twice. warrant passes signals on:
//!
//! - With pipes, to the child's whole process group (the child leads it), as
//!   the terminal would have: `^C` ends `sh -c 'a; b'` and its running `a`
//!   alike. Every caught signal is passed on but `SIGTSTP` (`^Z`): for it
//!   warrant stops the child's group with `SIGSTOP` (the kernel discards
//!   `SIGTSTP` sent to a group that, like the child's, has no parent in its
//!   session) and then stops itself; the `SIGCONT` of `fg` or `bg` is passed
//!   on and resumes both.
//! - With a pseudo-terminal, to the child's pid, except `SIGWINCH`, which
//!   becomes a resize of the child's terminal (the kernel then signals the
//!   child's foreground process group). Job control belongs to the child's
//!   terminal: `SIGTSTP` stops warrant only, and `SIGCONT` is not passed on.
//!
//! A thread of its own forwards signals, so they reach the child at once even
//! while warrant is blocked writing output nobody reads. It signals the
//! child (its pid, or its pid as a process group id) under the same lock the
//! reaping thread takes, so a pid that was reaped (and might be reused) is
//! never hit; once the child is reaped, nothing is passed on (what it left
//! running gets `SIGPIPE` when it writes). After the last concurrent run
//! returns, a signal whose disposition was the default one acts as the
//! default again (signal-hook cannot uninstall its handler; warrant registers
//! a "default action when no run is active" fallback instead).
//!
//! # Terminals
//!
//! What the child prints reaches warrant's terminal through the redactor, as
//! long as the child writes through its own descriptors or its controlling
//! terminal:
//!
//! - With pipes ([`TerminalMode::Never`], a stdout that is not a terminal,
//!   or [`run_with_streams`]) the child calls `setsid` before exec: it has
//!   no controlling terminal, so opening `/dev/tty` fails (`ENXIO`), and it
//!   cannot push input into warrant's terminal with `TIOCSTI` (which takes
//!   the caller's controlling terminal, or `CAP_SYS_ADMIN`). Its stdout and
//!   stderr are pipes to warrant. When warrant's stdin is a terminal (and
//!   the caller gave no [`Streams::stdin`]), the child's stdin is that
//!   terminal opened again, read-only: it still reads what is typed, but
//!   writing to descriptor 0 fails (`EBADF`). If warrant cannot open it again
//!   (that needs read permission on the device, which a terminal of another
//!   user does not give), the child gets warrant's own descriptor, writable.
//!
//!   That terminal is not the child's controlling terminal, so no job
//!   control applies to it: a child in a background job (`&`, or after
//!   `bg`) that reads it competes with the shell for what is typed instead
//!   of being stopped with `SIGTTIN`, and may change its settings without
//!   `SIGTTOU`. Programs that need a terminal of their own (password prompts
//!   on `/dev/tty`, `ssh`, `sudo`) fail or fall back to stdin; give them a
//!   pseudo-terminal.
//! - With a pseudo-terminal the child's controlling terminal is its own
//!   pseudo-terminal: `/dev/tty` is that one, and its output is redacted like
//!   the rest.
//!
//! The limit is the user id. The child runs as warrant's user, who owns the
//! terminal device (`/dev/pts/N`) and can always open it for writing (`mesg
//! n` only takes the group's permission away). So a child that opens the
//! terminal by name writes to it past the redactor, in either mode: through
//! `/dev/stdin` or `/proc/self/fd/0` (its read-only stdin, opened again by
//! name), or through the name that `/proc/PID/stat` of warrant or of the
//! shell gives anyone (`ps -o tty= -p $PPID`). No descriptor of warrant's
//! gives it away ([`make_non_dumpable`] closes `/proc/<warrant>/fd`), the
//! name does. Closing that takes a sandbox: another user id for the child,
//! or a Landlock ruleset that denies opening anything under `/dev/pts` (as
//! `warrant-sandbox` hides warrant's own directories from `warrant task`),
//! which also breaks every child that opens a pseudo-terminal of its own
//! (`tmux`, `script`, `ssh -t`, `expect`). Two more ways of the same kind:
//! descriptors above 2 that warrant inherited without close-on-exec are
//! passed on unchanged (one that is a terminal is a way to it), and a
//! terminal on stdin that is nobody's controlling terminal (one an agent
//! opened without making it so) can be taken by the child, as the leader of
//! its session, with `TIOCSCTTY`.
//!
//! # Output
//!
//! The calling thread runs one `poll(2)` loop over the child's pipes (or pty
//! master), warrant's stdin (pty only), a pidfd of the child and a wake-up
//! pipe from the signal thread.
//! Each output stream has its own [`RedactStream`](warrant_redact::RedactStream).
//! Whatever the redactor releases is written at once with `write(2)` on
//! warrant's descriptor, without user-space buffering, so interactive output
//! stays live; the redactor only holds back bytes that could start a secret.
//! Reads are 256 KiB into a buffer reused for the whole run (the pipes are
//! enlarged to 1 MiB when the system allows); memory stays flat.
//! If warrant's stdout (or stderr) is closed, warrant stops reading that
//! stream and closes its end of the pipe, so the child gets `SIGPIPE` as it
//! would writing into a closed pipe. (This assumes warrant itself ignores
//! `SIGPIPE`, as every Rust program does by default.)
//!
//! With a pseudo-terminal (when [`TerminalMode::Auto`] and warrant's stdout is
//! a terminal) the child's stdout and stderr are both the terminal, and come
//! back merged on warrant's stdout. The child's terminal gets warrant's
//! terminal settings and window size; warrant's stdin, when a terminal, is
//! put in raw mode while the child runs and always restored (a guard
//! restores it on return, on error and on panic; nothing can on `SIGKILL`).
//! When stdin is not a terminal, its bytes are copied to the child's
//! terminal with echo off, and the end of input becomes the terminal's EOF
//! character. Reading the master gives `EIO` once the child's side is
//! closed: that is end of file; the master itself stays open until the child
//! is reaped, since closing it would hang up (`SIGHUP`) a child that closed
//! its terminal just before exiting.
//!
//! When the child exits, warrant keeps reading its output until end of file,
//! but a descendant may keep the pipe open (`sh -c 'sleep 100 &'`): after the
//! child has exited, warrant stops as soon as no data has come for
//! [`DRAIN_GRACE`] (data that keeps flowing keeps it reading, as `| cat`
//! would), or when it receives `SIGINT`, `SIGTERM`, `SIGHUP` or `SIGQUIT`.
//! A descendant still writing afterwards gets `SIGPIPE`.
//!
//! # Limits
//!
//! - In environment mode (and file mode) the child holds the value and can do
//!   anything with it: a program that reverses, encrypts or slices a value
//!   before printing it defeats any redactor, and it can send the value over
//!   the network. Redaction protects against accidents, not against the
//!   child. Use the proxy or MCP modes when the process must not hold the
//!   value at all.
//! - The memfd's pages, like any memory, can be swapped out.
//! - warrant's terminal can still be opened by name by the child: see
//!   [Terminals](#terminals).
//! - With a pseudo-terminal, job control belongs to the child's terminal:
//!   `^Z` stops the child, not warrant (as with `ssh -t`). With pipes, `^Z`
//!   stops both, but if warrant is stopped in another way (`SIGSTOP`,
//!   `SIGTTOU`), the child runs on until its output pipe is full.
//! - The redactor sets the speed: with 100 values, `cat` of 2 GB of random
//!   bytes moves at about 0.55× the speed of `cat | cat` on a 2-core test
//!   machine and ordinary log text at about 0.9×; output full of near-matches
//!   of the values is slower.
//! - Linux only (memfd, `/proc/self/fd`, pidfd, `PR_SET_DUMPABLE`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use warrant_redact::Redactor;
use warrant_secret::SecretValue;

mod child;
mod envp;
mod memfd;
mod path;
mod pty;
mod pump;
mod session;
mod signals;
mod spawn;

/// How long warrant keeps reading output after the child has exited, counted
/// from the last data received, when a descendant keeps the output open.
pub const DRAIN_GRACE: Duration = Duration::from_millis(100);

/// Errors starting or supervising the child. Never hold a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program was not found on the child's PATH.
    #[error("command not found: {program}")]
    NotFound {
        /// The program as given.
        program: String,
    },
    /// The program exists but could not be executed.
    #[error("cannot execute {program}: {source}")]
    Exec {
        /// The program as given.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Setting up the child (pipes, terminal, in-memory files) failed.
    #[error("{what}: {source}")]
    Setup {
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An environment variable cannot be passed to a process: its name is
    /// empty or holds `=` or a NUL byte, or its value holds a NUL byte.
    #[error(
        "environment variable {name:?} cannot be passed to a process (empty name, '=' in the name, or a NUL byte)"
    )]
    InvalidEnv {
        /// The variable's name (never its value).
        name: String,
    },
    /// The program or an argument holds a NUL byte.
    #[error("argument {index} holds a NUL byte")]
    InvalidArgument {
        /// 0 for the program, then 1, 2, ... for the arguments.
        index: usize,
    },
    /// Supervising the running child failed; the child was killed and reaped.
    #[error("{what}: {source}")]
    Supervise {
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    fn setup(what: &'static str) -> impl FnOnce(rustix::io::Errno) -> Self {
        move |errno| Self::Setup {
            what,
            source: errno.into(),
        }
    }
}

/// Whether the child gets a pseudo-terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TerminalMode {
    /// A pseudo-terminal when warrant's stdout is a terminal.
    #[default]
    Auto,
    /// Always pipes.
    Never,
}

/// Everything needed to run one command.
pub struct RunSpec {
    /// `argv[0]`: a path, or a name looked up on the child's `PATH`.
    pub program: OsString,
    /// `argv[1..]`.
    pub args: Vec<OsString>,
    /// The child's whole non-secret environment (the caller removes reference variables).
    pub env: Vec<(OsString, OsString)>,
    /// Variables whose values are secrets.
    pub secret_env: Vec<(String, SecretValue)>,
    /// Variables that receive the path of an in-memory file holding a secret.
    pub secret_files: Vec<(String, SecretValue)>,
    /// Applied to the child's stdout and stderr.
    pub redactor: Redactor,
    /// Pipes or a pseudo-terminal.
    pub terminal: TerminalMode,
}

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStatus {
    /// Exited with this code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The child's pid.
    pub pid: u32,
    /// How it ended.
    pub status: ChildStatus,
    /// Replacements made in its output, per label.
    pub redactions: BTreeMap<String, u64>,
}

impl RunOutcome {
    /// The exit code warrant should end with: the child's, or 128+N for signal N.
    pub fn exit_code(&self) -> i32 {
        match self.status {
            ChildStatus::Exited(code) => code,
            ChildStatus::Signaled(signal) => 128 + signal,
        }
    }

    /// Total replacements.
    pub fn total_redactions(&self) -> u64 {
        self.redactions.values().sum()
    }
}

/// Runs the command to completion, forwarding signals and redacting its output.
/// Secret values are wiped from this process once the child has them.
///
/// Blocks until the child has exited and its output is drained (see
/// [`DRAIN_GRACE`]). Several runs may go on at once in different threads.
pub fn run(spec: RunSpec) -> Result<RunOutcome, Error> {
    session::run(spec, Streams::default(), &mut |_| {})
}

/// [`run`], calling `on_spawn` with the child's pid as soon as it exists
/// (the broker registers it, to end it when its grant ends).
pub fn run_with(spec: RunSpec, on_spawn: &mut dyn FnMut(u32)) -> Result<RunOutcome, Error> {
    session::run(spec, Streams::default(), on_spawn)
}

/// Where a run's standard streams come from and go, when not warrant's own.
#[derive(Debug, Default)]
pub struct Streams {
    /// The child's stdin (e.g. a pipe's read end, or `/dev/null`); warrant's
    /// own when `None` (a terminal opened again read-only, see
    /// [Terminals](crate#terminals)).
    pub stdin: Option<OwnedFd>,
    /// Where the redacted stdout goes; warrant's own when `None`.
    pub stdout: Option<OwnedFd>,
    /// Where the redacted stderr goes; warrant's own when `None`.
    pub stderr: Option<OwnedFd>,
    /// Kept for callers that set it; it changes nothing. A child with pipes
    /// always leads a session, and so a process group, of its own (its pid
    /// is the group id), so that it and everything it starts can be ended
    /// at once (a caller's timeout).
    pub new_process_group: bool,
    /// The child's working directory; warrant's when `None`.
    pub cwd: Option<std::path::PathBuf>,
}

/// [`run_with`] for a caller that takes the output itself (the MCP server):
/// the child gets pipes, never a terminal, and its redacted output goes to
/// `streams`. Only values that went through the redactor reach them.
pub fn run_with_streams(
    spec: RunSpec,
    streams: Streams,
    on_spawn: &mut dyn FnMut(u32),
) -> Result<RunOutcome, Error> {
    session::run(spec, streams, on_spawn)
}

/// Finds `program` as the child would (`execvp` rules over `path_var`),
/// returning its path: what a grant's command scope is checked against.
pub fn resolve_program(
    program: &std::ffi::OsStr,
    path_var: Option<&std::ffi::OsStr>,
) -> Result<std::path::PathBuf, Error> {
    let path = path::resolve(program, path_var)?;
    let bytes = path.into_bytes();
    Ok(std::path::PathBuf::from(
        <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(bytes),
    ))
}

/// Makes the process `command` starts receive SIGKILL when the thread that
/// started it dies (`PR_SET_PDEATHSIG`), so an agent cannot outlive a
/// `warrant task` killed without warning.
pub fn die_with_parent(command: &mut std::process::Command) {
    spawn::die_with_parent(command);
}

/// Makes this process non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`): processes of
/// the same user can no longer ptrace it or read its memory, and it leaves no
/// core dump. Call it before the process holds any secret; [`run`] calls it
/// too. The child is not affected: `execve` makes it dumpable again.
pub fn make_non_dumpable() -> Result<(), Error> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(Error::setup("make the process non-dumpable"))
}

/// Moves `fd` to a number above 2 if it sits on 0, 1 or 2 (which happens
/// when warrant was started with a standard descriptor closed), so that the
/// child's `dup2` onto 0, 1 and 2 never clobbers it. Keeps `CLOEXEC`.
fn above_stdio(fd: OwnedFd) -> rustix::io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        Ok(fd)
    } else {
        rustix::io::fcntl_dupfd_cloexec(&fd, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_is_128_plus_signal() {
        let outcome = |status| RunOutcome {
            pid: 1,
            status,
            redactions: BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 3)]),
        };
        assert_eq!(outcome(ChildStatus::Exited(0)).exit_code(), 0);
        assert_eq!(outcome(ChildStatus::Exited(3)).exit_code(), 3);
        assert_eq!(outcome(ChildStatus::Signaled(9)).exit_code(), 137);
        assert_eq!(outcome(ChildStatus::Signaled(15)).total_redactions(), 5);
    }

    #[test]
    fn errors_never_show_values() {
        let err = Error::InvalidEnv {
            name: "DB_URL".to_owned(),
        };
        assert!(
            err.to_string()
                .starts_with("environment variable \"DB_URL\"")
        );
    }
}
