//! Parsing valid policies.

use std::path::Path;
use std::time::Duration;

use warrant_policy::{
    ActorKind, Approval, InjectInto, OnExpiry, PatternKind, Policy, SubstituteIn,
};

use crate::support::{EXAMPLE, LAYERED, LAYERED_RULES, minutes, one_rule, policy};

#[test]
fn parses_the_example() {
    let policy = policy(EXAMPLE);
    let actors: Vec<_> = policy
        .actors()
        .map(|a| (a.name.as_str(), a.kind, a.line))
        .collect();
    assert_eq!(
        actors,
        [
            ("codex", ActorKind::Agent, 1),
            ("alice", ActorKind::Human, 5)
        ]
    );
    assert_eq!(
        policy.actor("codex").unwrap().description.as_deref(),
        Some("Codex working in this repository")
    );
    assert!(policy.actor("bob").is_none());

    let [rule] = policy.rules() else {
        panic!("one rule")
    };
    assert_eq!((rule.line, rule.number), (8, 1));
    assert_eq!(rule.actors, ["codex"]);
    assert_eq!(rule.secrets.patterns(), ["db/dev/*", "github/token"]);
    assert_eq!(rule.secrets.kind(), PatternKind::Secret);
    assert_eq!(
        rule.commands.as_ref().unwrap().patterns(),
        ["cargo", "psql", "git"]
    );
    assert_eq!(rule.hosts.patterns(), ["api.github.com"]);
    assert_eq!(rule.max_ttl, minutes(30));
    assert_eq!(rule.approval, Approval::Required);
    assert_eq!(rule.max_uses, Some(50));
    assert_eq!(rule.on_expiry, OnExpiry::Terminate);
    assert_eq!(rule.grace, Duration::from_secs(10));
    assert_eq!(
        rule.description.as_deref(),
        Some("dev database and GitHub for the test suite")
    );
    assert!(std::ptr::eq(policy.rule_at(8).unwrap(), rule));
    assert!(policy.rule_at(9).is_none());
}

#[test]
fn optional_keys_have_defaults() {
    let policy = policy(&one_rule(
        "actors = [\"codex\"]\nsecrets = [\"x\"]\nmax_ttl = \"1h 30m\"\napproval = \"auto\"\n",
    ));
    let rule = &policy.rules()[0];
    assert!(rule.commands.is_none());
    assert!(rule.hosts.is_empty());
    assert_eq!(rule.max_ttl, minutes(90));
    assert_eq!(rule.max_uses, None);
    assert_eq!(rule.on_expiry, OnExpiry::Terminate);
    assert_eq!(rule.grace, Duration::from_secs(10));
    assert_eq!(rule.description, None);
    assert!(!rule.allow_http);
    assert_eq!(rule.substitute_in, SubstituteIn::default());
    assert!(rule.inject.is_empty());
}

#[test]
fn delivery_keys_parse_and_injection_hosts_join_the_rules_hosts() {
    let policy = policy(&one_rule(
        r#"actors = ["codex"]
secrets = ["github/*", "api/key"]
hosts = ["uploads.github.com"]
max_ttl = "1h"
approval = "auto"
allow_http = true
substitute_in = ["body", "query"]
inject = [
  { secret = "github/token", host = "api.github.com", header = "Authorization", format = "Bearer {value}" },
  { secret = "github/token", host = "git.example.test:8443", basic = "x-access-token:{value}" },
  { secret = "api/key", host = "maps.example.test", query = "key" },
  { secret = "api/key", host = "uploads.github.com", header = "X-Key" },
]
"#,
    ));
    let rule = &policy.rules()[0];
    assert!(rule.allow_http);
    assert_eq!(
        rule.substitute_in,
        SubstituteIn {
            query: true,
            body: true
        }
    );
    assert_eq!(
        rule.hosts.patterns(),
        [
            "uploads.github.com",
            "api.github.com",
            "git.example.test:8443",
            "maps.example.test"
        ]
    );
    assert_eq!(
        rule.inject[0].into,
        InjectInto::Header {
            name: "Authorization".into(),
            format: "Bearer {value}".into()
        }
    );
    assert_eq!(
        rule.inject[1].into,
        InjectInto::Basic {
            credentials: "x-access-token:{value}".into()
        }
    );
    assert_eq!(
        rule.inject[2].into,
        InjectInto::Query {
            param: "key".into()
        }
    );
    // A header without format carries the value alone.
    assert_eq!(
        rule.inject[3].into,
        InjectInto::Header {
            name: "X-Key".into(),
            format: "{value}".into()
        }
    );
}

#[test]
fn rules_are_numbered_by_position_and_header_line() {
    let policy = policy(LAYERED);
    let lines: Vec<usize> = policy.rules().iter().map(|r| r.line).collect();
    assert_eq!(lines, LAYERED_RULES);
    let numbers: Vec<usize> = policy.rules().iter().map(|r| r.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
}

#[test]
fn inline_tables_and_an_empty_file_parse() {
    let policy = policy(
        "actors = { a = { kind = \"workload\" } }\n\
         rules = [{ actors = [\"a\"], secrets = [\"x\"], max_ttl = \"1m\", approval = \"auto\" }]\n",
    );
    assert_eq!(policy.rules()[0].line, 2);
    assert_eq!(policy.actor("a").unwrap().kind, ActorKind::Workload);
    let empty = crate::support::policy("");
    assert_eq!(empty.actors().count(), 0);
    assert!(empty.rules().is_empty());
}

#[test]
fn load_reads_the_file_and_hashes_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warrant.toml");
    std::fs::write(&path, EXAMPLE).unwrap();
    let policy = Policy::load(&path).unwrap();
    assert_eq!(policy.path(), path);
    // sha256 of the bytes, as `sha256sum` would print it.
    assert_eq!(policy.hash().len(), 64);
    assert!(
        policy
            .hash()
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(policy.hash(), crate::support::policy(EXAMPLE).hash());
    let changed = crate::support::policy(&EXAMPLE.replace("30m", "20m"));
    assert_ne!(policy.hash(), changed.hash());
    assert_eq!(
        Policy::parse(Path::new("x"), "").unwrap().hash(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn find_looks_in_the_directory_then_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("crates/app/src");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(dir.path().join("warrant.toml"), EXAMPLE).unwrap();
    assert_eq!(Policy::find(&deep), Some(dir.path().join("warrant.toml")));
    assert_eq!(
        Policy::find(dir.path()),
        Some(dir.path().join("warrant.toml"))
    );
    // A directory called warrant.toml is not a policy.
    std::fs::create_dir(deep.join("warrant.toml")).unwrap();
    assert_eq!(Policy::find(&deep), Some(dir.path().join("warrant.toml")));
}
