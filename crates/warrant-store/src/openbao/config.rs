//! What an OpenBao store is: where the server is, which KV v2 mount and
//! prefix hold warrant's names, and how to log in. Holds no secret: the
//! token or AppRole secret id is handed to `OpenBaoStore::connect` apart.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use warrant_secret::SecretName;

use crate::Error;

/// An OpenBao / HashiCorp Vault store, as written in warrant's configuration
/// (a named store of kind `openbao`).
///
/// ```
/// use warrant_store::openbao::{OpenBaoAuth, OpenBaoConfig};
///
/// let config: OpenBaoConfig = serde_json::from_str(r#"{
///     "address": "https://bao.example.com:8200",
///     "mount": "team",
///     "prefix": "warrant",
///     "auth": { "method": "approle", "role_id": "0b7c-fake" }
/// }"#)?;
/// assert_eq!(config.field, "value");
/// assert!(matches!(config.auth, OpenBaoAuth::AppRole { ref mount, .. } if mount == "approle"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenBaoConfig {
    /// `https://host:port`. Plain `http://` only to a loopback address,
    /// unless [`OpenBaoConfig::dangerous_allow_plain_http`].
    pub address: String,
    /// The KV version 2 mount (default `secret`).
    #[serde(default = "default_mount")]
    pub mount: String,
    /// A folder inside the mount that holds warrant's names: with prefix
    /// `warrant`, the name `app/db` is the KV path `warrant/app/db`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The namespace (OpenBao namespaces, Vault Enterprise), sent as
    /// `X-Vault-Namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// A PEM file of CA certificates for a private CA. When set, only these
    /// are trusted; otherwise the system's roots are.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The KV field that holds a secret's value (default `value`). A value
    /// that is not UTF-8 is stored base64-encoded in `<field>_base64`.
    #[serde(default = "default_field")]
    pub field: String,
    /// The database secrets engine's mount (default `database`).
    #[serde(default = "default_database_mount")]
    pub database_mount: String,
    /// Seconds one request may take, connection included (default 30).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// How warrant logs in.
    pub auth: OpenBaoAuth,
    /// Sends the token in clear over plain HTTP to a non-loopback address.
    /// Anyone on the path can read it; never set this outside a lab.
    #[serde(default)]
    pub dangerous_allow_plain_http: bool,
}

/// How warrant logs in to the server. The secret half comes from the
/// caller, never from the configuration file: `{"method": "token"}` or
/// `{"method": "approle", "role_id": "...", "mount": "approle"}`, and any
/// other key (a `token` or `secret_id` pasted in) is refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawAuth")]
pub enum OpenBaoAuth {
    /// A token, supplied by the caller.
    Token,
    /// AppRole: the role id here, the secret id supplied by the caller.
    /// An expired or revoked login token is replaced by logging in again.
    AppRole {
        /// The role id (an identifier, not a secret on its own).
        role_id: String,
        /// The AppRole auth mount (default `approle`).
        mount: String,
    },
}

/// The auth table as written; serde's internally tagged enums let unknown
/// keys of a unit variant through, this does not.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    method: String,
    #[serde(default)]
    role_id: Option<String>,
    #[serde(default)]
    mount: Option<String>,
}

impl TryFrom<RawAuth> for OpenBaoAuth {
    type Error = String;
    fn try_from(raw: RawAuth) -> Result<Self, String> {
        match (raw.method.as_str(), raw.role_id, raw.mount) {
            ("token", None, None) => Ok(Self::Token),
            ("token", _, _) => Err("auth method \"token\" takes no other key".to_owned()),
            ("approle", Some(role_id), mount) => Ok(Self::AppRole {
                role_id,
                mount: mount.unwrap_or_else(default_approle_mount),
            }),
            ("approle", None, _) => Err("auth method \"approle\" needs a role_id".to_owned()),
            (other, _, _) => Err(format!(
                "unknown auth method {other:?}; expected \"token\" or \"approle\""
            )),
        }
    }
}

fn default_mount() -> String {
    "secret".to_owned()
}

fn default_field() -> String {
    "value".to_owned()
}

fn default_database_mount() -> String {
    "database".to_owned()
}

fn default_approle_mount() -> String {
    "approle".to_owned()
}

fn default_timeout_secs() -> u64 {
    30
}

/// A checked configuration: paths trimmed of slashes, address without a
/// trailing slash.
pub(crate) struct Checked {
    pub(crate) address: String,
    pub(crate) mount: String,
    pub(crate) prefix: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) field: String,
    pub(crate) database_mount: String,
    pub(crate) approle_mount: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) plain_http: bool,
}

impl OpenBaoConfig {
    pub(crate) fn check(&self) -> Result<Checked, Error> {
        let plain_http = check_address(&self.address, self.dangerous_allow_plain_http)?;
        if self.field.is_empty() {
            return Err(bad("the field name is empty"));
        }
        if self.timeout_secs == 0 {
            return Err(bad("timeout_secs must be at least 1"));
        }
        let approle_mount = match &self.auth {
            OpenBaoAuth::Token => None,
            OpenBaoAuth::AppRole { role_id, mount } => {
                if role_id.is_empty() {
                    return Err(bad("the AppRole role_id is empty"));
                }
                Some(path("auth.mount", mount)?)
            }
        };
        Ok(Checked {
            address: self.address.trim_end_matches('/').to_owned(),
            mount: path("mount", &self.mount)?,
            prefix: self
                .prefix
                .as_deref()
                .map(|p| path("prefix", p))
                .transpose()?,
            namespace: self
                .namespace
                .as_deref()
                .map(|n| path("namespace", n))
                .transpose()?,
            field: self.field.clone(),
            database_mount: path("database_mount", &self.database_mount)?,
            approle_mount,
            timeout: Duration::from_secs(self.timeout_secs),
            plain_http,
        })
    }
}

fn bad(reason: impl Into<String>) -> Error {
    Error::Config {
        reason: reason.into(),
    }
}

/// A mount, prefix or namespace: the rules of secret names (segments of
/// `A-Z a-z 0-9 . _ -`), so it goes into a URL path as it is.
pub(crate) fn path(what: &str, text: &str) -> Result<String, Error> {
    let trimmed = text.trim_matches('/');
    SecretName::new(trimmed)
        .map(|_| trimmed.to_owned())
        .map_err(|e| bad(format!("{what} {text:?}: {e}")))
}

/// Checks the address; `Ok(true)` when it is plain HTTP.
fn check_address(address: &str, dangerous_plain_http: bool) -> Result<bool, Error> {
    let url = reqwest::Url::parse(address)
        .map_err(|e| bad(format!("address {address:?} is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the user part may be a credential.
        return Err(bad("the address must not carry a user or password"));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(bad(format!(
            "address {address:?} must be scheme://host:port, without a path"
        )));
    }
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" => Ok(false),
        "http" if is_loopback(host) || dangerous_plain_http => Ok(true),
        "http" => Err(bad(format!(
            "address {address:?} is plain HTTP to a host that is not loopback: the token \
             would cross the network in clear; use https (or, in a lab, \
             dangerous_allow_plain_http = true)"
        ))),
        other => Err(bad(format!(
            "address {address:?} has scheme {other:?}; use https"
        ))),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Result<OpenBaoConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    fn with_address(address: &str, dangerous: bool) -> OpenBaoConfig {
        OpenBaoConfig {
            address: address.to_owned(),
            dangerous_allow_plain_http: dangerous,
            ..config(r#"{"address": "https://x", "auth": {"method": "token"}}"#).unwrap()
        }
    }

    #[test]
    fn defaults() {
        let c = config(r#"{"address": "https://bao.example:8200", "auth": {"method": "token"}}"#)
            .unwrap();
        assert_eq!(c.mount, "secret");
        assert_eq!(c.field, "value");
        assert_eq!(c.database_mount, "database");
        assert_eq!(c.timeout_secs, 30);
        assert_eq!(c.auth, OpenBaoAuth::Token);
        let checked = c.check().unwrap();
        assert_eq!(checked.address, "https://bao.example:8200");
        assert!(!checked.plain_http);
    }

    #[test]
    fn refuses_unknown_keys_and_a_token_in_the_file() {
        assert!(
            config(r#"{"address": "https://x", "auth": {"method": "token"}, "x": 1}"#).is_err()
        );
        assert!(
            config(r#"{"address": "https://x", "auth": {"method": "token", "token": "s.fake"}}"#)
                .is_err()
        );
        assert!(
            config(
                r#"{"address": "https://x", "auth": {"method": "approle", "role_id": "r", "secret_id": "fake"}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn plain_http_only_on_loopback_or_when_dangerous() {
        for ok in [
            "http://127.0.0.1:8200",
            "http://localhost:8200/",
            "http://[::1]:8200",
            "https://bao.example",
        ] {
            assert!(with_address(ok, false).check().is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:8200",
            "http://bao.example",
            "ftp://127.0.0.1",
            "https://user:fake-pass@bao.example",
            "https://bao.example/v1/",
            "not a url",
        ] {
            let e = with_address(bad, false).check().err().expect(bad);
            assert!(matches!(e, Error::Config { .. }), "{bad}");
            assert!(!e.to_string().contains("fake-pass"));
        }
        assert!(
            with_address("http://10.0.0.5:8200", true)
                .check()
                .unwrap()
                .plain_http
        );
    }

    #[test]
    fn paths_follow_the_name_rules() {
        let mut c = with_address("https://x", false);
        c.mount = "/team/kv/".to_owned();
        c.prefix = Some("warrant/".to_owned());
        let checked = c.check().unwrap();
        assert_eq!(checked.mount, "team/kv");
        assert_eq!(checked.prefix.as_deref(), Some("warrant"));
        for bad in ["a b", "../x", "a//b", "", "a?b"] {
            c.mount = bad.to_owned();
            assert!(matches!(c.check(), Err(Error::Config { .. })), "{bad}");
        }
    }
}
