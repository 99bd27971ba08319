//! Credentials inside a value: a connection string's password and user
//! are values of their own, since programs print them apart from the whole
//! (`urlsplit(url).password`, a driver's "authentication failed for user").

use zeroize::Zeroizing;

/// User names shorter than this are left alone: `postgres` or `app` are
/// words, not secrets; a generated role name is long.
pub(crate) const MIN_USER_LEN: usize = 12;

/// The `password` and `user` inside `value`, percent-decoded: from a URL's
/// `user:password@`, or from `password=`/`user=` keywords of a libpq-style
/// `key=value` string. Nothing for anything else.
pub(crate) fn credential_parts(value: &[u8]) -> Vec<(&'static str, Zeroizing<Vec<u8>>)> {
    let mut parts = Vec::new();
    if let Some((user, password)) = url_userinfo(value) {
        parts.push(("password", password));
        parts.push(("user", user));
    } else {
        for (key, found) in keywords(value) {
            parts.push((key, found));
        }
    }
    parts.retain(|(part, bytes)| match *part {
        "user" => bytes.len() >= MIN_USER_LEN,
        _ => bytes.len() >= crate::MIN_SECRET_LEN,
    });
    parts
}

/// Bytes that may hold a credential, wiped when dropped.
type Wiped = Zeroizing<Vec<u8>>;

/// `scheme://user:password@host...`: the decoded user and password.
fn url_userinfo(value: &[u8]) -> Option<(Wiped, Wiped)> {
    let at_scheme = value.windows(3).position(|w| w == b"://")?;
    let scheme = &value[..at_scheme];
    let plain_scheme = !scheme.is_empty()
        && scheme[0].is_ascii_alphabetic()
        && scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b));
    if !plain_scheme {
        return None;
    }
    let rest = &value[at_scheme + 3..];
    let authority_end = rest
        .iter()
        .position(|b| b"/?#".contains(b))
        .unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let at = authority.iter().rposition(|&b| b == b'@')?;
    let userinfo = &authority[..at];
    let colon = userinfo.iter().position(|&b| b == b':')?;
    Some((
        percent_decode(&userinfo[..colon]),
        percent_decode(&userinfo[colon + 1..]),
    ))
}

/// `password=...` and `user=...` of a `key=value key='quoted value'` string.
fn keywords(value: &[u8]) -> Vec<(&'static str, Zeroizing<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < value.len() {
        while i < value.len() && value[i].is_ascii_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < value.len() && (value[i].is_ascii_alphanumeric() || value[i] == b'_') {
            i += 1;
        }
        let key = &value[key_start..i];
        while i < value.len() && value[i] == b' ' {
            i += 1;
        }
        if key.is_empty() || value.get(i) != Some(&b'=') {
            // Not a key=value string.
            return Vec::new();
        }
        i += 1;
        while i < value.len() && value[i] == b' ' {
            i += 1;
        }
        let mut found = Zeroizing::new(Vec::new());
        if value.get(i) == Some(&b'\'') {
            i += 1;
            while i < value.len() && value[i] != b'\'' {
                if value[i] == b'\\' && i + 1 < value.len() {
                    i += 1;
                }
                found.push(value[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < value.len() && !value[i].is_ascii_whitespace() {
                found.push(value[i]);
                i += 1;
            }
        }
        match key {
            b"password" => out.push(("password", found)),
            b"user" => out.push(("user", found)),
            _ => {}
        }
    }
    out
}

fn percent_decode(text: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut i = 0;
    while i < text.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if text[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                text.get(i + 1).and_then(|&b| hex(b)),
                text.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(value: &str) -> Vec<(&'static str, String)> {
        credential_parts(value.as_bytes())
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v.to_vec()).unwrap()))
            .collect()
    }

    #[test]
    fn a_urls_password_and_long_user_are_parts() {
        assert_eq!(
            parts("postgres://warrant_g_abc123_x:p%40ss%2Fw0rd-x@db:5432/app?sslmode=require"),
            [
                ("password", "p@ss/w0rd-x".into()),
                ("user", "warrant_g_abc123_x".into())
            ]
        );
        // A short, word-like user is not a value of its own.
        assert_eq!(
            parts("postgresql://postgres:s3cret-pw@localhost/db"),
            [("password", "s3cret-pw".into())]
        );
        // An @ in the path is not user info.
        assert!(parts("https://example.test/a@b").is_empty());
        assert!(parts("https://user@example.test/").is_empty());
        assert!(parts("ghp_plain_token_value").is_empty());
    }

    #[test]
    fn libpq_keywords_are_parts() {
        assert_eq!(
            parts("host=db port=5432 user=warrant_role_long_1 password='a\\'b c long' dbname=app"),
            [
                ("user", "warrant_role_long_1".into()),
                ("password", "a'b c long".into())
            ]
        );
        assert_eq!(
            parts("password = s3cret-pw"),
            [("password", "s3cret-pw".into())]
        );
        // Too short to redact alone (see MIN_SECRET_LEN).
        assert!(parts("password=short").is_empty());
        assert!(parts("just some text = not a dsn").is_empty());
    }
}
