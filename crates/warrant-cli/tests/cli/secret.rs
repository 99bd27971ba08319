use predicates::prelude::*;

use crate::harness::{Home, contains, fake_value};

#[test]
fn set_reads_stdin_and_ls_never_shows_values() {
    let home = Home::new();
    let value = fake_value("gh");
    home.cmd()
        .args([
            "secret",
            "set",
            "github/token",
            "--description",
            "CI bot token",
        ])
        .write_stdin(format!("{value}\n"))
        .assert()
        .success();
    let out = home.cmd().args(["secret", "ls"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("github/token") && text.contains("CI bot token"),
        "{text}"
    );
    assert!(!text.contains(&value));

    let out = home
        .cmd()
        .args(["secret", "ls", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["name"], "github/token");
    assert_eq!(json[0]["description"], "CI bot token");
    assert!(json[0]["created"].as_str().unwrap().contains('T'));
    assert!(!contains(&out.stdout, value.as_bytes()));
    // At rest the value is encrypted: no file under the home holds it.
    assert!(!contains(&home.all_bytes(), value.as_bytes()));
}

#[test]
fn a_value_is_never_taken_from_argv() {
    let home = Home::new();
    home.cmd()
        .args(["secret", "set", "a/b", "some-value-in-argv"])
        .write_stdin("x")
        .assert()
        .failure()
        .code(2);
    home.cmd()
        .args(["run", "--env", "A=some-plain-value-in-argv", "--", "true"])
        .assert()
        .code(125)
        .stderr(
            predicate::str::contains("reference")
                .and(predicate::str::contains("plain-value").not()),
        );
}

#[test]
fn set_trims_one_newline_unless_asked() {
    let home = Home::new();
    home.set("x/trim", "abcdefgh-1234\n");
    home.cmd()
        .args(["secret", "set", "x/keep", "--keep-newline"])
        .write_stdin("abcdefgh-1234\n")
        .assert()
        .success();
    let (code, out, _) = crate::harness::run_sh(
        &home,
        &["-e", "T=warrant://x/trim", "-e", "K=warrant://x/keep"],
        r#"[ "$T" = abcdefgh-1234 ] && [ "${#K}" = 14 ] && echo ok"#,
    );
    assert_eq!((code, out.as_str()), (0, "ok\n"));
}

#[test]
fn bad_names_and_empty_values_are_refused_with_a_reason() {
    let home = Home::new();
    home.cmd()
        .args(["secret", "set", "../etc/passwd"])
        .write_stdin("long-enough-value")
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("invalid secret name").and(predicate::str::contains("hint:")),
        );
    home.cmd()
        .args(["secret", "set", "a/b"])
        .write_stdin("")
        .assert()
        .failure()
        .stderr(predicate::str::contains("empty"));
}

#[test]
fn short_values_are_stored_with_a_warning() {
    let home = Home::new();
    home.cmd()
        .args(["secret", "set", "pin"])
        .write_stdin("1234")
        .assert()
        .success()
        .stderr(
            predicate::str::contains("shorter than 8 bytes")
                .and(predicate::str::contains("1234").not()),
        );
}

#[test]
fn rm_removes_and_missing_names_are_clear_errors() {
    let home = Home::new();
    home.set("a/b", "value-long-enough");
    home.cmd().args(["secret", "rm", "a/b"]).assert().success();
    home.cmd()
        .args(["secret", "rm", "a/b"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("a/b").and(predicate::str::contains("secret ls")));
    let out = home
        .cmd()
        .args(["secret", "ls", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn set_replaces_and_keeps_the_description() {
    let home = Home::new();
    home.cmd()
        .args(["secret", "set", "db/url", "-d", "dev database"])
        .write_stdin("postgres://u:first-pass@h/db")
        .assert()
        .success();
    home.set("db/url", "postgres://u:second-pass@h/db");
    let out = home
        .cmd()
        .args(["secret", "ls", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["description"], "dev database");
    let (_, out, _) = crate::harness::run_sh(
        &home,
        &["-e", "U=warrant://db/url"],
        r#"case "$U" in *second-pass*) echo new;; *) echo old;; esac"#,
    );
    assert_eq!(out, "new\n");
}
