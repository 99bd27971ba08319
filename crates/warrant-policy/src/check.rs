//! Lints: what parses but is likely a mistake or grants too much.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use warrant_secret::SecretName;

use crate::duration::format_duration;
use crate::pattern::{PatternKind, PatternSet};
use crate::policy::{Approval, Policy, Rule};

/// How serious a [`Finding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Likely a mistake, or broader than a task needs.
    Warning,
    /// Grants far more than any task needs; fix before relying on the policy.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem [`Policy::check`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// Line of the rule or actor concerned (1 for the whole file).
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// An `approval = "auto"` rule lasting longer than this is flagged.
const AUTO_TTL_LIMIT: Duration = Duration::from_secs(60 * 60);
/// Any rule lasting longer than this is flagged.
const TTL_LIMIT: Duration = Duration::from_secs(24 * 60 * 60);

// Names that only a catch-all pattern matches all of.
const PROBE_NAMES: &[&str] = &["a", "Zq9", "_x-1", "0.b", "mn"];
const PROBE_PATHS: &[&str] = &["/a", "/usr/bin/Zq9", "/tmp/x/_y-1", "/0.b"];

impl Policy {
    /// Lints: problems that parse but are likely mistakes or too broad.
    ///
    /// With `known_secrets` (the names in the store), secret patterns that
    /// match none of them are flagged too. Findings come in line order.
    pub fn check(&self, known_secrets: Option<&[SecretName]>) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut warn = |severity, line, message: String| {
            findings.push(Finding {
                severity,
                line,
                message,
            });
        };

        if self.rules.is_empty() {
            warn(
                Severity::Warning,
                1,
                "the policy has no rules, so every request is denied; add a [[rules]] entry".into(),
            );
        }
        for actor in &self.actors {
            if !self.rules.iter().any(|r| r.actors.contains(&actor.name)) {
                warn(
                    Severity::Warning,
                    actor.line,
                    format!(
                        "actor {0} is used by no rule; add it to a rule's actors or remove [actors.{0}]",
                        actor.name
                    ),
                );
            }
        }
        for rule in &self.rules {
            check_rule(rule, known_secrets, &mut warn);
        }
        findings.sort_by_key(|f| (f.line, std::cmp::Reverse(f.severity)));
        findings
    }
}

fn check_rule(
    rule: &Rule,
    known: Option<&[SecretName]>,
    warn: &mut impl FnMut(Severity, usize, String),
) {
    let line = rule.line;
    let auto = rule.approval == Approval::Auto;
    for pattern in rule.secrets.patterns() {
        let one = single(PatternKind::Secret, pattern);
        if PROBE_NAMES.iter().all(|name| one.is_match(name)) {
            if auto {
                warn(
                    Severity::Error,
                    line,
                    format!(
                        "secret pattern {pattern:?} with approval = \"auto\" hands out every secret \
                         without asking; name the secrets the rule needs or set approval = \"required\""
                    ),
                );
            } else {
                warn(
                    Severity::Warning,
                    line,
                    format!(
                        "secret pattern {pattern:?} matches every secret; name the secrets the rule needs"
                    ),
                );
            }
        } else if let Some(known) = known {
            if !known.iter().any(|name| one.is_match(name.as_str())) {
                warn(
                    Severity::Warning,
                    line,
                    format!(
                        "secret pattern {pattern:?} matches no secret in the store; \
                         fix the pattern or add the secret"
                    ),
                );
            }
        }
    }

    if rule.allow_http {
        warn(
            Severity::Warning,
            line,
            "allow_http = true lets these secrets cross the network unencrypted; \
             remove it unless the hosts are on a network you trust"
                .into(),
        );
    }
    if rule.substitute_in.body || rule.substitute_in.query {
        warn(
            Severity::Warning,
            line,
            "substitute_in puts values in URLs or bodies, which an allowed host may keep and \
             show again; prefer inject = [...] or placeholders in headers"
                .into(),
        );
    }

    match &rule.commands {
        None => warn(
            Severity::Warning,
            line,
            "rule has no commands, so any command may receive these secrets; \
             list the programs it needs, e.g. commands = [\"cargo\"]"
                .into(),
        ),
        Some(commands) => {
            for pattern in commands.patterns() {
                let one = single(PatternKind::Command, pattern);
                let any_name = PROBE_NAMES.iter().all(|name| one.is_match(name));
                let any_path = PROBE_PATHS.iter().all(|path| one.is_match(path));
                if any_name || any_path {
                    warn(
                        Severity::Warning,
                        line,
                        format!(
                            "command pattern {pattern:?} lets any program receive these secrets; \
                             list the programs by name or absolute path"
                        ),
                    );
                }
            }
        }
    }

    for pattern in rule.hosts.patterns() {
        if let Some(suffix) = pattern.strip_prefix("*.") {
            if !suffix.trim_end_matches('.').contains('.') {
                warn(
                    Severity::Warning,
                    line,
                    format!(
                        "host pattern {pattern:?} covers a whole top-level domain; \
                         name the hosts, like \"api.example.com\""
                    ),
                );
            }
        }
    }

    if auto && rule.max_ttl > AUTO_TTL_LIMIT {
        warn(
            Severity::Warning,
            line,
            format!(
                "approval = \"auto\" with max_ttl = \"{}\" lets unapproved grants last over an hour; \
                 shorten max_ttl or set approval = \"required\"",
                format_duration(rule.max_ttl)
            ),
        );
    }
    if rule.max_ttl > TTL_LIMIT {
        warn(
            Severity::Warning,
            line,
            format!(
                "max_ttl = \"{}\" is longer than a day; a grant is for one task, shorten it",
                format_duration(rule.max_ttl)
            ),
        );
    }
}

/// A set of one pattern that already compiled once.
fn single(kind: PatternKind, pattern: &str) -> PatternSet {
    PatternSet::new(kind, &[pattern]).unwrap_or_else(|_| PatternSet::empty(kind))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn catch_all_detection_is_not_fooled_by_prefixes() {
        let policy = Policy::parse(
            Path::new("warrant.toml"),
            r#"
[actors.a]
kind = "agent"
[[rules]]
actors = ["a"]
secrets = ["z*", "{*,**}"]
commands = ["c*", "/**"]
max_ttl = "1m"
approval = "required"
"#,
        )
        .unwrap();
        let messages: Vec<String> = policy.check(None).into_iter().map(|f| f.message).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].starts_with("secret pattern \"{*,**}\" matches every secret"));
        assert!(messages[1].starts_with("command pattern \"/**\" lets any program"));
    }

    #[test]
    fn an_empty_policy_says_it_denies_everything() {
        let policy = Policy::parse(Path::new("warrant.toml"), "").unwrap();
        let findings = policy.check(None);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].line, 1);
    }
}
