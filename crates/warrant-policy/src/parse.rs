//! From TOML text to validated actors and rules.
//!
//! Serde reads the text into raw structs that keep spans; this module then
//! checks what serde cannot (empty lists, zero durations, patterns, actors
//! that rules name) and reports the problem that comes first in the file.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::duration::HumanDuration;
use crate::error::line_column;
use crate::pattern::{PatternKind, PatternSet};
use crate::policy::{Actor, ActorKind, Approval, OnExpiry, Rule};

/// A problem at a byte offset of the text.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    actors: BTreeMap<Spanned<String>, Spanned<RawActor>>,
    #[serde(default)]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActor {
    kind: Option<ActorKind>,
    description: Option<String>,
}

type List = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    actors: Option<List>,
    secrets: Option<List>,
    commands: Option<List>,
    hosts: Option<List>,
    max_ttl: Option<Spanned<HumanDuration>>,
    approval: Option<Approval>,
    max_uses: Option<Spanned<i64>>,
    on_expiry: Option<OnExpiry>,
    grace: Option<HumanDuration>,
    description: Option<String>,
}

/// Problems found so far; the one earliest in the file is reported.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.0.push(Problem {
            offset: span.start,
            message: message.into(),
        });
    }

    fn first(self) -> Option<Problem> {
        self.0.into_iter().min_by_key(|problem| problem.offset)
    }
}

/// Parses and validates `text`.
pub(crate) fn parse(text: &str) -> Result<(Vec<Actor>, Vec<Rule>), Problem> {
    let raw: RawPolicy = toml::from_str(text).map_err(|error| Problem {
        offset: error.span().map_or(0, |span| span.start),
        message: error.message().trim_end_matches('.').to_owned(),
    })?;
    let mut problems = Problems::default();
    let line_of = |offset: usize| line_column(text, offset).0;

    let mut actors = Vec::new();
    for (name, raw_actor) in &raw.actors {
        let header = raw_actor.span();
        if !is_valid_actor_name(name.get_ref()) {
            problems.push(
                name.span(),
                format!(
                    "invalid actor name {:?}; use letters, digits, '.', '_' and '-'",
                    name.get_ref()
                ),
            );
        }
        let raw_actor = raw_actor.get_ref();
        let Some(kind) = raw_actor.kind else {
            problems.push(
                header,
                format!(
                    "actor {:?} has no kind; add kind = \"agent\" (or \"human\", \"workload\")",
                    name.get_ref()
                ),
            );
            continue;
        };
        actors.push(Actor {
            name: name.get_ref().clone(),
            kind,
            description: raw_actor.description.clone(),
            line: line_of(header.start),
        });
    }
    actors.sort_by_key(|actor| actor.line);

    let mut rules = Vec::new();
    for (index, raw_rule) in raw.rules.iter().enumerate() {
        let header = raw_rule.span();
        let line = line_of(header.start);
        if let Some(rule) = rule(
            raw_rule.get_ref(),
            header,
            line,
            index + 1,
            &raw.actors,
            &mut problems,
        ) {
            rules.push(rule);
        }
    }

    match problems.first() {
        Some(problem) => Err(problem),
        None => Ok((actors, rules)),
    }
}

/// Validates one rule; `None` if a problem was recorded.
fn rule(
    raw: &RawRule,
    header: Range<usize>,
    line: usize,
    number: usize,
    defined: &BTreeMap<Spanned<String>, Spanned<RawActor>>,
    problems: &mut Problems,
) -> Option<Rule> {
    let before = problems.0.len();
    let missing = |problems: &mut Problems, key: &str, example: &str| {
        problems.push(
            header.clone(),
            format!("rule is missing {key}; add {example}"),
        );
    };

    let mut actors = Vec::new();
    match &raw.actors {
        None => missing(
            problems,
            "actors",
            "actors = [\"NAME\"] naming actors defined under [actors]",
        ),
        Some(list) if list.get_ref().is_empty() => problems.push(
            list.span(),
            "actors is empty; name at least one actor defined under [actors]",
        ),
        Some(list) => {
            for name in list.get_ref() {
                let known = defined.keys().any(|key| key.get_ref() == name.get_ref());
                if !known {
                    problems.push(
                        name.span(),
                        format!(
                            "actor {0:?} is not defined; add [actors.{0}] with a kind \
                             (\"human\", \"agent\" or \"workload\") or fix the name",
                            name.get_ref()
                        ),
                    );
                } else if !actors.contains(name.get_ref()) {
                    actors.push(name.get_ref().clone());
                }
            }
        }
    }

    let secrets = match &raw.secrets {
        None => {
            missing(
                problems,
                "secrets",
                "secrets = [\"db/dev/*\"] with secret names or globs",
            );
            None
        }
        Some(list) if list.get_ref().is_empty() => {
            problems.push(
                list.span(),
                "secrets is empty; list secret names or globs such as \"db/dev/*\"",
            );
            None
        }
        Some(list) => patterns(PatternKind::Secret, list, problems),
    };

    let commands = match &raw.commands {
        None => Some(None),
        Some(list) if list.get_ref().is_empty() => {
            problems.push(
                list.span(),
                "commands is empty; omit it to allow any command, or list programs such as \"cargo\"",
            );
            None
        }
        Some(list) => patterns(PatternKind::Command, list, problems).map(Some),
    };

    let hosts = match &raw.hosts {
        None => Some(PatternSet::empty(PatternKind::Host)),
        Some(list) => patterns(PatternKind::Host, list, problems),
    };

    let max_ttl = match &raw.max_ttl {
        None => {
            missing(problems, "max_ttl", "max_ttl = \"30m\"");
            None
        }
        Some(ttl) if ttl.get_ref().0 == Duration::ZERO => {
            problems.push(
                ttl.span(),
                "max_ttl cannot be zero; use a duration like \"30m\"",
            );
            None
        }
        Some(ttl) => Some(ttl.get_ref().0),
    };

    if raw.approval.is_none() {
        missing(
            problems,
            "approval",
            "approval = \"required\" (or \"auto\")",
        );
    }

    let max_uses = match &raw.max_uses {
        None => Some(None),
        Some(uses) => match u64::try_from(*uses.get_ref()) {
            Ok(n) if n > 0 => Some(Some(n)),
            _ => {
                problems.push(
                    uses.span(),
                    "max_uses must be at least 1; omit it for no limit",
                );
                None
            }
        },
    };

    if problems.0.len() > before {
        return None;
    }
    Some(Rule {
        line,
        number,
        actors,
        secrets: secrets?,
        commands: commands?,
        hosts: hosts?,
        max_ttl: max_ttl?,
        approval: raw.approval?,
        max_uses: max_uses?,
        on_expiry: raw.on_expiry.unwrap_or_default(),
        grace: raw
            .grace
            .as_ref()
            .map_or(Rule::DEFAULT_GRACE, |grace| grace.0),
        description: raw.description.clone(),
    })
}

/// Compiles one list, recording a problem at each bad pattern.
fn patterns(kind: PatternKind, list: &List, problems: &mut Problems) -> Option<PatternSet> {
    let mut set = PatternSet::empty(kind);
    let mut ok = true;
    for pattern in list.get_ref() {
        if let Err(message) = set.push(pattern.get_ref()) {
            problems.push(pattern.span(), message);
            ok = false;
        }
    }
    ok.then_some(set)
}

/// Actor names appear on command lines and in audit records: keep them plain.
fn is_valid_actor_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> (usize, usize, String) {
        let problem = parse(text).unwrap_err();
        let (line, column) = line_column(text, problem.offset);
        (line, column, problem.message)
    }

    #[test]
    fn reports_the_earliest_problem_in_the_file() {
        // Rules come before actors here, and both have a problem.
        let text = "[[rules]]\nactors = [\"nobody\"]\nsecrets = [\"x\"]\nmax_ttl = \"1m\"\napproval = \"auto\"\n\n[actors.\"bad name\"]\nkind = \"agent\"\n";
        let (line, column, message) = problem(text);
        assert_eq!((line, column), (2, 11), "{message}");
        assert!(
            message.starts_with("actor \"nobody\" is not defined"),
            "{message}"
        );
    }

    #[test]
    fn missing_keys_point_at_the_rule_header() {
        let text = "[actors.a]\nkind = \"agent\"\n\n[[rules]]\nactors = [\"a\"]\nsecrets = [\"x\"]\napproval = \"auto\"\n";
        let (line, column, message) = problem(text);
        assert_eq!((line, column), (4, 1));
        assert_eq!(message, "rule is missing max_ttl; add max_ttl = \"30m\"");
    }

    #[test]
    fn actor_names_are_plain() {
        assert!(is_valid_actor_name("claude-code.v2_x"));
        for bad in ["", "a b", "a/b", "é"] {
            assert!(!is_valid_actor_name(bad), "{bad:?}");
        }
    }
}
