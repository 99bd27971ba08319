//! Properties: parsing never panics, and nothing is allowed that no rule allows.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use warrant_policy::{Decision, Policy, Request, command_matches};
use warrant_secret::SecretName;

use crate::support::{LAYERED, policy};

/// Fragments that, joined in any order, make policies that reach every
/// check after TOML parsing.
const FRAGMENTS: &[&str] = &[
    "[actors.codex]",
    "[actors.\"bad name\"]",
    "kind = \"agent\"",
    "kind = \"robot\"",
    "[[rules]]",
    "actors = [\"codex\"]",
    "actors = [\"ghost\"]",
    "actors = []",
    "secrets = [\"db/*\", \"x\"]",
    "secrets = [\"db/[x\"]",
    "secrets = []",
    "commands = [\"cargo\", \"/usr/bin/*\"]",
    "commands = [\"bin/x\"]",
    "hosts = [\"*.example.com\"]",
    "hosts = [\"http://x\"]",
    "max_ttl = \"30m\"",
    "max_ttl = \"0s\"",
    "max_ttl = \"forever\"",
    "approval = \"auto\"",
    "approval = \"maybe\"",
    "max_uses = 0",
    "max_uses = 3",
    "grace = \"1s\"",
    "on_expiry = \"finish\"",
    "bogus = 1",
    "rules = [{}]",
    "é = \"ü\"",
    "",
];

fn policy_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..16)
        .prop_map(|lines| lines.join("\n"))
}

fn secret_name() -> impl Strategy<Value = SecretName> {
    proptest::collection::vec(
        prop_oneof![
            "db",
            "dev",
            "prod",
            "github",
            "token",
            "url",
            "deploy",
            "x",
            "[a-z]{1,3}"
        ],
        1..5,
    )
    .prop_map(|segments| SecretName::new(segments.join("/")).unwrap())
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for text in [
        format!("a = {}", "[".repeat(100_000)),
        format!("a = {}", "{ b = ".repeat(100_000)),
        "[".repeat(100_000),
    ] {
        assert!(Policy::parse(Path::new("warrant.toml"), &text).is_err());
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Policy::parse(Path::new("warrant.toml"), &text);
    }

    #[test]
    fn parse_never_panics_on_policy_like_text(text in policy_text()) {
        match Policy::parse(Path::new("warrant.toml"), &text) {
            Ok(policy) => { let _ = policy.check(None); }
            Err(error) => {
                let (line, column) = error.position().unwrap();
                prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1);
                prop_assert!(column >= 1);
            }
        }
    }

    #[test]
    fn nothing_is_allowed_that_no_rule_pattern_matches(
        actor in prop_oneof!["codex", "claude", "ci"],
        secrets in proptest::collection::vec(secret_name(), 1..4),
    ) {
        let policy = policy(LAYERED);
        let request = Request { actor: &actor, secrets: &secrets, commands: &[], hosts: &[], ttl: Duration::from_secs(60) };
        // Without commands or hosts, a secret is covered exactly when some
        // rule lists the actor and has a pattern that matches it.
        let covered = |secret: &SecretName| policy.rules().iter().any(|rule| {
            rule.actors.contains(&actor) && rule.secrets.is_match(secret.as_str())
        });
        let expected = secrets.iter().all(covered);
        match policy.decide(&request) {
            Decision::Allow(terms) => {
                prop_assert!(expected);
                for coverage in &terms.coverage {
                    let rule = policy.rule_at(coverage.rule).unwrap();
                    prop_assert!(rule.secrets.is_match(coverage.secret.as_str()));
                    prop_assert!(rule.actors.contains(&actor));
                }
                prop_assert!(terms.ttl <= request.ttl);
                for line in &terms.rules {
                    prop_assert!(terms.ttl <= policy.rule_at(*line).unwrap().max_ttl);
                }
            }
            Decision::Deny(denial) => {
                prop_assert!(!expected);
                let secret = denial.secret.unwrap();
                prop_assert!(!covered(&secret));
            }
        }
    }

    #[test]
    fn a_granted_command_scope_admits_only_what_the_rules_allow(
        requested in prop_oneof!["cargo", "psql", "make", "/usr/bin/make", "/usr/bin/cargo", "/tmp/cargo"],
        program in prop_oneof!["cargo", "psql", "make", "rm", "evil"],
        dir in prop_oneof!["/usr/bin", "/tmp", "/usr/bin/sub", "/home/me/.cargo/bin"],
    ) {
        let policy = policy(LAYERED);
        let secrets = [SecretName::new("db/dev/url").unwrap()];
        let commands = [requested];
        let request = Request { actor: "codex", secrets: &secrets, commands: &commands, hosts: &[], ttl: Duration::from_secs(60) };
        if let Decision::Allow(terms) = policy.decide(&request) {
            let resolved = format!("{dir}/{program}");
            let resolved = Path::new(&resolved);
            if command_matches(&terms.command_scopes, &program, Some(resolved)) {
                // Whatever the grant lets run, every rule used lets run too.
                for line in &terms.rules {
                    let rule = policy.rule_at(*line).unwrap();
                    let allowed = rule.commands.as_ref().is_none_or(|patterns| {
                        patterns.matching_command(&program, Some(resolved)).is_some()
                    });
                    prop_assert!(allowed, "{program} at {} escaped rule {line}", resolved.display());
                }
            }
        }
    }
}
