//! Values for a proxy serving a grant, from the daemon.
//!
//! The proxy takes a lease: the daemon checks the grant once, records the
//! lease, and hands over the values; each substitution is then reported to
//! the daemon as it happens (a `substituted` record per request) by a
//! thread of its own, so a request waits for no round trip. The daemon says
//! when the grant ends (revoked, expired, its task over); the proxy wipes
//! the values then, or at the grant's expiry, whichever comes first. Later
//! requests ask the daemon one by one, which refuses and records them.
//!
//! A grant with a use limit gets no lease (each use must be counted before
//! the value leaves): every request asks the daemon (`Substitute`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use warrant_broker::protocol::{
    LeaseRequest, SubstituteRequest, SubstitutedReport, SubstitutionRecord,
};
use warrant_broker::{Client, LeaseReporter};
use warrant_proxy::{UseRequest, ValueSource};
use warrant_secret::SecretValue;

use super::lock;

/// Values from the daemon, through a lease when the grant allows one.
pub(super) struct DaemonValues {
    home: PathBuf,
    grant: String,
    /// The grant's secrets the proxy serves (what the lease asks for).
    secrets: Vec<String>,
    /// Refusals the daemon gave, and so recorded itself.
    pub(super) refused: Arc<Mutex<Vec<String>>>,
    lease: Mutex<LeaseState>,
}

enum LeaseState {
    /// Not asked yet, or the daemon went away (asked again).
    Untried,
    Held(Arc<Held>),
    /// The grant has a use limit, or its lease ended: ask per request.
    PerRequest,
}

impl DaemonValues {
    pub(super) fn new(
        home: PathBuf,
        grant: String,
        secrets: Vec<String>,
        refused: Arc<Mutex<Vec<String>>>,
    ) -> Self {
        Self {
            home,
            grant,
            secrets,
            refused,
            lease: Mutex::new(LeaseState::Untried),
        }
    }

    /// The live lease, taking one if none was tried yet.
    fn lease(&self) -> Option<Arc<Held>> {
        let mut state = lock(&self.lease);
        match &*state {
            LeaseState::Held(held) if held.is_live() => return Some(Arc::clone(held)),
            LeaseState::Held(held) => {
                *state = if held.daemon_ended() {
                    LeaseState::PerRequest
                } else {
                    // The connection was lost (a daemon restart): ask again.
                    LeaseState::Untried
                };
                if matches!(*state, LeaseState::PerRequest) {
                    return None;
                }
            }
            LeaseState::PerRequest => return None,
            LeaseState::Untried => {}
        }
        let asked = LeaseRequest {
            grant: self.grant.clone(),
            secrets: self.secrets.clone(),
        };
        match Client::connect(&self.home).and_then(|c| c.lease(asked)) {
            Ok((reply, values, lease)) => {
                let reporter = lease.reporter().ok()?;
                let held = Held::start(
                    reply.names.into_iter().zip(values).collect(),
                    reply.expires_ms,
                    lease,
                    reporter,
                );
                *state = LeaseState::Held(Arc::clone(&held));
                Some(held)
            }
            Err(warrant_broker::Error::Daemon(body))
                if body.code == warrant_broker::protocol::ErrorCode::UseLimited =>
            {
                *state = LeaseState::PerRequest;
                None
            }
            // Not active (yet), or no daemon: the request's own round trip
            // gives the refusal, recorded by the daemon.
            Err(_) => None,
        }
    }

    /// One substitution checked and recorded by the daemon before it answers.
    fn substitute(&self, request: &UseRequest) -> Result<Vec<SecretValue>, String> {
        let asked = SubstituteRequest {
            grant: self.grant.clone(),
            secrets: request.secrets.clone(),
            host: request.host.clone(),
            method: request.method.clone(),
        };
        let (reply, values) = match Client::connect(&self.home).and_then(|c| c.substitute(asked)) {
            Ok(answer) => answer,
            Err(error) => {
                let message = error.to_string();
                if matches!(error, warrant_broker::Error::Daemon(_)) {
                    lock(&self.refused).push(message.clone());
                }
                return Err(message);
            }
        };
        in_order(reply.names.into_iter().zip(values).collect(), request)
    }
}

impl ValueSource for DaemonValues {
    fn values(&self, request: &UseRequest) -> Result<Vec<SecretValue>, String> {
        if let Some(values) = self.lease().and_then(|held| held.take(request)) {
            return Ok(values);
        }
        self.substitute(request)
    }

    /// Answering from a live lease reads memory; anything else is a round
    /// trip to the daemon.
    fn blocks(&self) -> bool {
        !matches!(&*lock(&self.lease), LeaseState::Held(held) if held.is_live())
    }
}

impl Drop for DaemonValues {
    fn drop(&mut self) {
        if let LeaseState::Held(held) = &*lock(&self.lease) {
            held.stop();
        }
    }
}

/// `values` by name, in the order `request` names them.
fn in_order(
    mut values: BTreeMap<String, SecretValue>,
    request: &UseRequest,
) -> Result<Vec<SecretValue>, String> {
    request
        .secrets
        .iter()
        .map(|name| {
            values
                .remove(name)
                .ok_or_else(|| format!("the daemon did not send {name}"))
        })
        .collect()
}

/// A lease held: the values until the grant ends, and the reports not sent yet.
struct Held {
    /// `None` once the lease ended: the values are wiped then.
    values: Mutex<Option<BTreeMap<String, SecretValue>>>,
    expires_ms: u64,
    /// The daemon announced the grant's end (else the connection was lost).
    ended_by_daemon: AtomicBool,
    pending: Mutex<Reports>,
    wake: Condvar,
    reporter: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Reports {
    entries: Vec<SubstitutionRecord>,
    stopping: bool,
}

impl Held {
    fn start(
        values: BTreeMap<String, SecretValue>,
        expires_ms: u64,
        mut lease: warrant_broker::Lease,
        reporter: LeaseReporter,
    ) -> Arc<Self> {
        let held = Arc::new(Self {
            values: Mutex::new(Some(values)),
            expires_ms,
            ended_by_daemon: AtomicBool::new(false),
            pending: Mutex::new(Reports::default()),
            wake: Condvar::new(),
            reporter: Mutex::new(None),
        });
        let watcher = Arc::clone(&held);
        std::thread::spawn(move || {
            let end = lease.wait_end();
            watcher
                .ended_by_daemon
                .store(end.is_some(), Ordering::SeqCst);
            // Dropped here: wiped.
            lock(&watcher.values).take();
            watcher.stop_reporting();
        });
        let sender = Arc::clone(&held);
        *lock(&held.reporter) = Some(std::thread::spawn(move || sender.report(reporter)));
        held
    }

    fn is_live(&self) -> bool {
        lock(&self.values).is_some() && warrant_broker::now_ms() < self.expires_ms
    }

    fn daemon_ended(&self) -> bool {
        self.ended_by_daemon.load(Ordering::SeqCst) || warrant_broker::now_ms() >= self.expires_ms
    }

    /// The values for `request`, recorded for the daemon; `None` once the
    /// lease ended or the grant expired.
    fn take(&self, request: &UseRequest) -> Option<Vec<SecretValue>> {
        if warrant_broker::now_ms() >= self.expires_ms {
            lock(&self.values).take();
            return None;
        }
        let values = {
            let held = lock(&self.values);
            let held = held.as_ref()?;
            request
                .secrets
                .iter()
                .map(|name| held.get(name).map(SecretValue::duplicate))
                .collect::<Option<Vec<_>>>()?
        };
        let mut pending = lock(&self.pending);
        if pending.stopping {
            return None;
        }
        pending.entries.push(SubstitutionRecord {
            secrets: request.secrets.clone(),
            host: request.host.clone(),
            method: request.method.clone(),
        });
        self.wake.notify_one();
        Some(values)
    }

    /// Sends reports as they come, batched by whatever piled up meanwhile.
    fn report(&self, mut reporter: LeaseReporter) {
        loop {
            let (entries, stopping) = {
                let mut pending = lock(&self.pending);
                while pending.entries.is_empty() && !pending.stopping {
                    pending = self
                        .wake
                        .wait(pending)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                (std::mem::take(&mut pending.entries), pending.stopping)
            };
            if !entries.is_empty() && reporter.report(&SubstitutedReport { entries }).is_err() {
                eprintln!(
                    "warrant: proxy: lost the daemon while reporting substitutions; \
                     the last ones may be missing from the audit log"
                );
                return;
            }
            if stopping {
                reporter.close();
                return;
            }
        }
    }

    fn stop_reporting(&self) {
        lock(&self.pending).stopping = true;
        self.wake.notify_all();
    }

    /// Stops the lease: what is pending is sent, then the daemon hangs up.
    fn stop(&self) {
        lock(&self.values).take();
        self.stop_reporting();
        if let Some(thread) = lock(&self.reporter).take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_in_the_order_asked() {
        let values: BTreeMap<String, SecretValue> = [
            ("a".to_owned(), SecretValue::from(b"1".to_vec())),
            ("b".to_owned(), SecretValue::from(b"2".to_vec())),
        ]
        .into();
        let request = UseRequest {
            secrets: vec!["b".into(), "a".into()],
            host: "h".into(),
            method: "GET".into(),
            path: "/".into(),
        };
        let got = in_order(values, &request).unwrap();
        assert_eq!(got[0].expose_secret(), b"2");
        assert_eq!(got[1].expose_secret(), b"1");
    }
}
