//! The daemon: a Unix socket in front of the [`Broker`].
//!
//! Every connection's peer is checked with `SO_PEERCRED`: another uid is
//! refused and audited. Callers are told apart by their process ancestry
//! (read from `/proc`), never by what they say. Broker operations run on
//! the blocking pool under one lock; processes are ended off that lock.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use warrant_dynamic::stores::Stores;
use warrant_sandbox::proc::{self, ProcessId};
use warrant_secret::{SecretName, SecretValue};
use warrant_store::SecretStore;
use zeroize::Zeroizing;

use crate::broker::{Broker, Caller, Ending};
use crate::error::Error;
use crate::grant::now_ms;
use crate::handle::{Daemon, Extension};
use crate::ops;
use crate::protocol::nonblocking::{read_frame, write_frame};
use crate::protocol::{ErrorBody, ErrorCode, Reply, Request, RunResult, SOCKET_FILE, UseRequest};

mod credentials;
mod durable;
mod egress;
mod team;

use durable::Durable;
pub(crate) use durable::{with_broker_durable, with_broker_reading};
pub use egress::EgressOptions;
pub(crate) use team::Prefetch;

/// How often the daemon looks for expired grants and ended tasks when
/// nothing expires sooner.
const TICK: Duration = Duration::from_millis(250);

/// What the daemon needs.
pub struct ServeOptions {
    /// The warrant home (state, audit log, socket).
    pub home: PathBuf,
    /// The policy file, if any.
    pub policy: Option<PathBuf>,
    /// The unlocked local store and the named ones (`stores.toml`).
    pub store: Arc<Stores>,
    /// Hash new approver passphrases with the smallest Argon2 costs (tests).
    pub insecure_fast_kdf: bool,
    /// Services that run inside the daemon beside its socket, on its
    /// runtime, calling the broker through a [`Daemon`] handle (the
    /// approval page). Started once the socket listens; stopped with the
    /// daemon.
    pub extensions: Vec<Extension>,
    /// Where grants, tasks and the audit chain are kept.
    pub state: StateLocation,
    /// How the egress (proxies run by the daemon) reaches upstream servers.
    pub egress: EgressOptions,
}

/// Where the daemon keeps its state.
#[derive(Default)]
pub enum StateLocation {
    /// `state.redb` and `audit.jsonl` in the home (the default).
    #[default]
    Embedded,
    /// Team mode: PostgreSQL at this connection string (password included,
    /// which is why it is a secret), shared with other daemons.
    Team(SecretValue),
}

/// Runs the daemon until SIGTERM or SIGINT. `ready` is called once the
/// socket accepts connections.
pub fn serve(options: ServeOptions, ready: impl FnOnce(&Path)) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the daemon's runtime", e))?;
    runtime.block_on(run(options, ready))
}

pub(crate) struct Shared {
    broker: Mutex<Broker>,
    /// The local and named stores, which also make dynamic credentials.
    stores: Arc<Stores>,
    /// Dynamic credentials made, in memory (the broker records their names).
    minted: credentials::Minted,
    /// The last sequence number written, or why writing failed.
    durable: watch::Sender<Durable>,
    pub(crate) uid: u32,
    pub(crate) pid: u32,
    insecure_fast_kdf: bool,
    /// Team mode's session; `None` in the embedded mode.
    team: Option<team::Team>,
    /// The egress's options and CA.
    egress: egress::Egress,
    /// Passphrase checks take turns (see [`crate::ops::check_passphrase`]).
    pub(crate) passphrase_turn: Arc<tokio::sync::Semaphore>,
    /// Checks waiting for their turn.
    pub(crate) passphrase_queue: std::sync::atomic::AtomicUsize,
    /// Processes found to run the daemon's own binary (see [`genuine`]).
    genuine: Mutex<std::collections::HashSet<ProcessId>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Broker> {
        // A panic under the lock leaves state that was committed or not as a
        // whole; carrying on is safe.
        self.broker.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `f` on the broker (reads; nothing staged). Broker operations take
/// microseconds, so they run in place: a hop to another thread costs more
/// than the work when the machine is busy.
pub(crate) async fn with_broker<R: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&mut Broker) -> R + Send + 'static,
) -> R {
    f(&mut shared.lock())
}

async fn run(options: ServeOptions, ready: impl FnOnce(&Path)) -> Result<(), Error> {
    let home = options.home.clone();
    let socket = home.join(SOCKET_FILE);
    if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        return Err(Error::AlreadyRunning { home, socket });
    }
    // The state database is locked by one process at a time: a second
    // daemon racing this one stops here.
    let stores = options.store;
    let (broker, endings, team) = match &options.state {
        StateLocation::Embedded => {
            let (broker, endings) = Broker::start(&home, Arc::clone(&stores), options.policy)?;
            (broker, endings, None)
        }
        StateLocation::Team(dsn) => {
            let mut state = team::connect(dsn).await?;
            let (broker, endings, seen) =
                Broker::start_team(&home, Arc::clone(&stores), options.policy, &mut state).await?;
            (broker, endings, Some(team::Team::new(state, seen)))
        }
    };
    let (durable, _) = watch::channel(Durable {
        upto: broker.ticket(),
        error: None,
    });
    let shared = Arc::new(Shared {
        broker: Mutex::new(broker),
        stores,
        minted: credentials::Minted::default(),
        durable,
        uid: rustix::process::getuid().as_raw(),
        pid: std::process::id(),
        insecure_fast_kdf: options.insecure_fast_kdf,
        team,
        egress: egress::Egress::new(options.egress)?,
        passphrase_turn: Arc::new(tokio::sync::Semaphore::new(1)),
        passphrase_queue: std::sync::atomic::AtomicUsize::new(0),
        genuine: Mutex::new(std::collections::HashSet::new()),
    });
    end_all(endings);
    let listener = bind(&socket)?;
    let extensions: Vec<_> = options
        .extensions
        .into_iter()
        .map(|start| tokio::spawn(start(Daemon::new(Arc::clone(&shared)))))
        .collect();
    ready(&socket);

    let mut term =
        signal(SignalKind::terminate()).map_err(|e| Error::io("cannot catch SIGTERM", e))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| Error::io("cannot catch SIGINT", e))?;
    let ticker = tokio::spawn(tick_loop(Arc::clone(&shared)));
    let ender = tokio::spawn(credentials::end_loop(Arc::clone(&shared)));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let _ = connection(shared, stream).await;
                    });
                }
                Err(e) => eprintln!("warrant serve: accept failed: {e}"),
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    ticker.abort();
    for extension in extensions {
        extension.abort();
    }
    ender.abort();
    drop(listener);
    let _ = std::fs::remove_file(&socket);
    with_broker_durable(&shared, |b| b.stop().map(Ok))
        .await
        .map_err(Error::Daemon)
}

/// Binds the socket with mode 0600 from the start (umask), replacing a
/// stale one that nothing answers at.
fn bind(socket: &Path) -> Result<UnixListener, Error> {
    if socket.exists() {
        std::fs::remove_file(socket).map_err(|e| {
            Error::io(
                format!("cannot remove the stale socket {}", socket.display()),
                e,
            )
        })?;
    }
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(socket);
    rustix::process::umask(old);
    bound.map_err(|e| Error::io(format!("cannot listen at {}", socket.display()), e))
}

async fn tick_loop(shared: Arc<Shared>) {
    loop {
        let next = with_broker(&shared, |b| b.next_expiry()).await;
        let wait = next.map_or(TICK, |at| {
            Duration::from_millis(at.saturating_sub(now_ms())).min(TICK)
        });
        tokio::time::sleep(wait).await;
        match with_broker_durable(&shared, |b| b.tick(now_ms()).map(Ok)).await {
            Ok(endings) => end_all(endings),
            Err(e) => eprintln!("warrant serve: cannot expire grants: {}", e.message),
        }
    }
}

/// Ends processes off the broker's lock.
pub(crate) fn end_all(endings: Vec<Ending>) {
    for ending in endings {
        if ending.processes.is_empty() {
            continue;
        }
        tokio::task::spawn_blocking(move || {
            for process in &ending.processes {
                warrant_sandbox::terminate::terminate_tree(process, ending.grace);
            }
        });
    }
}

async fn send<T: Serialize>(
    stream: &mut UnixStream,
    reply: Result<T, ErrorBody>,
) -> std::io::Result<()> {
    let reply = match reply {
        Ok(value) => Reply::Ok(serde_json::to_value(value).unwrap_or_default()),
        Err(body) => Reply::Err(body),
    };
    let bytes = serde_json::to_vec(&reply).unwrap_or_default();
    write_frame(stream, &bytes).await
}

pub(crate) fn internal(e: &Error) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Internal,
        e.to_string(),
        e.hint().map(str::to_owned),
    )
}

/// Flattens broker results: refusals and failures both go back as errors.
fn flat<T>(result: Result<Result<T, ErrorBody>, Error>) -> Result<T, ErrorBody> {
    result.map_err(|e| internal(&e)).and_then(|r| r)
}

async fn connection(shared: Arc<Shared>, mut stream: UnixStream) -> std::io::Result<()> {
    let cred = stream.peer_cred()?;
    let pid = cred.pid().and_then(|p| u32::try_from(p).ok()).unwrap_or(0);
    if cred.uid() != shared.uid {
        // Read what it sent first (briefly): hanging up on unread data
        // would reset the connection, and the peer should learn why.
        let _ = tokio::time::timeout(Duration::from_secs(1), read_frame(&mut stream)).await;
        let uid = cred.uid();
        let reason = format!("uid {uid} is not the daemon's uid {}", shared.uid);
        let audited = reason.clone();
        let _ =
            with_broker_durable(&shared, move |b| b.peer_refused(uid, pid, &audited).map(Ok)).await;
        return send::<()>(
            &mut stream,
            Err(ErrorBody::new(ErrorCode::Forbidden, reason, None)),
        )
        .await;
    }
    let Some(caller) = identify(pid) else {
        let body = ErrorBody::new(
            ErrorCode::Forbidden,
            "cannot identify the calling process",
            None,
        );
        return send::<()>(&mut stream, Err(body)).await;
    };
    while let Some(frame) = read_frame(&mut stream).await? {
        let request: Request = match serde_json::from_slice(&frame) {
            Ok(r) => r,
            Err(e) => {
                let body = ErrorBody::new(
                    ErrorCode::BadRequest,
                    format!("unreadable request: {e}"),
                    None,
                );
                return send::<()>(&mut stream, Err(body)).await;
            }
        };
        let c = caller.clone();
        match request {
            Request::Status => send(&mut stream, ops::status(&shared).await).await?,
            Request::Request(req) => {
                let r = with_broker_durable(&shared, move |b| b.request(&c, req)).await;
                send(&mut stream, r).await?;
            }
            Request::Grants { all } => {
                send(&mut stream, ops::grants(&shared, &caller, all).await).await?;
            }
            Request::Check { id } => {
                let r = with_broker_reading(&shared, Prefetch::Grant(id.clone()), move |b| {
                    b.check(&id)
                })
                .await;
                send(&mut stream, r).await?;
            }
            Request::Show { id } => send(&mut stream, ops::show(&shared, &id).await).await?,
            Request::Approve {
                id,
                ttl_ms,
                max_uses,
            } => {
                let passphrase = read_secret_frame(&mut stream).await?;
                // The socket never vouches for a security key.
                let terms = crate::broker::ApprovalTerms {
                    ttl_ms,
                    max_uses,
                    security_key: None,
                };
                let r = ops::approve(&shared, &caller, &id, passphrase, terms).await;
                send(&mut stream, r).await?;
            }
            Request::Deny { id, reason } => {
                let r = ops::deny(&shared, &caller, &id, reason).await;
                send(&mut stream, r).await?;
            }
            Request::Revoke { id, reason } => {
                let r = ops::revoke(&shared, &caller, &id, reason).await;
                send(&mut stream, r).await?;
            }
            Request::Use(req) => return use_grant(&shared, stream, caller, req).await,
            Request::ProxyBlocked(report) => {
                let r = with_broker_durable(&shared, move |b| b.proxy_blocked(&c, report)).await;
                send(&mut stream, r).await?;
            }
            Request::TaskStart {
                actor,
                reason,
                command,
                sandbox,
                proxy_only,
            } => {
                let r = with_broker_durable(&shared, move |b| {
                    b.task_start(&c, actor, reason, command, sandbox, proxy_only)
                })
                .await;
                let task = r.as_ref().ok().map(|v| v.task.clone());
                send(&mut stream, r).await?;
                if let Some(task) = task {
                    return task_session(&shared, stream, task).await;
                }
            }
            Request::TaskAttach { task } => {
                let t = task.clone();
                let r = with_broker(&shared, move |b| b.task_attach(&c, &t)).await;
                let ok = r.is_ok();
                send(&mut stream, r).await?;
                if ok {
                    return task_session(&shared, stream, task).await;
                }
            }
            Request::Secrets { actor } => {
                let r = with_broker_durable(&shared, move |b| b.secrets_for(&c, actor)).await;
                send(&mut stream, r).await?;
            }
            Request::ApproverSet => {
                let current = read_secret_frame(&mut stream).await?;
                let new = read_secret_frame(&mut stream).await?;
                let fast = shared.insecure_fast_kdf;
                let r = ops::set_approver(&shared, &caller, current, new, fast).await;
                send(&mut stream, r).await?;
            }
            Request::PolicyAccept => {
                let passphrase = read_secret_frame(&mut stream).await?;
                let r = ops::accept_policy(&shared, &caller, passphrase).await;
                send(&mut stream, r).await?;
            }
            Request::Egress(req) => return egress::session(&shared, stream, caller, req).await,
            Request::Spawned { .. } | Request::Finished(_) | Request::TaskEnd { .. } => {
                let body = ErrorBody::new(
                    ErrorCode::BadRequest,
                    "no use, lease or task is open on this connection",
                    None,
                );
                send::<()>(&mut stream, Err(body)).await?;
            }
        }
    }
    Ok(())
}

/// The caller as `/proc` shows it.
fn identify(pid: u32) -> Option<Caller> {
    if pid == 0 {
        return None;
    }
    let ancestry = proc::ancestors(pid).ok()?;
    if ancestry.is_empty() {
        return None;
    }
    Some(Caller {
        uid: rustix::process::getuid().as_raw(),
        pid,
        ancestry,
        user: USER.get_or_init(user_name).clone(),
    })
}

/// The daemon's user name, looked up once.
static USER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The daemon's user name (callers share its uid), from `/etc/passwd`.
fn user_name() -> String {
    let uid = rustix::process::getuid().as_raw();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let uid_field = fields.nth(1)?;
                (uid_field.parse::<u32>().ok()? == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

async fn read_secret_frame(stream: &mut UnixStream) -> std::io::Result<Zeroizing<Vec<u8>>> {
    read_frame(stream).await?.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "passphrase frame missing",
        )
    })
}

/// A use: values out (once the use is on disk), then the spawned pid and
/// the result back.
async fn use_grant(
    shared: &Arc<Shared>,
    mut stream: UnixStream,
    caller: Caller,
    req: UseRequest,
) -> std::io::Result<()> {
    if let Err(body) = genuine(shared, &caller) {
        return send::<()>(&mut stream, Err(body)).await;
    }
    let (c, r) = (caller.clone(), req.clone());
    let p = Prefetch::Grant(req.grant.clone());
    let reply = match with_broker_reading(shared, p, move |b| b.use_begin(&c, &r)).await {
        Ok(reply) => reply,
        Err(body) => return send::<()>(&mut stream, Err(body)).await,
    };
    let values = match values_of(shared, &reply.grant, &reply.names).await {
        Ok(values) => values,
        Err(body) => return send::<()>(&mut stream, Err(body)).await,
    };
    send(&mut stream, Ok(&reply)).await?;
    for value in &values {
        write_frame(&mut stream, value.expose_secret()).await?;
    }
    drop(values);

    let mut process: Option<ProcessId> = None;
    let mut result: Option<RunResult> = None;
    while let Some(frame) = read_frame(&mut stream).await? {
        match serde_json::from_slice::<Request>(&frame) {
            // One-way: the command starts without waiting for this.
            Ok(Request::Spawned { pid }) => {
                // Only the caller's own child may be registered (and so,
                // later, ended by the daemon); one already gone needs nothing.
                let Ok(child) = proc::identify(pid) else {
                    continue;
                };
                if proc::parent(pid).ok() != Some(caller.pid) || process.is_some() {
                    eprintln!("warrant serve: pid {pid} is not the caller's child; not registered");
                    continue;
                }
                process = Some(child);
                let g = reply.grant.clone();
                let r =
                    with_broker_durable(shared, move |b| b.use_spawned(&g, child).map(Ok)).await;
                match r {
                    Ok(Some(ending)) => end_all(vec![ending]),
                    Ok(None) => {}
                    Err(e) => eprintln!("warrant serve: cannot register pid {pid}: {}", e.message),
                }
            }
            Ok(Request::Finished(r)) => {
                result = Some(r);
                break;
            }
            _ => {
                let body =
                    ErrorBody::new(ErrorCode::BadRequest, "expected spawned or finished", None);
                send::<()>(&mut stream, Err(body)).await?;
            }
        }
    }
    let finished = result.is_some();
    let audited = with_broker_durable(shared, move |b| {
        b.use_finished(&reply, &req, process, result).map(Ok)
    })
    .await;
    if finished {
        send(&mut stream, audited).await?;
    }
    Ok(())
}

/// Values go only to the warrant binary itself, which injects them into
/// one child and redacts its output; a hand-written client is refused.
///
/// warrant makes itself non-dumpable before it holds a value, and then,
/// for a user without privileges, `/proc/PID/exe` can no longer be read. So
/// a warrant that asks for values stays dumpable until the daemon has
/// checked it (the first time), and the daemon remembers the processes it
/// found genuine (pid and start time, so never a recycled pid): a later use
/// by the same process (the MCP server's second `run_command`) passes on
/// that memory. A process whose executable cannot be read and that was not
/// seen before is refused.
fn genuine(shared: &Shared, caller: &Caller) -> Result<(), ErrorBody> {
    let me = caller.ancestry.first().copied();
    match proc::same_executable(caller.pid, shared.pid) {
        Ok(true) => {
            if let Some(me) = me {
                let mut seen = shared.genuine.lock().unwrap_or_else(|e| e.into_inner());
                if seen.len() >= 1024 {
                    seen.retain(proc::is_alive);
                }
                seen.insert(me);
            }
            return Ok(());
        }
        Ok(false) => {}
        Err(_) => {
            let seen = shared.genuine.lock().unwrap_or_else(|e| e.into_inner());
            if me.is_some_and(|me| seen.contains(&me) && proc::is_alive(&me)) {
                return Ok(());
            }
        }
    }
    Err(ErrorBody::new(
        ErrorCode::Forbidden,
        "only the warrant binary the daemon runs may receive values",
        Some(
            "use `warrant run --grant ID -- COMMAND` (restart `warrant serve` after upgrading warrant)"
                .into(),
        ),
    ))
}

/// Reads the values a use, substitution or lease of `grant` was given, in
/// order: stored ones from their store (on a blocking thread: a named
/// store is a network round trip), dynamic ones made for the grant.
async fn values_of(
    shared: &Arc<Shared>,
    grant: &str,
    names: &[String],
) -> Result<Vec<SecretValue>, ErrorBody> {
    let internal = |e: String| {
        ErrorBody::new(
            ErrorCode::Internal,
            format!("cannot read the store: {e}"),
            None,
        )
    };
    let names = names
        .iter()
        .map(|n| SecretName::new(n).map_err(|e| internal(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    // Stored values in one trip to a blocking thread; dynamic ones after.
    let stores = Arc::clone(&shared.stores);
    let wanted = names.clone();
    let stored = tokio::task::spawn_blocking(move || {
        wanted
            .iter()
            .map(|name| match stores.is_dynamic(name) {
                true => Ok(None),
                false => stores.get(name).map(Some),
            })
            .collect::<Result<Vec<Option<SecretValue>>, _>>()
    })
    .await
    .map_err(|e| internal(e.to_string()))?
    .map_err(|e| internal(e.to_string()))?;
    let mut values = Vec::with_capacity(names.len());
    for (name, value) in names.iter().zip(stored) {
        values.push(match value {
            Some(value) => value,
            None => credentials::value(shared, grant, name).await?,
        });
    }
    Ok(values)
}

/// A running task: waits for its end (or for its `warrant task` to vanish).
async fn task_session(
    shared: &Arc<Shared>,
    mut stream: UnixStream,
    task: String,
) -> std::io::Result<()> {
    let mut exit_code = None;
    let mut ended_cleanly = false;
    while let Ok(Some(frame)) = read_frame(&mut stream).await {
        if let Ok(Request::TaskEnd {
            task: t,
            exit_code: code,
        }) = serde_json::from_slice::<Request>(&frame)
            && t == task
        {
            exit_code = code;
            ended_cleanly = true;
            break;
        }
        let body = ErrorBody::new(ErrorCode::BadRequest, "expected task_end", None);
        send::<()>(&mut stream, Err(body)).await?;
    }
    let r = with_broker_durable(shared, move |b| b.task_end(&task, exit_code).map(Ok)).await;
    let r = r.map(|(summary, endings)| {
        end_all(endings);
        summary
    });
    if ended_cleanly {
        send(&mut stream, r).await?;
    }
    Ok(())
}
