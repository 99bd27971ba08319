//! How a rule's secrets may travel over HTTP: over plain HTTP or not,
//! where placeholders are replaced, and injections the policy declares so
//! that the agent's request carries no placeholder at all.

use serde::{Deserialize, Serialize};

/// Where an agent's placeholders are replaced, besides headers (always).
///
/// URLs and bodies are off by default: an allowed host that keeps what it
/// is sent (an issue tracker, a paste service, a search index) is a drop
/// box, and a value put in a body or query string is easily kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubstituteIn {
    /// In the path and query string (`substitute_in = ["query"]`).
    #[serde(default)]
    pub query: bool,
    /// In request bodies (`substitute_in = ["body"]`).
    #[serde(default)]
    pub body: bool,
}

/// A value the egress adds to every request to a host, declared by the
/// policy: `inject = [{ secret = "github/token", host = "api.github.com",
/// header = "Authorization", format = "Bearer {value}" }]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injection {
    /// The secret's name (no glob).
    pub secret: String,
    /// A host pattern with an optional port, as in `hosts`.
    pub host: String,
    /// Where the value goes.
    pub into: InjectInto,
}

/// Where an [`Injection`] puts the value. Templates hold `{value}` once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectInto {
    /// A header set to `format` (replacing any the request had).
    Header {
        /// The header's name.
        name: String,
        /// Its value, e.g. `Bearer {value}`.
        format: String,
    },
    /// `Authorization: Basic` of `credentials`, e.g. `x-access-token:{value}`.
    Basic {
        /// `user:password` with `{value}` in one of them.
        credentials: String,
    },
    /// A query parameter (replacing any of that name).
    Query {
        /// The parameter's name.
        param: String,
    },
}

/// The marker a template's value goes in place of.
pub const VALUE_MARK: &str = "{value}";

/// Headers an injection may not set: they belong to the connection or
/// the proxy, or would let one request smuggle another.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

impl InjectInto {
    /// The template's text before and after `{value}` (a query parameter
    /// has none).
    pub fn around_value(&self) -> (&str, &str) {
        let template = match self {
            InjectInto::Header { format, .. } => format.as_str(),
            InjectInto::Basic { credentials } => credentials.as_str(),
            InjectInto::Query { .. } => return ("", ""),
        };
        template.split_once(VALUE_MARK).unwrap_or((template, ""))
    }
}

/// Checks a header name for an injection; the error says what to write.
pub(crate) fn check_header(name: &str) -> Result<(), String> {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!(
            "header {name:?} is not a header name; use one like \"Authorization\" or \"X-Api-Key\""
        ));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "header {name:?} cannot be injected; it belongs to the connection, not the request"
        ));
    }
    Ok(())
}

/// Checks a template (`format`, `basic`): `{value}` exactly once, no
/// control characters.
pub(crate) fn check_template(key: &str, template: &str) -> Result<(), String> {
    if template.matches(VALUE_MARK).count() != 1 {
        return Err(format!(
            "{key} must hold {VALUE_MARK} exactly once, like \"Bearer {VALUE_MARK}\""
        ));
    }
    if template.chars().any(char::is_control) {
        return Err(format!("{key} contains a control character"));
    }
    Ok(())
}

/// Checks a query parameter name: unreserved URL characters only.
pub(crate) fn check_param(param: &str) -> Result<(), String> {
    let ok = !param.is_empty()
        && param
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "query parameter {param:?} must be letters, digits, '-', '.', '_' or '~', like \"api_key\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_around_the_value() {
        let into = InjectInto::Header {
            name: "Authorization".into(),
            format: "Bearer {value}".into(),
        };
        assert_eq!(into.around_value(), ("Bearer ", ""));
        let basic = InjectInto::Basic {
            credentials: "{value}:".into(),
        };
        assert_eq!(basic.around_value(), ("", ":"));
    }

    #[test]
    fn bad_injections_are_named() {
        assert!(check_header("X-Api-Key").is_ok());
        assert!(
            check_header("Host")
                .unwrap_err()
                .contains("cannot be injected")
        );
        assert!(
            check_header("a b")
                .unwrap_err()
                .contains("not a header name")
        );
        assert!(check_template("format", "Bearer {value}").is_ok());
        assert!(check_template("format", "Bearer").is_err());
        assert!(check_template("format", "{value}{value}").is_err());
        assert!(check_template("format", "a\r\n{value}").is_err());
        assert!(check_param("api_key").is_ok());
        assert!(check_param("a&b").is_err());
    }
}
