//! Detection rules, kept as data in `rules/*.toml` and compiled at start.
//!
//! A rule file holds `[[rule]]` tables:
//!
//! ```toml
//! [[rule]]
//! id = "github-pat"                    # unique, kebab-case; what reports name
//! name = "GitHub personal access token"
//! keywords = ["ghp_"]                  # literals, ASCII case-insensitive; every
//!                                      # match contains at least one of them
//! regex = '''\bghp_[A-Za-z0-9]{36}\b'''  # Rust regex syntax, on bytes; the
//!                                      # secret is the group named `secret`,
//!                                      # or else the whole match
//! max_len = 64                         # no match is longer (bounds chunk overlap)
//! checksum = "github"                  # optional: a validator in checksum.rs
//! min_entropy = 3.0                    # optional: Shannon bits per byte of the secret
//! exclude = ['''(?i)example''']        # optional: a secret matching any is not reported
//! generic = false                      # true for assignment rules (`password = ...`)
//! positive = ["token: {{ghp}}"]        # examples (templates, see fixtures.rs) that
//! negative = ["ghp_short"]             # must and must not be found
//! ```

use std::sync::OnceLock;

use regex::bytes::Regex;
use serde::Deserialize;

use crate::Error;
use crate::checksum::Checksum;

/// The built-in rule files, embedded so that the binary carries them.
const BUILTIN: &[(&str, &str)] = &[
    ("rules/cloud.toml", include_str!("../rules/cloud.toml")),
    (
        "rules/code-hosting.toml",
        include_str!("../rules/code-hosting.toml"),
    ),
    (
        "rules/communication.toml",
        include_str!("../rules/communication.toml"),
    ),
    ("rules/payment.toml", include_str!("../rules/payment.toml")),
    ("rules/ai.toml", include_str!("../rules/ai.toml")),
    (
        "rules/registries.toml",
        include_str!("../rules/registries.toml"),
    ),
    ("rules/saas.toml", include_str!("../rules/saas.toml")),
    ("rules/keys.toml", include_str!("../rules/keys.toml")),
    ("rules/generic.toml", include_str!("../rules/generic.toml")),
];

/// One rule as written in a rule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    name: String,
    keywords: Vec<String>,
    regex: String,
    max_len: usize,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default)]
    min_entropy: Option<f64>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    generic: bool,
    positive: Vec<String>,
    #[serde(default)]
    negative: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// What a report or `--list-rules` shows of a rule.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    /// Unique id, kebab-case (`github-pat`).
    pub id: String,
    /// What the rule finds, for people.
    pub name: String,
    /// Whether this is a generic assignment rule rather than a format.
    pub generic: bool,
    /// Whether a checksum confirms each match.
    pub checksum: bool,
    /// Example templates that must be found (see [`crate::fixtures`]).
    pub positive: Vec<String>,
    /// Example templates that must not be found.
    pub negative: Vec<String>,
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub info: RuleInfo,
    pub keywords: Vec<String>,
    pub regex: LazyRegex,
    pub max_len: usize,
    checksum: Option<Checksum>,
    min_entropy: Option<f64>,
    exclude: Vec<LazyRegex>,
}

/// A regex compiled on first use: a hook that scans one prompt should not
/// pay for compiling every rule.
#[derive(Debug)]
pub(crate) struct LazyRegex {
    source: String,
    compiled: OnceLock<(Regex, Option<usize>)>,
}

impl LazyRegex {
    /// Checks the syntax now (cheap); compiles later.
    fn new(source: &str, max_len: Option<usize>) -> Result<LazyRegex, String> {
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(source)
            .map_err(|e| e.to_string())?;
        // The engine looks only `max_len` bytes around a keyword: a longer
        // match would be cut short or missed at a window or chunk edge.
        if let Some(limit) = max_len {
            match hir.properties().maximum_len() {
                Some(n) if n <= limit => {}
                Some(n) => {
                    return Err(format!("it can match {n} bytes, more than max_len {limit}"));
                }
                None => return Err("it can match without bound; bound every repetition".into()),
            }
        }
        Ok(LazyRegex {
            source: source.to_owned(),
            compiled: OnceLock::new(),
        })
    }

    fn compiled(&self) -> &(Regex, Option<usize>) {
        self.compiled.get_or_init(|| {
            // The built-in rules are all compiled by a test, so this holds.
            let regex = Regex::new(&self.source).expect("a rule regex that parsed compiles");
            let group = regex.capture_names().position(|n| n == Some("secret"));
            (regex, group)
        })
    }

    /// The compiled regex.
    pub fn get(&self) -> &Regex {
        &self.compiled().0
    }

    /// Index of the `secret` capture group, if the regex has one.
    pub fn secret_group(&self) -> Option<usize> {
        self.compiled().1
    }
}

impl Rule {
    /// Whether a matched secret passes the rule's checksum, entropy and
    /// exclusions.
    pub fn accepts(&self, secret: &[u8]) -> bool {
        if let Some(c) = self.checksum
            && !c.verify(secret)
        {
            return false;
        }
        if let Some(min) = self.min_entropy
            && entropy(secret) < min
        {
            return false;
        }
        !self.exclude.iter().any(|r| r.get().is_match(secret))
    }
}

/// Shannon entropy of `bytes` in bits per byte.
pub(crate) fn entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The built-in rules, compiled.
pub(crate) fn builtin() -> Result<Vec<Rule>, Error> {
    let mut rules = Vec::new();
    for (file, text) in BUILTIN {
        rules.extend(parse(file, text)?);
    }
    let mut ids = std::collections::HashSet::new();
    for r in &rules {
        if !ids.insert(r.info.id.as_str()) {
            return Err(rule_error(&r.info.id, "the id is used twice"));
        }
    }
    Ok(rules)
}

/// Compiles the rules of one file.
pub(crate) fn parse(file: &str, text: &str) -> Result<Vec<Rule>, Error> {
    let parsed: RuleFile = toml::from_str(text).map_err(|e| rule_error(file, &e.to_string()))?;
    parsed.rule.into_iter().map(compile).collect()
}

fn compile(spec: RuleSpec) -> Result<Rule, Error> {
    let id = spec.id;
    let err = |m: &str| rule_error(&id, m);
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(err("the id must be kebab-case (a-z, 0-9, -)"));
    }
    if spec.keywords.is_empty() || spec.keywords.iter().any(|k| k.len() < 3) {
        return Err(err("every rule needs keywords of at least 3 bytes"));
    }
    if spec.positive.is_empty() {
        return Err(err("every rule needs positive examples"));
    }
    if spec.max_len == 0 || spec.max_len > crate::engine::MAX_MATCH {
        return Err(err(&format!(
            "max_len must be 1 to {}",
            crate::engine::MAX_MATCH
        )));
    }
    let regex = LazyRegex::new(&spec.regex, Some(spec.max_len))
        .map_err(|e| err(&format!("bad regex: {e}")))?;
    let checksum = spec
        .checksum
        .as_deref()
        .map(|name| Checksum::named(name).ok_or_else(|| err(&format!("no checksum named {name}"))))
        .transpose()?;
    let exclude = spec
        .exclude
        .iter()
        .map(|e| LazyRegex::new(e, None).map_err(|x| err(&format!("bad exclude regex: {x}"))))
        .collect::<Result<_, _>>()?;
    Ok(Rule {
        info: RuleInfo {
            id: id.clone(),
            name: spec.name,
            generic: spec.generic,
            checksum: checksum.is_some(),
            positive: spec.positive,
            negative: spec.negative,
        },
        keywords: spec.keywords,
        regex,
        max_len: spec.max_len,
        checksum,
        min_entropy: spec.min_entropy,
        exclude,
    })
}

fn rule_error(rule: &str, message: &str) -> Error {
    Error::Rule {
        rule: rule.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_regex_compiles() {
        for rule in builtin().unwrap() {
            assert!(Regex::new(&rule.regex.source).is_ok(), "{}", rule.info.id);
            for e in &rule.exclude {
                assert!(Regex::new(&e.source).is_ok(), "{} exclude", rule.info.id);
            }
        }
    }

    #[test]
    fn a_bad_regex_is_named_with_its_rule() {
        let text = "[[rule]]\nid = \"x-y\"\nname = \"X\"\nkeywords = [\"abc\"]\nregex = \"abc(\"\nmax_len = 9\npositive = [\"abc\"]\n";
        let err = parse("f.toml", text).unwrap_err().to_string();
        assert!(err.starts_with("rule x-y: bad regex"), "{err}");
        let long = text.replace("abc(", "abc[0-9]{20}");
        let err = parse("f.toml", &long).unwrap_err().to_string();
        assert!(err.contains("more than max_len 9"), "{err}");
        let unbounded = text.replace("abc(", "abc[0-9]+");
        let err = parse("f.toml", &unbounded).unwrap_err().to_string();
        assert!(err.contains("without bound"), "{err}");
    }
}
