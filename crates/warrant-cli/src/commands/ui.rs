//! The approval page: `warrant serve` serves it (wired here, so the broker
//! stays free of HTTP), and `warrant ui` prints or opens its address.
//!
//! The page's address is `http://localhost:PORT/` (WebAuthn needs a name),
//! and browsers try `[::1]` as well as `127.0.0.1` for `localhost`, `[::1]`
//! first. Whoever listens on either address gets the browser's requests,
//! passphrase included, so the daemon holds the port on both. A port held
//! by another process is not served at all: the daemon says who holds it
//! and runs without a page (for the default port), or does not start (for
//! `--ui-port`). On a host without an IPv6 loopback, where nobody can
//! listen on `[::1]`, 127.0.0.1 alone is held.
//!
//! While the daemon runs, `$WARRANT_HOME/ui-url` (0600) holds the page's
//! address, or `$WARRANT_HOME/ui-refused` says who holds its port; that is
//! where `warrant ui` reads them.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use warrant_broker::{Client, Extension};
use warrant_sandbox::{peer, proc};

use super::Context;
use crate::args::{ServeArgs, UiArgs};

/// The page's port unless `--ui-port` or `WARRANT_UI_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 7341;

/// The file holding the page's address while the daemon runs.
const URL_FILE: &str = "ui-url";

/// The file saying why the page is not served, while the daemon runs (or,
/// with `--ui-port`, after it refused to start).
const REFUSED_FILE: &str = "ui-refused";

/// How many free ports `--ui-port 0` tries: one free on 127.0.0.1 may be
/// taken on `[::1]`.
const FREE_PORT_TRIES: usize = 8;

/// The page, bound and ready to start inside the daemon.
pub struct Page {
    /// Starts it on the daemon's runtime.
    pub extension: Extension,
    /// Its address.
    pub url: String,
    /// Where it listens (the egress never connects there).
    pub addrs: Vec<SocketAddr>,
}

/// Whether the daemon serves the page.
pub enum Binding {
    /// It does.
    Served(Page),
    /// `--no-ui`, or the default port could not be bound for another
    /// reason than a holder (with a warning).
    Off,
    /// Another process holds the default port on an address of the page's:
    /// who, for `warrant ui`.
    Refused(String),
}

/// Binds the page's port on 127.0.0.1 and `[::1]` (before the daemon
/// starts, so a port that is taken fails early).
///
/// With `--ui-port`, a port that cannot be bound is an error. The default
/// port is skipped when busy, loudly when a process holds it (a squatter,
/// or a second daemon for another home).
pub fn bind(home: &Path, args: &ServeArgs) -> Result<Binding> {
    if args.no_ui {
        return Ok(Binding::Off);
    }
    let port = args.ui_port.unwrap_or(DEFAULT_PORT);
    let mut bound = bind_pair(port);
    if port == 0 {
        for _ in 1..FREE_PORT_TRIES {
            if !matches!(bound, Err(Unbound::Held(_))) {
                break;
            }
            bound = bind_pair(0);
        }
    }
    let listeners = match bound {
        Ok(listeners) => listeners,
        Err(Unbound::Held(addr)) => {
            let reason = held_by(addr);
            if args.ui_port.is_some() {
                // `warrant ui` says why, unless a running daemon's page is
                // what this one collided with.
                if Client::connect(home).is_err() {
                    let _ = record_refusal(home, &reason);
                }
                return Err(anyhow!(
                    "the approval page is NOT served: {reason}; a process listening on the \
                     page's address would see the passphrase typed into it (stop it, or pick \
                     another port with --ui-port)"
                ));
            }
            eprintln!(
                "warrant: error: the approval page is NOT served: {reason}; a process listening \
                 on the page's address would see the passphrase typed into it. The daemon runs \
                 without a page: stop that process and restart `warrant serve`, or pass \
                 --ui-port PORT"
            );
            return Ok(Binding::Refused(reason));
        }
        Err(Unbound::Failed(addr, e)) if args.ui_port.is_none() => {
            eprintln!(
                "warrant: warning: the approval page is not served: {addr}: {e} \
                 (pass --ui-port PORT, or --no-ui)"
            );
            return Ok(Binding::Off);
        }
        Err(Unbound::Failed(addr, e)) => {
            return Err(e).with_context(|| format!("cannot serve the approval page on {addr}"));
        }
    };
    if let Some(e) = &listeners.no_ipv6 {
        eprintln!(
            "warrant: note: no IPv6 loopback here ([::1]: {e}); the approval page listens on \
             127.0.0.1 alone"
        );
    }
    Ok(Binding::Served(page(home, listeners)?))
}

/// The page's sockets: one port on each loopback address.
struct Listeners {
    port: u16,
    sockets: Vec<TcpListener>,
    /// Why `[::1]` is not among them.
    no_ipv6: Option<io::Error>,
}

/// Why the page's port could not be bound.
enum Unbound {
    /// Another socket holds the address (`EADDRINUSE`).
    Held(SocketAddr),
    /// Anything else.
    Failed(SocketAddr, io::Error),
}

/// Binds `port` on 127.0.0.1 (any free one for 0) and the same port on
/// `[::1]`, which may be missing only where the host has no IPv6 loopback.
fn bind_pair(port: u16) -> Result<Listeners, Unbound> {
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let v4 = TcpListener::bind(v4).map_err(|e| unbound(v4, e))?;
    let port = v4
        .local_addr()
        .map_err(|e| Unbound::Failed(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), e))?
        .port();
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    match TcpListener::bind(v6) {
        Ok(v6) => Ok(Listeners {
            port,
            sockets: vec![v4, v6],
            no_ipv6: None,
        }),
        // No IPv6 (EAFNOSUPPORT), or no ::1 (EADDRNOTAVAIL): nobody can
        // listen there either.
        Err(e)
            if e.kind() == io::ErrorKind::AddrNotAvailable
                || e.raw_os_error() == Some(rustix::io::Errno::AFNOSUPPORT.raw_os_error()) =>
        {
            Ok(Listeners {
                port,
                sockets: vec![v4],
                no_ipv6: Some(e),
            })
        }
        Err(e) => Err(unbound(v6, e)),
    }
}

fn unbound(addr: SocketAddr, e: io::Error) -> Unbound {
    if e.kind() == io::ErrorKind::AddrInUse {
        Unbound::Held(addr)
    } else {
        Unbound::Failed(addr, e)
    }
}

/// Who holds `addr`: its listening processes by pid and command name.
fn held_by(addr: SocketAddr) -> String {
    let found = match peer::tcp_listener(addr) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return format!(
                "{addr} is taken, but nothing listens there (a socket bound without listening, \
                 or one closing)"
            );
        }
        Err(e) => return format!("{addr} is taken (who holds it cannot be told: {e})"),
    };
    let me = rustix::process::getuid().as_raw();
    let user = if found.uid == me {
        String::new()
    } else {
        format!(" of uid {}", found.uid)
    };
    if found.pids.is_empty() {
        return format!("{addr} is held by a process{user} whose file descriptors cannot be read");
    }
    let holders: Vec<String> = found
        .pids
        .iter()
        .map(|&pid| match proc::command_name(pid) {
            Ok(name) => format!("pid {pid} ({name})"),
            Err(_) => format!("pid {pid}"),
        })
        .collect();
    format!("{addr} is held by {}{user}", holders.join(", "))
}

/// The page's service over bound sockets.
fn page(home: &Path, listeners: Listeners) -> Result<Page> {
    for socket in &listeners.sockets {
        socket
            .set_nonblocking(true)
            .context("cannot set up the approval page's socket")?;
    }
    let Listeners { port, sockets, .. } = listeners;
    let url = warrant_web::url(port);
    let addrs = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
    let home = home.to_owned();
    let extension: Extension = Box::new(move |daemon| {
        Box::pin(async move {
            let state = match warrant_web::AppState::new(daemon, home, port) {
                Ok(state) => state,
                Err(e) => {
                    eprintln!("warrant serve: error: the approval page cannot start: {e}");
                    return;
                }
            };
            let served = match sockets
                .into_iter()
                .map(tokio::net::TcpListener::from_std)
                .collect::<io::Result<Vec<_>>>()
            {
                Ok(listeners) => warrant_web::serve(listeners, state).await,
                Err(e) => Err(e),
            };
            if let Err(e) = served {
                eprintln!("warrant serve: error: the approval page stopped: {e}");
            }
        })
    });
    Ok(Page {
        extension,
        url,
        addrs,
    })
}

fn url_file(home: &Path) -> PathBuf {
    home.join(URL_FILE)
}

fn refused_file(home: &Path) -> PathBuf {
    home.join(REFUSED_FILE)
}

/// Records the page's address for `warrant ui`.
pub fn publish(home: &Path, url: &str) -> Result<()> {
    let _ = std::fs::remove_file(refused_file(home));
    let path = url_file(home);
    warrant_fs::write_atomic(&path, format!("{url}\n").as_bytes(), warrant_fs::FILE_MODE)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Records why the page is not served, for `warrant ui`.
pub fn record_refusal(home: &Path, reason: &str) -> Result<()> {
    let _ = std::fs::remove_file(url_file(home));
    let path = refused_file(home);
    warrant_fs::write_atomic(
        &path,
        format!("{reason}\n").as_bytes(),
        warrant_fs::FILE_MODE,
    )
    .with_context(|| format!("cannot write {}", path.display()))
}

/// Forgets the page's address and any refusal (the daemon stopped, or
/// serves no page).
pub fn unpublish(home: &Path) {
    let _ = std::fs::remove_file(url_file(home));
    let _ = std::fs::remove_file(refused_file(home));
}

fn refusal(home: &Path) -> Option<String> {
    let text = std::fs::read_to_string(refused_file(home)).ok()?;
    Some(text.trim().to_owned())
}

/// `warrant ui`: prints the page's address, and opens it with `--open`.
pub fn run(ctx: &Context, args: UiArgs) -> Result<u8> {
    let running = Client::connect(&ctx.home).and_then(|mut c| c.status());
    if let Err(e) = running {
        return Err(match refusal(&ctx.home) {
            Some(reason) => anyhow::Error::new(e).context(format!(
                "the daemon is not running here; the last `warrant serve` served no approval \
                 page: {reason}"
            )),
            None => anyhow::Error::new(e)
                .context("the daemon is not running here; start `warrant serve`"),
        });
    }
    let url = match std::fs::read_to_string(url_file(&ctx.home)) {
        Ok(text) => text.trim().to_owned(),
        Err(_) => match refusal(&ctx.home) {
            Some(reason) => bail!(
                "the daemon serves no approval page: {reason}; whatever answers on the page's \
                 address is not the daemon, do not enter the approver passphrase there (stop \
                 that process and restart `warrant serve`)"
            ),
            None => bail!(
                "the daemon serves no approval page (started with --no-ui, or its port could \
                 not be bound)"
            ),
        },
    };
    println!("{url}");
    if args.open {
        let opened = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        match opened {
            Ok(status) if status.success() => {}
            Ok(status) => eprintln!("warrant: xdg-open failed ({status}); open the address above"),
            Err(_) => eprintln!("warrant: no xdg-open here; open the address above"),
        }
    }
    Ok(0)
}
