//! The admin connection string, parsed without copying its password more
//! than once, and the issued role's connection string.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use warrant_secret::SecretValue;
use zeroize::Zeroizing;

use crate::Error;

/// Everything but RFC 3986 unreserved characters is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How TLS is used, with libpq's meaning of each `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// `sslmode=disable`, or no `sslmode` on a loopback host.
    Disable,
    /// `require`: encrypted; the server is authenticated only when
    /// `sslrootcert` is given (then as `verify-ca`), as in libpq.
    Require,
    /// `verify-ca`: the certificate chains to a trusted root.
    VerifyCa,
    /// `verify-full`: and names the host.
    VerifyFull,
}

impl TlsMode {
    fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed `postgres://` connection string (an admin's, or any client's
/// that connects the way warrant does: TLS with libpq's `sslmode`
/// meanings). Holds the password as a [`SecretValue`]; no `Debug`.
pub struct AdminDsn {
    /// Host without brackets (`::1`, `db.example`).
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: Option<SecretValue>,
    pub(crate) database: String,
    pub(crate) tls: TlsMode,
    /// Whether `sslmode` was written (it is repeated in issued DSNs).
    pub(crate) tls_explicit: bool,
    /// `sslrootcert`: a PEM file, or `system`.
    pub(crate) root_cert: Option<String>,
    pub(crate) connect_timeout: Duration,
}

impl AdminDsn {
    /// The database it names (the user's name when it names none).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The user it logs in as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The host (without brackets) and port.
    pub fn host_port(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=...`.
    ///
    /// Errors describe the problem and never quote the string.
    pub fn parse(dsn: &SecretValue) -> Result<AdminDsn, Error> {
        let invalid = |reason: &str| Error::InvalidDsn {
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(dsn.expose_secret())
            .map_err(|_| invalid("it is not UTF-8"))?
            .trim();
        let rest = text
            .strip_prefix("postgres://")
            .or_else(|| text.strip_prefix("postgresql://"))
            .ok_or_else(|| invalid("expected a postgres:// URL"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (mut user, mut password) = (None, None);
        if let Some(userinfo) = userinfo {
            let (name, secret) = match userinfo.split_once(':') {
                Some((name, secret)) => (name, Some(secret)),
                None => (userinfo, None),
            };
            user = Some(decode(name).ok_or_else(|| invalid("the user is not UTF-8"))?);
            password = secret.map(decode_secret);
        }
        let (host, port) = split_host_port(hostport)?;
        let mut database = if path.is_empty() {
            None
        } else {
            Some(decode(path).ok_or_else(|| invalid("the database name is not UTF-8"))?)
        };
        let mut port = port.unwrap_or(5432);
        let (mut tls, mut root_cert, mut connect_timeout) = (None, None, Duration::from_secs(10));
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            if key == "password" {
                password = Some(decode_secret(raw));
                continue;
            }
            let value =
                decode(raw).ok_or_else(|| invalid(&format!("parameter {key} is not UTF-8")))?;
            match key {
                "user" => user = Some(value),
                "dbname" => database = Some(value),
                "port" => port = parse_port(&value)?,
                "sslmode" => tls = Some(parse_tls(&value)?),
                "sslrootcert" => root_cert = Some(value),
                "connect_timeout" => {
                    let secs = value
                        .parse::<u64>()
                        .map_err(|_| invalid("connect_timeout is not a number of seconds"))?;
                    connect_timeout = Duration::from_secs(secs.max(1));
                }
                "application_name" => {}
                other => {
                    let shown = if other.len() <= 32
                        && other
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        format!("parameter {other:?} is not supported")
                    } else {
                        "a parameter is not supported".to_owned()
                    };
                    return Err(invalid(&shown));
                }
            }
        }
        let user = user
            .filter(|user| !user.is_empty())
            .ok_or_else(|| invalid("it names no user"))?;
        let tls_explicit = tls.is_some();
        let tls = match tls {
            Some(mode) => mode,
            None if is_loopback(&host) => TlsMode::Disable,
            None => return Err(Error::TlsModeRequired { host }),
        };
        let database = database
            .filter(|db| !db.is_empty())
            .unwrap_or_else(|| user.clone());
        Ok(AdminDsn {
            host,
            port,
            user,
            password,
            database,
            tls,
            tls_explicit,
            root_cert,
            connect_timeout,
        })
    }

    /// `postgres://role:password@host:port/database?sslmode=...`: the
    /// admin's server and TLS settings with the issued role's credentials.
    pub(crate) fn issued(&self, role: &str, password: &str, database: &str) -> SecretValue {
        // Sized up front (percent-encoding at most triples a byte) so the
        // buffer holding the password never reallocates, leaving a copy.
        let parts = [role, password, database, &self.host];
        let root = self.root_cert.as_deref().unwrap_or_default();
        let capacity = 64 + 3 * (parts.iter().map(|p| p.len()).sum::<usize>() + root.len());
        let mut out = Zeroizing::new(String::with_capacity(capacity));
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            utf8_percent_encode(&self.host, COMPONENT).to_string()
        };
        let _ = write!(
            out,
            "postgres://{}:{}@{host}:{}/{}",
            utf8_percent_encode(role, COMPONENT),
            utf8_percent_encode(password, COMPONENT),
            self.port,
            utf8_percent_encode(database, COMPONENT),
        );
        let mut separator = '?';
        if self.tls_explicit {
            let _ = write!(out, "{separator}sslmode={}", self.tls.as_str());
            separator = '&';
        }
        if let Some(root) = &self.root_cert {
            let _ = write!(
                out,
                "{separator}sslrootcert={}",
                utf8_percent_encode(root, COMPONENT)
            );
        }
        SecretValue::from(out.as_bytes().to_vec())
    }
}

fn decode(part: &str) -> Option<String> {
    percent_decode_str(part)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

fn decode_secret(part: &str) -> SecretValue {
    let mut bytes = Vec::with_capacity(part.len());
    bytes.extend(percent_decode_str(part));
    SecretValue::from(bytes)
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>), Error> {
    let invalid = |reason: &str| Error::InvalidDsn {
        reason: reason.to_owned(),
    };
    if hostport.contains(',') {
        return Err(invalid("several hosts are not supported"));
    }
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("an IPv6 host lacks its ']'"))?;
        match after {
            "" => (host.to_owned(), None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host.to_owned(), Some(port)),
                None => return Err(invalid("unexpected text after the IPv6 host")),
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (decode(host).unwrap_or_default(), Some(port)),
            None => (decode(hostport).unwrap_or_default(), None),
        }
    };
    if host.is_empty() || host.starts_with('/') {
        return Err(invalid(
            "it names no TCP host (Unix sockets are not supported)",
        ));
    }
    let port = port.filter(|p| !p.is_empty()).map(parse_port).transpose()?;
    Ok((host, port))
}

fn parse_port(port: &str) -> Result<u16, Error> {
    port.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Error::InvalidDsn {
            reason: "the port is not a number from 1 to 65535".to_owned(),
        })
}

fn parse_tls(mode: &str) -> Result<TlsMode, Error> {
    Ok(match mode {
        "disable" => TlsMode::Disable,
        "require" => TlsMode::Require,
        "verify-ca" => TlsMode::VerifyCa,
        "verify-full" => TlsMode::VerifyFull,
        "allow" | "prefer" => {
            return Err(Error::InvalidDsn {
                reason: format!(
                    "sslmode={mode} may fall back to plaintext; use disable, require, \
                     verify-ca or verify-full"
                ),
            });
        }
        _ => {
            return Err(Error::InvalidDsn {
                reason: "sslmode is not one of disable, require, verify-ca, verify-full".to_owned(),
            });
        }
    })
}

/// `localhost`, 127.0.0.0/8 or ::1.
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AdminDsn, Error> {
        AdminDsn::parse(&SecretValue::from(text.to_owned()))
    }

    #[test]
    fn parses_the_parts() {
        let dsn = parse("postgres://adm%40x:p%3A%40ss@127.0.0.1:6543/app%20db").unwrap();
        assert_eq!(
            (dsn.host.as_str(), dsn.port, dsn.user.as_str()),
            ("127.0.0.1", 6543, "adm@x")
        );
        assert_eq!(dsn.password.unwrap().expose_secret(), b"p:@ss");
        assert_eq!(
            (dsn.database.as_str(), dsn.tls),
            ("app db", TlsMode::Disable)
        );
        let dsn = parse("postgresql://u@[::1]/?sslmode=verify-full&sslrootcert=/ca.pem").unwrap();
        assert_eq!((dsn.host.as_str(), dsn.port), ("::1", 5432));
        assert_eq!((dsn.database.as_str(), dsn.tls), ("u", TlsMode::VerifyFull));
        let issued = dsn.issued("warrant_a_b", "pw-_x", "d/b");
        assert_eq!(
            std::str::from_utf8(issued.expose_secret()).unwrap(),
            "postgres://warrant_a_b:pw-_x@[::1]:5432/d%2Fb?sslmode=verify-full&sslrootcert=%2Fca.pem"
        );
    }

    #[test]
    fn refuses_without_quoting_the_string() {
        let secret = "s3cr3t-admin-pw";
        for bad in [
            format!("mysql://u:{secret}@h/db"),
            format!("postgres://u:{secret}@db.example/db"),
            format!("postgres://u:{secret}@db.example/db?sslmode=prefer"),
            format!("postgres://u:{secret}@h:99999/db"),
            format!("postgres://u:{secret}@h1,h2/db"),
            format!("postgres://u:{secret}@/db"),
            format!("postgres://:{secret}@localhost/db"),
            format!("postgres://u@localhost/db?{secret}=1"),
        ] {
            let err = parse(&bad).err().expect(&bad);
            assert!(!err.to_string().contains(secret), "{err}");
            assert!(!format!("{err:?}").contains(secret), "{err:?}");
        }
        assert!(matches!(
            parse("postgres://u:p@db.example/db"),
            Err(Error::TlsModeRequired { .. })
        ));
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "127.0.0.1", "127.3.2.1", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["db.example", "10.0.0.1", "localhost.evil"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
