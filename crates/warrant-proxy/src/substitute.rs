//! Finding placeholders in a request (header values, `Basic` credentials,
//! path and query, body) and putting values in their place.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use http::uri::PathAndQuery;
use warrant_secret::SecretValue;
use zeroize::Zeroizing;

use warrant_policy::{InjectInto, Injection};

use crate::target::{Target, endpoint_allowed, pattern_admits, valid_pattern};
use crate::{Error, ProxiedSecret};

/// Placeholders shorter than this could turn up by chance.
const MIN_PLACEHOLDER_LEN: usize = 8;

/// The secrets, and a matcher over their placeholders (pattern ID = index).
pub(crate) struct Placeholders {
    secrets: Vec<ProxiedSecret>,
    matcher: Option<AhoCorasick>,
    longest: usize,
}

impl Placeholders {
    pub(crate) fn new(secrets: Vec<ProxiedSecret>) -> Result<Self, Error> {
        for (i, secret) in secrets.iter().enumerate() {
            let p = &secret.placeholder;
            if p.len() < MIN_PLACEHOLDER_LEN || !p.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::Config(format!(
                    "the placeholder of {} must be at least {MIN_PLACEHOLDER_LEN} printable ASCII characters",
                    secret.name
                )));
            }
            if let Some(other) = secrets[..i]
                .iter()
                .find(|o| o.placeholder.contains(p.as_str()) || p.contains(o.placeholder.as_str()))
            {
                return Err(Error::Config(format!(
                    "the placeholders of {} and {} overlap",
                    other.name, secret.name
                )));
            }
            if secret.hosts.is_empty() {
                return Err(Error::Config(format!(
                    "{} has no host to be sent to",
                    secret.name
                )));
            }
            let inject_hosts = secret.inject.iter().map(|i| &i.host);
            if let Some(bad) = secret
                .hosts
                .iter()
                .chain(inject_hosts)
                .find(|h| !valid_pattern(h))
            {
                return Err(Error::Config(format!(
                    "invalid host {bad:?} for {}; use a host name like \"api.github.com\", \
                     \"*.example.com\" or an IP address, with an optional :port (no scheme or path)",
                    secret.name
                )));
            }
        }
        let matcher = if secrets.is_empty() {
            None
        } else {
            let patterns = secrets.iter().map(|s| s.placeholder.as_bytes());
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(patterns)
                    .map_err(|e| Error::Config(e.to_string()))?,
            )
        };
        let longest = secrets
            .iter()
            .map(|s| s.placeholder.len())
            .max()
            .unwrap_or(0);
        Ok(Self {
            secrets,
            matcher,
            longest,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.secrets.len()
    }

    pub(crate) fn secret(&self, index: usize) -> &ProxiedSecret {
        &self.secrets[index]
    }

    /// The longest placeholder, in bytes.
    pub(crate) fn longest(&self) -> usize {
        self.longest
    }

    /// Whether any secret may be sent to `target`: then its tunnels are intercepted.
    pub(crate) fn any_allows(&self, target: &Target) -> bool {
        self.secrets.iter().any(|s| endpoint_allowed(s, target))
    }

    /// The injections that apply to a request to `target`, by secret index.
    pub(crate) fn injections(&self, target: &Target) -> Vec<(usize, &Injection)> {
        let mut out = Vec::new();
        for (i, secret) in self.secrets.iter().enumerate() {
            for injection in &secret.inject {
                if pattern_admits(
                    std::slice::from_ref(&injection.host),
                    secret.allow_http,
                    target,
                ) {
                    out.push((i, injection));
                }
            }
        }
        out
    }

    /// `(secret index, start, end)` of every placeholder in `haystack`.
    pub(crate) fn find<'a>(
        &'a self,
        haystack: &'a [u8],
    ) -> impl Iterator<Item = (usize, usize, usize)> + 'a {
        self.matcher
            .iter()
            .flat_map(move |m| m.find_iter(haystack))
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
    }

    /// Marks in `seen` the secrets whose placeholders `haystack` holds.
    pub(crate) fn scan(&self, haystack: &[u8], seen: &mut [bool]) {
        for (i, _, _) in self.find(haystack) {
            seen[i] = true;
        }
    }

    /// Marks the secrets whose placeholders are in the URL or a header
    /// (also inside `Basic` credentials).
    pub(crate) fn scan_head(&self, parts: &http::request::Parts, seen: &mut [bool]) {
        self.scan_url(parts, seen);
        self.scan_headers(parts, seen);
    }

    /// Marks the secrets whose placeholders are in the path or query.
    pub(crate) fn scan_url(&self, parts: &http::request::Parts, seen: &mut [bool]) {
        if let Some(pq) = parts.uri.path_and_query() {
            self.scan(pq.as_str().as_bytes(), seen);
        }
    }

    /// Marks the secrets whose placeholders are in a header (also inside
    /// `Basic` credentials).
    pub(crate) fn scan_headers(&self, parts: &http::request::Parts, seen: &mut [bool]) {
        for (name, value) in &parts.headers {
            self.scan(value.as_bytes(), seen);
            if name == AUTHORIZATION
                && let Some(decoded) = basic_credentials(value)
            {
                self.scan(&decoded, seen);
            }
        }
    }
}

/// The decoded credentials of an `Authorization: Basic ...` value.
fn basic_credentials(value: &HeaderValue) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = value.as_bytes();
    let (scheme, rest) = bytes.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let rest = rest.trim_ascii();
    base64::engine::general_purpose::STANDARD
        .decode(rest)
        .ok()
        .map(Zeroizing::new)
}

/// Bytes that may hold a value, wiped when hyper drops the last reference.
pub(crate) fn wiped_bytes(buf: Zeroizing<Vec<u8>>) -> Bytes {
    Bytes::from_owner(buf)
}

/// The values of one request, by secret index, and where each may go.
pub(crate) struct Substitution<'a> {
    placeholders: &'a Placeholders,
    values: Vec<Option<SecretValue>>,
}

impl<'a> Substitution<'a> {
    /// `values[k]` is the value of secret `wanted[k]`.
    pub(crate) fn new(
        placeholders: &'a Placeholders,
        wanted: &[usize],
        values: Vec<SecretValue>,
    ) -> Self {
        let mut by_index: Vec<Option<SecretValue>> =
            (0..placeholders.len()).map(|_| None).collect();
        for (&i, value) in wanted.iter().zip(values) {
            by_index[i] = Some(value);
        }
        Self {
            placeholders,
            values: by_index,
        }
    }

    /// Every value with its secret's name.
    pub(crate) fn named_values(&self) -> impl Iterator<Item = (&str, &SecretValue)> {
        self.values.iter().enumerate().filter_map(|(i, v)| {
            v.as_ref()
                .map(|v| (self.placeholders.secret(i).name.as_str(), v))
        })
    }

    /// `input` with every placeholder that has a value replaced by
    /// `encode(value)`; `None` when nothing was replaced. In a URL or a
    /// body, only secrets allowed there are replaced.
    fn replace(
        &self,
        input: &[u8],
        place: Place,
        encode: fn(&[u8], &mut Vec<u8>),
    ) -> Option<Zeroizing<Vec<u8>>> {
        let mut out: Option<Zeroizing<Vec<u8>>> = None;
        let mut copied = 0;
        for (i, start, end) in self.placeholders.find(input) {
            let Some(value) = &self.values[i] else {
                continue;
            };
            let secret = self.placeholders.secret(i);
            let allowed = match place {
                Place::Header => true,
                Place::Url => secret.query,
                Place::Body => secret.body,
            };
            if !allowed {
                continue;
            }
            let buf =
                out.get_or_insert_with(|| Zeroizing::new(Vec::with_capacity(input.len() + 64)));
            buf.extend_from_slice(&input[copied..start]);
            encode(value.expose_secret(), buf);
            copied = end;
        }
        let mut buf = out?;
        buf.extend_from_slice(&input[copied..]);
        Some(buf)
    }

    /// Substitutes in every header value (and inside `Basic` credentials).
    /// The error names the header, never the value.
    pub(crate) fn headers(&self, headers: &mut HeaderMap) -> Result<(), String> {
        for (name, value) in headers.iter_mut() {
            let replaced = if name == AUTHORIZATION
                && let Some(decoded) = basic_credentials(value)
            {
                self.replace(&decoded, Place::Header, raw)
                    .map(|credentials| {
                        let engine = base64::engine::general_purpose::STANDARD;
                        let mut buf =
                            Zeroizing::new(vec![0; 6 + credentials.len().div_ceil(3) * 4]);
                        buf[..6].copy_from_slice(b"Basic ");
                        let n = engine
                            .encode_slice(&*credentials, &mut buf[6..])
                            .expect("sized for the encoding");
                        buf.truncate(6 + n);
                        buf
                    })
            } else {
                self.replace(value.as_bytes(), Place::Header, raw)
            };
            if let Some(buf) = replaced {
                let mut new = HeaderValue::from_maybe_shared(wiped_bytes(buf))
                    .map_err(|_| format!("a value cannot be sent in the {name} header"))?;
                new.set_sensitive(true);
                *value = new;
            }
        }
        Ok(())
    }

    /// The path and query with values percent-encoded in place, if any.
    pub(crate) fn path_and_query(&self, pq: &PathAndQuery) -> Result<Option<PathAndQuery>, String> {
        match self.replace(pq.as_str().as_bytes(), Place::Url, percent_encode) {
            None => Ok(None),
            Some(buf) => PathAndQuery::from_maybe_shared(wiped_bytes(buf))
                .map(Some)
                .map_err(|_| "a value cannot be sent in the URL".to_owned()),
        }
    }

    /// The body with values in place, if any.
    pub(crate) fn body(&self, body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.replace(body, Place::Body, raw)
    }

    /// Adds the declared injections (secret index, injection) to a
    /// request's head, replacing what the request had in their place. The
    /// error names the header or parameter, never the value.
    pub(crate) fn inject(
        &self,
        parts: &mut http::request::Parts,
        injections: &[(usize, &Injection)],
    ) -> Result<(), String> {
        for &(i, injection) in injections {
            let Some(value) = &self.values[i] else {
                continue;
            };
            let value = value.expose_secret();
            let (before, after) = injection.into.around_value();
            let mut text =
                Zeroizing::new(Vec::with_capacity(before.len() + value.len() + after.len()));
            text.extend_from_slice(before.as_bytes());
            text.extend_from_slice(value);
            text.extend_from_slice(after.as_bytes());
            match &injection.into {
                InjectInto::Header { name, .. } => {
                    let name = http::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("{name} is not a header name"))?;
                    set_header(&mut parts.headers, name.clone(), text)
                        .map_err(|()| format!("the value cannot be sent in the {name} header"))?;
                }
                InjectInto::Basic { .. } => {
                    let engine = base64::engine::general_purpose::STANDARD;
                    let mut header = Zeroizing::new(vec![0; 6 + text.len().div_ceil(3) * 4]);
                    header[..6].copy_from_slice(b"Basic ");
                    let n = engine
                        .encode_slice(&*text, &mut header[6..])
                        .expect("sized for the encoding");
                    header.truncate(6 + n);
                    set_header(&mut parts.headers, AUTHORIZATION, header)
                        .map_err(|()| "the value cannot be sent in Basic credentials".to_owned())?;
                }
                InjectInto::Query { param } => {
                    let pq = parts.uri.path_and_query().map_or("/", PathAndQuery::as_str);
                    let (path, query) = pq.split_once('?').unwrap_or((pq, ""));
                    let mut out = Zeroizing::new(Vec::with_capacity(
                        pq.len() + param.len() + value.len() * 3 + 2,
                    ));
                    out.extend_from_slice(path.as_bytes());
                    let mut sep = b'?';
                    // Whatever the request put under that name goes.
                    for pair in query.split('&').filter(|p| !p.is_empty()) {
                        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                        if name == param {
                            continue;
                        }
                        out.push(sep);
                        out.extend_from_slice(pair.as_bytes());
                        sep = b'&';
                    }
                    out.push(sep);
                    out.extend_from_slice(param.as_bytes());
                    out.push(b'=');
                    percent_encode(value, &mut out);
                    let pq = PathAndQuery::from_maybe_shared(wiped_bytes(out))
                        .map_err(|_| "the value cannot be sent in the URL".to_owned())?;
                    let mut uri = std::mem::take(&mut parts.uri).into_parts();
                    uri.path_and_query = Some(pq);
                    parts.uri = http::Uri::from_parts(uri)
                        .map_err(|_| "the value cannot be sent in the URL".to_owned())?;
                }
            }
        }
        Ok(())
    }
}

/// Where in a request a placeholder is.
#[derive(Clone, Copy)]
enum Place {
    Header,
    Url,
    Body,
}

/// Replaces every `name` header with one sensitive value.
fn set_header(
    headers: &mut HeaderMap,
    name: http::HeaderName,
    value: Zeroizing<Vec<u8>>,
) -> Result<(), ()> {
    let mut value = HeaderValue::from_maybe_shared(wiped_bytes(value)).map_err(|_| ())?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(())
}

fn raw(value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(value);
}

/// Every byte but RFC 3986 unreserved ones as `%XX`.
fn percent_encode(value: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, placeholder: &str, hosts: &[&str], body: bool) -> ProxiedSecret {
        ProxiedSecret {
            allow_http: false,
            query: true,
            inject: Vec::new(),
            name: name.to_owned(),
            placeholder: placeholder.to_owned(),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            body,
        }
    }

    #[test]
    fn config_is_validated() {
        let ok = secret("a", "wph_aaaaaaaaaaaa", &["a.test"], false);
        assert!(Placeholders::new(vec![ok.clone()]).is_ok());
        let short = secret("b", "wph_1", &["a.test"], false);
        assert!(Placeholders::new(vec![short]).is_err());
        let overlap = secret("c", "wph_aaaaaaaaaaaaX", &["a.test"], false);
        assert!(Placeholders::new(vec![ok.clone(), overlap]).is_err());
        let nohost = secret("d", "wph_dddddddddddd", &[], false);
        assert!(Placeholders::new(vec![nohost]).is_err());
        let bad = secret("e", "wph_eeeeeeeeeeee", &["https://a.test/"], false);
        assert!(Placeholders::new(vec![bad]).is_err());
    }

    #[test]
    fn substitutes_headers_basic_url_and_body() {
        let p = Placeholders::new(vec![
            secret("h", "wph_hhhhhhhhhhhh", &["a.test"], false),
            secret("b", "wph_bbbbbbbbbbbb", &["a.test"], true),
        ])
        .unwrap();
        let s = Substitution::new(
            &p,
            &[0, 1],
            vec![
                SecretValue::from(b"v/1 x".to_vec()),
                SecretValue::from(b"V2".to_vec()),
            ],
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-token", HeaderValue::from_static("t=wph_hhhhhhhhhhhh;"));
        let basic = base64::engine::general_purpose::STANDARD.encode("user:wph_bbbbbbbbbbbb");
        headers.insert(AUTHORIZATION, format!("Basic {basic}").parse().unwrap());
        headers.insert("x-other", HeaderValue::from_static("plain"));
        s.headers(&mut headers).unwrap();
        assert_eq!(headers["x-token"], "t=v/1 x;");
        assert!(headers["x-token"].is_sensitive());
        let expected = base64::engine::general_purpose::STANDARD.encode("user:V2");
        assert_eq!(headers[AUTHORIZATION], format!("Basic {expected}").as_str());
        assert_eq!(headers["x-other"], "plain");

        let pq: PathAndQuery = "/p/wph_hhhhhhhhhhhh?k=wph_bbbbbbbbbbbb".parse().unwrap();
        assert_eq!(s.path_and_query(&pq).unwrap().unwrap(), "/p/v%2F1%20x?k=V2");
        let untouched: PathAndQuery = "/p?q=1".parse().unwrap();
        assert!(s.path_and_query(&untouched).unwrap().is_none());

        // Only the secret allowed in bodies is replaced there.
        let body = s
            .body(b"{\"h\":\"wph_hhhhhhhhhhhh\",\"b\":\"wph_bbbbbbbbbbbb\"}")
            .unwrap();
        assert_eq!(&body[..], b"{\"h\":\"wph_hhhhhhhhhhhh\",\"b\":\"V2\"}");

        let mut bad = HeaderMap::new();
        bad.insert("x-token", HeaderValue::from_static("wph_hhhhhhhhhhhh"));
        let s = Substitution::new(&p, &[0], vec![SecretValue::from(b"a\r\nb".to_vec())]);
        let err = s.headers(&mut bad).unwrap_err();
        assert!(!err.contains("a\r\nb"), "{err}");
    }

    #[test]
    fn scan_finds_placeholders_in_basic_credentials() {
        let p =
            Placeholders::new(vec![secret("h", "wph_hhhhhhhhhhhh", &["a.test"], false)]).unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode("x:wph_hhhhhhhhhhhh");
        let parts = http::Request::builder()
            .uri("/")
            .header(AUTHORIZATION, format!("basic {basic}"))
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let mut seen = vec![false];
        p.scan_head(&parts, &mut seen);
        assert_eq!(seen, [true]);
    }
}
