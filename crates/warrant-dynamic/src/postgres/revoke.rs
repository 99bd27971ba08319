//! Ending dynamic roles: one ([`Issuer::revoke`]) or all leftovers
//! ([`Issuer::sweep`]).

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::conn::{connect, is};
use super::template::quote;
use super::{COMMENT_MARKER, Issuer, OnDrop, is_warrant_role};
use crate::Error;

/// What [`Issuer::sweep`] did.
#[derive(Debug, Default)]
pub struct Swept {
    /// Roles dropped.
    pub dropped: Vec<String>,
    /// Roles that should have been dropped but could not be, with why; a
    /// later sweep tries again.
    pub failed: Vec<(String, Error)>,
}

impl Issuer {
    /// Ends `role`: no more logins (`NOLOGIN`), its sessions terminated,
    /// what it owns reassigned or dropped per the template's `on_drop` in
    /// every database where it owns objects or holds privileges, then the
    /// role dropped.
    ///
    /// Idempotent: `Ok(false)` when the role was already gone. Refuses a
    /// name warrant does not create ([`Error::NotWarrantRole`]).
    pub async fn revoke(&self, role: &str) -> Result<bool, Error> {
        if !is_warrant_role(role) {
            return Err(Error::NotWarrantRole {
                role: role.chars().take(80).collect(),
            });
        }
        let quoted = quote(role);
        let home = self.database();
        let fail = |action: &str, database: &str, e: &tokio_postgres::Error| {
            self.server_error(action, role, database, e, &[])
        };
        let client = connect(&self.dsn, home).await?;
        // First, so that nothing new starts while the rest happens.
        match client
            .batch_execute(&format!("ALTER ROLE {quoted} NOLOGIN"))
            .await
        {
            Err(e) if is(&e, &SqlState::UNDEFINED_OBJECT) => return Ok(false),
            Err(e) => return Err(fail("disable the role's login", home, &e)),
            Ok(()) => {}
        }
        client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                &[&role],
            )
            .await
            .map_err(|e| fail("terminate the role's sessions", home, &e))?;

        // pg_shdepend records, per database, the objects a role owns and
        // the privileges it holds; REASSIGN/DROP OWNED act on one database.
        let rows = client
            .query(
                "SELECT DISTINCT d.datname::text FROM pg_shdepend s \
                 JOIN pg_database d ON d.oid = s.dbid \
                 WHERE s.refclassid = 'pg_authid'::regclass \
                 AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)",
                &[&role],
            )
            .await
            .map_err(|e| fail("find the role's databases", home, &e))?;
        self.release(&client, &quoted)
            .await
            .map_err(|e| fail("release what the role owns", home, &e))?;
        let databases = rows
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail("find the role's databases", home, &e))?;
        for database in databases {
            if database == home {
                continue;
            }
            let other = connect(&self.dsn, &database).await?;
            self.release(&other, &quoted)
                .await
                .map_err(|e| fail("release what the role owns", &database, &e))?;
        }
        client
            .batch_execute(&format!("DROP ROLE IF EXISTS {quoted}"))
            .await
            .map_err(|e| fail("drop the role", home, &e))?;
        Ok(true)
    }

    /// Reassigns or drops what the role owns in the connected database,
    /// and revokes its privileges there.
    async fn release(&self, client: &Client, quoted: &str) -> Result<(), tokio_postgres::Error> {
        let sql = match &self.template.on_drop {
            OnDrop::Reassign { to } => format!(
                "REASSIGN OWNED BY {quoted} TO {}; DROP OWNED BY {quoted}",
                quote(to)
            ),
            OnDrop::DropOwned => format!("DROP OWNED BY {quoted}"),
        };
        // Several statements in one simple query run as one transaction.
        client.batch_execute(&sql).await
    }

    /// Ends every role warrant created on this server (prefix `warrant_`
    /// and the `warrant grant` comment) that is not in `live`, and every
    /// one whose `VALID UNTIL` has passed. Run at daemon start, after a
    /// crash, with the roles of the grants still active.
    ///
    /// `live` must list the live roles of every warrant daemon using this
    /// server: a role it does not list is dropped. Roles are released per
    /// this issuer's template (`on_drop`).
    pub async fn sweep(&self, live: &[String]) -> Result<Swept, Error> {
        let home = self.database();
        let client = connect(&self.dsn, home).await?;
        let rows = client
            .query(
                r"SELECT rolname::text, coalesce(rolvaliduntil < now(), false)
                  FROM pg_roles
                  WHERE rolname LIKE 'warrant\_%'
                  AND starts_with(coalesce(shobj_description(oid, 'pg_authid'), ''), $1)
                  ORDER BY rolname",
                &[&COMMENT_MARKER],
            )
            .await
            .map_err(|e| self.server_error("list warrant roles", "warrant_*", home, &e, &[]))?;
        drop(client);
        let roles = rows
            .iter()
            .map(|row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, bool>(1)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(|e| self.server_error("list warrant roles", "warrant_*", home, &e, &[]))?;
        let mut swept = Swept::default();
        for (role, expired) in roles {
            if !is_warrant_role(&role) || (!expired && live.contains(&role)) {
                continue;
            }
            match self.revoke(&role).await {
                Ok(_) => swept.dropped.push(role),
                Err(e) => swept.failed.push((role, e)),
            }
        }
        Ok(swept)
    }
}
