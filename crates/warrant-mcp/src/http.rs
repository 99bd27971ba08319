//! `http_request`: an HTTP call in which warrant puts the values in on the
//! way out, only toward hosts each secret may reach, and takes them out of
//! the answer on the way back. No process of the agent's holds a value.

use std::collections::BTreeMap;
use std::time::Duration;

use rmcp::schemars;
use serde::Deserialize;
use serde_json::{Value, json};
use warrant_broker::Client;
use warrant_broker::protocol::{ErrorBody, ErrorCode, SubstituteRequest};
use warrant_redact::RedactorBuilder;
use zeroize::Zeroizing;

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

/// `text` with each placeholder replaced by `encode(value)`.
fn fill(
    text: &str,
    values: &BTreeMap<String, Zeroizing<Vec<u8>>>,
    encode: impl Fn(&[u8]) -> String,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after.find(CLOSE).unwrap_or(after.len());
        let name = &after[..end];
        match values.get(name) {
            Some(value) => out.push_str(&encode(value)),
            None => out.push_str(&rest[start..start + OPEN.len() + end + CLOSE.len()]),
        }
        rest = after.get(end + CLOSE.len()..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Percent-encodes for a URL query (RFC 3986 unreserved kept).
fn query_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends the request; the result is `{status, headers, body, truncated}`.
pub async fn request(config: &Config, args: HttpArgs) -> Result<Value, warrant_broker::Error> {
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

    // The daemon checks each secret may go to this host, counts the use and
    // audits it (or audits the attempt) before any value leaves it.
    let request = SubstituteRequest {
        grant: args.grant_id.clone(),
        secrets: names,
        host: host.clone(),
        method: method.to_string(),
    };
    let home = config.home.clone();
    let (reply, values) =
        tokio::task::spawn_blocking(move || Client::connect(&home)?.substitute(request))
            .await
            .map_err(|e| refuse(ErrorCode::Internal, e.to_string(), None))??;
    let mut by_name = BTreeMap::new();
    let mut redactor = RedactorBuilder::new();
    for (name, value) in reply.names.iter().zip(values) {
        redactor.add(name, value.expose_secret());
        by_name.insert(name.clone(), Zeroizing::new(value.expose_secret().to_vec()));
    }
    let redactor = redactor.build().map_err(|e| {
        refuse(
            ErrorCode::Internal,
            format!("cannot set up redaction: {e}"),
            None,
        )
    })?;

    let url = fill(&args.url, &by_name, query_encode);
    let url = reqwest::Url::parse(&url).map_err(|e| {
        refuse(
            ErrorCode::BadRequest,
            format!("the URL with values in it: {e}"),
            None,
        )
    })?;
    let client = http_client().map_err(|e| refuse(ErrorCode::Internal, e, None))?;
    let mut builder = client.request(method, url);
    for (name, value) in &headers {
        let filled = fill(value, &by_name, |v| String::from_utf8_lossy(v).into_owned());
        let header = reqwest::header::HeaderValue::from_str(&filled).map_err(|_| {
            refuse(
                ErrorCode::BadRequest,
                format!("header {name} is not a valid header value"),
                None,
            )
        })?;
        builder = builder.header(name.as_str(), header);
    }
    if !body.is_empty() {
        let filled = fill(&body, &by_name, |v| String::from_utf8_lossy(v).into_owned());
        builder = builder.body(filled.as_bytes().to_vec());
    }
    drop(by_name);
    let mut response = builder.send().await.map_err(|e| {
        // reqwest's error names the URL, which may hold a value: keep only the kind.
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        refuse(
            ErrorCode::HttpError,
            format!("the request to {host} {kind}"),
            None,
        )
    })?;

    let status = response.status().as_u16();
    let mut stream = redactor.stream();
    let mut out_headers = serde_json::Map::new();
    for (name, value) in response.headers() {
        let mut redacted = Vec::new();
        let mut one = redactor.stream();
        one.push(value.as_bytes(), &mut redacted);
        one.finish(&mut redacted);
        out_headers.insert(name.to_string(), json!(String::from_utf8_lossy(&redacted)));
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
        if kept.len() >= BODY_CAP {
            truncated = true;
            break;
        }
        stream.push(&chunk, &mut kept);
    }
    stream.finish(&mut kept);
    if kept.len() > BODY_CAP {
        kept.truncate(BODY_CAP);
        truncated = true;
    }
    let mut body = String::from_utf8_lossy(&kept).into_owned();
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
        "grant_use": reply.use_number,
    }))
}

/// One client: rustls with the ring provider, the system's roots, no
/// redirects (a redirect to another host would carry the values there).
fn http_client() -> Result<reqwest::Client, String> {
    static CLIENT: std::sync::OnceLock<Result<reqwest::Client, String>> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .build()
                .map_err(|e| format!("cannot set up HTTP: {e}"))
        })
        .clone()
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
    fn filling_encodes_for_the_place() {
        let mut values = BTreeMap::new();
        values.insert("t".to_owned(), Zeroizing::new(b"a b&c".to_vec()));
        assert_eq!(
            &*fill("q={{secret:t}}&x=1", &values, query_encode),
            "q=a%20b%26c&x=1"
        );
        assert_eq!(
            &*fill("Bearer {{secret:t}}", &values, |v| String::from_utf8_lossy(
                v
            )
            .into_owned()),
            "Bearer a b&c"
        );
        assert_eq!(
            &*fill("{{secret:other}}", &values, query_encode),
            "{{secret:other}}"
        );
    }
}
