//! Who may use a proxy: a random secret per proxy, which the child gets in
//! its proxy URL (`http://warrant:SECRET@127.0.0.1:PORT`, through its
//! environment, never argv) and its HTTP client sends back as
//! `Proxy-Authorization`. A placeholder alone gets nothing: another user who
//! reads one in `/proc/*/cmdline` cannot have it substituted.

use std::net::SocketAddr;

use base64::Engine as _;
use http::HeaderMap;
use http::header::PROXY_AUTHORIZATION;
use warrant_secret::SecretValue;
use zeroize::Zeroizing;

use crate::Error;

/// The user name in the proxy URL (any is accepted; the secret decides).
const USER: &str = "warrant";

/// A proxy's access secret.
pub struct ProxyAuth {
    /// 32 random bytes, hex: safe in a URL's user info as it is.
    secret: SecretValue,
}

impl std::fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyAuth([REDACTED])")
    }
}

impl ProxyAuth {
    /// A new random secret.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *bytes).map_err(|e| Error::Config(format!("no randomness: {e}")))?;
        Ok(Self {
            secret: SecretValue::from(hex::encode(*bytes).into_bytes()),
        })
    }

    /// The proxy URL a child is given, credentials included.
    pub fn proxy_url(&self, addr: SocketAddr) -> String {
        let secret = std::str::from_utf8(self.secret.expose_secret()).unwrap_or_default();
        format!("http://{USER}:{secret}@{addr}")
    }

    /// Whether `headers` carry this secret in `Proxy-Authorization`
    /// (`Basic` with it as the password, or `Bearer`), compared in
    /// constant time.
    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(PROXY_AUTHORIZATION) else {
            return false;
        };
        let Some((scheme, credentials)) = value.to_str().ok().and_then(|v| v.split_once(' '))
        else {
            return false;
        };
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.matches(credentials.as_bytes());
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials) else {
            return false;
        };
        let decoded = Zeroizing::new(decoded);
        match decoded.iter().position(|&b| b == b':') {
            Some(colon) => self.matches(&decoded[colon + 1..]),
            None => false,
        }
    }

    fn matches(&self, candidate: &[u8]) -> bool {
        self.secret.ct_eq(&SecretValue::from(candidate.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(PROXY_AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_secret_admits_as_basic_password_or_bearer() {
        let auth = ProxyAuth::generate().unwrap();
        let url = auth.proxy_url("127.0.0.1:8080".parse().unwrap());
        let secret = url
            .strip_prefix("http://warrant:")
            .unwrap()
            .strip_suffix("@127.0.0.1:8080")
            .unwrap();
        assert_eq!(secret.len(), 64);
        let basic = |user: &str, pass: &str| {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            headers(&format!("Basic {encoded}"))
        };
        assert!(auth.admits(&basic("warrant", secret)));
        assert!(auth.admits(&basic("anyone", secret)));
        assert!(auth.admits(&headers(&format!("Bearer {secret}"))));
        assert!(!auth.admits(&HeaderMap::new()));
        assert!(!auth.admits(&basic("warrant", "guess")));
        assert!(!auth.admits(&basic(secret, "")));
        assert!(!auth.admits(&headers(&format!("Digest {secret}"))));
        assert!(!auth.admits(&headers("Basic not-base64!")));
        let other = ProxyAuth::generate().unwrap();
        assert!(!other.admits(&basic("warrant", secret)));
        assert_eq!(format!("{auth:?}"), "ProxyAuth([REDACTED])");
    }
}
