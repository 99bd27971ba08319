//! Every kind of malformed policy, with its exact position and message.

use std::path::Path;

use warrant_policy::{Error, Policy};

use crate::support::{error, one_rule};

/// A valid rule body (lines 5–8) with `line` (1-based within the body)
/// replaced, or appended when `line` is 5.
fn rule_with(line: usize, text: &str) -> String {
    let mut body = vec![
        "actors = [\"codex\"]",
        "secrets = [\"db/dev/*\"]",
        "max_ttl = \"30m\"",
        "approval = \"auto\"",
    ];
    if line == 5 {
        body.push(text);
    } else {
        body[line - 1] = text;
    }
    one_rule(&(body.join("\n") + "\n"))
}

#[test]
fn unknown_approval() {
    assert_eq!(
        error(&rule_with(4, "approval = \"maybe\"")),
        "warrant.toml:8:12: unknown approval \"maybe\"; use \"required\", \"hardware_key\" or \"auto\""
    );
}

#[test]
fn unknown_actor_kind() {
    assert_eq!(
        error("[actors.codex]\nkind = \"robot\"\n"),
        "warrant.toml:2:8: unknown actor kind \"robot\"; use \"human\", \"agent\" or \"workload\""
    );
}

#[test]
fn unknown_on_expiry() {
    assert_eq!(
        error(&rule_with(5, "on_expiry = \"later\"")),
        "warrant.toml:9:13: unknown on_expiry \"later\"; use \"terminate\" or \"finish\""
    );
}

#[test]
fn bad_durations() {
    let message = error(&rule_with(3, "max_ttl = \"30\""));
    assert!(
        message.starts_with("warrant.toml:7:11: invalid duration \"30\" ("),
        "{message}"
    );
    assert!(
        message.ends_with("); use a duration like \"30m\" or \"1h 30m\""),
        "{message}"
    );

    let message = error(&rule_with(5, "grace = \"soon\""));
    assert!(
        message.starts_with("warrant.toml:9:9: invalid duration \"soon\""),
        "{message}"
    );

    assert_eq!(
        error(&rule_with(3, "max_ttl = 30")),
        "warrant.toml:7:11: invalid type: integer `30`, expected a duration string like \"30m\" or \"1h 30m\""
    );
}

#[test]
fn zero_max_ttl() {
    assert_eq!(
        error(&rule_with(3, "max_ttl = \"0s\"")),
        "warrant.toml:7:11: max_ttl cannot be zero; use a duration like \"30m\""
    );
}

#[test]
fn zero_or_negative_max_uses() {
    for value in ["0", "-3"] {
        assert_eq!(
            error(&rule_with(5, &format!("max_uses = {value}"))),
            "warrant.toml:9:12: max_uses must be at least 1; omit it for no limit"
        );
    }
}

#[test]
fn empty_lists() {
    assert_eq!(
        error(&rule_with(2, "secrets = []")),
        "warrant.toml:6:11: secrets is empty; list secret names or globs such as \"db/dev/*\""
    );
    assert_eq!(
        error(&rule_with(1, "actors = []")),
        "warrant.toml:5:10: actors is empty; name at least one actor defined under [actors]"
    );
    assert_eq!(
        error(&rule_with(5, "commands = []")),
        "warrant.toml:9:12: commands is empty; omit it to allow any command, or list programs such as \"cargo\""
    );
    // No hosts is a valid choice: the secrets go to no host.
    crate::support::policy(&rule_with(5, "hosts = []"));
}

#[test]
fn undefined_actor() {
    assert_eq!(
        error(&rule_with(1, "actors = [\"codex\", \"claude\"]")),
        "warrant.toml:5:20: actor \"claude\" is not defined; add [actors.claude] with a kind \
         (\"human\", \"agent\" or \"workload\") or fix the name"
    );
}

#[test]
fn bad_secret_patterns() {
    assert_eq!(
        error(&rule_with(2, "secrets = [\"db/[dev\"]")),
        "warrant.toml:6:12: invalid secret pattern \"db/[dev\": unclosed character class; missing ']'; \
         use a name like \"db/dev/url\" or a glob like \"db/dev/*\""
    );
    assert_eq!(
        error(&rule_with(2, "secrets = [\"ok\", \"db//url\"]")),
        "warrant.toml:6:18: secret name \"db//url\" has an empty, '.' or '..' segment; \
         use segments like 'db/dev/url'"
    );
    assert_eq!(
        error(&rule_with(2, "secrets = [\"db/*/../x\"]")),
        "warrant.toml:6:12: secret pattern \"db/*/../x\" has an empty, '.' or '..' segment; \
         use segments like \"db/dev/*\""
    );
    assert_eq!(
        error(&rule_with(2, "secrets = [\"db dev\"]")),
        "warrant.toml:6:12: secret name \"db dev\" contains ' '; \
         names use letters, digits, '.', '_', '-' and '/'"
    );
}

#[test]
fn bad_command_patterns() {
    assert_eq!(
        error(&rule_with(5, "commands = [\"cargo\", \"bin/cargo\"]")),
        "warrant.toml:9:22: command pattern \"bin/cargo\" contains '/' but is not an absolute path; \
         use a program name like \"cargo\" or an absolute path like \"/usr/bin/cargo\""
    );
    let message = error(&rule_with(5, "commands = [\"{cargo\"]"));
    assert!(
        message.starts_with("warrant.toml:9:13: invalid command pattern \"{cargo\": "),
        "{message}"
    );
}

#[test]
fn bad_hosts() {
    assert_eq!(
        error(&rule_with(5, "hosts = [\"https://api.github.com\"]")),
        "warrant.toml:9:10: invalid host \"https://api.github.com\"; use a host name like \
         \"api.github.com\", \"*.example.com\" or \"localhost:8443\" (no scheme or path; the port is \
         443 unless given, \"host:*\" for any)"
    );
    let message = error(&rule_with(5, "hosts = [\"api.github.com:99999\"]"));
    assert!(
        message.starts_with(
            "warrant.toml:9:10: invalid host \"api.github.com:99999\": the port must be"
        ),
        "{message}"
    );
}

#[test]
fn bad_delivery() {
    let message = error(&rule_with(5, "substitute_in = [\"cookies\"]"));
    assert!(
        message.starts_with("warrant.toml:9:18: unknown place \"cookies\" in substitute_in"),
        "{message}"
    );
    let cases = [
        (
            r#"inject = [{ secret = "other/token", host = "a.test", header = "X-Key" }]"#,
            "is not among this rule's secrets",
        ),
        (
            r#"inject = [{ secret = "db/dev/*", host = "a.test", header = "X-Key" }]"#,
            "is not a secret name",
        ),
        (
            r#"inject = [{ secret = "db/dev/url", host = "https://a.test", header = "X-Key" }]"#,
            "invalid host",
        ),
        (
            r#"inject = [{ secret = "db/dev/url", host = "a.test", header = "Host" }]"#,
            "cannot be injected",
        ),
        (
            r#"inject = [{ secret = "db/dev/url", host = "a.test", header = "X", format = "Bearer" }]"#,
            "must hold {value} exactly once",
        ),
        (
            r#"inject = [{ secret = "db/dev/url", host = "a.test", header = "X", query = "k" }]"#,
            "an injection goes in one place",
        ),
        (
            r#"inject = [{ secret = "db/dev/url", host = "a.test", query = "a&b" }]"#,
            "must be letters, digits",
        ),
        (
            r#"inject = [{ secret = "db/dev/url", host = "a.test", basic = "{value}" }]"#,
            "basic is user:password",
        ),
        (
            r#"inject = [{ secret = "db/dev/url", header = "X" }]"#,
            "an injection needs a secret and a host",
        ),
        (
            r#"inject = [{ secret = "db/dev/url", host = "a.test", headers = "X" }]"#,
            "unknown field `headers`",
        ),
    ];
    for (line, expected) in cases {
        let message = error(&rule_with(5, line));
        assert!(message.contains(expected), "{line}: {message}");
    }
}

#[test]
fn missing_required_keys_point_at_the_header() {
    assert_eq!(
        error(&one_rule(
            "actors = [\"codex\"]\nsecrets = [\"x\"]\nmax_ttl = \"1m\"\n"
        )),
        "warrant.toml:4:1: rule is missing approval; add approval = \"required\" (or \"auto\")"
    );
    assert_eq!(
        error(&one_rule(
            "actors = [\"codex\"]\nmax_ttl = \"1m\"\napproval = \"auto\"\n"
        )),
        "warrant.toml:4:1: rule is missing secrets; add secrets = [\"db/dev/*\"] with secret names or globs"
    );
    assert_eq!(
        error("[actors.codex]\ndescription = \"no kind\"\n"),
        "warrant.toml:1:1: actor \"codex\" has no kind; add kind = \"agent\" (or \"human\", \"workload\")"
    );
}

#[test]
fn bad_actor_name() {
    assert_eq!(
        error("[actors.\"my bot\"]\nkind = \"agent\"\n"),
        "warrant.toml:1:9: invalid actor name \"my bot\"; use letters, digits, '.', '_' and '-'"
    );
}

#[test]
fn unknown_keys() {
    let message = error(&rule_with(5, "colour = \"red\""));
    assert!(
        message.starts_with("warrant.toml:9:1: unknown field `colour`, expected one of"),
        "{message}"
    );
    let message = error("version = 2\n");
    assert_eq!(
        message,
        "warrant.toml:1:1: unknown field `version`, expected `actors` or `rules`"
    );
    let message = error("[actors.codex]\nkind = \"agent\"\nrole = \"x\"\n");
    assert_eq!(
        message,
        "warrant.toml:3:1: unknown field `role`, expected `kind` or `description`"
    );
}

#[test]
fn toml_syntax_errors() {
    assert_eq!(
        error(&rule_with(5, "hosts = [\"a.com\"")),
        "warrant.toml:9:17: unclosed array, expected `]`"
    );
    assert_eq!(
        error("[actors.codex]\nkind = \"agent\"\nkind = \"human\"\n"),
        "warrant.toml:3:1: duplicate key"
    );
    assert_eq!(
        error(&rule_with(3, "max_ttl = 30m")),
        "warrant.toml:7:11: string values must be quoted, expected literal string"
    );
}

#[test]
fn the_earliest_problem_wins() {
    // Two problems; the one on line 6 is reported, not the one on line 9.
    let text = rule_with(2, "secrets = []")
        .replace("approval = \"auto\"", "approval = \"auto\"\nmax_uses = 0");
    assert!(error(&text).starts_with("warrant.toml:6:11: "));
}

#[test]
fn origin_is_used_in_messages() {
    let error = Policy::parse(Path::new("/repo/warrant.toml"), "x = 1\n").unwrap_err();
    assert!(
        error.to_string().starts_with("/repo/warrant.toml:1:1: "),
        "{error}"
    );
    assert_eq!(error.position(), Some((1, 1)));
}

#[test]
fn load_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("warrant.toml");
    let error = Policy::load(&missing).unwrap_err();
    assert!(matches!(error, Error::Read { .. }));
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot read {}: ", missing.display()))
    );

    std::fs::write(&missing, b"[actors.codex]\nkind = \"ag\xffent\"\n").unwrap();
    let error = Policy::load(&missing).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:2:11: the file is not valid UTF-8; save it as UTF-8",
            missing.display()
        )
    );
}
