//! Where a request goes (its [`Target`]), which hosts a secret may reach,
//! and the host-confusion rules every forwarded request passes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::header::HOST;
use http::uri::Authority;

use crate::ProxiedSecret;

/// The scheme a request is forwarded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Where the requests of one tunnel (or one plain-HTTP request) go: the
/// only host their placeholders are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) scheme: Scheme,
    /// Normalised: lower case, no trailing dot, IP literals canonical (IPv6 in brackets).
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Target {
    /// The target of a `CONNECT` authority (port required) or of an
    /// absolute URI's authority (port defaults by scheme).
    pub(crate) fn parse(
        authority: &Authority,
        scheme: Scheme,
        port_required: bool,
    ) -> Result<Self, String> {
        if authority.as_str().contains('@') {
            return Err("user info in the URL is not allowed".to_owned());
        }
        let host = normalize_host(authority.host())
            .ok_or_else(|| format!("invalid host {:?}", authority.host()))?;
        let port = match authority.port_u16() {
            Some(port) => port,
            None if port_required => return Err(format!("no port in {:?}", authority.as_str())),
            None => scheme.default_port(),
        };
        Ok(Self { scheme, host, port })
    }

    /// `host[:port]` as sent upstream: the port only when not the default.
    pub(crate) fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The host without IPv6 brackets: for DNS, TLS names and certificates.
    pub(crate) fn bare_host(&self) -> &str {
        bare(&self.host)
    }

    /// Whether `authority` (a `Host` value or a URI authority) names this
    /// target: same host after normalisation, same port (defaults applied).
    pub(crate) fn same_authority(&self, authority: &str) -> bool {
        let Ok(parsed) = authority.parse::<Authority>() else {
            return false;
        };
        if parsed.as_str().contains('@') {
            return false;
        }
        let port = parsed.port_u16().unwrap_or(self.scheme.default_port());
        normalize_host(parsed.host()).is_some_and(|h| h == self.host) && port == self.port
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Lower-cases `host` and drops one trailing dot; IP literals come out
/// canonical (IPv6 bracketed). `None` unless a DNS name or an IP literal.
pub(crate) fn normalize_host(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(|ip| format!("[{ip}]"));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some(ip.to_string());
    }
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        });
    ok.then_some(host)
}

fn ip_of(host: &str) -> Option<IpAddr> {
    bare(host.strip_suffix('.').unwrap_or(host)).parse().ok()
}

/// Whether a name ends in a numeric label: resolvers read such names
/// (`2130706433`, `0x7f.1`) as IP addresses, so they match nothing.
fn numeric_looking(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or(host);
    last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x")
}

/// Whether a normalised `host` matches one of `patterns`: an IP literal only
/// an equal IP pattern; a name as [`warrant_policy::host_matches`].
#[cfg(test)]
fn host_allowed(patterns: &[String], host: &str) -> bool {
    patterns.iter().any(|p| host_allowed_by(p, host))
}

/// [`host_allowed`] for one pattern (a request checks each of its
/// secrets' patterns: no allocation on that path).
fn host_allowed_by(pattern: &str, host: &str) -> bool {
    match ip_of(host) {
        Some(ip) => ip_of(pattern) == Some(ip),
        None => !numeric_looking(host) && warrant_policy::host_matches_pattern(pattern, host),
    }
}

/// Whether a request to `target` may carry `secret`'s value: its host
/// and port match one of the secret's patterns, over HTTPS or, where the
/// secret allows it, plain HTTP.
pub(crate) fn endpoint_allowed(secret: &ProxiedSecret, target: &Target) -> bool {
    pattern_admits(&secret.hosts, secret.allow_http, target)
}

/// Whether one of `patterns` (`host[:port]`) admits `target`.
pub(crate) fn pattern_admits(patterns: &[String], allow_http: bool, target: &Target) -> bool {
    let https = target.scheme == Scheme::Https;
    if !https && !allow_http {
        return false;
    }
    patterns.iter().any(|pattern| {
        warrant_policy::split_port(pattern).is_some_and(|(host, port)| {
            port.admits(target.port, https) && host_allowed_by(host, &target.host)
        })
    })
}

/// Why `secret` may not go to `target`, in words.
pub(crate) fn not_allowed_reason(secret: &ProxiedSecret, target: &Target) -> String {
    let https = target.scheme == Scheme::Https;
    let by_name = secret.hosts.iter().any(|p| {
        warrant_policy::split_port(p).is_some_and(|(host, _)| host_allowed_by(host, &target.host))
    });
    if by_name && !https && !secret.allow_http {
        format!(
            "{} goes to {} over HTTPS only (the policy rule does not say allow_http = true)",
            secret.name, target.host
        )
    } else if by_name {
        format!(
            "{} may not be sent to {} on port {} (allowed: {})",
            secret.name,
            target.host,
            target.port,
            secret.hosts.join(", ")
        )
    } else {
        format!(
            "exfiltration attempt: {} may not be sent to {}",
            secret.name, target.host
        )
    }
}

/// Whether a host pattern is well formed: a name, `*.name`, or an IP
/// literal, with an optional `:port` or `:*`.
pub(crate) fn valid_pattern(pattern: &str) -> bool {
    let Some((pattern, _)) = warrant_policy::split_port(pattern) else {
        return false;
    };
    if ip_of(pattern).is_some() {
        return true;
    }
    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
    normalize_host(name).is_some_and(|n| ip_of(&n).is_none() && !numeric_looking(&n))
}

/// Checks that a request names its target and nothing else: one `Host` at
/// most, a URI authority (if any) and `Host` (if any) both equal to the
/// target, no user info, the target's scheme.
pub(crate) fn check_authority(parts: &http::request::Parts, target: &Target) -> Result<(), String> {
    let mut hosts = parts.headers.get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err("the request has several Host headers".to_owned());
    }
    if let Some(scheme) = parts.uri.scheme_str()
        && !scheme.eq_ignore_ascii_case(target.scheme.as_str())
    {
        return Err(format!(
            "the request's scheme {scheme} is not {}",
            target.scheme.as_str()
        ));
    }
    let authority = parts.uri.authority();
    if authority.is_none() && host.is_none() {
        return Err("the request names no host".to_owned());
    }
    if let Some(authority) = authority {
        if authority.as_str().contains('@') {
            return Err("user info in the URL is not allowed".to_owned());
        }
        if !target.same_authority(authority.as_str()) {
            return Err(format!("the request is for {authority:?}, not {target}"));
        }
    }
    if let Some(host) = host {
        let text = String::from_utf8_lossy(host.as_bytes());
        if text.contains('@') {
            return Err("user info in the Host header is not allowed".to_owned());
        }
        if !target.same_authority(&text) {
            return Err(format!("the Host header {text:?} is not {target}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(patterns: &[&str]) -> Vec<String> {
        patterns.iter().map(|h| (*h).to_owned()).collect()
    }

    fn target(authority: &str) -> Target {
        Target::parse(&authority.parse().unwrap(), Scheme::Https, false).unwrap()
    }

    #[test]
    fn hosts_are_normalised_and_matched_strictly() {
        let gh = hosts(&["api.github.com"]);
        for host in ["api.github.com", "API.GitHub.COM.", "api.github.com."] {
            let t = target(host);
            assert_eq!(t.host, "api.github.com");
            assert!(host_allowed(&gh, &t.host), "{host}");
        }
        for host in [
            "api.github.com.evil.test",
            "evil.test",
            "xapi.github.com",
            "github.com",
        ] {
            assert!(!host_allowed(&gh, &target(host).host), "{host}");
        }
        let wild = hosts(&["*.example.test"]);
        assert!(host_allowed(&wild, "a.b.example.test"));
        assert!(!host_allowed(&wild, "example.test"));
        assert!(!host_allowed(&wild, "example.test.evil"));
    }

    #[test]
    fn ip_literals_match_only_ip_patterns() {
        let names = hosts(&["*.0.0.1", "*.1", "localhost"]);
        assert!(!host_allowed(&names, "127.0.0.1"));
        let ips = hosts(&["127.0.0.1", "[::1]"]);
        assert!(host_allowed(&ips, "127.0.0.1"));
        assert!(host_allowed(&ips, &target("[0:0::1]:443").host));
        assert!(!host_allowed(&ips, "127.0.0.2"));
        // Names a resolver would read as addresses match nothing.
        assert!(!host_allowed(&hosts(&["2130706433"]), "2130706433"));
        assert!(!host_allowed(&hosts(&["*.example.0x7f"]), "a.example.0x7f"));
        assert!(!valid_pattern("*.0.0.1"));
        assert!(!valid_pattern("https://api.github.com"));
        assert!(!valid_pattern("api.github.com:0"));
        assert!(valid_pattern("api.github.com:443") && valid_pattern("[::1]:8443"));
        assert!(valid_pattern("::1") && valid_pattern("[::1]") && valid_pattern("10.0.0.1"));
    }

    #[test]
    fn endpoints_need_the_port_and_https_unless_allowed() {
        let secret = |hosts: &[&str], allow_http: bool| ProxiedSecret {
            allow_http,
            ..ProxiedSecret::new(
                "t",
                "wph_tttttttttttt",
                hosts.iter().map(|h| (*h).to_owned()).collect(),
            )
        };
        let https = |authority: &str| target(authority);
        let http = |authority: &str| {
            Target::parse(&authority.parse().unwrap(), Scheme::Http, false).unwrap()
        };
        let plain = secret(&["api.test"], false);
        assert!(endpoint_allowed(&plain, &https("api.test:443")));
        assert!(!endpoint_allowed(&plain, &https("api.test:8443")));
        assert!(!endpoint_allowed(&plain, &http("api.test")));
        assert!(not_allowed_reason(&plain, &http("api.test")).contains("over HTTPS only"));
        assert!(not_allowed_reason(&plain, &https("api.test:8443")).contains("on port 8443"));
        let open = secret(&["api.test"], true);
        assert!(endpoint_allowed(&open, &http("api.test")));
        assert!(!endpoint_allowed(&open, &http("api.test:8080")));
        let ported = secret(&["127.0.0.1:8443", "[::1]:*"], false);
        assert!(endpoint_allowed(&ported, &https("127.0.0.1:8443")));
        assert!(!endpoint_allowed(&ported, &https("127.0.0.1:443")));
        assert!(endpoint_allowed(&ported, &https("[0::1]:9")));
    }

    #[test]
    fn authority_comparison_is_port_aware() {
        let t = target("api.example.test:443");
        assert!(t.same_authority("api.example.test"));
        assert!(t.same_authority("API.example.test.:443"));
        assert!(!t.same_authority("api.example.test:8443"));
        assert!(!t.same_authority("user@api.example.test"));
        assert!(!t.same_authority("api.example.test.evil.test"));
        assert_eq!(t.authority(), "api.example.test");
        assert_eq!(target("a.test:8443").authority(), "a.test:8443");
        let userinfo: Authority = "u:p@a.test".parse().unwrap();
        assert!(Target::parse(&userinfo, Scheme::Https, false).is_err());
        let bare: Authority = "a.test".parse().unwrap();
        assert!(Target::parse(&bare, Scheme::Https, true).is_err());
    }

    fn parts(uri: &str, host: &[&str]) -> http::request::Parts {
        let mut builder = http::Request::builder().uri(uri);
        for h in host {
            builder = builder.header(HOST, *h);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn host_confusion_is_refused() {
        let t = target("api.example.test:443");
        assert!(check_authority(&parts("/x", &["api.example.test"]), &t).is_ok());
        assert!(check_authority(&parts("https://api.example.test/x", &[]), &t).is_ok());
        assert!(check_authority(&parts("/x", &["evil.test"]), &t).is_err());
        assert!(check_authority(&parts("/x", &["api.example.test", "evil.test"]), &t).is_err());
        assert!(check_authority(&parts("/x", &[]), &t).is_err());
        assert!(check_authority(&parts("https://evil.test/x", &["api.example.test"]), &t).is_err());
        assert!(check_authority(&parts("https://u@api.example.test/x", &[]), &t).is_err());
        assert!(check_authority(&parts("http://api.example.test/x", &[]), &t).is_err());
    }
}
