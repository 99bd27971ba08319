//! Lints over policies that parse.

use warrant_policy::{Finding, Severity};

use crate::support::{EXAMPLE, LAYERED, names, one_rule, policy};

fn finding(severity: Severity, line: usize, message: &str) -> Finding {
    Finding {
        severity,
        line,
        message: message.to_owned(),
    }
}

#[test]
fn the_example_only_has_an_unused_actor() {
    assert_eq!(
        policy(EXAMPLE).check(None),
        [finding(
            Severity::Warning,
            5,
            "actor alice is used by no rule; add it to a rule's actors or remove [actors.alice]"
        )]
    );
}

#[test]
fn secret_patterns_that_match_nothing_in_the_store() {
    let policy = policy(EXAMPLE);
    let store = names(&["db/dev/url", "db/dev/password"]);
    let findings = policy.check(Some(&store));
    assert!(findings.contains(&finding(
        Severity::Warning,
        8,
        "secret pattern \"github/token\" matches no secret in the store; fix the pattern or add the secret"
    )));
    assert!(!findings.iter().any(|f| f.message.contains("db/dev/*")));
}

#[test]
fn catch_all_secrets_are_warnings_or_errors_with_auto_approval() {
    for pattern in ["*", "**", "**/*"] {
        let required = policy(&one_rule(&format!(
            "actors = [\"codex\"]\nsecrets = [\"{pattern}\"]\ncommands = [\"cargo\"]\nmax_ttl = \"1m\"\napproval = \"required\"\n"
        )));
        assert_eq!(
            required.check(None),
            [finding(
                Severity::Warning,
                4,
                &format!(
                    "secret pattern \"{pattern}\" matches every secret; name the secrets the rule needs"
                )
            )]
        );
        let auto = policy(&one_rule(&format!(
            "actors = [\"codex\"]\nsecrets = [\"{pattern}\"]\ncommands = [\"cargo\"]\nmax_ttl = \"1m\"\napproval = \"auto\"\n"
        )));
        let findings = auto.check(None);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(
            findings[0]
                .message
                .contains("hands out every secret without asking")
        );
    }
}

#[test]
fn broad_commands_long_ttls_and_wide_hosts() {
    let policy = policy(&one_rule(
        "actors = [\"codex\"]\nsecrets = [\"x\"]\ncommands = [\"*\"]\nhosts = [\"*.com\"]\nmax_ttl = \"2days\"\napproval = \"auto\"\n",
    ));
    let messages: Vec<String> = policy.check(None).into_iter().map(|f| f.message).collect();
    assert_eq!(
        messages,
        [
            "command pattern \"*\" lets any program receive these secrets; list the programs by name or absolute path",
            "host pattern \"*.com\" covers a whole top-level domain; name the hosts, like \"api.example.com\"",
            "approval = \"auto\" with max_ttl = \"2days\" lets unapproved grants last over an hour; \
             shorten max_ttl or set approval = \"required\"",
            "max_ttl = \"2days\" is longer than a day; a grant is for one task, shorten it",
        ]
    );
}

#[test]
fn rules_without_commands_are_flagged() {
    let findings = policy(LAYERED).check(None);
    assert_eq!(
        findings,
        [finding(
            Severity::Warning,
            17,
            "rule has no commands, so any command may receive these secrets; \
             list the programs it needs, e.g. commands = [\"cargo\"]"
        )]
    );
}

#[test]
fn findings_serialize_for_json_output() {
    let json = serde_json::to_value(policy(EXAMPLE).check(None)).unwrap();
    assert_eq!(json[0]["severity"], "warning");
    assert_eq!(json[0]["line"], 5);
}
