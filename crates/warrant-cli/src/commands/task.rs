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
use warrant_sandbox::{contain, sandbox, terminate};

use super::Context;
use super::grant::parse_ttl;
use crate::args::TaskArgs;

/// Variables that name a way into the person's own sessions (tmux, screen,
/// zellij, kitty, wezterm, neovim): not the agent's. (The desktop bus stays:
/// its socket is found without the variable, and agents keep logins in the
/// keyring behind it.)
const SESSION_VARS: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "STY",
    "WINDOW",
    "ZELLIJ",
    "ZELLIJ_SESSION_NAME",
    "KITTY_LISTEN_ON",
    "KITTY_WINDOW_ID",
    "WEZTERM_UNIX_SOCKET",
    "NVIM",
    "NVIM_LISTEN_ADDRESS",
];

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
    let (session, view) = client.task_start(
        &args.actor,
        &args.reason,
        &command_name,
        &sandbox_note,
        args.proxy,
    )?;
    let session = Arc::new(Mutex::new(session));

    if let Err(e) = terminate::set_child_subreaper() {
        eprintln!("warrant: warning: cannot keep the agent's orphans in the task: {e}");
    }
    // The terminal sends ^C and ^\ to the agent itself; TERM and HUP sent to
    // this process are passed on. Handlers (not SIG_IGN) so the agent starts
    // with default dispositions.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGQUIT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    let mut agent = Command::new(program);
    agent.args(rest).env("WARRANT_TASK", &view.task);
    if args.proxy {
        // `warrant run --grant` inside the task then uses the proxy; the
        // daemon refuses a plain use anyway.
        agent.env("WARRANT_PROXY", "1");
    }
    for var in warrant_env::PRIVATE_VARS {
        agent.env_remove(var);
    }
    // The person's terminal multiplexers and editors accept commands on
    // these: a command sent there runs outside the task.
    let removed: Vec<&str> = SESSION_VARS
        .iter()
        .copied()
        .filter(|var| std::env::var_os(var).is_some())
        .collect();
    for var in SESSION_VARS {
        agent.env_remove(var);
    }
    warrant_exec::die_with_parent(&mut agent);
    let hide = sandbox_status
        .as_ref()
        .filter(|s| s.hides_files())
        .map(|_| std::fs::canonicalize(&ctx.home).unwrap_or_else(|_| ctx.home.clone()));

    // The agent is started from a thread of its own, which alone enters the
    // sandbox (Landlock applies per thread, and children inherit it): the
    // agent cannot read the warrant home, and with the signal scope it
    // cannot signal out of the sandbox, so it can neither kill this
    // supervisor to slip out of its task nor touch the daemon. This process
    // stays outside. The thread also waits for the agent, since the agent's
    // parent-death signal follows the thread that started it.
    let name = program.to_string_lossy().into_owned();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let spawner = std::thread::Builder::new()
        .name("warrant-agent".into())
        .spawn(move || -> Result<std::process::ExitStatus, String> {
            let applied = match &hide {
                Some(home) => Some(sandbox::restrict_self_confined(&[home.as_path()]).map_err(
                    |e| format!("cannot sandbox the agent, so it was not started: {e}"),
                )?),
                None => None,
            };
            let mut child = agent
                .spawn()
                .map_err(|e| format!("cannot start {name}: {e}"))?;
            let _ = started_tx.send((child.id(), applied));
            child
                .wait()
                .map_err(|e| format!("cannot wait for the agent: {e}"))
        })
        .context("cannot start the agent's thread")?;
    let (agent_pid, applied) = match started_rx.recv() {
        Ok(started) => started,
        Err(_) => {
            let error = match spawner.join() {
                Ok(Err(error)) => error,
                _ => "the agent did not start".to_owned(),
            };
            end_task(ctx, &session, Some(127));
            bail!("{error}");
        }
    };
    match (
        applied.as_ref().or(sandbox_status.as_ref()),
        applied.is_some(),
    ) {
        (Some(status), true) if status.hides_files() => eprintln!(
            "warrant: task {} as {}; {status}: the agent cannot read {}{}",
            view.task,
            view.actor,
            ctx.home.display(),
            if status.confines_signals() {
                " or signal processes outside its task"
            } else {
                " (this kernel cannot stop it from signalling other processes)"
            }
        ),
        (Some(status), _) => eprintln!(
            "warrant: task {} as {}; WARNING: {status}. The agent runs unsandboxed and can read \
             the files in {} (keep the store passphrase-protected)",
            view.task,
            view.actor,
            ctx.home.display()
        ),
        (None, _) => eprintln!(
            "warrant: task {} as {}; WARNING: no sandbox (--insecure-no-sandbox): the agent can \
             read the files in {}",
            view.task,
            view.actor,
            ctx.home.display()
        ),
    }
    if !removed.is_empty() {
        eprintln!(
            "warrant: removed {} from the agent's environment; it runs as you, so it can still \
             find your sessions' sockets by path and change files you can (see the README's \
             threat model)",
            removed.join(", ")
        );
    }
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

    let status = match spawner.join() {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => bail!("{error}"),
        Err(_) => bail!("the agent's thread failed"),
    };
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    handle.close();
    let _ = forwarder.join();
    watcher.stop();

    // What the agent left running is still ours (subreaper), however it
    // left its parent: TERM, the grace period, then freeze-and-kill sweeps
    // until the kernel says no child is left (a TERM handler's new process
    // included).
    let ended = contain::end_children(grace);
    if ended.terminated + ended.killed > 0 {
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
