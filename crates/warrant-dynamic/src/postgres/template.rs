//! What a dynamic role may do: [`RoleTemplate`], read from policy TOML.

use postgres_protocol::escape::escape_identifier;
use serde::Deserialize;

use crate::Error;

/// The placeholder for the new role's quoted identifier in `grants`.
pub const NAME_PLACEHOLDER: &str = "{{name}}";

/// Longest identifier PostgreSQL keeps (NAMEDATALEN - 1), in bytes.
const MAX_IDENTIFIER: usize = 63;

/// What a role minted for a grant may do, and what happens to what it owns
/// when it is dropped.
///
/// warrant runs `CREATE ROLE` itself (with `LOGIN`, a password the template
/// never sees, `VALID UNTIL` the grant's expiry and no elevated attribute),
/// so a template only adds privileges:
///
/// ```toml
/// database = "app"
/// grants = [
///     "GRANT SELECT ON public.orders TO {{name}}",
///     "GRANT USAGE ON SCHEMA public TO {{name}}",
/// ]
/// in_roles = ["app_readonly"]
/// connection_limit = 2
/// on_drop = { action = "reassign", to = "app_owner" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleTemplate {
    /// The database the grants run in and the issued DSN names; default:
    /// the admin connection string's.
    #[serde(default)]
    pub database: Option<String>,
    /// SQL statements, one each, run in order in the transaction that
    /// creates the role. Each must name the role as `{{name}}`, which
    /// becomes its quoted identifier.
    #[serde(default)]
    pub grants: Vec<String>,
    /// Existing (group) roles the new role is granted membership in.
    #[serde(default)]
    pub in_roles: Vec<String>,
    /// What to do with objects the role owns when it is dropped.
    #[serde(default)]
    pub on_drop: OnDrop,
    /// The role's `CONNECTION LIMIT`; default: none.
    #[serde(default)]
    pub connection_limit: Option<u32>,
}

/// What happens to objects a dynamic role owns (tables it created, say)
/// when it is dropped. Privileges granted to it are always revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum OnDrop {
    /// `REASSIGN OWNED BY role TO to`: the objects are kept, owned by `to`.
    Reassign {
        /// The existing role that takes the objects over.
        to: String,
    },
    /// `DROP OWNED BY role`: the objects are dropped (the default).
    #[default]
    DropOwned,
}

impl RoleTemplate {
    /// Checks the template: it grants something, every statement is
    /// non-empty and names the role with `{{name}}` and no other
    /// placeholder, and every role or database name is a usable identifier.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Error::InvalidTemplate { reason };
        if self.grants.is_empty() && self.in_roles.is_empty() {
            return Err(invalid(
                "it grants nothing (give grants or in_roles)".to_owned(),
            ));
        }
        for (index, statement) in self.grants.iter().enumerate() {
            if statement.trim().trim_end_matches(';').trim().is_empty() {
                return Err(invalid(format!("grants[{index}] is empty")));
            }
            if statement.contains('\0') {
                return Err(invalid(format!("grants[{index}] contains a NUL byte")));
            }
            if !statement.contains(NAME_PLACEHOLDER) {
                return Err(invalid(format!(
                    "grants[{index}] does not name the role as {NAME_PLACEHOLDER}"
                )));
            }
            let mut rest = statement.as_str();
            while let Some(at) = rest.find("{{") {
                if !rest[at..].starts_with(NAME_PLACEHOLDER) {
                    let shown: String = rest[at..].chars().take(24).collect();
                    return Err(invalid(format!(
                        "grants[{index}] has an unknown placeholder at {shown:?}; \
                         only {NAME_PLACEHOLDER} exists (templates never see the password)"
                    )));
                }
                rest = &rest[at + NAME_PLACEHOLDER.len()..];
            }
        }
        for (index, group) in self.in_roles.iter().enumerate() {
            identifier(group).map_err(|why| invalid(format!("in_roles[{index}] {why}")))?;
        }
        if let OnDrop::Reassign { to } = &self.on_drop {
            identifier(to).map_err(|why| invalid(format!("on_drop.to {why}")))?;
        }
        if let Some(database) = &self.database {
            identifier(database).map_err(|why| invalid(format!("database {why}")))?;
        }
        if self.connection_limit.is_some_and(|n| n > i32::MAX as u32) {
            return Err(invalid("connection_limit is too large".to_owned()));
        }
        Ok(())
    }

    /// Statement `index` with `{{name}}` replaced by `quoted_role`.
    pub(crate) fn render(&self, index: usize, quoted_role: &str) -> String {
        self.grants[index].replace(NAME_PLACEHOLDER, quoted_role)
    }
}

/// Checks that `name` can be a PostgreSQL identifier.
fn identifier(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".to_owned());
    }
    if name.len() > MAX_IDENTIFIER {
        return Err(format!("is longer than {MAX_IDENTIFIER} bytes"));
    }
    if name.contains('\0') {
        return Err("contains a NUL byte".to_owned());
    }
    Ok(())
}

/// `name` as a quoted SQL identifier, embedded quotes doubled.
pub(crate) fn quote(name: &str) -> String {
    escape_identifier(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> RoleTemplate {
        toml::from_str(text).unwrap()
    }

    fn reason(t: &RoleTemplate) -> String {
        t.validate().unwrap_err().to_string()
    }

    #[test]
    fn reads_toml_and_validates() {
        let t = template(
            r#"
            database = "app"
            grants = ["GRANT SELECT ON t TO {{name}}"]
            in_roles = ["readers"]
            connection_limit = 3
            on_drop = { action = "reassign", to = "owner" }
            "#,
        );
        t.validate().unwrap();
        assert_eq!(
            t.on_drop,
            OnDrop::Reassign {
                to: "owner".to_owned()
            }
        );
        assert_eq!(
            t.render(0, &quote("warrant_x")),
            "GRANT SELECT ON t TO \"warrant_x\""
        );
        let t = template(r#"grants = ["GRANT SELECT ON t TO {{name}}"]"#);
        assert_eq!(t.on_drop, OnDrop::DropOwned);
        assert!(toml::from_str::<RoleTemplate>("grant = []").is_err());
        assert!(toml::from_str::<RoleTemplate>(r#"on_drop = { action = "x" }"#).is_err());
    }

    #[test]
    fn refuses_bad_templates() {
        assert!(reason(&template("")).contains("grants nothing"));
        assert!(reason(&template(r#"grants = [" ; "]"#)).contains("grants[0] is empty"));
        let t = template(
            r#"grants = ["GRANT SELECT ON t TO {{name}}", "GRANT SELECT ON u TO PUBLIC"]"#,
        );
        assert!(reason(&t).contains("grants[1] does not name the role"));
        let t = template(r#"grants = ["ALTER ROLE {{name}} PASSWORD '{{password}}'"]"#);
        assert!(reason(&t).contains("unknown placeholder"), "{}", reason(&t));
        let t = template(r#"in_roles = [""]"#);
        assert!(reason(&t).contains("in_roles[0] is empty"));
        let long = "x".repeat(64);
        let t = template(&format!(
            "in_roles = [\"r\"]\non_drop = {{ action = \"reassign\", to = \"{long}\" }}"
        ));
        assert!(reason(&t).contains("on_drop.to is longer"));
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote("Mixed Case"), "\"Mixed Case\"");
    }
}
