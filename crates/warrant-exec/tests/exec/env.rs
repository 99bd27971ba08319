//! Environment injection.

use std::collections::BTreeSet;

use crate::scenario::Scenario;

const TOKEN: &str = "fake-token-value-1234";
const OVERRIDE: &str = "fake-override-5678";

#[test]
fn child_gets_exactly_the_plain_and_secret_variables() {
    let path = std::env::var("PATH").unwrap();
    let outcome = Scenario::new(&["env"])
        .env("PLAIN_VAR", "plain-value")
        .env("OVERRIDDEN", "plain")
        .secret_env("WARRANT_TEST_TOKEN", TOKEN)
        .secret_env("OVERRIDDEN", OVERRIDE)
        .secret_file("WARRANT_TEST_CERT", "fake-cert")
        .run();
    assert_eq!(outcome.get("status"), "exited:0", "{outcome:?}");
    let lines: Vec<&str> = outcome.stdout_str().leak().lines().collect();
    let cert = lines
        .iter()
        .find_map(|l| l.strip_prefix("WARRANT_TEST_CERT="))
        .expect("the file variable");
    assert!(cert.starts_with("/proc/self/fd/"), "{cert}");
    let got: BTreeSet<&str> = lines.iter().copied().collect();
    let path_line = format!("PATH={path}");
    let cert_line = format!("WARRANT_TEST_CERT={cert}");
    let token_line = format!("WARRANT_TEST_TOKEN={TOKEN}");
    let override_line = format!("OVERRIDDEN={OVERRIDE}");
    let want: BTreeSet<&str> = [
        path_line.as_str(),
        "PLAIN_VAR=plain-value",
        override_line.as_str(),
        token_line.as_str(),
        cert_line.as_str(),
    ]
    .into();
    assert_eq!(got, want);
    assert_eq!(lines.len(), want.len(), "no variable twice: {lines:?}");
    assert!(outcome.exit.success());
}

#[test]
fn secret_values_are_redacted_in_both_streams() {
    // Needs warrant-redact's real implementation.
    let outcome = Scenario::sh(
        r#"printf 'a=%s\n' "$TOK"; printf '%s' "$TOK" | head -c 7; sleep 0.05; printf '%s\n' "$TOK" | tail -c +8; echo "$TOK" >&2"#,
    )
    .secret_env("TOK", TOKEN)
    .redact("tok", TOKEN)
    .run();
    assert_eq!(outcome.get("status"), "exited:0", "{outcome:?}");
    assert_eq!(outcome.stdout_str(), "a=<redacted:tok>\n<redacted:tok>\n");
    assert_eq!(outcome.stderr_str(), "<redacted:tok>\n");
    assert_eq!(outcome.get("redactions"), "tok:3");
}
