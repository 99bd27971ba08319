//! Explanations: every rule's verdict on one query.

use warrant_policy::{Query, RuleVerdict};

use crate::support::{LAYERED, LAYERED_RULES, names, policy};

const DEV: usize = LAYERED_RULES[0];
const GITHUB: usize = LAYERED_RULES[1];
const WIDE_DEV: usize = LAYERED_RULES[2];
const DEPLOY: usize = LAYERED_RULES[3];

fn verdict(line: usize, matched: bool, why: &str) -> RuleVerdict {
    RuleVerdict {
        line,
        matched,
        why: why.to_owned(),
    }
}

#[test]
fn explains_each_rule_in_order() {
    let policy = policy(LAYERED);
    let secret = &names(&["db/dev/url"])[0];
    let explanation = policy.explain(&Query {
        actor: "codex",
        secret,
        command: Some("cargo"),
        host: None,
    });
    assert!(explanation.allowed);
    assert_eq!(explanation.rule, Some(DEV));
    assert_eq!(
        explanation.reason,
        format!("rule at line {DEV} lets codex use db/dev/url")
    );
    assert_eq!(
        explanation.steps,
        [
            verdict(
                DEV,
                true,
                "codex may use db/dev/url (pattern db/dev/*), with command `cargo` (pattern cargo), sent to no host"
            ),
            verdict(
                GITHUB,
                false,
                "secret db/dev/url matches no pattern in [github/token]"
            ),
            verdict(
                WIDE_DEV,
                false,
                "command `cargo` matches no pattern in [/usr/bin/*]"
            ),
            verdict(DEPLOY, false, "actor codex is not in [ci]"),
        ]
    );
}

#[test]
fn explains_a_denial_with_the_closest_rule() {
    let policy = policy(LAYERED);
    let secret = &names(&["github/token"])[0];
    let explanation = policy.explain(&Query {
        actor: "codex",
        secret,
        command: None,
        host: Some("evil.example"),
    });
    assert!(!explanation.allowed);
    assert_eq!(explanation.rule, None);
    assert_eq!(
        explanation.reason,
        format!("rule at line {GITHUB} covers github/token for codex but not host evil.example")
    );
    assert_eq!(
        explanation.steps[1],
        verdict(
            GITHUB,
            false,
            "host evil.example matches no pattern in [api.github.com, *.githubusercontent.com]"
        )
    );
    assert_eq!(
        explanation.steps[0],
        verdict(
            DEV,
            false,
            "secret github/token matches no pattern in [db/dev/*]"
        )
    );
}

#[test]
fn without_command_or_host_the_rule_limits_are_described() {
    let policy = policy(LAYERED);
    let secret = &names(&["github/token"])[0];
    let explanation = policy.explain(&Query {
        actor: "codex",
        secret,
        command: None,
        host: None,
    });
    assert_eq!(explanation.rule, Some(GITHUB));
    assert_eq!(
        explanation.steps[1].why,
        "codex may use github/token (pattern github/token), with any command, \
         sent to hosts matching [api.github.com, *.githubusercontent.com]"
    );
}

#[test]
fn unknown_actor_and_bad_queries_have_no_steps() {
    let policy = policy(LAYERED);
    let secret = &names(&["db/dev/url"])[0];
    let explanation = policy.explain(&Query {
        actor: "nobody",
        secret,
        command: None,
        host: None,
    });
    assert!(!explanation.allowed);
    assert!(explanation.steps.is_empty());
    assert_eq!(
        explanation.reason,
        "unknown actor nobody; define it under [actors.nobody] in warrant.toml"
    );
    let explanation = policy.explain(&Query {
        actor: "codex",
        secret,
        command: Some("*"),
        host: None,
    });
    assert!(!explanation.allowed);
    assert!(
        explanation.reason.contains("glob"),
        "{}",
        explanation.reason
    );
}

#[test]
fn explanations_serialize_for_json_output() {
    let policy = policy(LAYERED);
    let secret = &names(&["db/prod/url"])[0];
    let explanation = policy.explain(&Query {
        actor: "ci",
        secret,
        command: None,
        host: None,
    });
    let json = serde_json::to_value(&explanation).unwrap();
    assert_eq!(json["allowed"], false);
    assert_eq!(json["rule"], serde_json::Value::Null);
    assert_eq!(json["steps"][0]["line"], DEV);
    assert_eq!(
        json["steps"][0]["why"],
        "actor ci is not in [codex, claude]"
    );
}
