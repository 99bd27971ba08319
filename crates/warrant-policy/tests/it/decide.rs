//! Decisions across several rules.

use std::time::Duration;

use warrant_policy::{Approval, Coverage, Decision, OnExpiry, Terms};

use crate::support::{EXAMPLE, LAYERED, LAYERED_RULES, decide, minutes, names, policy};

const DEV: usize = LAYERED_RULES[0];
const GITHUB: usize = LAYERED_RULES[1];
const WIDE_DEV: usize = LAYERED_RULES[2];
const DEPLOY: usize = LAYERED_RULES[3];

fn allowed(decision: Decision) -> Terms {
    match decision {
        Decision::Allow(terms) => terms,
        Decision::Deny(denial) => panic!("denied: {}", denial.reason),
    }
}

fn denied(decision: Decision) -> (String, Option<String>, Option<usize>) {
    match decision {
        Decision::Allow(terms) => panic!("allowed: {terms:?}"),
        Decision::Deny(denial) => (
            denial.reason,
            denial.secret.map(|s| s.to_string()),
            denial.rule,
        ),
    }
}

#[test]
fn the_first_covering_rule_sets_the_terms() {
    let policy = policy(LAYERED);
    let terms = allowed(decide(
        &policy,
        "codex",
        &["db/dev/url"],
        &["cargo"],
        &[],
        minutes(10),
    ));
    assert_eq!(
        terms,
        Terms {
            rules: vec![DEV],
            coverage: vec![Coverage {
                secret: names(&["db/dev/url"])[0].clone(),
                rule: DEV
            }],
            approval: Approval::Auto,
            ttl: minutes(10),
            ttl_capped: false,
            max_uses: Some(20),
            command_scopes: vec![vec!["cargo".to_owned()]],
            hosts: vec![],
            on_expiry: OnExpiry::Terminate,
            grace: Duration::from_secs(5),
        }
    );
}

#[test]
fn without_commands_the_rules_commands_become_the_scope() {
    let policy = policy(LAYERED);
    let terms = allowed(decide(
        &policy,
        "claude",
        &["db/dev/url"],
        &[],
        &[],
        minutes(10),
    ));
    assert_eq!(
        terms.command_scopes,
        vec![vec!["cargo".to_owned(), "psql".to_owned()]]
    );
}

#[test]
fn a_later_rule_covers_what_an_earlier_one_does_not() {
    let policy = policy(LAYERED);
    let terms = allowed(decide(
        &policy,
        "codex",
        &["db/dev/url"],
        &["/usr/bin/make"],
        &[],
        minutes(180),
    ));
    assert_eq!(terms.rules, [WIDE_DEV]);
    assert_eq!(terms.approval, Approval::Required);
    assert_eq!(terms.ttl, minutes(120));
    assert!(terms.ttl_capped);
    assert_eq!(terms.max_uses, None);
    assert_eq!(terms.on_expiry, OnExpiry::Finish);
    assert_eq!(terms.command_scopes, vec![vec!["/usr/bin/make".to_owned()]]);
}

#[test]
fn a_name_does_not_satisfy_a_path_pattern() {
    let policy = policy(LAYERED);
    let (reason, secret, rule) = denied(decide(
        &policy,
        "codex",
        &["db/dev/url"],
        &["make"],
        &[],
        minutes(5),
    ));
    assert_eq!(
        reason,
        format!("rule at line {DEV} covers db/dev/url for codex but not command `make`")
    );
    assert_eq!(secret.as_deref(), Some("db/dev/url"));
    assert_eq!(rule, Some(DEV));
}

#[test]
fn several_secrets_take_the_strictest_terms() {
    let policy = policy(LAYERED);
    let terms = allowed(decide(
        &policy,
        "codex",
        &["db/dev/url", "github/token"],
        &[],
        &[],
        minutes(60),
    ));
    assert_eq!(terms.rules, [DEV, GITHUB]);
    assert_eq!(
        terms.coverage.iter().map(|c| c.rule).collect::<Vec<_>>(),
        [DEV, GITHUB]
    );
    assert_eq!(terms.approval, Approval::Required);
    assert_eq!(terms.ttl, minutes(15));
    assert!(terms.ttl_capped);
    assert_eq!(terms.max_uses, Some(20));
    // The github rule has no commands, so only the db rule's scope applies.
    assert_eq!(
        terms.command_scopes,
        vec![vec!["cargo".to_owned(), "psql".to_owned()]]
    );
    assert_eq!(terms.hosts, ["api.github.com", "*.githubusercontent.com"]);
    assert_eq!(terms.on_expiry, OnExpiry::Terminate);
    assert_eq!(terms.grace, Duration::from_secs(5));
}

#[test]
fn used_rules_with_commands_each_add_a_scope() {
    let policy = policy(
        r#"[actors.a]
kind = "agent"
[[rules]]
actors = ["a"]
secrets = ["x"]
commands = ["cargo", "make"]
max_ttl = "1h"
approval = "auto"
[[rules]]
actors = ["a"]
secrets = ["y"]
commands = ["cargo"]
max_ttl = "1h"
approval = "auto"
"#,
    );
    let terms = allowed(decide(&policy, "a", &["x", "y"], &[], &[], minutes(1)));
    assert_eq!(
        terms.command_scopes,
        vec![
            vec!["cargo".to_owned(), "make".to_owned()],
            vec!["cargo".to_owned()]
        ]
    );
    assert!(warrant_policy::command_matches(
        &terms.command_scopes,
        "cargo",
        None
    ));
    assert!(!warrant_policy::command_matches(
        &terms.command_scopes,
        "make",
        None
    ));
    // Naming the command narrows the grant to it, and both rules allow it.
    let terms = allowed(decide(
        &policy,
        "a",
        &["x", "y"],
        &["cargo"],
        &[],
        minutes(1),
    ));
    assert_eq!(terms.command_scopes, vec![vec!["cargo".to_owned()]]);
    let (reason, secret, _) = denied(decide(
        &policy,
        "a",
        &["x", "y"],
        &["make"],
        &[],
        minutes(1),
    ));
    assert_eq!(secret.as_deref(), Some("y"));
    assert_eq!(
        reason,
        "rule at line 9 covers y for a but not command `make`"
    );
}

#[test]
fn hosts_must_be_allowed_by_the_covering_rule() {
    let policy = policy(LAYERED);
    let terms = allowed(decide(
        &policy,
        "codex",
        &["github/token"],
        &[],
        &["API.GitHub.com"],
        minutes(5),
    ));
    assert_eq!(terms.hosts, ["api.github.com"]);
    let terms = allowed(decide(
        &policy,
        "codex",
        &["github/token"],
        &[],
        &["raw.githubusercontent.com"],
        minutes(5),
    ));
    assert_eq!(terms.rules, [GITHUB]);

    let (reason, _, rule) = denied(decide(
        &policy,
        "codex",
        &["github/token"],
        &[],
        &["evil.example"],
        minutes(5),
    ));
    assert_eq!(
        reason,
        format!("rule at line {GITHUB} covers github/token for codex but not host evil.example")
    );
    assert_eq!(rule, Some(GITHUB));

    let (reason, _, _) = denied(decide(
        &policy,
        "codex",
        &["db/dev/url"],
        &[],
        &["api.github.com"],
        minutes(5),
    ));
    assert_eq!(
        reason,
        format!(
            "rule at line {DEV} covers db/dev/url for codex but not host api.github.com (the rule names no hosts)"
        )
    );

    let (reason, _, _) = denied(decide(
        &policy,
        "codex",
        &["github/token"],
        &[],
        &["https://api.github.com"],
        minutes(5),
    ));
    assert!(reason.contains("is not a host name"), "{reason}");
}

#[test]
fn what_no_rule_allows_is_denied() {
    let policy = policy(LAYERED);
    let (reason, secret, rule) = denied(decide(
        &policy,
        "claude",
        &["github/token"],
        &[],
        &[],
        minutes(5),
    ));
    assert_eq!(reason, "no rule lets claude use github/token");
    assert_eq!(secret.as_deref(), Some("github/token"));
    assert_eq!(rule, None);

    // One uncovered secret denies the whole request, and is the one named.
    let (reason, secret, _) = denied(decide(
        &policy,
        "codex",
        &["db/dev/url", "db/prod/url"],
        &[],
        &[],
        minutes(5),
    ));
    assert_eq!(reason, "no rule lets codex use db/prod/url");
    assert_eq!(secret.as_deref(), Some("db/prod/url"));

    // `db/dev/*` does not reach into deeper names.
    let (reason, _, _) = denied(decide(
        &policy,
        "codex",
        &["db/dev/eu/url"],
        &[],
        &[],
        minutes(5),
    ));
    assert_eq!(reason, "no rule lets codex use db/dev/eu/url");
}

#[test]
fn unknown_actors_empty_requests_and_zero_ttls_are_denied() {
    let policy = policy(LAYERED);
    let (reason, secret, _) = denied(decide(
        &policy,
        "gemini",
        &["db/dev/url"],
        &[],
        &[],
        minutes(5),
    ));
    assert_eq!(
        reason,
        "unknown actor gemini; define it under [actors.gemini] in warrant.toml"
    );
    assert_eq!(secret, None);
    let (reason, _, _) = denied(decide(&policy, "codex", &[], &[], &[], minutes(5)));
    assert_eq!(reason, "no secrets requested; name at least one secret");
    let (reason, _, _) = denied(decide(
        &policy,
        "codex",
        &["db/dev/url"],
        &[],
        &[],
        Duration::ZERO,
    ));
    assert_eq!(reason, "a grant needs a ttl above zero; ask for e.g. 15m");
}

#[test]
fn workloads_get_exactly_their_deploy_tool() {
    let policy = policy(LAYERED);
    let terms = allowed(decide(
        &policy,
        "ci",
        &["deploy/prod/app"],
        &["/usr/local/bin/deploy"],
        &[],
        minutes(90),
    ));
    assert_eq!(terms.rules, [DEPLOY]);
    assert_eq!(terms.max_uses, Some(1));
    assert_eq!(terms.ttl, minutes(60));
    assert!(
        denied(decide(
            &policy,
            "ci",
            &["deploy/prod/app"],
            &["deploy"],
            &[],
            minutes(5)
        ))
        .0
        .contains("command `deploy`")
    );
    assert!(
        denied(decide(
            &policy,
            "ci",
            &["deploy/prod/app"],
            &["/tmp/deploy"],
            &[],
            minutes(5)
        ))
        .0
        .contains("command `/tmp/deploy`")
    );
}

#[test]
fn the_example_requires_approval() {
    let policy = policy(EXAMPLE);
    let terms = allowed(decide(
        &policy,
        "codex",
        &["github/token"],
        &["git"],
        &["api.github.com"],
        minutes(30),
    ));
    assert_eq!(terms.approval, Approval::Required);
    assert!(!terms.ttl_capped);
    assert_eq!(terms.max_uses, Some(50));
    let (reason, _, _) = denied(decide(
        &policy,
        "alice",
        &["github/token"],
        &[],
        &[],
        minutes(5),
    ));
    assert_eq!(reason, "no rule lets alice use github/token");
}

/// A rule asking for a security key makes the whole grant need one, over
/// `required` and `auto` rules covering its other secrets.
#[test]
fn hardware_key_is_the_strictest_approval() {
    let text = r#"
[actors.codex]
kind = "agent"

[[rules]]
actors   = ["codex"]
secrets  = ["db/prod/*"]
max_ttl  = "10m"
approval = "hardware_key"

[[rules]]
actors   = ["codex"]
secrets  = ["db/dev/*"]
max_ttl  = "10m"
approval = "auto"

[[rules]]
actors   = ["codex"]
secrets  = ["api/*"]
max_ttl  = "10m"
approval = "required"
"#;
    let policy = policy(text);
    let approval = |secrets: &[&str]| {
        allowed(decide(&policy, "codex", secrets, &[], &[], minutes(5))).approval
    };
    assert_eq!(approval(&["db/prod/url"]), Approval::HardwareKey);
    assert_eq!(approval(&["db/dev/url"]), Approval::Auto);
    assert_eq!(approval(&["db/dev/url", "api/token"]), Approval::Required);
    assert_eq!(
        approval(&["db/dev/url", "db/prod/url", "api/token"]),
        Approval::HardwareKey
    );
    assert_eq!(Approval::HardwareKey.to_string(), "hardware_key");
}

#[test]
fn the_stricter_of_two_versions_takes_the_strictest_of_each() {
    let loose = Terms {
        rules: vec![5],
        coverage: Vec::new(),
        approval: Approval::Auto,
        ttl: minutes(120),
        ttl_capped: false,
        max_uses: None,
        command_scopes: Vec::new(),
        hosts: vec![
            "api.test".into(),
            "evil.test".into(),
            "*.cdn.test".into(),
            "a.svc.test:8443".into(),
        ],
        on_expiry: OnExpiry::Finish,
        grace: Duration::from_secs(30),
    };
    let strict = Terms {
        approval: Approval::HardwareKey,
        ttl: minutes(10),
        max_uses: Some(3),
        command_scopes: vec![vec!["curl".into()]],
        hosts: vec!["api.test".into(), "*.svc.test:*".into()],
        on_expiry: OnExpiry::Terminate,
        grace: Duration::from_secs(5),
        ..loose.clone()
    };
    let both = loose.clone().stricter(&strict);
    assert_eq!(both.rules, [5]);
    assert_eq!(both.approval, Approval::HardwareKey);
    assert_eq!(both.ttl, minutes(10));
    assert!(both.ttl_capped);
    assert_eq!(both.max_uses, Some(3));
    assert_eq!(both.command_scopes, [vec!["curl".to_owned()]]);
    assert_eq!(both.hosts, ["api.test", "a.svc.test:8443"]);
    assert_eq!(both.on_expiry, OnExpiry::Terminate);
    assert_eq!(both.grace, Duration::from_secs(5));
    // Either way round, the same strictness.
    let other = strict.stricter(&loose);
    assert_eq!(other.approval, Approval::HardwareKey);
    assert_eq!(other.max_uses, Some(3));
    assert_eq!(other.hosts, ["api.test"]);
}
