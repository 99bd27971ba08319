//! The HTTP client: one blocking request at a time, the token in a
//! sensitive header, bodies in buffers wiped on drop, errors that name the
//! address and the path but never a value or a token.

use std::io::Read as _;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::blocking::{Body, Client as Http};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

use super::config::{Checked, OpenBaoConfig};
use super::tls::{find_rustls, tls_config};
use crate::Error;

/// Largest reply read, in bytes: a server answering more is not a KV store.
const MAX_REPLY: u64 = 16 << 20;
/// A login token this close to its end is replaced before use.
const RENEW_MARGIN: Duration = Duration::from_secs(10);

/// Bytes wiped when dropped: request and reply bodies that may hold values.
pub(crate) struct Wiped(pub(crate) Vec<u8>);

impl AsRef<[u8]> for Wiped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Wiped {
    /// `value` as JSON, in a buffer wiped on drop.
    pub(crate) fn json(value: &impl serde::Serialize) -> Self {
        let mut buf = Wiped(Vec::with_capacity(256));
        serde_json::to_writer(&mut buf.0, value).expect("JSON of plain data never fails");
        buf
    }

    /// Parses the body; the error names what was expected, never the body.
    pub(crate) fn parse<'a, T: Deserialize<'a>>(&'a self, what: &str) -> Result<T, String> {
        serde_json::from_slice(&self.0).map_err(|e| {
            // serde_json's message can quote a piece of the input: keep only
            // where it failed.
            format!(
                "unexpected {what} (line {}, column {})",
                e.line(),
                e.column()
            )
        })
    }
}

/// What a call is, for the request and for its error messages.
pub(crate) struct Call<'a> {
    pub(crate) method: reqwest::Method,
    /// After `/v1/`, without a query: `secret/data/app/db`.
    pub(crate) path: String,
    pub(crate) query: &'static str,
    pub(crate) version: Option<u64>,
    /// The policy capability the call needs (for a permission error).
    pub(crate) capability: &'static str,
    pub(crate) body: Option<Wiped>,
    pub(crate) merge_patch: bool,
    /// Whether the request carries a value: the server's error messages
    /// are then withheld from errors.
    pub(crate) carries_value: bool,
    /// Another token than the store's (a child token); no re-login on 403.
    pub(crate) token: Option<&'a SecretString>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: reqwest::Method, path: String, capability: &'static str) -> Self {
        Self {
            method,
            path,
            query: "",
            version: None,
            capability,
            body: None,
            merge_patch: false,
            carries_value: false,
            token: None,
        }
    }
}

/// A 2xx, 400 or 404 reply; other statuses are errors already.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Wiped,
}

impl Reply {
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The server's `errors`, joined (they describe requests, not values).
    pub(crate) fn errors(&self) -> String {
        server_errors(&self.body)
    }
}

enum Login {
    Token,
    AppRole {
        mount: String,
        role_id: String,
        secret_id: SecretString,
    },
}

struct Session {
    token: Option<SecretString>,
    /// When the login token ends (AppRole), if it does.
    ends: Option<Instant>,
}

/// The client of one server.
pub(crate) struct Client {
    http: Http,
    pub(crate) address: String,
    namespace: Option<HeaderValue>,
    login: Login,
    session: Mutex<Session>,
}

impl Client {
    pub(crate) fn new(
        config: &OpenBaoConfig,
        checked: &Checked,
        credential: SecretString,
    ) -> Result<Self, Error> {
        let tls = tls_config(config)?;
        let http = Http::builder()
            .tls_backend_preconfigured(tls)
            .https_only(!checked.plain_http)
            .redirect(reqwest::redirect::Policy::none())
            // The token must go to the configured server and nowhere else.
            .no_proxy()
            .timeout(checked.timeout)
            .connect_timeout(checked.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| Error::Config {
                reason: format!("cannot set up HTTP: {}", innermost(&e)),
            })?;
        let namespace = match &checked.namespace {
            Some(ns) => Some(HeaderValue::from_str(ns).map_err(|_| Error::Config {
                reason: format!("namespace {ns:?} is not a valid header value"),
            })?),
            None => None,
        };
        let (login, token) = match (&config.auth, &checked.approle_mount) {
            (super::OpenBaoAuth::AppRole { role_id, .. }, Some(mount)) => (
                Login::AppRole {
                    mount: mount.clone(),
                    role_id: role_id.clone(),
                    secret_id: credential,
                },
                None,
            ),
            _ => (Login::Token, Some(credential)),
        };
        Ok(Self {
            http,
            address: checked.address.clone(),
            namespace,
            login,
            session: Mutex::new(Session { token, ends: None }),
        })
    }

    /// Sends `call`: `Ok` for 2xx, 400 and 404; an error for the rest.
    /// With AppRole, a 403 is answered by logging in again, once.
    pub(crate) fn send(&self, call: &Call<'_>) -> Result<Reply, Error> {
        let token = match call.token {
            Some(token) => token.clone(),
            None => self.token(false)?,
        };
        let reply = self.attempt(call, Some(&token))?;
        if reply.status == 403
            && call.token.is_none()
            && matches!(self.login, Login::AppRole { .. })
        {
            let token = self.token(true)?;
            let again = self.attempt(call, Some(&token))?;
            return self.classify(call, again);
        }
        self.classify(call, reply)
    }

    fn classify(&self, call: &Call<'_>, reply: Reply) -> Result<Reply, Error> {
        match reply.status {
            200..=299 | 400 | 404 => Ok(reply),
            403 => Err(Error::PermissionDenied {
                address: self.address.clone(),
                path: call.path.clone(),
                capability: call.capability,
            }),
            503 if reply.errors().contains("sealed") => Err(Error::Sealed {
                address: self.address.clone(),
            }),
            status => Err(self.server_error(call, &reply, status)),
        }
    }

    pub(crate) fn server_error(&self, call: &Call<'_>, reply: &Reply, status: u16) -> Error {
        let message = if call.carries_value {
            "the server's message is withheld: the request carried a value".to_owned()
        } else {
            reply.errors()
        };
        Error::Server {
            address: self.address.clone(),
            path: call.path.clone(),
            status,
            message,
        }
    }

    /// A malformed reply to `call`.
    pub(crate) fn bad_reply(&self, call: &Call<'_>, status: u16, reason: String) -> Error {
        Error::Server {
            address: self.address.clone(),
            path: call.path.clone(),
            status,
            message: reason,
        }
    }

    fn attempt(&self, call: &Call<'_>, token: Option<&SecretString>) -> Result<Reply, Error> {
        let mut url = format!("{}/v1/{}{}", self.address, call.path, call.query);
        if let Some(version) = call.version {
            url.push_str(&format!("?version={version}"));
        }
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header("X-Vault-Request", "true");
        if let Some(token) = token {
            let mut value =
                HeaderValue::from_str(token.expose_secret()).map_err(|_| Error::Config {
                    reason: "the token is not a valid header value".to_owned(),
                })?;
            value.set_sensitive(true);
            request = request.header("X-Vault-Token", value);
        }
        if let Some(ns) = &self.namespace {
            request = request.header("X-Vault-Namespace", ns.clone());
        }
        if let Some(body) = &call.body {
            let kind = if call.merge_patch {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            // The copy handed to reqwest is wiped when reqwest drops it.
            let bytes = bytes::Bytes::from_owner(Wiped(body.0.clone()));
            request = request.header(CONTENT_TYPE, kind).body(Body::from(bytes));
        }
        let mut response = request.send().map_err(|e| self.transport(&e))?;
        let status = response.status().as_u16();
        let mut body = Wiped(Vec::new());
        (&mut response)
            .take(MAX_REPLY)
            .read_to_end(&mut body.0)
            .map_err(|e| Error::Network {
                address: self.address.clone(),
                reason: format!("reading the reply: {}", innermost(&e)),
            })?;
        Ok(Reply { status, body })
    }

    /// The store's token, logging in (AppRole) when there is none, it is
    /// about to end, or `fresh` asks for a new one.
    fn token(&self, fresh: bool) -> Result<SecretString, Error> {
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let Login::AppRole {
            mount,
            role_id,
            secret_id,
        } = &self.login
        else {
            return Ok(session
                .token
                .clone()
                .expect("token auth always has a token"));
        };
        let ending = session
            .ends
            .is_some_and(|ends| Instant::now() + RENEW_MARGIN >= ends);
        if let (Some(token), false, false) = (&session.token, fresh, ending) {
            return Ok(token.clone());
        }
        #[derive(serde::Serialize)]
        struct Body<'a> {
            role_id: &'a str,
            secret_id: &'a str,
        }
        let mut call = Call::new(
            reqwest::Method::POST,
            format!("auth/{mount}/login"),
            "update",
        );
        call.body = Some(Wiped::json(&Body {
            role_id,
            secret_id: secret_id.expose_secret(),
        }));
        call.carries_value = true;
        let reply = self.attempt(&call, None)?;
        if reply.status == 503 && reply.errors().contains("sealed") {
            return Err(Error::Sealed {
                address: self.address.clone(),
            });
        }
        if !(200..300).contains(&reply.status) {
            return Err(Error::Login {
                address: self.address.clone(),
                method: "approle".to_owned(),
                reason: format!("{} {}", reply.status, reply.errors()),
            });
        }
        let auth: LoginReply = reply
            .body
            .parse("login reply")
            .map_err(|reason| self.bad_reply(&call, reply.status, reason))?;
        let mut text = auth.auth.client_token;
        let token = SecretString::from(text.as_str());
        text.zeroize();
        session.token = Some(token.clone());
        session.ends = (auth.auth.lease_duration > 0)
            .then(|| Instant::now() + Duration::from_secs(auth.auth.lease_duration));
        Ok(token)
    }

    /// A transport failure: TLS when rustls says so, else the network.
    fn transport(&self, error: &reqwest::Error) -> Error {
        match find_rustls(error) {
            Some(tls) => Error::Tls {
                address: self.address.clone(),
                reason: tls.to_string(),
            },
            None => Error::Network {
                address: self.address.clone(),
                reason: innermost(error),
            },
        }
    }
}

#[derive(Deserialize)]
struct LoginReply {
    auth: LoginAuth,
}

#[derive(Deserialize)]
struct LoginAuth {
    // Moved straight into a SecretString.
    client_token: String,
    #[serde(default)]
    lease_duration: u64,
}

/// The innermost cause's message (reqwest's outer ones name the URL).
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// `{"errors": [...]}` joined, cut to a readable length.
fn server_errors(body: &Wiped) -> String {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    let text = match body.parse::<Errors>("error reply") {
        Ok(errors) if !errors.errors.is_empty() => errors
            .errors
            .iter()
            .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("; "),
        _ => "no error message".to_owned(),
    };
    text.chars().take(300).collect()
}

/// Parses the reply of a call that must succeed: 2xx, or the error.
pub(crate) fn expect_ok<T: DeserializeOwned>(
    client: &Client,
    call: &Call<'_>,
    reply: &Reply,
    what: &str,
) -> Result<T, Error> {
    if !reply.ok() {
        return Err(client.server_error(call, reply, reply.status));
    }
    reply
        .body
        .parse(what)
        .map_err(|reason| client.bad_reply(call, reply.status, reason))
}
