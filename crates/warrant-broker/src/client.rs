//! A blocking client for the daemon, used by every `warrant` command that
//! talks to it.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use warrant_secret::SecretValue;

use crate::error::Error;
use crate::protocol::{EgressReply, EgressRequest, LeaseEnd, ProxyBlockedReport};
use crate::protocol::{
    GrantRequest, GrantView, PolicyView, Reply, Request, RunResult, SOCKET_FILE, SecretInfo,
    StatusView, TaskEnded, TaskView, UseReply, UseRequest, read_frame, write_frame,
};

/// How long a client waits for the daemon by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to the daemon serving one warrant home.
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connects to the daemon for `home`.
    pub fn connect(home: &Path) -> Result<Self, Error> {
        let socket = home.join(SOCKET_FILE);
        match UnixStream::connect(&socket) {
            Ok(stream) => {
                let client = Self { stream };
                client.set_timeout(DEFAULT_TIMEOUT)?;
                Ok(client)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                Err(Error::NotRunning {
                    home: home.to_owned(),
                    socket,
                })
            }
            Err(e) => Err(Error::io(
                format!("cannot connect to {}", socket.display()),
                e,
            )),
        }
    }

    /// How long to wait for the daemon to take or answer a message before
    /// giving up (a stopped or wedged daemon must not hang its clients).
    pub fn set_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.stream.set_write_timeout(Some(timeout)))
            .map_err(|e| Error::io("cannot set a timeout on the daemon's socket", e))
    }

    fn send(&mut self, request: &Request, frames: &[&[u8]]) -> Result<(), Error> {
        let bytes = serde_json::to_vec(request).map_err(Error::encode)?;
        write_frame(&mut self.stream, &bytes).map_err(|e| self.broken(e))?;
        for frame in frames {
            write_frame(&mut self.stream, frame).map_err(|e| self.broken(e))?;
        }
        Ok(())
    }

    fn receive<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let frame = read_frame(&mut self.stream)
            .map_err(|e| self.broken(e))?
            .ok_or_else(|| Error::Protocol("the daemon closed the connection".into()))?;
        let reply: Reply = serde_json::from_slice(&frame)
            .map_err(|e| Error::Protocol(format!("unreadable reply: {e}")))?;
        match reply {
            Reply::Ok(value) => serde_json::from_value(value)
                .map_err(|e| Error::Protocol(format!("unexpected reply: {e}"))),
            Reply::Err(body) => Err(Error::Daemon(body)),
        }
    }

    fn call<T: DeserializeOwned>(
        &mut self,
        request: &Request,
        frames: &[&[u8]],
    ) -> Result<T, Error> {
        self.send(request, frames)?;
        self.receive()
    }

    fn broken(&self, e: io::Error) -> Error {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            return Error::io(
                "the warrant daemon did not answer in time (is it stopped or overloaded?)",
                e,
            );
        }
        Error::io("lost the connection to the warrant daemon", e)
    }

    /// The raw value frames that follow a use or substitution reply, in its
    /// order, each read straight into a wiped buffer.
    fn values(&mut self, reply: &UseReply) -> Result<Vec<SecretValue>, Error> {
        let mut values = Vec::with_capacity(reply.names.len());
        for name in &reply.names {
            let frame = read_frame(&mut self.stream)
                .map_err(|e| self.broken(e))?
                .ok_or_else(|| Error::Protocol(format!("the daemon did not send {name}")))?;
            values.push(SecretValue::from(frame.to_vec()));
        }
        Ok(values)
    }

    /// Whether the daemon is up, and what it holds.
    pub fn status(&mut self) -> Result<StatusView, Error> {
        self.call(&Request::Status, &[])
    }

    /// Asks for a grant.
    pub fn request(&mut self, request: GrantRequest) -> Result<GrantView, Error> {
        self.call(&Request::Request(request), &[])
    }

    /// The secrets an actor may ask for (names, descriptions, hosts).
    pub fn secrets(&mut self, actor: Option<String>) -> Result<Vec<SecretInfo>, Error> {
        self.call(&Request::Secrets { actor }, &[])
    }

    /// Lists grants.
    pub fn grants(&mut self, all: bool) -> Result<Vec<GrantView>, Error> {
        self.call(&Request::Grants { all }, &[])
    }

    /// One grant.
    pub fn show(&mut self, id: &str) -> Result<GrantView, Error> {
        self.call(&Request::Show { id: id.to_owned() }, &[])
    }

    /// One grant, recorded in the audit log (for agents).
    pub fn check(&mut self, id: &str) -> Result<GrantView, Error> {
        self.call(&Request::Check { id: id.to_owned() }, &[])
    }

    /// Approves a pending grant with the approver passphrase, optionally
    /// for less time (`ttl_ms`) or fewer uses (`max_uses`) than asked.
    pub fn approve(
        &mut self,
        id: &str,
        ttl_ms: Option<u64>,
        max_uses: Option<u64>,
        passphrase: &SecretValue,
    ) -> Result<GrantView, Error> {
        let request = Request::Approve {
            id: id.to_owned(),
            ttl_ms,
            max_uses,
        };
        self.call(&request, &[passphrase.expose_secret()])
    }

    /// Refuses a pending grant.
    pub fn deny(&mut self, id: &str, reason: Option<String>) -> Result<GrantView, Error> {
        self.call(
            &Request::Deny {
                id: id.to_owned(),
                reason,
            },
            &[],
        )
    }

    /// Ends a grant now.
    pub fn revoke(&mut self, id: &str, reason: Option<String>) -> Result<GrantView, Error> {
        self.call(
            &Request::Revoke {
                id: id.to_owned(),
                reason,
            },
            &[],
        )
    }

    /// Sets the approver passphrase (`current` is empty when none is set).
    pub fn approver_set(&mut self, current: &SecretValue, new: &SecretValue) -> Result<(), Error> {
        self.call(
            &Request::ApproverSet,
            &[current.expose_secret(), new.expose_secret()],
        )
    }

    /// Accepts the policy as it is now.
    pub fn policy_accept(&mut self, passphrase: &SecretValue) -> Result<PolicyView, Error> {
        self.call(&Request::PolicyAccept, &[passphrase.expose_secret()])
    }

    /// Uses a grant: returns the values, in the order asked, and a session
    /// on which to report the child's pid and its end.
    pub fn use_grant(
        mut self,
        request: UseRequest,
    ) -> Result<(UseSession, UseReply, Vec<SecretValue>), Error> {
        let reply: UseReply = self.call(&Request::Use(request), &[])?;
        // The daemon has checked this process (it must be able to read its
        // executable to): from here on, with values coming, no same-user
        // ptrace and no core dump.
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .map_err(|e| Error::io("cannot make this process non-dumpable", e.into()))?;
        let values = self.values(&reply)?;
        Ok((UseSession { client: self }, reply, values))
    }

    /// Opens a session of the daemon's egress for a grant: a proxy in the
    /// daemon, its address with its access secret, warrant's CA and the
    /// placeholders. No value comes here. The session lasts as long as
    /// the returned [`EgressSession`] (or until the grant ends).
    pub fn egress(mut self, request: EgressRequest) -> Result<(EgressReply, EgressSession), Error> {
        let reply: EgressReply = self.call(&Request::Egress(request), &[])?;
        Ok((reply, EgressSession { client: self }))
    }

    /// Reports a request a proxy serving a grant refused (recorded as
    /// `proxy_blocked` under the grant's actor).
    pub fn proxy_blocked(&mut self, report: ProxyBlockedReport) -> Result<(), Error> {
        self.call(&Request::ProxyBlocked(report), &[])
    }

    /// Starts a task rooted at this process; with `proxy_only`, its
    /// processes get values only as placeholders (every `Use` is refused).
    pub fn task_start(
        mut self,
        actor: &str,
        reason: &str,
        command: &str,
        sandbox: &str,
        proxy_only: bool,
    ) -> Result<(TaskSession, TaskView), Error> {
        let view: TaskView = self.call(
            &Request::TaskStart {
                actor: actor.to_owned(),
                reason: reason.to_owned(),
                command: command.to_owned(),
                sandbox: sandbox.to_owned(),
                proxy_only,
            },
            &[],
        )?;
        Ok((
            TaskSession {
                client: Some(self),
                task: view.task.clone(),
            },
            view,
        ))
    }
}

/// An open use.
pub struct UseSession {
    client: Client,
}

impl UseSession {
    /// Reports the child's pid, so the daemon can end it with the grant.
    /// One-way: the command does not wait for the daemon.
    pub fn spawned(&mut self, pid: u32) -> Result<(), Error> {
        self.client.send(&Request::Spawned { pid }, &[])
    }

    /// Reports how the child ended (the daemon audits the run).
    pub fn finished(mut self, result: RunResult) -> Result<(), Error> {
        self.client.call(&Request::Finished(result), &[])
    }
}

/// A running task's line to the daemon. While it is open the daemon knows
/// the task's root is alive; if the daemon restarts, [`TaskSession::reattach`]
/// opens a new one.
pub struct TaskSession {
    client: Option<Client>,
    task: String,
}

impl TaskSession {
    /// A session for `task` with no connection (yet).
    pub fn detached(task: &str) -> Self {
        Self {
            client: None,
            task: task.to_owned(),
        }
    }

    /// The task's id.
    pub fn id(&self) -> &str {
        &self.task
    }

    /// Whether the daemon still holds this session (false once it went away).
    pub fn is_connected(&mut self) -> bool {
        let Some(client) = &self.client else {
            return false;
        };
        // A closed peer shows as readable with zero bytes.
        let mut probe = [0u8; 1];
        let _ = client.stream.set_nonblocking(true);
        let alive = match io::Read::read(&mut &client.stream, &mut probe) {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        };
        let _ = client.stream.set_nonblocking(false);
        if !alive {
            self.client = None;
        }
        alive
    }

    /// Reconnects after the daemon restarted.
    pub fn reattach(&mut self, home: &Path) -> Result<(), Error> {
        let mut client = Client::connect(home)?;
        let _: TaskView = client.call(
            &Request::TaskAttach {
                task: self.task.clone(),
            },
            &[],
        )?;
        self.client = Some(client);
        Ok(())
    }

    /// Ends the task: its grants are revoked and their processes ended.
    pub fn end(mut self, home: &Path, exit_code: Option<i32>) -> Result<TaskEnded, Error> {
        if !self.is_connected() {
            self.reattach(home)?;
        }
        let client = self.client.as_mut().expect("connected above");
        client.call(
            &Request::TaskEnd {
                task: self.task.clone(),
                exit_code,
            },
            &[],
        )
    }
}

/// The connection an egress session holds open: dropping it stops the
/// daemon's proxy for it.
pub struct EgressSession {
    client: Client,
}

impl EgressSession {
    /// Blocks until the grant ends (its [`LeaseEnd`]) or the connection is
    /// lost (`None`: the daemon stopped).
    pub fn wait_end(&mut self) -> Option<LeaseEnd> {
        self.client.stream.set_read_timeout(None).ok()?;
        let frame = read_frame(&mut self.client.stream).ok()??;
        serde_json::from_slice(&frame).ok()
    }

    /// Stops the session, and waits (a few seconds at most) until the
    /// daemon has logged everything the session did: the audit log is
    /// complete when the command's `warrant run` exits.
    pub fn close(mut self) {
        let stream = &mut self.client.stream;
        if stream.shutdown(std::net::Shutdown::Write).is_err() {
            return;
        }
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        // The daemon hangs up once it has (a grant that ended just now may
        // still send its end first).
        while let Ok(Some(_)) = read_frame(stream) {}
    }
}
