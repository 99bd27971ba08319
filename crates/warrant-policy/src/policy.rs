//! The policy and what it is made of.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::delivery::{Injection, SubstituteIn};
use crate::error::{Error, line_column};
use crate::pattern::PatternSet;

/// The file name [`Policy::find`] looks for.
pub const FILE_NAME: &str = "warrant.toml";

/// A parsed, validated `warrant.toml`.
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) path: PathBuf,
    pub(crate) hash: String,
    /// The text it was parsed from (a daemon keeps the accepted one).
    pub(crate) text: std::sync::Arc<str>,
    pub(crate) actors: Vec<Actor>,
    pub(crate) rules: Vec<Rule>,
}

impl Policy {
    /// Reads and parses a file. Errors name `path:line:column`.
    pub fn load(path: &Path) -> Result<Policy, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        match std::str::from_utf8(&bytes) {
            Ok(text) => Self::parse(path, text),
            Err(error) => {
                let valid = std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default();
                let (line, column) = line_column(valid, valid.len());
                Err(Error::Malformed {
                    path: path.to_owned(),
                    line,
                    column,
                    message: "the file is not valid UTF-8; save it as UTF-8".into(),
                })
            }
        }
    }

    /// Parses text; `origin` is the path used in messages and stored in the policy.
    pub fn parse(origin: &Path, text: &str) -> Result<Policy, Error> {
        let (actors, rules) = crate::parse::parse(text).map_err(|problem| {
            let (line, column) = line_column(text, problem.offset);
            Error::Malformed {
                path: origin.to_owned(),
                line,
                column,
                message: problem.message,
            }
        })?;
        Ok(Policy {
            path: origin.to_owned(),
            hash: hex::encode(Sha256::digest(text.as_bytes())),
            text: std::sync::Arc::from(text),
            actors,
            rules,
        })
    }

    /// `warrant.toml` in `dir` or the nearest parent that has one.
    pub fn find(dir: &Path) -> Option<PathBuf> {
        dir.ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|candidate| candidate.is_file())
    }

    /// The file the policy was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hex SHA-256 of the file's bytes: recorded with every grant.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The actors, in file order.
    pub fn actors(&self) -> impl Iterator<Item = &Actor> {
        self.actors.iter()
    }

    /// The actor named `name`.
    pub fn actor(&self, name: &str) -> Option<&Actor> {
        self.actors.iter().find(|actor| actor.name == name)
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule whose `[[rules]]` header is on `line`.
    pub fn rule_at(&self, line: usize) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.line == line)
    }
}

/// Who asks for secrets, as defined under `[actors.NAME]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The name, the key of `[actors.NAME]`.
    pub name: String,
    /// Human, agent or workload.
    pub kind: ActorKind,
    /// What the actor is, for people reading the policy.
    pub description: Option<String>,
    /// Line of the actor's definition.
    pub line: usize,
}

/// What kind of actor asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A person at a terminal.
    Human,
    /// An AI coding agent.
    Agent,
    /// A non-interactive job, such as CI.
    Workload,
}

/// Whether a human must approve a grant before it becomes active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// A human approves each grant.
    Required,
    /// A human approves each grant on the approval page, with the
    /// passphrase and a registered security key (WebAuthn): something no
    /// process on the machine can produce. `warrant approve` refuses it.
    #[serde(rename = "hardware_key")]
    HardwareKey,
    /// The grant is active as soon as it is asked for.
    Auto,
}

impl Approval {
    /// How strict it is: the strictest rule used decides a grant's approval.
    pub fn strictness(self) -> u8 {
        match self {
            Self::Auto => 0,
            Self::Required => 1,
            Self::HardwareKey => 2,
        }
    }
}

/// What happens to running processes when a grant expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExpiry {
    /// SIGTERM, then SIGKILL after the grace period.
    #[default]
    Terminate,
    /// Running processes finish; no new use is allowed.
    Finish,
}

/// Implements `Display` and a `Deserialize` whose error lists the choices.
macro_rules! keyword_enum {
    ($type:ident, $what:literal, $choices:literal, { $($text:literal => $variant:ident),+ $(,)? }) => {
        impl $type {
            /// The keyword as written in the policy.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct KeywordVisitor;
                impl Visitor<'_> for KeywordVisitor {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($choices)
                    }
                    fn visit_str<E: de::Error>(self, text: &str) -> Result<$type, E> {
                        match text {
                            $($text => Ok($type::$variant),)+
                            other => Err(E::custom(format!(
                                concat!("unknown ", $what, " {:?}; use ", $choices),
                                other
                            ))),
                        }
                    }
                }
                deserializer.deserialize_str(KeywordVisitor)
            }
        }
    };
}

keyword_enum!(ActorKind, "actor kind", "\"human\", \"agent\" or \"workload\"", {
    "human" => Human,
    "agent" => Agent,
    "workload" => Workload,
});
keyword_enum!(Approval, "approval", "\"required\", \"hardware_key\" or \"auto\"", {
    "required" => Required,
    "hardware_key" => HardwareKey,
    "auto" => Auto,
});
keyword_enum!(OnExpiry, "on_expiry", "\"terminate\" or \"finish\"", {
    "terminate" => Terminate,
    "finish" => Finish,
});

/// One `[[rules]]` entry.
#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// Line of the rule's `[[rules]]` header: how messages and grants name it.
    pub line: usize,
    /// Position among the rules, from 1.
    pub number: usize,
    /// Actors the rule applies to; each is defined under `[actors]`.
    pub actors: Vec<String>,
    /// Secrets the rule covers.
    #[serde(serialize_with = "serialize_patterns")]
    pub secrets: PatternSet,
    /// Programs that may receive the secrets; `None` means any program.
    #[serde(serialize_with = "serialize_optional_patterns")]
    pub commands: Option<PatternSet>,
    /// Hosts the secrets may be sent to over HTTP; empty means none.
    #[serde(serialize_with = "serialize_patterns")]
    pub hosts: PatternSet,
    /// Longest grant the rule allows.
    #[serde(serialize_with = "crate::duration::serialize")]
    pub max_ttl: Duration,
    /// Whether a human approves each grant.
    pub approval: Approval,
    /// Most uses of a grant, if limited.
    pub max_uses: Option<u64>,
    /// What happens to running processes at expiry.
    pub on_expiry: OnExpiry,
    /// Time between SIGTERM and SIGKILL at expiry.
    #[serde(serialize_with = "crate::duration::serialize")]
    pub grace: Duration,
    /// Why the rule exists, for people reading the policy.
    pub description: Option<String>,
    /// Whether the secrets may go over plain HTTP too (default: HTTPS only).
    pub allow_http: bool,
    /// Where placeholders are replaced besides headers.
    pub substitute_in: SubstituteIn,
    /// Values the egress adds to requests by itself.
    pub inject: Vec<Injection>,
}

impl Rule {
    /// Default SIGTERM→SIGKILL grace period.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
}

fn serialize_patterns<S: serde::Serializer>(
    set: &PatternSet,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    set.patterns().serialize(serializer)
}

fn serialize_optional_patterns<S: serde::Serializer>(
    set: &Option<PatternSet>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    set.as_ref().map(PatternSet::patterns).serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_display_and_parse() {
        assert_eq!(ActorKind::Workload.to_string(), "workload");
        assert_eq!(Approval::Auto.to_string(), "auto");
        assert_eq!(OnExpiry::default(), OnExpiry::Terminate);
        let kind: ActorKind = toml::Value::String("human".into()).try_into().unwrap();
        assert_eq!(kind, ActorKind::Human);
        let error = toml::Value::String("maybe".into())
            .try_into::<Approval>()
            .unwrap_err();
        assert!(
            error.to_string().contains(
                "unknown approval \"maybe\"; use \"required\", \"hardware_key\" or \"auto\""
            ),
            "{error}"
        );
    }

    #[test]
    fn find_walks_up_to_the_nearest_policy() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(root.path().join(FILE_NAME), "").unwrap();
        assert_eq!(Policy::find(&nested), Some(root.path().join(FILE_NAME)));
        std::fs::write(root.path().join("a").join(FILE_NAME), "").unwrap();
        assert_eq!(
            Policy::find(&nested),
            Some(root.path().join("a").join(FILE_NAME))
        );
    }
}
