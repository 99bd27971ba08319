//! `warrant serve`: the broker daemon.

use anyhow::{Context as _, Result};
use warrant_broker::server::{self, ServeOptions};
use warrant_policy::Policy;

use super::Context;
use super::ui::Binding;
use crate::args::ServeArgs;
use crate::unlock;

pub fn run(ctx: &Context, args: ServeArgs) -> Result<u8> {
    // Before anything else: a password in argv is refused at once.
    let state = args.state.location()?;
    crate::team_state::remember(&ctx.home, &args.state);
    let policy = match args.policy.clone() {
        Some(path) => Some(std::path::absolute(&path).unwrap_or(path)),
        None => std::env::current_dir()
            .ok()
            .and_then(|dir| Policy::find(&dir)),
    };
    match &policy {
        // Fail fast on a policy that does not parse; later edits are
        // picked up (and audited) while the daemon runs.
        Some(path) => {
            Policy::load(path).context("cannot start with this policy")?;
        }
        None => eprintln!(
            "warrant: warning: no warrant.toml here or in a parent directory, and no --policy: \
             every request will be denied"
        ),
    }
    // The page's port is taken before the store is unlocked: a busy port
    // fails before anything else happens.
    let page = super::ui::bind(&ctx.home, &args)?;
    let store = unlock::open_all(ctx)?;
    // Keep the key's pages out of swap where the limits allow it.
    let locked = match rustix::mm::mlockall(rustix::mm::MlockAllFlags::CURRENT) {
        Ok(()) => "memory locked".to_owned(),
        Err(e) => format!("memory not locked ({e})"),
    };
    let insecure_fast_kdf =
        std::env::var_os(warrant_store::INSECURE_FAST_KDF_ENV).is_some_and(|v| v == "1");
    let options = ServeOptions {
        home: ctx.home.clone(),
        policy: policy.clone(),
        store,
        insecure_fast_kdf,
        extensions: Vec::new(),
        state,
        egress: server::EgressOptions {
            upstream_ca: super::proxy::load_upstream_cas(&args.egress_ca)?,
            resolve: super::proxy::parse_resolve(&args.egress_resolve)?,
            forbidden: Vec::new(),
        },
    };
    let mut options = options;
    let page = match page {
        Binding::Served(page) => {
            options.extensions.push(page.extension);
            options.egress.forbidden = page.addrs;
            Ok(Some(page.url))
        }
        Binding::Off => Ok(None),
        Binding::Refused(reason) => Err(reason),
    };
    // Whether this daemon took the home: only then are the page's records
    // its own to write and to remove.
    let started = std::cell::Cell::new(false);
    server::serve(options, |socket| {
        started.set(true);
        let policy = policy
            .as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.display().to_string());
        // The connection string as given: it holds no password.
        let state = args.state.state.as_deref().unwrap_or("embedded");
        eprintln!(
            "warrant: serving {} at {} (pid {}; policy {policy}; state {state}; {locked})",
            ctx.home.display(),
            socket.display(),
            std::process::id()
        );
        // Only now that this daemon holds the home's socket: a second one
        // that fails to start must not touch the first one's records.
        match &page {
            Ok(Some(url)) => {
                if let Err(e) = super::ui::publish(&ctx.home, url) {
                    eprintln!("warrant: warning: {e:#}");
                }
                eprintln!("warrant: approval page at {url} (loopback only)");
            }
            Ok(None) => {
                super::ui::unpublish(&ctx.home);
                eprintln!("warrant: no approval page");
            }
            Err(reason) => {
                if let Err(e) = super::ui::record_refusal(&ctx.home, reason) {
                    eprintln!("warrant: warning: {e:#}");
                }
                eprintln!("warrant: no approval page: its port is taken (see above)");
            }
        }
    })
    .inspect_err(|_| {
        if started.get() {
            super::ui::unpublish(&ctx.home);
        }
    })?;
    super::ui::unpublish(&ctx.home);
    eprintln!("warrant: daemon stopped");
    Ok(0)
}
