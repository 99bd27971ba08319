//! Checksums and structural checks that confirm a match is a real token of
//! its format, named from rule files (`checksum = "github"`).
//!
//! Each validator takes the reported secret (the `secret` group, or the whole
//! match) and answers whether its embedded checksum or structure holds. The
//! encoders are shared with [`crate::fixtures`], which generates valid tokens
//! for the tests: the unit tests below pin them to independent check values.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// A named checksum validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checksum {
    /// GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`): after the prefix, 30
    /// random base62 characters and 6 that are their CRC32 in base62.
    Github,
    /// npm tokens (`npm_`): the same scheme as GitHub's.
    Npm,
    /// GitLab routable tokens (`glpat-…​.01.xx` + 7): the last 7 characters
    /// are the CRC32 of everything before them, in base36.
    Gitlab,
    /// Grafana service account tokens (`glsa_<32>_<8>`): the last 8 are the
    /// CRC32 of the rest, as the hex of its little-endian bytes.
    Grafana,
    /// Atlassian API and access tokens (`ATATT3…=` + 8): the last 8 are the
    /// CRC32 of everything before them, in upper-case hex.
    Atlassian,
    /// Bech32 strings (age secret keys, `AGE-SECRET-KEY-1…`), BIP 173.
    Bech32,
    /// Discord bot tokens: the first part is the bot's numeric id in base64.
    Discord,
    /// JSON web tokens: the header is a base64url JSON object with `alg`,
    /// and the payload is base64url.
    Jwt,
    /// HTTP basic credentials: base64 of printable `user:password`.
    BasicAuth,
}

impl Checksum {
    /// The validator named `name` in a rule file.
    pub fn named(name: &str) -> Option<Checksum> {
        Some(match name {
            "github" => Checksum::Github,
            "npm" => Checksum::Npm,
            "gitlab" => Checksum::Gitlab,
            "grafana" => Checksum::Grafana,
            "atlassian" => Checksum::Atlassian,
            "bech32" => Checksum::Bech32,
            "discord" => Checksum::Discord,
            "jwt" => Checksum::Jwt,
            "basic-auth" => Checksum::BasicAuth,
            _ => return None,
        })
    }

    /// Whether `secret` carries a valid checksum.
    pub fn verify(self, secret: &[u8]) -> bool {
        match self {
            Checksum::Github | Checksum::Npm => github_valid(secret),
            Checksum::Gitlab => gitlab_valid(secret),
            Checksum::Grafana => grafana_valid(secret),
            Checksum::Atlassian => atlassian_valid(secret),
            Checksum::Bech32 => bech32_valid(secret),
            Checksum::Discord => discord_valid(secret),
            Checksum::Jwt => jwt_valid(secret),
            Checksum::BasicAuth => basic_auth_valid(secret),
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `n` in base `alphabet.len()`, left-padded with the zero digit to `width`.
fn encode_radix(mut n: u64, alphabet: &[u8], width: usize) -> String {
    let radix = alphabet.len() as u64;
    let mut digits = Vec::with_capacity(width);
    while n > 0 {
        digits.push(alphabet[(n % radix) as usize]);
        n /= radix;
    }
    digits.resize(digits.len().max(width), alphabet[0]);
    digits.iter().rev().map(|&b| char::from(b)).collect()
}

/// The 6-character base62 CRC32 that ends a GitHub or npm token whose random
/// part is `random`.
pub(crate) fn github_check(random: &[u8]) -> String {
    encode_radix(u64::from(crc32fast::hash(random)), BASE62, 6)
}

fn github_valid(secret: &[u8]) -> bool {
    // The prefix (`ghp_`, `npm_`) is not part of the checksummed data.
    let Some(sep) = secret.iter().position(|&b| b == b'_') else {
        return false;
    };
    let body = &secret[sep + 1..];
    if body.len() <= 6 || !body.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (random, check) = body.split_at(body.len() - 6);
    github_check(random).as_bytes() == check
}

/// `n` in lower-case base36, left-padded with zeros to `width`.
pub(crate) fn base36(n: u64, width: usize) -> String {
    encode_radix(n, BASE36, width)
}

/// The 7-character base36 CRC32 that ends a GitLab routable token.
pub(crate) fn gitlab_check(before: &[u8]) -> String {
    encode_radix(u64::from(crc32fast::hash(before)), BASE36, 7)
}

fn gitlab_valid(secret: &[u8]) -> bool {
    if secret.len() <= 7 {
        return false;
    }
    let (before, check) = secret.split_at(secret.len() - 7);
    gitlab_check(before).as_bytes() == check
}

/// The 8 hex characters that end a Grafana service account token.
pub(crate) fn grafana_check(before: &[u8]) -> String {
    crc32fast::hash(before)
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn grafana_valid(secret: &[u8]) -> bool {
    let Some(sep) = secret.iter().rposition(|&b| b == b'_') else {
        return false;
    };
    let check = &secret[sep + 1..];
    check.len() == 8 && grafana_check(&secret[..sep]).as_bytes() == check.to_ascii_lowercase()
}

/// The 8 upper-case hex characters that end an Atlassian token.
pub(crate) fn atlassian_check(before: &[u8]) -> String {
    format!("{:08X}", crc32fast::hash(before))
}

fn atlassian_valid(secret: &[u8]) -> bool {
    if secret.len() <= 8 {
        return false;
    }
    let (before, check) = secret.split_at(secret.len() - 8);
    atlassian_check(before).as_bytes() == check.to_ascii_uppercase()
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: impl IntoIterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn bech32_hrp_expand(hrp: &[u8]) -> impl Iterator<Item = u8> + '_ {
    hrp.iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|c| c & 31))
}

/// The Bech32 string (lower case) for `hrp` and 5-bit `data`.
pub(crate) fn bech32_encode(hrp: &str, data: &[u8]) -> String {
    let hrp = hrp.to_ascii_lowercase();
    let values: Vec<u8> = bech32_hrp_expand(hrp.as_bytes())
        .chain(data.iter().copied())
        .chain([0; 6])
        .collect();
    let pm = bech32_polymod(values) ^ 1;
    let check = (0..6).map(|i| ((pm >> (5 * (5 - i))) & 31) as u8);
    let mut out = hrp;
    out.push('1');
    out.extend(
        data.iter()
            .copied()
            .chain(check)
            .map(|d| char::from(BECH32[usize::from(d)])),
    );
    out
}

fn bech32_valid(secret: &[u8]) -> bool {
    // Bech32 is either all lower or all upper case.
    let lower = secret.to_ascii_lowercase();
    if secret != lower.as_slice() && secret != secret.to_ascii_uppercase().as_slice() {
        return false;
    }
    let Some(sep) = lower.iter().rposition(|&b| b == b'1') else {
        return false;
    };
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    if hrp.is_empty() || data.len() < 6 {
        return false;
    }
    let Some(data) = data
        .iter()
        .map(|c| BECH32.iter().position(|x| x == c).map(|p| p as u8))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    bech32_polymod(bech32_hrp_expand(hrp).chain(data)) == 1
}

/// Decodes base64 in either alphabet, padded or not.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let url = text.iter().any(|&b| b == b'-' || b == b'_');
    let padded = text.ends_with(b"=");
    let engine = match (url, padded) {
        (true, true) => &URL_SAFE,
        (true, false) => &URL_SAFE_NO_PAD,
        (false, true) => &STANDARD,
        (false, false) => &STANDARD_NO_PAD,
    };
    engine.decode(text).ok()
}

fn discord_valid(secret: &[u8]) -> bool {
    let id = secret.split(|&b| b == b'.').next().unwrap_or_default();
    decode_base64(id).is_some_and(|id| {
        (17..=20).contains(&id.len()) && id[0] != b'0' && id.iter().all(u8::is_ascii_digit)
    })
}

fn jwt_valid(secret: &[u8]) -> bool {
    let mut parts = secret.split(|&b| b == b'.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Some(header) = decode_base64(header) else {
        return false;
    };
    let header_ok = serde_json::from_slice::<serde_json::Value>(&header)
        .ok()
        .and_then(|v| v.get("alg").map(serde_json::Value::is_string))
        .unwrap_or(false);
    header_ok && decode_base64(payload).is_some()
}

fn basic_auth_valid(secret: &[u8]) -> bool {
    let Some(decoded) = decode_base64(secret) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    // Printable ASCII or UTF-8 text, a user name and a password.
    colon > 0
        && colon + 1 < decoded.len()
        && std::str::from_utf8(&decoded).is_ok_and(|s| !s.chars().any(char::is_control))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Generator;

    #[test]
    fn radix_encoding_pads_with_the_zero_digit() {
        assert_eq!(encode_radix(0, BASE62, 6), "000000");
        assert_eq!(encode_radix(61, BASE62, 6), "00000z");
        assert_eq!(encode_radix(62, BASE62, 6), "000010");
        assert_eq!(encode_radix(35, BASE36, 7), "000000z");
        assert_eq!(encode_radix(u64::from(u32::MAX), BASE62, 6), "4gfFC3");
    }

    #[test]
    fn crc32_is_the_standard_one() {
        // The CRC-32/ISO-HDLC check value.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(atlassian_check(b"123456789"), "CBF43926");
        assert_eq!(grafana_check(b"123456789"), "2639f4cb");
    }

    #[test]
    fn github_tokens_verify_and_one_changed_character_fails() {
        let mut generator = Generator::new(7);
        for _ in 0..50 {
            let token = generator.expand("{{github:ghp_}}");
            assert!(Checksum::Github.verify(token.as_bytes()), "{token}");
            for at in [4, 20, token.len() - 1] {
                let mut bad = token.clone().into_bytes();
                bad[at] = if bad[at] == b'a' { b'b' } else { b'a' };
                assert!(!Checksum::Github.verify(&bad));
            }
        }
        assert!(!Checksum::Github.verify(b"ghp_"));
        assert!(!Checksum::Github.verify(b"ghp_abcdef"));
    }

    #[test]
    fn npm_tokens_verify() {
        let mut generator = Generator::new(8);
        let token = generator.expand("{{npm}}");
        assert!(token.starts_with("npm_") && token.len() == 40);
        assert!(Checksum::Npm.verify(token.as_bytes()));
        let mut bad = token.into_bytes();
        bad[10] ^= 0x20;
        assert!(!Checksum::Npm.verify(&bad));
    }

    #[test]
    fn gitlab_grafana_atlassian_tokens_verify() {
        let mut generator = Generator::new(9);
        for (template, check) in [
            ("{{gitlab:glpat-}}", Checksum::Gitlab),
            ("{{grafana}}", Checksum::Grafana),
            ("{{atlassian:ATATT3}}", Checksum::Atlassian),
        ] {
            let token = generator.expand(template);
            assert!(check.verify(token.as_bytes()), "{token}");
            let mut bad = token.clone().into_bytes();
            bad[12] = if bad[12] == b'x' { b'y' } else { b'x' };
            assert!(!check.verify(&bad), "{template}");
        }
    }

    #[test]
    fn bech32_matches_the_bip173_vectors() {
        assert!(Checksum::Bech32.verify(b"A12UEL5L"));
        assert!(Checksum::Bech32.verify(b"a12uel5l"));
        assert!(Checksum::Bech32.verify(b"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"));
        assert!(!Checksum::Bech32.verify(b"a12uel5m"));
        assert!(!Checksum::Bech32.verify(b"A12uEL5L"));
        assert_eq!(bech32_encode("a", &[]), "a12uel5l");
        let key = Generator::new(3).expand("{{age}}");
        assert!(Checksum::Bech32.verify(key.as_bytes()), "{key}");
        let mut bad = key.into_bytes();
        bad[30] = if bad[30] == b'Q' { b'P' } else { b'Q' };
        assert!(!Checksum::Bech32.verify(&bad));
    }

    #[test]
    fn discord_ids_are_decimal() {
        assert!(Checksum::Discord.verify(b"MTIzNDU2Nzg5MDEyMzQ1Njc4.abcdef.xyz"));
        assert!(!Checksum::Discord.verify(b"aGVsbG8gd29ybGQgaGVsbG8.abcdef.xyz"));
    }

    #[test]
    fn jwt_needs_a_json_header_with_alg() {
        let jwt = Generator::new(1).expand("{{jwt}}");
        assert!(Checksum::Jwt.verify(jwt.as_bytes()), "{jwt}");
        // {"typ":"JWT"} has no alg.
        assert!(!Checksum::Jwt.verify(b"eyJ0eXAiOiJKV1QifQ.eyJhIjoxfQ.c2ln"));
        assert!(!Checksum::Jwt.verify(b"eyJub3QganNvbg.eyJhIjoxfQ.c2ln"));
    }

    #[test]
    fn basic_auth_needs_user_and_password() {
        // user:pass, :pass, user:
        assert!(Checksum::BasicAuth.verify(b"dXNlcjpwYXNz"));
        assert!(!Checksum::BasicAuth.verify(b"OnBhc3M="));
        assert!(!Checksum::BasicAuth.verify(b"dXNlcjo="));
        assert!(!Checksum::BasicAuth.verify(b"not base64!"));
    }
}
