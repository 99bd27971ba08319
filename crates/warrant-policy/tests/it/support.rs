//! Shared fixtures.

use std::path::Path;
use std::time::Duration;

use warrant_policy::{Decision, Policy, Request};
use warrant_secret::SecretName;

/// The example from the product brief, with a second actor.
pub const EXAMPLE: &str = r#"[actors.codex]
kind = "agent"          # "human" | "agent" | "workload"
description = "Codex working in this repository"

[actors.alice]
kind = "human"

[[rules]]
actors   = ["codex"]
secrets  = ["db/dev/*", "github/token"]   # names or globs
commands = ["cargo", "psql", "git"]        # argv[0] names or globs
hosts    = ["api.github.com"]
max_ttl  = "30m"
approval = "required"
max_uses = 50
on_expiry = "terminate"
grace = "10s"
description = "dev database and GitHub for the test suite"
"#;

/// Several rules, for decisions that depend on order and on strictness.
pub const LAYERED: &str = r#"[actors.codex]
kind = "agent"
[actors.claude]
kind = "agent"
[actors.ci]
kind = "workload"

[[rules]]
actors = ["codex", "claude"]
secrets = ["db/dev/*"]
commands = ["cargo", "psql"]
max_ttl = "30m"
approval = "auto"
max_uses = 20
grace = "5s"

[[rules]]
actors = ["codex"]
secrets = ["github/token"]
hosts = ["api.github.com", "*.githubusercontent.com"]
max_ttl = "15m"
approval = "required"
on_expiry = "finish"

[[rules]]
actors = ["codex"]
secrets = ["db/dev/*"]
commands = ["/usr/bin/*"]
max_ttl = "2h"
approval = "required"
on_expiry = "finish"

[[rules]]
actors = ["ci"]
secrets = ["deploy/**"]
commands = ["/usr/local/bin/deploy"]
max_ttl = "1h"
approval = "auto"
max_uses = 1
"#;

/// Lines of the `[[rules]]` headers in [`LAYERED`].
pub const LAYERED_RULES: [usize; 4] = [8, 17, 25, 33];

pub fn policy(text: &str) -> Policy {
    Policy::parse(Path::new("warrant.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

pub fn names(names: &[&str]) -> Vec<SecretName> {
    names.iter().map(|n| SecretName::new(*n).unwrap()).collect()
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

/// Decides a request given as plain strings.
pub fn decide(
    policy: &Policy,
    actor: &str,
    secrets: &[&str],
    commands: &[&str],
    hosts: &[&str],
    ttl: Duration,
) -> Decision {
    let secrets = names(secrets);
    let commands = strings(commands);
    let hosts = strings(hosts);
    policy.decide(&Request {
        actor,
        secrets: &secrets,
        commands: &commands,
        hosts: &hosts,
        ttl,
    })
}

/// The full message of the error parsing `text` as `warrant.toml`.
pub fn error(text: &str) -> String {
    match Policy::parse(Path::new("warrant.toml"), text) {
        Ok(_) => panic!("parsed, but should not have:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// A policy with actor `codex` (lines 1–2) and one rule whose header is on
/// line 4 and whose body, `body`, starts on line 5.
pub fn one_rule(body: &str) -> String {
    format!("[actors.codex]\nkind = \"agent\"\n\n[[rules]]\n{body}")
}
