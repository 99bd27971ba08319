//! `--state postgres://...`: where team mode keeps grants and the audit
//! chain, and how its password reaches warrant without touching argv.
//!
//! The connection string on the command line (or in `WARRANT_STATE`) names
//! user, host, port and database only. The password comes from
//! `--state-password-file FILE` (first line; `WARRANT_STATE_PASSWORD_FILE`)
//! or the environment variable `WARRANT_STATE_PASSWORD`; a password written
//! into the connection string is refused, since argv is visible to every
//! user of the machine.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use warrant_broker::server::StateLocation;
use warrant_secret::SecretValue;
use zeroize::Zeroizing;

/// The environment variable holding the team state's password.
pub const PASSWORD_ENV: &str = "WARRANT_STATE_PASSWORD";

/// A file in the home naming the team state its daemon last used (the
/// connection string as given, without a password), so that `warrant audit`
/// can say where the chain is.
const MARKER: &str = "team-state";

/// Records (team mode) or clears (embedded) where this home's daemon keeps
/// its state.
pub fn remember(home: &std::path::Path, args: &StateArgs) {
    let marker = home.join(MARKER);
    match &args.state {
        Some(dsn) => {
            let _ = std::fs::write(&marker, format!("{dsn}\n"));
        }
        None => {
            let _ = std::fs::remove_file(&marker);
        }
    }
}

/// The team state this home's daemon last used, if it ran in team mode.
pub fn remembered(home: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(home.join(MARKER)).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

#[derive(Debug, Args, Default)]
pub struct StateArgs {
    /// Team mode: keep grants, tasks and the audit chain in PostgreSQL,
    /// shared with other daemons (postgres://USER@HOST:PORT/DB[?sslmode=...],
    /// without the password) [default: the home's own files]
    #[arg(long, value_name = "DSN", env = "WARRANT_STATE", global = true)]
    pub state: Option<String>,
    /// A file whose first line is the team state's password (or set
    /// WARRANT_STATE_PASSWORD)
    #[arg(
        long,
        value_name = "FILE",
        env = "WARRANT_STATE_PASSWORD_FILE",
        global = true
    )]
    pub state_password_file: Option<PathBuf>,
}

impl StateArgs {
    /// Where the state lives, with the password put into the connection
    /// string (which from then on is a secret).
    pub fn location(&self) -> Result<StateLocation> {
        let Some(dsn) = &self.state else {
            return Ok(StateLocation::Embedded);
        };
        let password = match &self.state_password_file {
            Some(path) => Some(read_password(path)?),
            None => std::env::var(PASSWORD_ENV).ok().map(Zeroizing::new),
        };
        Ok(StateLocation::Team(with_password(dsn, password)?))
    }
}

fn read_password(path: &PathBuf) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the state password file {}", path.display()))?,
    );
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or_default().to_owned(),
    ))
}

/// `postgres://user@host/db` with `password` added to the user part.
fn with_password(dsn: &str, password: Option<Zeroizing<String>>) -> Result<SecretValue> {
    let Some(rest) = dsn
        .strip_prefix("postgres://")
        .or_else(|| dsn.strip_prefix("postgresql://"))
    else {
        bail!("--state takes a postgres://USER@HOST:PORT/DATABASE connection string");
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let query = rest.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let userinfo = authority.rsplit_once('@').map(|(u, _)| u);
    if userinfo.is_some_and(|u| u.contains(':'))
        || query.split('&').any(|pair| pair.starts_with("password="))
    {
        bail!(
            "the --state connection string holds a password, which would be visible in the \
             process list; remove it and use --state-password-file FILE or {PASSWORD_ENV}"
        );
    }
    let Some(password) = password else {
        return Ok(SecretValue::from(dsn.to_owned()));
    };
    let Some(user) = userinfo else {
        bail!("the --state connection string names no user (postgres://USER@HOST/DATABASE)");
    };
    let scheme_len = dsn.len() - rest.len();
    let mut full = Zeroizing::new(String::with_capacity(dsn.len() + 3 * password.len() + 1));
    full.push_str(&dsn[..scheme_len + user.len()]);
    full.push(':');
    for byte in password.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            full.push(char::from(byte));
        } else {
            // Straight into the zeroized buffer: no temporary holds a byte.
            let _ = write!(full, "%{byte:02X}");
        }
    }
    full.push_str(&dsn[scheme_len + user.len()..]);
    Ok(SecretValue::from(full.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_added_encoded() {
        let dsn = with_password(
            "postgres://ana@db.example:5433/warrant?sslmode=require",
            Some(Zeroizing::new("p@ss:w/rd".into())),
        )
        .unwrap();
        assert_eq!(
            dsn.expose_secret(),
            b"postgres://ana:p%40ss%3Aw%2Frd@db.example:5433/warrant?sslmode=require"
        );
        let plain = with_password("postgres://ana@localhost/w", None).unwrap();
        assert_eq!(plain.expose_secret(), b"postgres://ana@localhost/w");
    }

    #[test]
    fn a_password_in_argv_is_refused() {
        for dsn in [
            "postgres://ana:hunter2@localhost/w",
            "postgres://ana@localhost/w?password=hunter2",
        ] {
            let e = with_password(dsn, None).unwrap_err().to_string();
            assert!(e.contains("holds a password"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
