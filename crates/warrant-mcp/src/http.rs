//! `http_request`: an HTTP call in which warrant puts the values in on the
//! way out, only toward hosts each secret may reach, and takes them out of
//! the answer on the way back. The call goes through the daemon's egress
//! (a proxy that runs in `warrant serve`): this process, which the agent's
//! client starts in the agent's environment, holds only placeholders, and
//! the daemon resolves, connects and checks certificates itself.

use std::collections::BTreeMap;
use std::time::Duration;

use rmcp::schemars;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

use warrant_broker::protocol::{EgressReply, EgressRequest, ErrorBody, ErrorCode};
use warrant_broker::{Client, EgressSession};

use crate::Config;

/// Body kept from a response; the rest is dropped.
pub const BODY_CAP: usize = 256 * 1024;
/// The whole request, connection to last byte.
const TIMEOUT: Duration = Duration::from_secs(30);

const OPEN: &str = "{{secret:";
const CLOSE: &str = "}}";

/// `http_request`'s arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct HttpArgs {
    /// The grant whose secrets the placeholders name (it must be active).
    pub grant_id: String,
    /// GET, POST, PUT, PATCH, DELETE, HEAD.
    pub method: String,
    /// The URL; {{secret:NAME}} may appear in its query.
    pub url: String,
    /// Request headers; values may hold {{secret:NAME}}, e.g. {"Authorization": "Bearer {{secret:github/token}}"}.
    pub headers: Option<BTreeMap<String, String>>,
    /// Request body; may hold {{secret:NAME}}.
    pub body: Option<String>,
}

fn refuse(
    code: ErrorCode,
    message: impl Into<String>,
    hint: Option<&str>,
) -> warrant_broker::Error {
    warrant_broker::Error::Daemon(ErrorBody::new(code, message, hint.map(str::to_owned)))
}

/// The secret names of the placeholders in `text`, in order of appearance.
pub fn placeholders(text: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find(CLOSE)
            .ok_or_else(|| "a {{secret:NAME}} placeholder is not closed".to_owned())?;
        let name = &after[..end];
        warrant_secret::SecretName::new(name)
            .map_err(|e| format!("placeholder {{{{secret:{name}}}}}: {e}"))?;
        names.push(name.to_owned());
        rest = &after[end + CLOSE.len()..];
    }
    Ok(names)
}

/// `text` with each `{{secret:NAME}}` replaced by the egress's placeholder
/// for NAME (placeholders are URL-safe: no encoding needed anywhere).
fn fill(text: &str, placeholders: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after.find(CLOSE).unwrap_or(after.len());
        let name = &after[..end];
        match placeholders.get(name) {
            Some(placeholder) => out.push_str(placeholder),
            None => out.push_str(&rest[start..start + OPEN.len() + end + CLOSE.len()]),
        }
        rest = after.get(end + CLOSE.len()..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// One grant's session of the daemon's egress, kept while the grant lasts.
struct Session {
    reply: EgressReply,
    client: reqwest::Client,
    /// Held open: dropping it ends the session.
    _session: std::sync::Mutex<EgressSession>,
}

/// The egress sessions of this MCP session, by grant.
#[derive(Default)]
pub struct Sessions(tokio::sync::Mutex<BTreeMap<String, Arc<Session>>>);

impl Sessions {
    async fn get(
        &self,
        config: &Config,
        grant: &str,
    ) -> Result<Arc<Session>, warrant_broker::Error> {
        let mut open = self.0.lock().await;
        if let Some(session) = open.get(grant) {
            return Ok(Arc::clone(session));
        }
        let session = Arc::new(Session::open(config, grant).await?);
        open.insert(grant.to_owned(), Arc::clone(&session));
        Ok(session)
    }

    async fn forget(&self, grant: &str) {
        self.0.lock().await.remove(grant);
    }
}

impl Session {
    /// Asks the daemon for a proxy serving every secret of the grant that
    /// may go somewhere. Placeholders in bodies are substituted too.
    async fn open(config: &Config, grant: &str) -> Result<Self, warrant_broker::Error> {
        let (home, id) = (config.home.clone(), grant.to_owned());
        let (reply, session) = tokio::task::spawn_blocking(move || {
            let view = Client::connect(&home)?.show(&id)?;
            let secrets: Vec<String> = view
                .secrets
                .iter()
                .filter(|name| view.secret_hosts.get(*name).is_some_and(|h| !h.is_empty()))
                .cloned()
                .collect();
            if secrets.is_empty() {
                return Err(refuse(
                    ErrorCode::OutOfScope,
                    format!("grant {id} lets none of its secrets go to any host"),
                    Some("its policy rule lists no hosts (hosts = [...])"),
                ));
            }
            Client::connect(&home)?.egress(EgressRequest {
                grant: id,
                secrets,
                passthrough: false,
                substitute_in_body: true,
            })
        })
        .await
        .map_err(|e| refuse(ErrorCode::Internal, e.to_string(), None))??;
        let client = egress_client(&reply).map_err(|e| refuse(ErrorCode::Internal, e, None))?;
        Ok(Self {
            reply,
            client,
            _session: std::sync::Mutex::new(session),
        })
    }
}

/// A client that goes only through the egress and trusts only its CA (the
/// egress checks the upstream's certificate), never follows redirects,
/// and ignores this process's proxy settings.
fn egress_client(reply: &EgressReply) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(reply.ca_pem.as_bytes())
        .map_err(|e| format!("warrant's CA: {e}"))?;
    // The URL holds the session's access secret: not in any message.
    let proxy = reqwest::Proxy::all(&reply.proxy)
        .map_err(|_| "the daemon's egress gave an unusable proxy address".to_owned())?;
    reqwest::Client::builder()
        .proxy(proxy)
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))
}

/// Sends the request through the daemon's egress, which puts the values in
/// toward each secret's hosts, refuses (and records) anything else, and
/// redacts the answer; the result is `{status, headers, body, truncated}`.
/// This process never holds a value.
pub async fn request(
    config: &Config,
    sessions: &Sessions,
    args: HttpArgs,
) -> Result<Value, warrant_broker::Error> {
    let method =
        reqwest::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            refuse(
                ErrorCode::BadRequest,
                format!("unknown method {:?}", args.method),
                None,
            )
        })?;
    let url = reqwest::Url::parse(&args.url).map_err(|e| {
        refuse(
            ErrorCode::BadRequest,
            format!("cannot read the URL: {e}"),
            None,
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse(
            ErrorCode::BadRequest,
            "only http and https URLs",
            None,
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| refuse(ErrorCode::BadRequest, "the URL has no host", None))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    // A placeholder may only ride in the query: in the host, the path or
    // the user part it would choose where a value goes, or leak in logs.
    let before_query = &args.url[..args.url.find('?').unwrap_or(args.url.len())];
    if before_query.contains(OPEN) {
        return Err(refuse(
            ErrorCode::BadRequest,
            "a {{secret:NAME}} placeholder may stand in the query, a header value or the body, not in the scheme, host or path",
            None,
        ));
    }
    let headers = args.headers.unwrap_or_default();
    let body = args.body.unwrap_or_default();
    let mut names = placeholders(&args.url).map_err(|e| refuse(ErrorCode::BadRequest, e, None))?;
    for value in headers.values() {
        names.extend(placeholders(value).map_err(|e| refuse(ErrorCode::BadRequest, e, None))?);
    }
    for name in headers.keys() {
        // The host a value may go to is the URL's; a Host header naming
        // another (a CDN fronting several tenants routes by it) is refused.
        if name.eq_ignore_ascii_case("host") {
            return Err(refuse(
                ErrorCode::BadRequest,
                "the Host header is set from the URL; remove it",
                None,
            ));
        }
        if name.contains(OPEN) {
            return Err(refuse(
                ErrorCode::BadRequest,
                "placeholders go in header values, not names",
                None,
            ));
        }
    }
    names.extend(placeholders(&body).map_err(|e| refuse(ErrorCode::BadRequest, e, None))?);
    names.sort();
    names.dedup();

    let session = sessions.get(config, &args.grant_id).await?;
    let by_name: BTreeMap<String, String> = session.reply.placeholders.iter().cloned().collect();
    if let Some(missing) = names.iter().find(|n| !by_name.contains_key(*n)) {
        return Err(refuse(
            ErrorCode::OutOfScope,
            format!(
                "grant {} does not let {missing} go to any host",
                args.grant_id
            ),
            Some("ask for a grant that covers it (request_access)"),
        ));
    }
    let url = reqwest::Url::parse(&fill(&args.url, &by_name)).map_err(|e| {
        refuse(
            ErrorCode::BadRequest,
            format!("the URL with placeholders in it: {e}"),
            None,
        )
    })?;
    let mut builder = session.client.request(method, url);
    for (name, value) in &headers {
        let header =
            reqwest::header::HeaderValue::from_str(&fill(value, &by_name)).map_err(|_| {
                refuse(
                    ErrorCode::BadRequest,
                    format!("header {name} is not a valid header value"),
                    None,
                )
            })?;
        builder = builder.header(name.as_str(), header);
    }
    if !body.is_empty() {
        builder = builder.body(fill(&body, &by_name));
    }
    let sent = builder.send().await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => {
            // The egress stops with its grant: the next call opens a new
            // session (and learns why the grant cannot be used).
            sessions.forget(&args.grant_id).await;
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not reach the egress (has the grant ended?)"
            } else {
                "failed"
            };
            return Err(refuse(
                ErrorCode::HttpError,
                format!("the request to {host} {kind}"),
                None,
            ));
        }
    };

    let status = response.status().as_u16();
    let refused_here = response.headers().contains_key(warrant_proxy::OWN_ANSWER);
    let mut out_headers = serde_json::Map::new();
    for (name, value) in response.headers() {
        out_headers.insert(
            name.to_string(),
            json!(String::from_utf8_lossy(value.as_bytes())),
        );
    }
    let mut kept = Vec::new();
    let mut truncated = false;
    loop {
        let chunk = tokio::time::timeout(TIMEOUT, response.chunk())
            .await
            .map_err(|_| {
                refuse(
                    ErrorCode::HttpError,
                    format!("the response from {host} timed out"),
                    None,
                )
            })?
            .map_err(|_| {
                refuse(
                    ErrorCode::HttpError,
                    format!("the response from {host} broke off"),
                    None,
                )
            })?;
        let Some(chunk) = chunk else { break };
        if kept.len() + chunk.len() > BODY_CAP {
            kept.extend_from_slice(&chunk[..BODY_CAP - kept.len()]);
            truncated = true;
            break;
        }
        kept.extend_from_slice(&chunk);
    }
    let mut body = String::from_utf8_lossy(&kept).into_owned();
    if refused_here {
        // warrant's own answer, not the server's: a refusal or a failure.
        let code = match status {
            403 => ErrorCode::Forbidden,
            400 => ErrorCode::BadRequest,
            _ => ErrorCode::HttpError,
        };
        let message = body
            .trim()
            .trim_start_matches("warrant proxy:")
            .trim()
            .to_owned();
        return Err(refuse(code, message, None));
    }
    if truncated {
        body.push_str(&format!(
            "\n[warrant: body truncated at {} KiB]",
            BODY_CAP / 1024
        ));
    }
    Ok(json!({
        "status": status,
        "headers": out_headers,
        "body": body,
        "truncated": truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_checked() {
        assert_eq!(
            placeholders("a {{secret:db/dev/url}} b {{secret:api/token}}").unwrap(),
            ["db/dev/url", "api/token"]
        );
        assert!(placeholders("{{secret:db/dev/url").is_err());
        assert!(placeholders("{{secret:../etc}}").is_err());
        assert!(placeholders("no placeholders").unwrap().is_empty());
    }

    #[test]
    fn filling_puts_the_placeholder_of_each_known_name() {
        let mut placeholders = BTreeMap::new();
        placeholders.insert("t".to_owned(), "wph_abc".to_owned());
        assert_eq!(fill("q={{secret:t}}&x=1", &placeholders), "q=wph_abc&x=1");
        assert_eq!(fill("Bearer {{secret:t}}", &placeholders), "Bearer wph_abc");
        assert_eq!(fill("{{secret:other}}", &placeholders), "{{secret:other}}");
    }
}
