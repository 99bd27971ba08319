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

use crate::delivery::{self, InjectInto, Injection, SubstituteIn};
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
    allow_http: Option<bool>,
    substitute_in: Option<List>,
    inject: Option<Spanned<Vec<Spanned<RawInjection>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInjection {
    secret: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    header: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    basic: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
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

    let mut hosts = match &raw.hosts {
        None => Some(PatternSet::empty(PatternKind::Host)),
        Some(list) => patterns(PatternKind::Host, list, problems),
    };

    let substitute_in = substitute_in(raw.substitute_in.as_ref(), problems);
    let inject = match (&raw.inject, &secrets) {
        (Some(list), Some(secrets)) => injections(list, secrets, problems),
        _ => Some(Vec::new()),
    };
    // An injection's host is one the secret may go to.
    if let (Some(hosts), Some(inject)) = (&mut hosts, &inject) {
        for injection in inject {
            if !hosts.patterns().contains(&injection.host) {
                hosts
                    .push(&injection.host)
                    .expect("checked with the injection");
            }
        }
    }

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
        allow_http: raw.allow_http.unwrap_or(false),
        substitute_in: substitute_in?,
        inject: inject?,
    })
}

/// `substitute_in = ["query", "body"]`.
fn substitute_in(list: Option<&List>, problems: &mut Problems) -> Option<SubstituteIn> {
    let mut places = SubstituteIn::default();
    let mut ok = true;
    for place in list.map_or(&[][..], |l| l.get_ref().as_slice()) {
        match place.get_ref().as_str() {
            "query" => places.query = true,
            "body" => places.body = true,
            "headers" => {}
            other => {
                problems.push(
                    place.span(),
                    format!(
                        "unknown place {other:?} in substitute_in; use \"query\" or \"body\" \
                         (placeholders in headers are always replaced)"
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(places)
}

/// `inject = [{ secret, host, header/format | basic | query }]`.
fn injections(
    list: &Spanned<Vec<Spanned<RawInjection>>>,
    secrets: &PatternSet,
    problems: &mut Problems,
) -> Option<Vec<Injection>> {
    let before = problems.0.len();
    let mut out = Vec::new();
    for raw in list.get_ref() {
        let span = raw.span();
        let raw = raw.get_ref();
        let example = "like { secret = \"github/token\", host = \"api.github.com\", \
                       header = \"Authorization\", format = \"Bearer {value}\" }";
        let (Some(secret), Some(host)) = (&raw.secret, &raw.host) else {
            problems.push(
                span,
                format!("an injection needs a secret and a host, {example}"),
            );
            continue;
        };
        let name = secret.get_ref();
        if warrant_secret::SecretName::new(name).is_err() || crate::pattern::has_glob_chars(name) {
            problems.push(
                secret.span(),
                format!("{name:?} is not a secret name; an injection names one secret, no glob"),
            );
            continue;
        }
        if !secrets.is_match(name) {
            problems.push(
                secret.span(),
                format!("{name:?} is not among this rule's secrets ({secrets})"),
            );
            continue;
        }
        let mut check_host = PatternSet::empty(PatternKind::Host);
        if let Err(message) = check_host.push(host.get_ref()) {
            problems.push(host.span(), message);
            continue;
        }
        let into = match (&raw.header, &raw.format, &raw.basic, &raw.query) {
            (Some(header), format, None, None) => {
                if let Err(message) = delivery::check_header(header.get_ref()) {
                    problems.push(header.span(), message);
                    continue;
                }
                let format = format
                    .as_ref()
                    .map_or_else(|| delivery::VALUE_MARK.to_owned(), |f| f.get_ref().clone());
                if let Err(message) = delivery::check_template("format", &format) {
                    let at = raw.format.as_ref().map_or(span.clone(), Spanned::span);
                    problems.push(at, message);
                    continue;
                }
                InjectInto::Header {
                    name: header.get_ref().clone(),
                    format,
                }
            }
            (None, None, Some(basic), None) => {
                if let Err(message) =
                    delivery::check_template("basic", basic.get_ref()).and_then(|()| {
                        basic.get_ref().contains(':').then_some(()).ok_or_else(|| {
                            "basic is user:password, like \"x-access-token:{value}\"".to_owned()
                        })
                    })
                {
                    problems.push(basic.span(), message);
                    continue;
                }
                InjectInto::Basic {
                    credentials: basic.get_ref().clone(),
                }
            }
            (None, None, None, Some(param)) => {
                if let Err(message) = delivery::check_param(param.get_ref()) {
                    problems.push(param.span(), message);
                    continue;
                }
                InjectInto::Query {
                    param: param.get_ref().clone(),
                }
            }
            (None, Some(format), ..) => {
                problems.push(format.span(), "format goes with header = \"...\"");
                continue;
            }
            _ => {
                problems.push(
                    span,
                    format!(
                        "an injection goes in one place: header (with format), basic or query, {example}"
                    ),
                );
                continue;
            }
        };
        out.push(Injection {
            secret: name.clone(),
            host: host.get_ref().clone(),
            into,
        });
    }
    (problems.0.len() == before).then_some(out)
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
