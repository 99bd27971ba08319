//! Decisions: which rule, if any, lets an actor use a secret.

use std::time::Duration;

use serde::Serialize;
use warrant_secret::SecretName;

use crate::pattern::{has_glob_chars, is_clean_absolute, normalize_host};
use crate::policy::{Approval, OnExpiry, Policy, Rule};

/// What an actor asks for.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The actor asking, as named under `[actors]`.
    pub actor: &'a str,
    /// Secrets wanted; at least one.
    pub secrets: &'a [SecretName],
    /// Programs that will receive the secrets, each a name (`cargo`) or an
    /// absolute path (`/usr/bin/cargo`); empty if not said.
    pub commands: &'a [String],
    /// Hosts the secrets will be sent to over HTTP; empty if none.
    pub hosts: &'a [String],
    /// How long the grant should last.
    pub ttl: Duration,
}

/// The policy's answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Decision {
    /// Rules cover every secret; the grant gets these terms.
    Allow(Terms),
    /// Some secret is covered by no rule, or the request is malformed.
    Deny(Denial),
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// The terms, if allowed.
    pub fn terms(&self) -> Option<&Terms> {
        match self {
            Decision::Allow(terms) => Some(terms),
            Decision::Deny(_) => None,
        }
    }

    /// The denial, if denied.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Allow(_) => None,
            Decision::Deny(denial) => Some(denial),
        }
    }
}

/// The terms of an allowed grant: the strictest of the rules used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Terms {
    /// Lines of the rules used, in file order.
    pub rules: Vec<usize>,
    /// Which rule covers each requested secret, in request order.
    pub coverage: Vec<Coverage>,
    /// The strictest approval of the rules used (`HardwareKey` over
    /// `Required` over `Auto`).
    pub approval: Approval,
    /// The requested ttl, capped by every used rule's `max_ttl`.
    #[serde(serialize_with = "crate::duration::serialize")]
    pub ttl: Duration,
    /// Whether the request asked for more than the rules allow.
    pub ttl_capped: bool,
    /// The smallest `max_uses` of the rules used, if any sets one.
    pub max_uses: Option<u64>,
    /// What a use's program must match: every scope, one pattern in each
    /// (see [`crate::command_matches`]). If the request named commands, one
    /// scope holds them; otherwise one scope per used rule that lists
    /// `commands`. Empty means any command.
    pub command_scopes: Vec<Vec<String>>,
    /// Where the secrets may be sent: the requested hosts (lower-cased), or
    /// if none were requested the union of the used rules' host patterns.
    pub hosts: Vec<String>,
    /// `Terminate` if any rule used says so.
    pub on_expiry: OnExpiry,
    /// The shortest grace of the rules used.
    #[serde(serialize_with = "crate::duration::serialize")]
    pub grace: Duration,
}

impl Terms {
    /// The stricter of two decisions on the same request, on every
    /// dimension: how a changed policy applies before it is accepted (each
    /// of `self` and `other` from one of the two versions). Rules and
    /// coverage stay `self`'s; command scopes of both must hold; hosts are
    /// `self`'s that `other` also allows by name.
    pub fn stricter(mut self, other: &Terms) -> Terms {
        if other.approval.strictness() > self.approval.strictness() {
            self.approval = other.approval;
        }
        self.ttl_capped |= other.ttl < self.ttl || other.ttl_capped;
        self.ttl = self.ttl.min(other.ttl);
        self.max_uses = match (self.max_uses, other.max_uses) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for scope in &other.command_scopes {
            if !self.command_scopes.contains(scope) {
                self.command_scopes.push(scope.clone());
            }
        }
        self.hosts = narrower_hosts(&self.hosts, &other.hosts);
        if other.on_expiry == OnExpiry::Terminate {
            self.on_expiry = OnExpiry::Terminate;
        }
        self.grace = self.grace.min(other.grace);
        self
    }
}

/// The host patterns of `these` that `those` allows too: the same pattern,
/// or a name (and port) one of `those` matches.
pub fn narrower_hosts(these: &[String], those: &[String]) -> Vec<String> {
    use crate::pattern::{Port, split_port};
    these
        .iter()
        .filter(|pattern| {
            those.contains(pattern)
                || split_port(pattern).is_some_and(|(host, port)| {
                    !host.starts_with("*.")
                        && those.iter().any(|other| {
                            split_port(other).is_some_and(|(other_host, other_port)| {
                                (other_port == Port::Any || other_port == port)
                                    && crate::host_matches_pattern(other_host, host)
                            })
                        })
                })
        })
        .cloned()
        .collect()
}

/// One requested secret and the rule that covers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The secret.
    pub secret: SecretName,
    /// Line of the covering rule.
    pub rule: usize,
}

/// Why a request was denied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// The reason, in words, e.g. `no rule lets codex use db/prod/url`.
    pub reason: String,
    /// The secret no rule covers, when the denial is about one.
    pub secret: Option<SecretName>,
    /// Line of the rule that came closest (right actor and secret, wrong
    /// command or host), if any.
    pub rule: Option<usize>,
}

/// One actor, one secret and optionally a command and a host: what
/// [`Policy::explain`] explains.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The actor.
    pub actor: &'a str,
    /// The secret.
    pub secret: &'a SecretName,
    /// A program name or absolute path, if any.
    pub command: Option<&'a str>,
    /// A host, if any.
    pub host: Option<&'a str>,
}

/// Which rule allows or denies a [`Query`], and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Whether some rule allows the query.
    pub allowed: bool,
    /// Line of the first rule that allows it.
    pub rule: Option<usize>,
    /// The conclusion in words.
    pub reason: String,
    /// Every rule's verdict, in file order (empty if the query is malformed
    /// or its actor unknown).
    pub steps: Vec<RuleVerdict>,
}

/// One rule's verdict on a query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleVerdict {
    /// Line of the rule's `[[rules]]` header.
    pub line: usize,
    /// Whether the rule covers the query.
    pub matched: bool,
    /// Why, e.g. `actor codex is not in [claude]`.
    pub why: String,
}

/// How far a rule got before it stopped covering a secret; later is closer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Actor,
    Secret,
    Command,
    Host,
}

/// Why one rule does not cover a secret.
struct Miss {
    stage: Stage,
    /// For explanations: `secret x matches no pattern in [..]`.
    why: String,
    /// For denials: `command \`rm\`` or `host evil.com`.
    what: String,
}

impl Policy {
    /// The decision for a request; see the crate documentation.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        match self.try_decide(request) {
            Ok(terms) => Decision::Allow(terms),
            Err(denial) => Decision::Deny(denial),
        }
    }

    fn try_decide(&self, request: &Request<'_>) -> Result<Terms, Denial> {
        let plain = |reason: String| Denial {
            reason,
            secret: None,
            rule: None,
        };
        self.check_actor(request.actor).map_err(plain)?;
        if request.secrets.is_empty() {
            return Err(plain(
                "no secrets requested; name at least one secret".into(),
            ));
        }
        if request.ttl.is_zero() {
            return Err(plain(
                "a grant needs a ttl above zero; ask for e.g. 15m".into(),
            ));
        }
        for command in request.commands {
            check_command(command).map_err(plain)?;
        }
        let mut hosts: Vec<String> = Vec::new();
        for host in request.hosts {
            let host = check_host(host).map_err(plain)?;
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }

        let mut coverage = Vec::new();
        let mut used: Vec<&Rule> = Vec::new();
        for secret in request.secrets {
            let rule = self
                .cover(request.actor, secret, request.commands, request.hosts)
                .map_err(|(reason, rule)| Denial {
                    reason,
                    secret: Some(secret.clone()),
                    rule,
                })?;
            coverage.push(Coverage {
                secret: secret.clone(),
                rule: rule.line,
            });
            if !used.iter().any(|u| u.line == rule.line) {
                used.push(rule);
            }
        }
        used.sort_by_key(|rule| rule.line);
        Ok(terms(request, hosts, coverage, &used))
    }

    /// Which rule covers `secret` (its first in file order), or the denial
    /// reason and the closest rule.
    fn cover(
        &self,
        actor: &str,
        secret: &SecretName,
        commands: &[String],
        hosts: &[String],
    ) -> Result<&Rule, (String, Option<usize>)> {
        let mut closest: Option<(&Rule, Miss)> = None;
        for rule in &self.rules {
            match evaluate(rule, actor, secret, commands, hosts) {
                Ok(_) => return Ok(rule),
                Err(miss) => {
                    if closest
                        .as_ref()
                        .is_none_or(|(_, best)| miss.stage > best.stage)
                    {
                        closest = Some((rule, miss));
                    }
                }
            }
        }
        Err(denial_reason(actor, secret, closest))
    }

    /// Which rule allows or denies, and why, for one actor and secret, and
    /// optionally a command and a host.
    pub fn explain(&self, query: &Query<'_>) -> Explanation {
        let refuse = |reason: String| Explanation {
            allowed: false,
            rule: None,
            reason,
            steps: Vec::new(),
        };
        if let Err(reason) = self.check_actor(query.actor) {
            return refuse(reason);
        }
        let commands: Vec<String> = query.command.map(str::to_owned).into_iter().collect();
        let hosts: Vec<String> = query.host.map(str::to_owned).into_iter().collect();
        if let Some(reason) = commands.iter().find_map(|c| check_command(c).err()) {
            return refuse(reason);
        }
        if let Some(reason) = hosts.iter().find_map(|h| check_host(h).err()) {
            return refuse(reason);
        }

        let mut steps = Vec::new();
        let mut allowed_by = None;
        let mut closest: Option<(&Rule, Miss)> = None;
        for rule in &self.rules {
            let verdict = evaluate(rule, query.actor, query.secret, &commands, &hosts);
            let (matched, why) = match verdict {
                Ok(why) => {
                    allowed_by.get_or_insert(rule.line);
                    (true, why)
                }
                Err(miss) => {
                    let why = miss.why.clone();
                    if closest
                        .as_ref()
                        .is_none_or(|(_, best)| miss.stage > best.stage)
                    {
                        closest = Some((rule, miss));
                    }
                    (false, why)
                }
            };
            steps.push(RuleVerdict {
                line: rule.line,
                matched,
                why,
            });
        }
        let reason = match allowed_by {
            Some(line) => format!(
                "rule at line {line} lets {} use {}",
                query.actor, query.secret
            ),
            None => denial_reason(query.actor, query.secret, closest).0,
        };
        Explanation {
            allowed: allowed_by.is_some(),
            rule: allowed_by,
            reason,
            steps,
        }
    }

    fn check_actor(&self, actor: &str) -> Result<(), String> {
        match self.actor(actor) {
            Some(_) => Ok(()),
            None => Err(format!(
                "unknown actor {actor}; define it under [actors.{actor}] in {}",
                self.path.display()
            )),
        }
    }
}

/// Whether `rule` covers `secret` for `actor` with every command and host;
/// `Ok` carries a description of the match.
fn evaluate(
    rule: &Rule,
    actor: &str,
    secret: &SecretName,
    commands: &[String],
    hosts: &[String],
) -> Result<String, Miss> {
    if !rule.actors.iter().any(|a| a == actor) {
        return Err(Miss {
            stage: Stage::Actor,
            why: format!("actor {actor} is not in [{}]", rule.actors.join(", ")),
            what: String::new(),
        });
    }
    // A rule for a secret covers each of its fields (`team/app/db` covers
    // `team/app/db#password`).
    let matching = rule.secrets.matching(secret.as_str()).or_else(|| {
        secret
            .field()
            .and_then(|_| rule.secrets.matching(secret.path()))
    });
    let Some(secret_pattern) = matching else {
        return Err(Miss {
            stage: Stage::Secret,
            why: format!("secret {secret} matches no pattern in {}", rule.secrets),
            what: String::new(),
        });
    };
    let mut why = format!("{actor} may use {secret} (pattern {secret_pattern})");

    match &rule.commands {
        None => why.push_str(", with any command"),
        Some(patterns) if commands.is_empty() => {
            why.push_str(&format!(", with commands matching {patterns}"));
        }
        Some(patterns) => {
            for command in commands {
                let Some(pattern) = patterns.matching(command) else {
                    return Err(Miss {
                        stage: Stage::Command,
                        why: format!("command `{command}` matches no pattern in {patterns}"),
                        what: format!("command `{command}`"),
                    });
                };
                why.push_str(&format!(", with command `{command}` (pattern {pattern})"));
            }
        }
    }

    for host in hosts {
        if rule.hosts.is_empty() {
            return Err(Miss {
                stage: Stage::Host,
                why: format!("host {host}: the rule names no hosts"),
                what: format!("host {host} (the rule names no hosts)"),
            });
        }
        let Some(pattern) = rule.hosts.matching(host) else {
            return Err(Miss {
                stage: Stage::Host,
                why: format!("host {host} matches no pattern in {}", rule.hosts),
                what: format!("host {host}"),
            });
        };
        why.push_str(&format!(", sent to {host} (pattern {pattern})"));
    }
    if hosts.is_empty() {
        if rule.hosts.is_empty() {
            why.push_str(", sent to no host");
        } else {
            why.push_str(&format!(", sent to hosts matching {}", rule.hosts));
        }
    }
    Ok(why)
}

fn denial_reason(
    actor: &str,
    secret: &SecretName,
    closest: Option<(&Rule, Miss)>,
) -> (String, Option<usize>) {
    match closest {
        Some((rule, miss)) if miss.stage >= Stage::Command => (
            format!(
                "rule at line {} covers {secret} for {actor} but not {}",
                rule.line, miss.what
            ),
            Some(rule.line),
        ),
        _ => (format!("no rule lets {actor} use {secret}"), None),
    }
}

/// A requested command must be a plain program name or a clean absolute
/// path: it becomes a command scope, which is matched as a pattern later.
fn check_command(command: &str) -> Result<(), String> {
    if command.is_empty() {
        return Err("an empty command was requested; name the program, like `cargo`".into());
    }
    if has_glob_chars(command) || command.contains('\\') || command.chars().any(char::is_control) {
        return Err(format!(
            "command `{}` contains glob or control characters; name the program exactly, like `cargo`",
            command.escape_debug()
        ));
    }
    if command.contains('/') && !is_clean_absolute(command) {
        let name = command.rsplit('/').next().unwrap_or_default();
        return Err(format!(
            "command `{command}` is not a program name or a clean absolute path; \
             use `{name}` or the program's absolute path"
        ));
    }
    Ok(())
}

fn check_host(host: &str) -> Result<String, String> {
    normalize_host(host).ok_or_else(|| {
        format!(
            "`{}` is not a host name; give a host like api.github.com (no scheme, port or path)",
            host.escape_debug()
        )
    })
}

fn terms(
    request: &Request<'_>,
    hosts: Vec<String>,
    coverage: Vec<Coverage>,
    used: &[&Rule],
) -> Terms {
    let max_ttl = used
        .iter()
        .map(|r| r.max_ttl)
        .min()
        .unwrap_or(Duration::ZERO);
    let command_scopes = if request.commands.is_empty() {
        let mut scopes: Vec<Vec<String>> = Vec::new();
        for patterns in used.iter().filter_map(|r| r.commands.as_ref()) {
            let scope = patterns.patterns().to_vec();
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes
    } else {
        let mut scope: Vec<String> = Vec::new();
        for command in request.commands {
            if !scope.contains(command) {
                scope.push(command.clone());
            }
        }
        vec![scope]
    };
    let hosts = if request.hosts.is_empty() {
        let mut union: Vec<String> = Vec::new();
        for pattern in used.iter().flat_map(|r| r.hosts.patterns()) {
            if !union.contains(pattern) {
                union.push(pattern.clone());
            }
        }
        union
    } else {
        hosts
    };
    Terms {
        rules: used.iter().map(|r| r.line).collect(),
        coverage,
        approval: used
            .iter()
            .map(|r| r.approval)
            .max_by_key(|a| a.strictness())
            .unwrap_or(Approval::Auto),
        ttl: request.ttl.min(max_ttl),
        ttl_capped: request.ttl > max_ttl,
        max_uses: used.iter().filter_map(|r| r.max_uses).min(),
        command_scopes,
        hosts,
        on_expiry: if used.iter().any(|r| r.on_expiry == OnExpiry::Terminate) {
            OnExpiry::Terminate
        } else {
            OnExpiry::Finish
        },
        grace: used
            .iter()
            .map(|r| r.grace)
            .min()
            .unwrap_or(Rule::DEFAULT_GRACE),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const POLICY: &str = r#"
[actors.codex]
kind = "agent"

[[rules]]
actors = ["codex"]
secrets = ["db/dev/*"]
commands = ["cargo"]
max_ttl = "30m"
approval = "auto"
"#;

    fn names(names: &[&str]) -> Vec<SecretName> {
        names.iter().map(|n| SecretName::new(*n).unwrap()).collect()
    }

    fn request<'a>(secrets: &'a [SecretName], commands: &'a [String]) -> Request<'a> {
        Request {
            actor: "codex",
            secrets,
            commands,
            hosts: &[],
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn malformed_requests_are_denied_before_any_rule() {
        let policy = Policy::parse(Path::new("warrant.toml"), POLICY).unwrap();
        let secrets = names(&["db/dev/url"]);
        for (commands, needle) in [
            (vec!["c*".to_owned()], "glob"),
            (vec!["./cargo".to_owned()], "use `cargo`"),
            (vec![String::new()], "empty command"),
            (vec!["car\\go".to_owned()], "glob"),
        ] {
            let decision = policy.decide(&request(&secrets, &commands));
            let reason = &decision.denial().unwrap().reason;
            assert!(reason.contains(needle), "{reason}");
        }
        let mut zero = request(&secrets, &[]);
        zero.ttl = Duration::ZERO;
        assert!(!policy.decide(&zero).is_allowed());
        assert!(!policy.decide(&request(&[], &[])).is_allowed());
    }

    #[test]
    fn requested_command_paths_match_name_patterns() {
        let policy = Policy::parse(Path::new("warrant.toml"), POLICY).unwrap();
        let secrets = names(&["db/dev/url"]);
        let commands = vec!["/usr/bin/cargo".to_owned()];
        let terms = policy
            .decide(&request(&secrets, &commands))
            .terms()
            .cloned()
            .unwrap();
        assert_eq!(terms.command_scopes, vec![commands]);
    }

    #[test]
    fn a_rule_for_a_secret_covers_its_fields_and_globs_name_them() {
        let policy = Policy::parse(
            Path::new("warrant.toml"),
            &format!("{POLICY}\n[[rules]]\nactors = [\"codex\"]\nsecrets = [\"team/app/db\", \"team/ci/*#token\"]\ncommands = [\"cargo\"]\nmax_ttl = \"30m\"\napproval = \"auto\"\n"),
        )
        .unwrap();
        let commands = vec!["cargo".to_owned()];
        for (name, allowed) in [
            ("team/app/db#password", true),
            ("team/app/db", true),
            ("team/app/other#password", false),
            ("team/ci/deploy#token", true),
            ("team/ci/deploy#password", false),
            ("db/dev/url#user", true),
        ] {
            let secrets = names(&[name]);
            let decision = policy.decide(&request(&secrets, &commands));
            assert_eq!(decision.is_allowed(), allowed, "{name}");
        }
    }
}
