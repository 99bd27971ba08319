use std::os::unix::fs::PermissionsExt;

use predicates::prelude::*;

use crate::harness::Home;

#[test]
fn init_creates_a_private_store_without_prompting() {
    let home = Home::empty();
    home.cmd()
        .arg("init")
        .assert()
        .success()
        .stdout(predicate::str::contains("Created the warrant store"));
    let dir_mode = std::fs::metadata(home.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    for entry in std::fs::read_dir(home.path()).unwrap().flatten() {
        let mode = entry.metadata().unwrap().permissions().mode() & 0o077;
        assert_eq!(mode, 0, "{} is readable by others", entry.path().display());
    }
}

#[test]
fn init_twice_keeps_the_store_and_says_so() {
    let home = Home::new();
    home.set("a/b", "value-one-long-enough");
    home.cmd()
        .arg("init")
        .assert()
        .failure()
        .stderr(predicate::str::contains("already exists").and(predicate::str::contains("hint:")));
    home.cmd()
        .args(["secret", "ls", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("a/b"));
}

#[test]
fn init_json_reports_home_and_key_kind() {
    let home = Home::empty();
    let out = home.cmd().args(["init", "--json"]).output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key"], "key_file");
    assert_eq!(json["home"], home.path().to_str().unwrap());
}

#[test]
fn commands_before_init_point_to_init() {
    let home = Home::empty();
    home.cmd()
        .args(["secret", "ls"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("warrant init"));
}

#[test]
fn help_reads_well() {
    let home = Home::empty();
    home.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("run").and(predicate::str::contains("secret")));
    home.cmd()
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--env-file").and(predicate::str::contains("128+N")));
}
