//! Native dynamic PostgreSQL roles: a login role created for one grant,
//! expiring with it, and dropped when it ends.
//!
//! - [`Issuer`]: holds the admin connection string (itself a stored secret)
//!   and a [`RoleTemplate`]; [`Issuer::issue`] creates a role,
//!   [`Issuer::revoke`] ends one, [`Issuer::sweep`] ends what a crashed
//!   daemon left behind.
//! - [`Issued`]: the new role's name, a ready-to-use DSN (a
//!   [`SecretValue`]) and its expiry.
//!
//! Every role warrant creates is named `warrant_<grant>_<random>`, carries
//! the comment `warrant grant <id> expires <rfc3339>`, and has `VALID UNTIL`
//! set to the grant's expiry: PostgreSQL itself refuses its logins after
//! that, even if warrant is gone. Its password is 32 random bytes; only a
//! SCRAM-SHA-256 verifier computed here is sent to the server, so no server
//! log can hold the password.
//!
//! All methods are async and need a Tokio runtime (each opens its own admin
//! connection, run on a spawned task, and closes it).
//!
//! ```no_run
//! # async fn example(admin_dsn: warrant_secret::SecretValue) -> Result<(), warrant_dynamic::Error> {
//! use warrant_dynamic::postgres::{Issuer, RoleTemplate};
//!
//! let template: RoleTemplate = toml::from_str(r#"
//!     grants = ["GRANT SELECT ON public.orders TO {{name}}"]
//! "#).expect("template");
//! let issuer = Issuer::new(&admin_dsn, template)?;
//! let expires = time::OffsetDateTime::now_utc() + time::Duration::minutes(15);
//! let issued = issuer.issue("g-42", expires).await?;
//! // hand issued.dsn to the task's process; when the grant ends:
//! issuer.revoke(&issued.role).await?;
//! # Ok(()) }
//! ```

mod conn;
mod dsn;
mod revoke;
mod template;
mod tls;

use std::fmt;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postgres_protocol::escape::escape_literal;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::error::SqlState;
use warrant_secret::SecretValue;
use zeroize::Zeroizing;

pub use conn::{connect, describe};
pub use dsn::AdminDsn;
pub use revoke::Swept;
pub use template::{NAME_PLACEHOLDER, OnDrop, RoleTemplate};

use crate::Error;
use conn::{is, scrub};
use template::quote;

/// The prefix of every role warrant creates.
pub const ROLE_PREFIX: &str = "warrant_";

/// The start of the comment on every role warrant creates.
pub const COMMENT_MARKER: &str = "warrant grant ";

/// Characters of the grant id kept in a role name.
const GRANT_CHARS: usize = 12;

/// Random bytes (as hex) at the end of a role name.
const RANDOM_BYTES: usize = 5;

/// Random bytes in a password (URL-safe base64, 43 characters).
const PASSWORD_BYTES: usize = 32;

/// Creates, ends and sweeps dynamic roles on one PostgreSQL server.
pub struct Issuer {
    dsn: AdminDsn,
    template: RoleTemplate,
    database: String,
}

/// A role created for a grant.
#[derive(Debug)]
pub struct Issued {
    /// The role's name (not secret): `warrant_<grant>_<random>`.
    pub role: String,
    /// `postgres://role:password@host:port/database[?sslmode=..]`.
    pub dsn: SecretValue,
    /// The password alone (for a reference to `#password`).
    pub password: SecretValue,
    /// When PostgreSQL stops accepting its logins (whole seconds).
    pub expires_at: OffsetDateTime,
}

impl Issuer {
    /// An issuer acting through `admin_dsn`
    /// (`postgres://user:password@host:port/db?sslmode=...`) with `template`.
    ///
    /// Checks the template and the connection string; connects to nothing.
    /// Without `sslmode`, only a loopback host is accepted (plaintext);
    /// `sslmode` must otherwise be `require`, `verify-ca` or `verify-full`
    /// (libpq's meanings; `sslrootcert` names a PEM file of trusted roots,
    /// default the system's), or `disable` to allow plaintext.
    pub fn new(admin_dsn: &SecretValue, template: RoleTemplate) -> Result<Issuer, Error> {
        template.validate()?;
        let dsn = AdminDsn::parse(admin_dsn)?;
        let database = template
            .database
            .clone()
            .unwrap_or_else(|| dsn.database.clone());
        Ok(Issuer {
            dsn,
            template,
            database,
        })
    }

    /// The database the template's grants run in.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Creates a role for grant `grant_id` that can log in until
    /// `expires_at` (cut to whole seconds), with exactly the template's
    /// privileges. Everything happens in one transaction: on any error
    /// nothing is left behind.
    pub async fn issue(&self, grant_id: &str, expires_at: OffsetDateTime) -> Result<Issued, Error> {
        check_grant_id(grant_id)?;
        let expires_at = expires_at
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(expires_at);
        let expiry = expires_at.format(&Rfc3339).unwrap_or_default();
        if expires_at <= OffsetDateTime::now_utc() {
            return Err(Error::ExpiryPassed { expires_at: expiry });
        }
        let role = role_name(grant_id);
        let quoted = quote(&role);
        let password = new_password();
        let password = std::str::from_utf8(&password).unwrap_or_default();
        let verifier = Zeroizing::new(postgres_protocol::password::scram_sha_256(
            password.as_bytes(),
        ));
        let database = self.database.as_str();
        let fail = |action: &str, e: &tokio_postgres::Error| {
            self.server_error(action, &role, database, e, &[verifier.as_bytes()])
        };

        let mut client = connect(&self.dsn, database).await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| fail("begin a transaction", &e))?;
        let superuser: bool = tx
            .query_one(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| fail("read the admin's attributes", &e))?;

        let mut create = Zeroizing::new(String::with_capacity(1024));
        let literal = Zeroizing::new(escape_literal(&verifier));
        let _ = write!(
            create,
            "CREATE ROLE {quoted} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             NOBYPASSRLS INHERIT CONNECTION LIMIT {} PASSWORD {} VALID UNTIL {}",
            self.connection_limit(),
            literal.as_str(),
            escape_literal(&expiry),
        );
        tx.batch_execute(create.as_str())
            .await
            .map_err(|e| fail("create roles", &e))?;
        drop(create);
        let comment = format!("{COMMENT_MARKER}{grant_id} expires {expiry}");
        tx.batch_execute(&format!(
            "COMMENT ON ROLE {quoted} IS {}",
            escape_literal(&comment)
        ))
        .await
        .map_err(|e| fail("comment on the role", &e))?;
        if !superuser {
            // A non-superuser admin needs the role's privileges to end its
            // sessions and reassign or drop what it owns (revoke).
            tx.batch_execute(&format!("GRANT {quoted} TO CURRENT_USER"))
                .await
                .map_err(|e| fail("grant the new role to itself", &e))?;
        }
        for group in &self.template.in_roles {
            tx.batch_execute(&format!("GRANT {} TO {quoted}", quote(group)))
                .await
                .map_err(|e| fail(&format!("grant role {group:?}"), &e))?;
        }
        for index in 0..self.template.grants.len() {
            let statement = self.template.render(index, &quoted);
            tx.execute(statement.as_str(), &[])
                .await
                .map_err(|e| Error::Statement {
                    index,
                    role: role.clone(),
                    database: database.to_owned(),
                    message: scrub(describe(&e, &self.dsn), &[verifier.as_bytes()]),
                })?;
        }
        self.check_guarantees(&tx, &role, expires_at).await?;
        tx.commit()
            .await
            .map_err(|e| fail("commit the new role", &e))?;

        let dsn = self.dsn.issued(&role, password, database);
        Ok(Issued {
            role,
            dsn,
            password: SecretValue::from(password.as_bytes().to_vec()),
            expires_at,
        })
    }

    fn connection_limit(&self) -> i64 {
        self.template.connection_limit.map_or(-1, i64::from)
    }

    /// Refuses a template that removed `VALID UNTIL` or added an attribute
    /// (a template could run `ALTER ROLE {{name}} ...`).
    async fn check_guarantees(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        role: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), Error> {
        let row = tx
            .query_one(
                "SELECT coalesce(rolvaliduntil = $2, false), rolsuper OR rolcreaterole \
                 OR rolcreatedb OR rolreplication OR rolbypassrls, rolconnlimit::int8, \
                 rolcanlogin FROM pg_roles WHERE rolname = $1",
                &[&role, &expires_at],
            )
            .await
            .and_then(|row| {
                Ok((
                    row.try_get::<_, bool>(0)?,
                    row.try_get::<_, bool>(1)?,
                    row.try_get::<_, i64>(2)?,
                    row.try_get::<_, bool>(3)?,
                ))
            })
            .map_err(|e| self.server_error("check the new role", role, &self.database, &e, &[]))?;
        let (expiry_kept, elevated, connection_limit, login) = row;
        let weakened = |what: &str| Error::TemplateWeakened {
            role: role.to_owned(),
            what: what.to_owned(),
        };
        if !expiry_kept {
            return Err(weakened("changed its VALID UNTIL"));
        }
        if elevated {
            return Err(weakened(
                "gave it an elevated attribute (SUPERUSER, CREATEROLE, ...)",
            ));
        }
        if connection_limit != self.connection_limit() {
            return Err(weakened("changed its CONNECTION LIMIT"));
        }
        if !login {
            return Err(weakened("removed its LOGIN"));
        }
        Ok(())
    }

    /// A server error, as [`Error::InsufficientPrivilege`] when it is one.
    fn server_error(
        &self,
        action: &str,
        role: &str,
        database: &str,
        e: &tokio_postgres::Error,
        secrets: &[&[u8]],
    ) -> Error {
        let message = scrub(describe(e, &self.dsn), secrets);
        if is(e, &SqlState::INSUFFICIENT_PRIVILEGE) {
            Error::InsufficientPrivilege {
                user: self.dsn.user.clone(),
                action: action.to_owned(),
                message,
            }
        } else {
            Error::Server {
                action: action.to_owned(),
                role: role.to_owned(),
                database: database.to_owned(),
                message,
            }
        }
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("host", &self.dsn.host)
            .field("port", &self.dsn.port)
            .field("user", &self.dsn.user)
            .field("database", &self.database)
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

/// Whether `name` has the shape of a role warrant creates:
/// `warrant_<1-12 of a-z 0-9>_<10 hex digits>`.
pub fn is_warrant_role(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(ROLE_PREFIX) else {
        return false;
    };
    let Some((grant, random)) = rest.split_once('_') else {
        return false;
    };
    (1..=GRANT_CHARS).contains(&grant.len())
        && grant
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && random.len() == RANDOM_BYTES * 2
        && random
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_grant_id(grant_id: &str) -> Result<(), Error> {
    let ok = (1..=128).contains(&grant_id.len())
        && grant_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        && grant_id.bytes().any(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidGrantId {
            grant_id: grant_id.chars().take(40).collect(),
        })
    }
}

fn role_name(grant_id: &str) -> String {
    let grant: String = grant_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(GRANT_CHARS)
        .collect();
    let mut random = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut random).expect("the system's random number generator");
    let mut name = format!("{ROLE_PREFIX}{grant}_");
    for byte in random {
        let _ = write!(name, "{byte:02x}");
    }
    name
}

/// 32 random bytes as URL-safe base64 without padding, wiped on drop.
fn new_password() -> Zeroizing<Vec<u8>> {
    let mut raw = Zeroizing::new([0u8; PASSWORD_BYTES]);
    getrandom::fill(raw.as_mut()).expect("the system's random number generator");
    let mut encoded = Zeroizing::new(vec![0u8; 43]);
    let written = URL_SAFE_NO_PAD
        .encode_slice(raw.as_ref(), &mut encoded)
        .expect("43 bytes hold 32 bytes in base64");
    encoded.truncate(written);
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_have_the_warrant_shape() {
        let name = role_name("G-2024:ABCdef0123456789");
        assert!(name.starts_with("warrant_g2024abcdef0_"), "{name}");
        assert!(is_warrant_role(&name), "{name}");
        assert!(name.len() <= 63);
        assert_ne!(role_name("g"), role_name("g"));
        for not_ours in [
            "postgres",
            "warrant_",
            "warrant_admin",
            "warrant_x_0123456789ab",
            "warrant_X_0123456789",
            "warrant__0123456789",
        ] {
            assert!(!is_warrant_role(not_ours), "{not_ours}");
        }
    }

    #[test]
    fn grant_ids_are_checked() {
        assert!(check_grant_id("g-1.2:3_x").is_ok());
        for bad in ["", "---", "a b", "a'b", &"x".repeat(129)] {
            assert!(check_grant_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_url_safe_and_random() {
        let a = new_password();
        assert_eq!(a.len(), 43);
        assert!(
            a.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        );
        assert_ne!(*a, *new_password());
    }
}
