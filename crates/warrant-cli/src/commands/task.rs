//! `warrant task -- AGENT`: run a coding agent as a task.
//!
//! This process is the task's root: the daemon attributes every request
//! from a process under it to the task's actor. It becomes a child
//! subreaper, so processes the agent leaves behind stay under it (and in
//! the task) instead of escaping to init; it hides the warrant home from
//! itself and everything it starts with Landlock; it starts the agent; and
//! when the agent exits it ends what is left and tells the daemon, which
//! revokes the task's grants and ends their processes.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use warrant_broker::{Client, TaskSession};
use warrant_sandbox::{proc, sandbox, terminate};

use super::Context;
use super::grant::parse_ttl;
use crate::args::TaskArgs;

/// warrant's own settings that the agent must not inherit.
const PRIVATE_VARS: &[&str] = &["WARRANT_PASSPHRASE_FILE"];

pub fn run(ctx: &Context, args: TaskArgs) -> Result<u8> {
    let grace = Duration::from_millis(parse_ttl(&args.grace)?);
    let (program, rest) = args
        .command
        .split_first()
        .context("no agent command given")?;
    let command_name = Path::new(program)
        .file_name()
        .unwrap_or(program)
        .to_string_lossy()
        .into_owned();

    let sandbox_status = if args.insecure_no_sandbox {
        None
    } else {
        Some(sandbox::probe())
    };
    let sandbox_note = match &sandbox_status {
        None => "none: --insecure-no-sandbox".to_owned(),
        Some(status) if status.hides_files() => "landlock".to_owned(),
        Some(status) => format!("none: {status}"),
    };
    let client = Client::connect(&ctx.home)?;
    let (session, view) =
        client.task_start(&args.actor, &args.reason, &command_name, &sandbox_note)?;
    let session = Arc::new(Mutex::new(session));

    if let Err(e) = terminate::set_child_subreaper() {
        eprintln!("warrant: warning: cannot keep the agent's orphans in the task: {e}");
    }
    // From here this process, the agent and everything under it cannot read
    // the warrant home. The socket stays reachable: Landlock does not govern
    // connecting to it.
    match &sandbox_status {
        Some(status) if status.hides_files() => {
            let home = std::fs::canonicalize(&ctx.home).unwrap_or_else(|_| ctx.home.clone());
            let applied = sandbox::restrict_self_hiding(&[home.as_path()]);
            match applied {
                Ok(status) => eprintln!(
                    "warrant: task {} as {}; {status}: the agent cannot read {}",
                    view.task,
                    view.actor,
                    ctx.home.display()
                ),
                Err(e) => {
                    end_task(ctx, &session, None);
                    bail!("cannot sandbox the agent, so it was not started: {e}");
                }
            }
        }
        Some(status) => eprintln!(
            "warrant: task {} as {}; WARNING: {status}. The agent runs unsandboxed and can read \
             the files in {} (keep the store passphrase-protected)",
            view.task,
            view.actor,
            ctx.home.display()
        ),
        None => eprintln!(
            "warrant: task {} as {}; WARNING: no sandbox (--insecure-no-sandbox): the agent can \
             read the files in {}",
            view.task,
            view.actor,
            ctx.home.display()
        ),
    }

    // The terminal sends ^C and ^\ to the agent itself; TERM and HUP sent to
    // this process are passed on. Handlers (not SIG_IGN) so the agent starts
    // with default dispositions.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGQUIT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    let mut agent = Command::new(program);
    agent.args(rest).env("WARRANT_TASK", &view.task);
    for var in PRIVATE_VARS {
        agent.env_remove(var);
    }
    warrant_exec::die_with_parent(&mut agent);
    let mut child = match agent.spawn() {
        Ok(child) => child,
        Err(e) => {
            end_task(ctx, &session, Some(127));
            bail!("cannot start {}: {e}", program.to_string_lossy());
        }
    };
    let agent_pid = child.id();
    let handle = signals.handle();
    let forwarder = std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal == SIGTERM || signal == SIGHUP {
                let _ = rustix::process::kill_process(
                    rustix::process::Pid::from_raw(agent_pid as i32).expect("child pid"),
                    rustix::process::Signal::from_named_raw(signal).expect("known signal"),
                );
            }
        }
    });
    let watcher = watch_daemon(ctx.home.clone(), Arc::clone(&session));

    let status = child.wait().context("cannot wait for the agent")?;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    handle.close();
    let _ = forwarder.join();
    watcher.stop();

    // What the agent left running is still ours (subreaper): end it.
    let me = proc::identify(std::process::id())?;
    let leftovers = proc::descendants(&me);
    let ended = terminate::terminate(&leftovers, grace);
    terminate::reap_children();
    if !leftovers.is_empty() {
        eprintln!(
            "warrant: ended {} process(es) the agent left running",
            ended.terminated + ended.killed
        );
    }
    end_task(ctx, &session, Some(code));
    Ok(u8::try_from(code & 0xff).unwrap_or(1))
}

/// Tells the daemon the task ended; says so when it cannot (the daemon
/// ends the task by itself once it sees this process gone).
fn end_task(ctx: &Context, session: &Arc<Mutex<TaskSession>>, code: Option<i32>) {
    let session = {
        let mut guard = session.lock().unwrap_or_else(|e| e.into_inner());
        // Take the session out; a placeholder that is never used stays.
        let id = guard.id().to_owned();
        std::mem::replace(&mut *guard, TaskSession::detached(&id))
    };
    match session.end(&ctx.home, code) {
        Ok(summary) => eprintln!(
            "warrant: task {} ended: {} grant(s) revoked, {} process(es) under them ended",
            code.map_or_else(|| "start".to_owned(), |c| format!("(exit {c})")),
            summary.grants_revoked,
            summary.processes_ended
        ),
        Err(e) => eprintln!(
            "warrant: warning: cannot tell the daemon the task ended ({e}); it revokes the \
             task's grants when it notices this process is gone"
        ),
    }
}

/// Keeps the task's line to the daemon open, reattaching after a restart.
struct Watcher {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

fn watch_daemon(home: std::path::PathBuf, session: Arc<Mutex<TaskSession>>) -> Watcher {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let mut guard = session.lock().unwrap_or_else(|e| e.into_inner());
            if !guard.is_connected() {
                let _ = guard.reattach(&home);
            }
        }
    });
    Watcher { stop, thread }
}
