//! Example generation from templates (for rule tests and benchmarks).
//!
//! Rule files never hold anything shaped like a real provider token, not even
//! in their examples: a push-protection scanner, or our own rules, would flag
//! them. Examples are templates instead, expanded with fresh random text each
//! time:
//!
//! | placeholder | expands to |
//! | --- | --- |
//! | `{{alnum:N}}`, `{{alpha:N}}` | N of `A-Za-z0-9`, N of `A-Za-z` |
//! | `{{lower:N}}`, `{{upper:N}}`, `{{digits:N}}` | N of `a-z`, `A-Z`, `0-9` |
//! | `{{lowernum:N}}`, `{{uppernum:N}}` | N of `a-z0-9`, `A-Z0-9` |
//! | `{{hex:N}}`, `{{HEX:N}}` | N lower- or upper-case hex digits |
//! | `{{b64:N}}`, `{{b64url:N}}` | N of the base64 or base64url alphabet, no padding |
//! | `{{base32:N}}` | N of `A-Z2-7` |
//! | `{{uuid}}` | a random lower-case UUID |
//! | `{{github:PREFIX}}` | a GitHub-style token (`ghp_`, `npm_`, ...) with its CRC32 |
//! | `{{npm}}` | an npm token with its CRC32 |
//! | `{{gitlab:PREFIX}}` | a GitLab routable token (`glpat-`, ...) with its CRC32 |
//! | `{{grafana}}` | a Grafana service account token with its CRC32 |
//! | `{{atlassian:HEADER}}` | an Atlassian token (`ATATT3xFfGF0`, ...) with its CRC32 |
//! | `{{age}}` | an age secret key (Bech32 with its checksum) |
//! | `{{discord}}` | a Discord bot token whose first part is a numeric id |
//! | `{{jwt}}` | a signed-looking JWT with a JSON header |
//! | `{{basic}}` | base64 of `user:password` |
//! | `{{pem:LABEL}}` | a PEM block (`-----BEGIN LABEL-----`) with a random body |
//! | `{{pem-json:LABEL}}` | the same with `\n` escapes, as inside a JSON string |
//! | `{{pem-b64:LABEL}}` | the same in base64, as in Kubernetes secrets |
//! | `{{putty}}` | a PuTTY private key file |
//! | `{{begin:LABEL}}`, `{{end:LABEL}}` | a PEM armor line alone (`-----BEGIN LABEL-----`) |
//! | `{{repeat:TEXT:N}}` | TEXT N times (low-entropy look-alikes) |
//!
//! A `{{` whose name holds a space (`{{ vault_password }}`) is literal text,
//! so templates can show the template syntax of other tools.
#![doc(hidden)]

use std::ops::Range;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use crate::Scanner;
use crate::checksum;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The alphabet of a character-class placeholder.
fn alphabet(name: &str) -> Option<&'static [u8]> {
    Some(match name {
        "alnum" => ALNUM,
        "alpha" => &ALNUM[..52],
        "lower" => &ALNUM[26..52],
        "upper" => &ALNUM[..26],
        "digits" => &ALNUM[52..],
        "lowernum" => b"abcdefghijklmnopqrstuvwxyz0123456789",
        "uppernum" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "hex" => b"0123456789abcdef",
        "HEX" => b"0123456789ABCDEF",
        "b64" => B64,
        "b64url" => B64URL,
        "base32" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        _ => return None,
    })
}

/// Whether the text between `{{` and `}}` is a placeholder: a name without
/// spaces, then an optional `:argument` (which may hold spaces).
fn is_placeholder(spec: &str) -> bool {
    let name = spec.split(':').next().unwrap_or_default();
    !name.is_empty() && !name.contains(char::is_whitespace)
}

/// A seeded generator of examples; the same seed gives the same examples.
#[derive(Debug, Clone)]
pub struct Generator {
    state: u64,
}

impl Generator {
    /// A generator whose output is fixed by `seed`.
    pub fn new(seed: u64) -> Generator {
        Generator { state: seed }
    }

    /// splitmix64: small, fast and good enough for test data.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// Expands every placeholder of `template` (see the module docs).
    ///
    /// # Panics
    /// On an unknown placeholder or a bad argument: templates are part of the
    /// rule files, which the tests check.
    pub fn expand(&mut self, template: &str) -> String {
        self.expand_marked(template).0
    }

    /// Like [`Generator::expand`], also returning where each placeholder's
    /// expansion lies in the result.
    ///
    /// # Panics
    /// As [`Generator::expand`].
    pub fn expand_marked(&mut self, template: &str) -> (String, Vec<Range<usize>>) {
        let mut out = String::with_capacity(template.len() * 2);
        let mut marks = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            match after.find("}}") {
                Some(close) if is_placeholder(&after[..close]) => {
                    let start = out.len();
                    let text = self.placeholder(&after[..close]);
                    out.push_str(&text);
                    marks.push(start..out.len());
                    rest = &after[close + 2..];
                }
                _ => {
                    out.push_str("{{");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        (out, marks)
    }

    fn placeholder(&mut self, spec: &str) -> String {
        let (name, arg) = match spec.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (spec, None),
        };
        if let Some(alphabet) = alphabet(name) {
            let len = arg
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("{{{{{spec}}}}} needs a length"));
            return self.string(alphabet, len);
        }
        let need = |what: &str| arg.unwrap_or_else(|| panic!("{{{{{spec}}}}} needs {what}"));
        match name {
            "uuid" => self.uuid(),
            "github" => self.github(need("a prefix")),
            "npm" => self.github("npm_"),
            "gitlab" => self.gitlab(need("a prefix")),
            "grafana" => self.grafana(),
            "atlassian" => self.atlassian(need("a header")),
            "age" => self.age(),
            "discord" => self.discord(),
            "jwt" => self.jwt(),
            "basic" => self.basic(),
            "pem" => self.pem(need("a label"), "\n"),
            "pem-json" => self.pem(need("a label"), "\\n"),
            "pem-b64" => STANDARD.encode(self.pem(need("a label"), "\n") + "\n"),
            "putty" => self.putty(),
            "begin" => armor("BEGIN", need("a label")),
            "end" => armor("END", need("a label")),
            "repeat" => {
                let (text, times) = need("TEXT:COUNT")
                    .rsplit_once(':')
                    .expect("{{repeat:TEXT:COUNT}}");
                text.repeat(times.parse().expect("a count"))
            }
            _ => panic!("unknown template placeholder {{{{{spec}}}}}"),
        }
    }

    fn uuid(&mut self) -> String {
        let h = self.string(b"0123456789abcdef", 32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..]
        )
    }

    fn github(&mut self, prefix: &str) -> String {
        let random = self.string(ALNUM, 30);
        let check = checksum::github_check(random.as_bytes());
        format!("{prefix}{random}{check}")
    }

    fn gitlab(&mut self, prefix: &str) -> String {
        // The payload encodes routing data, random bytes and their length.
        let mut payload =
            format!("o:{:x}\nu:{:x}\n", self.below(1 << 24), self.below(1 << 24)).into_bytes();
        payload.extend(self.bytes(16));
        payload.push(16);
        let encoded = URL_SAFE_NO_PAD.encode(&payload);
        let length = checksum::base36(encoded.len() as u64, 2);
        let before = format!("{prefix}{encoded}.01.{length}");
        let check = checksum::gitlab_check(before.as_bytes());
        format!("{before}{check}")
    }

    fn grafana(&mut self) -> String {
        let before = format!("glsa_{}", self.string(ALNUM, 32));
        let check = checksum::grafana_check(before.as_bytes());
        format!("{before}_{check}")
    }

    fn atlassian(&mut self, header: &str) -> String {
        let before = format!("{header}{}=", self.string(B64URL, 171));
        let check = checksum::atlassian_check(before.as_bytes());
        format!("{before}{check}")
    }

    fn age(&mut self) -> String {
        // 32 random bytes as 52 five-bit groups (the last one padded).
        let bytes = self.bytes(32);
        let mut groups = Vec::with_capacity(52);
        let (mut acc, mut bits) = (0u32, 0);
        for b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                groups.push(((acc >> bits) & 31) as u8);
            }
        }
        if bits > 0 {
            groups.push(((acc << (5 - bits)) & 31) as u8);
        }
        checksum::bech32_encode("age-secret-key-", &groups).to_ascii_uppercase()
    }

    fn discord(&mut self) -> String {
        let len = 18 + self.below(2);
        let id = format!(
            "{}{}",
            1 + self.below(9),
            self.string(b"0123456789", len - 1)
        );
        format!(
            "{}.{}.{}",
            STANDARD_NO_PAD.encode(id),
            self.string(B64URL, 6),
            self.string(B64URL, 38)
        )
    }

    fn jwt(&mut self) -> String {
        let alg = ["HS256", "RS256", "ES256"][self.below(3)];
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let payload = format!(
            r#"{{"sub":"{}","name":"{}","iat":{}}}"#,
            self.string(b"0123456789", 8),
            self.string(&ALNUM[26..52], 6),
            1_600_000_000 + self.below(200_000_000)
        );
        let signature_len = if alg == "RS256" { 342 } else { 43 };
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            self.string(B64URL, signature_len)
        )
    }

    fn basic(&mut self) -> String {
        let user = self.string(&ALNUM[26..52], 6);
        let password = self.string(ALNUM, 16);
        STANDARD.encode(format!("{user}:{password}"))
    }

    fn pem(&mut self, label: &str, newline: &str) -> String {
        let mut out = armor("BEGIN", label) + newline;
        if label.starts_with("PGP") {
            out.push_str("Version: Example");
            out.push_str(newline);
            out.push_str(newline);
        }
        for _ in 0..12 + self.below(8) {
            out.push_str(&self.string(B64, 64));
            out.push_str(newline);
        }
        let last = 4 * (1 + self.below(15));
        out.push_str(&self.string(B64, last));
        out.push_str(newline);
        if label.starts_with("PGP") {
            out.push('=');
            out.push_str(&self.string(B64, 4));
            out.push_str(newline);
        }
        out.push_str(&armor("END", label));
        out
    }

    fn putty(&mut self) -> String {
        format!(
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: key-{}\n\
             Public-Lines: 2\n{}\n{}\nPrivate-Lines: 1\n{}\nPrivate-MAC: {}\n",
            self.string(b"0123456789", 8),
            self.string(B64, 64),
            self.string(B64, 4),
            self.string(B64, 44),
            self.string(b"0123456789abcdef", 64)
        )
    }

    /// A fresh example for the rule `rule_id`: its first positive template,
    /// expanded. This is text the rule finds, context included (`aws_secret_access_key = ...`).
    pub fn example(&mut self, rule_id: &str) -> Option<String> {
        let rule = scanner()?.rules().find(|r| r.id == rule_id)?;
        let template = rule.positive.first()?.clone();
        Some(self.expand(&template))
    }

    /// The secret of a fresh example for the rule `rule_id`: what a finding
    /// of that rule covers, for benchmarks that plant tokens in content.
    ///
    /// Rules that need context (an assignment to `aws_secret_access_key`, a
    /// URL scheme) do not find the secret alone: plant
    /// [`Generator::example`] for those. `None` for an unknown rule.
    pub fn token(&mut self, rule_id: &str) -> Option<String> {
        let scanner = scanner()?;
        let text = self.example(rule_id)?;
        let finding = scanner
            .scan_bytes(text.as_bytes())
            .into_iter()
            .find(|f| f.rule == rule_id)?;
        let start = usize::try_from(finding.offset).ok()?;
        text.get(start..start + finding.length).map(str::to_owned)
    }
}

/// The built-in scanner, compiled once for [`Generator::token`].
fn scanner() -> Option<&'static Scanner> {
    static SCANNER: OnceLock<Option<Scanner>> = OnceLock::new();
    SCANNER
        .get_or_init(|| Scanner::builder().build().ok())
        .as_ref()
}

/// A PEM armor line, `-----BEGIN LABEL-----`: assembled here so that no
/// committed file holds a key-shaped header.
fn armor(which: &str, label: &str) -> String {
    const DASHES: &str = "-----";
    format!("{DASHES}{which} {label}{DASHES}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_output() {
        let t = "x={{alnum:20}} {{jwt}} {{uuid}}";
        assert_eq!(Generator::new(5).expand(t), Generator::new(5).expand(t));
        assert_ne!(Generator::new(5).expand(t), Generator::new(6).expand(t));
    }

    #[test]
    fn classes_have_their_length_and_alphabet() {
        let mut g = Generator::new(1);
        let s = g.expand("{{hex:40}}");
        assert_eq!(s.len(), 40);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let s = g.expand("{{base32:16}}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
    }

    #[test]
    fn marks_cover_the_expansions_and_spaced_braces_stay_literal() {
        let (text, marks) = Generator::new(2).expand_marked("a {{digits:3}} b {{ x }} {{lower:2}}");
        assert_eq!(marks.len(), 2);
        assert_eq!(&text[..2], "a ");
        assert!(text[marks[0].clone()].bytes().all(|b| b.is_ascii_digit()));
        assert!(text.contains("{{ x }}"));
    }

    #[test]
    #[should_panic(expected = "unknown template placeholder")]
    fn unknown_placeholders_panic() {
        Generator::new(0).expand("{{nope}}");
    }

    #[test]
    fn tokens_come_from_the_rules() {
        let mut g = Generator::new(4);
        let token = g.token("github-pat").unwrap();
        assert!(token.starts_with("ghp_") && token.len() == 40);
        assert!(g.token("no-such-rule").is_none());
    }
}
