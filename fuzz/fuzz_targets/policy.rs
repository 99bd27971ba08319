//! The policy parser takes a file anyone with write access to the project
//! can edit: it must never panic, every error must point inside the text,
//! and whatever it accepts must decide and explain without panicking.

#![no_main]

use std::path::Path;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use warrant_policy::{Decision, Policy, Query, Request};
use warrant_secret::SecretName;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = match Policy::parse(Path::new("warrant.toml"), text) {
        Ok(policy) => policy,
        Err(error) => {
            if let Some((line, column)) = error.position() {
                assert!(line >= 1 && column >= 1);
                assert!(line <= text.lines().count().max(1) + 1, "line {line} past the end");
            }
            return;
        }
    };
    let names: Vec<SecretName> = ["db/dev/url", "a", "github/token", "x/y/z"]
        .iter()
        .map(|n| SecretName::new(*n).unwrap())
        .collect();
    let _ = policy.check(Some(&names));
    let actors: Vec<String> = policy.actors().map(|a| a.name.clone()).collect();
    for actor in actors.iter().map(String::as_str).chain(["nobody"]) {
        let commands = vec!["cargo".to_owned()];
        let decision = policy.decide(&Request {
            actor,
            secrets: &names,
            commands: &commands,
            hosts: &[],
            ttl: Duration::from_secs(60),
        });
        if let Decision::Allow(terms) = &decision {
            // A grant never outlives what was asked for.
            assert!(terms.ttl <= Duration::from_secs(60));
            assert!(!terms.rules.is_empty());
        }
        for secret in &names {
            let explanation = policy.explain(&Query {
                actor,
                secret,
                command: Some("cargo"),
                host: Some("api.github.com"),
            });
            let _ = explanation.allowed;
        }
    }
});
