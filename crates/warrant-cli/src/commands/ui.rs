//! The approval page: `warrant serve` serves it (wired here, so the broker
//! stays free of HTTP), and `warrant ui` prints or opens its address.
//!
//! The page listens on 127.0.0.1 only. Its address is written to
//! `$WARRANT_HOME/ui-url` (0600) while the daemon runs, which is where
//! `warrant ui` reads it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use warrant_broker::{Client, Extension};

use super::Context;
use crate::args::{ServeArgs, UiArgs};

/// The page's port unless `--ui-port` or `WARRANT_UI_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 7341;

/// The file holding the page's address while the daemon runs.
const URL_FILE: &str = "ui-url";

/// The page, bound and ready to start inside the daemon.
pub struct Page {
    /// Starts it on the daemon's runtime.
    pub extension: Extension,
    /// Its address.
    pub url: String,
}

/// Binds the page's port (before the daemon starts, so a port that is
/// taken fails early). `None` with `--no-ui`, or when the default port is
/// busy (with a warning: a second daemon for another home, say).
pub fn bind(home: &Path, args: &ServeArgs) -> Result<Option<Page>> {
    if args.no_ui {
        return Ok(None);
    }
    let port = args.ui_port.unwrap_or(DEFAULT_PORT);
    let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
        Ok(listener) => listener,
        Err(e) if args.ui_port.is_none() => {
            eprintln!(
                "warrant: warning: the approval page is not served: port {port} on 127.0.0.1: {e} \
                 (pass --ui-port PORT, or --no-ui)"
            );
            return Ok(None);
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot serve the approval page on port {port}"));
        }
    };
    listener
        .set_nonblocking(true)
        .context("cannot set up the approval page's socket")?;
    let port = listener.local_addr().context("no local address")?.port();
    let url = warrant_web::url(port);
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
            let served = match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => warrant_web::serve(listener, state).await,
                Err(e) => Err(e),
            };
            if let Err(e) = served {
                eprintln!("warrant serve: error: the approval page stopped: {e}");
            }
        })
    });
    Ok(Some(Page { extension, url }))
}

fn url_file(home: &Path) -> PathBuf {
    home.join(URL_FILE)
}

/// Records the page's address for `warrant ui`.
pub fn publish(home: &Path, url: &str) -> Result<()> {
    let path = url_file(home);
    warrant_fs::write_atomic(&path, format!("{url}\n").as_bytes(), warrant_fs::FILE_MODE)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Forgets the page's address (the daemon stopped).
pub fn unpublish(home: &Path) {
    let _ = std::fs::remove_file(url_file(home));
}

/// `warrant ui`: prints the page's address, and opens it with `--open`.
pub fn run(ctx: &Context, args: UiArgs) -> Result<u8> {
    Client::connect(&ctx.home)
        .and_then(|mut c| c.status())
        .context("the daemon is not running here; start `warrant serve`")?;
    let url = match std::fs::read_to_string(url_file(&ctx.home)) {
        Ok(text) => text.trim().to_owned(),
        Err(_) => {
            bail!("the daemon serves no approval page (started with --no-ui, or its port was busy)")
        }
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
