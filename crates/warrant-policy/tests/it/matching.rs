//! Glob semantics for secrets, commands and hosts, through the policy.

use std::path::Path;

use warrant_policy::{command_matches, host_matches};

use crate::support::{decide, minutes, one_rule, policy};

fn allows(secrets: &str, secret: &str) -> bool {
    let policy = policy(&one_rule(&format!(
        "actors = [\"codex\"]\nsecrets = [{secrets}]\nmax_ttl = \"1m\"\napproval = \"auto\"\n"
    )));
    decide(&policy, "codex", &[secret], &[], &[], minutes(1)).is_allowed()
}

#[test]
fn star_stays_within_a_segment() {
    assert!(allows("\"db/*\"", "db/url"));
    assert!(!allows("\"db/*\"", "db/dev/url"));
    assert!(!allows("\"db/*\"", "db"));
    assert!(!allows("\"*\"", "db/url"));
    assert!(allows("\"*\"", "token"));
    assert!(allows("\"db/*/url\"", "db/dev/url"));
    assert!(!allows("\"db/*/url\"", "db/dev/eu/url"));
}

#[test]
fn double_star_crosses_segments() {
    assert!(allows("\"db/**\"", "db/url"));
    assert!(allows("\"db/**\"", "db/dev/eu/url"));
    assert!(!allows("\"db/**\"", "dbx/url"));
    assert!(allows("\"**/url\"", "db/dev/url"));
    assert!(allows("\"**/url\"", "url"));
    assert!(allows("\"**\"", "a/b/c"));
}

#[test]
fn plain_names_and_other_globs() {
    assert!(allows("\"github/token\"", "github/token"));
    assert!(!allows("\"github/token\"", "github/token-2"));
    assert!(!allows("\"github/token\"", "github"));
    assert!(allows("\"db/{dev,test}/url\"", "db/test/url"));
    assert!(!allows("\"db/{dev,test}/url\"", "db/prod/url"));
    assert!(allows("\"key?\"", "key1"));
    assert!(allows("\"key[0-9]\"", "key7"));
    assert!(!allows("\"key[0-9]\"", "keyx"));
    // Matching is case-sensitive, as names are.
    assert!(!allows("\"DB/*\"", "db/url"));
}

#[test]
fn command_names_match_however_the_program_is_invoked() {
    let scopes = vec![vec!["cargo".to_owned()]];
    assert!(command_matches(
        &scopes,
        "cargo",
        Some(Path::new("/usr/bin/cargo"))
    ));
    assert!(command_matches(&scopes, "/usr/bin/cargo", None));
    assert!(command_matches(
        &scopes,
        "./cargo",
        Some(Path::new("/repo/cargo"))
    ));
    assert!(!command_matches(&scopes, "cargo2", None));
    assert!(!command_matches(
        &scopes,
        "rm",
        Some(Path::new("/usr/bin/cargo"))
    ));
    let globbed = vec![vec!["py*".to_owned()]];
    assert!(command_matches(&globbed, "python3", None));
    assert!(!command_matches(&globbed, "/usr/bin/py/x", None));
}

#[test]
fn command_paths_match_the_resolved_absolute_path() {
    let scopes = vec![vec!["/usr/bin/cargo".to_owned()]];
    assert!(command_matches(
        &scopes,
        "cargo",
        Some(Path::new("/usr/bin/cargo"))
    ));
    // An executable of the same name elsewhere does not pass.
    assert!(!command_matches(
        &scopes,
        "cargo",
        Some(Path::new("/tmp/evil/cargo"))
    ));
    assert!(!command_matches(&scopes, "cargo", None));
    assert!(!command_matches(
        &scopes,
        "cargo",
        Some(Path::new("usr/bin/cargo"))
    ));
    assert!(!command_matches(
        &scopes,
        "cargo",
        Some(Path::new("/usr/bin/../bin/cargo"))
    ));

    let dir = vec![vec!["/usr/bin/*".to_owned()]];
    assert!(command_matches(
        &dir,
        "make",
        Some(Path::new("/usr/bin/make"))
    ));
    assert!(!command_matches(
        &dir,
        "make",
        Some(Path::new("/usr/bin/sub/make"))
    ));
    let deep = vec![vec!["/opt/**".to_owned()]];
    assert!(command_matches(
        &deep,
        "x",
        Some(Path::new("/opt/tool/bin/x"))
    ));
}

#[test]
fn policy_command_patterns_by_name_and_path() {
    let policy = policy(&one_rule(
        "actors = [\"codex\"]\nsecrets = [\"x\"]\ncommands = [\"git\", \"/opt/tools/*\"]\nmax_ttl = \"1m\"\napproval = \"auto\"\n",
    ));
    let ok =
        |command: &str| decide(&policy, "codex", &["x"], &[command], &[], minutes(1)).is_allowed();
    assert!(ok("git"));
    assert!(ok("/usr/bin/git"));
    assert!(ok("/opt/tools/psql"));
    assert!(!ok("psql"), "a name cannot satisfy a path pattern");
    assert!(!ok("/opt/tools/sub/psql"));
    assert!(!ok("gitk"));
}

#[test]
fn hosts_are_exact_or_subdomains_without_case() {
    let patterns = vec!["api.github.com".to_owned(), "*.s3.amazonaws.com".to_owned()];
    assert!(host_matches(&patterns, "api.github.com"));
    assert!(host_matches(&patterns, "Api.GitHub.COM."));
    assert!(!host_matches(&patterns, "github.com"));
    assert!(!host_matches(&patterns, "api.github.com.evil.net"));
    assert!(host_matches(&patterns, "bucket.s3.amazonaws.com"));
    assert!(host_matches(&patterns, "a.bucket.s3.amazonaws.com"));
    assert!(!host_matches(&patterns, "s3.amazonaws.com"));
    assert!(!host_matches(&patterns, "evils3.amazonaws.com"));
    assert!(!host_matches(&patterns, "api.github.com:443"));
    assert!(!host_matches(&[], "api.github.com"));
}
