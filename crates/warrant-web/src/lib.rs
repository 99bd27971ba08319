//! The approval page: a local web page, served by the daemon itself, on
//! which a person sees what each agent asks for and holds, approves
//! (for less time or fewer uses if wanted), denies and revokes grants, and
//! reads the audit log. It never shows a value: the daemon holds names.
//!
//! - [`router`]: the page and its JSON API as an axum [`Router`], for any
//!   listener (and for tests without one).
//! - [`serve`]: serves it on loopback listeners until the daemon stops.
//! - [`AppState`]: the daemon handle ([`warrant_broker::Daemon`]), the
//!   sessions and the registered security keys.
//!
//! Signing in takes the approver passphrase; every approval takes it again,
//! and a grant whose policy says `approval = "hardware_key"` also takes a
//! security key (WebAuthn) that the daemon checked for that very approval.
//! The session cookie is HttpOnly and SameSite=Strict and never enough on
//! its own: every change also carries the session's CSRF token
//! ([`CSRF_HEADER`]) and must come from the page's own origin.
//!
//! Handlers call the daemon with `block_in_place`: serve the router on a
//! multi-threaded tokio runtime (the daemon's is).
//!
//! ```no_run
//! # async fn start(daemon: warrant_broker::Daemon) -> Result<(), Box<dyn std::error::Error>> {
//! let v4 = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = v4.local_addr()?.port();
//! let v6 = tokio::net::TcpListener::bind(("::1", port)).await?;
//! let state = warrant_web::AppState::new(daemon, "/home/ana/.local/share/warrant".into(), port)?;
//! warrant_web::serve(vec![v4, v6], state).await?;
//! # Ok(())
//! # }
//! ```

mod api;
mod assets;
mod error;
mod keys;
mod peer;
mod security;
mod session;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use warrant_broker::Daemon;

pub use error::WebError;
pub use keys::KEYS_FILE;
pub use peer::Connection;
pub use security::CSP;
pub use session::{COOKIE_NAME, CSRF_HEADER};

/// What the page's handlers share.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    daemon: Daemon,
    home: PathBuf,
    port: u16,
    sessions: session::Sessions,
    keys: keys::Keys,
}

impl AppState {
    /// The state for a page at `http://localhost:PORT` over the daemon
    /// serving `home` (where the security keys and the audit log are).
    pub fn new(daemon: Daemon, home: PathBuf, port: u16) -> Result<Self, WebError> {
        let keys = keys::Keys::load(home.clone(), port)?;
        Ok(Self(Arc::new(Inner {
            daemon,
            home,
            port,
            sessions: session::Sessions::default(),
            keys,
        })))
    }

    fn daemon(&self) -> &Daemon {
        &self.0.daemon
    }

    fn home(&self) -> &std::path::Path {
        &self.0.home
    }

    fn port(&self) -> u16 {
        self.0.port
    }

    fn sessions(&self) -> &session::Sessions {
        &self.0.sessions
    }

    fn keys(&self) -> &keys::Keys {
        &self.0.keys
    }
}

/// The page's address for a port.
pub fn url(port: u16) -> String {
    format!("http://localhost:{port}/")
}

/// The page and its API. Every route goes through the host, origin and
/// header checks of the security layer.
pub fn router(state: AppState) -> Router {
    api::routes()
        .merge(assets::routes())
        .fallback(security::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}

/// Serves the page on every listener (bind them to the loopback addresses
/// of one port: `127.0.0.1` and `[::1]`, since browsers try either for
/// `localhost`) until the task is dropped or one of them fails.
pub async fn serve(
    listeners: Vec<tokio::net::TcpListener>,
    state: AppState,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<Connection>();
    let served = listeners
        .into_iter()
        .map(|listener| axum::serve(listener, app.clone()).into_future());
    futures_util::future::try_join_all(served).await?;
    Ok(())
}
