//! A wrong key or a corrupt store gives a clear error and changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::harness::{Home, fake_value, run_sh};

const PASSPHRASE: &str = "correct horse battery staple";

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn passphrase_home() -> (Home, PathBuf, String) {
    let home = Home::empty();
    home.cmd()
        .args(["init", "--passphrase"])
        .write_stdin(format!("{PASSPHRASE}\n"))
        .assert()
        .success();
    let file = home.scratch().join("pass");
    std::fs::write(&file, format!("{PASSPHRASE}\n")).unwrap();
    let value = fake_value("pp");
    home.cmd()
        .args(["secret", "set", "p/v", "--passphrase-file"])
        .arg(&file)
        .write_stdin(value.clone())
        .assert()
        .success();
    (home, file, value)
}

#[test]
fn the_passphrase_opens_the_store_and_a_wrong_one_changes_nothing() {
    let (home, good, value) = passphrase_home();
    let script = format!(r#"[ "$V" = "{value}" ] && echo ok"#);
    let (code, out, _) = run_sh(
        &home,
        &[
            "--passphrase-file",
            good.to_str().unwrap(),
            "-e",
            "V=warrant://p/v",
        ],
        &script,
    );
    assert_eq!((code, out.as_str()), (0, "ok\n"));

    let bad = home.scratch().join("bad");
    std::fs::write(&bad, "not the passphrase\n").unwrap();
    let before = snapshot(&home.path());
    let (code, _, err) = run_sh(
        &home,
        &[
            "--passphrase-file",
            bad.to_str().unwrap(),
            "-e",
            "V=warrant://p/v",
        ],
        "echo ran",
    );
    assert_eq!(code, 125);
    assert!(err.contains("key") && err.contains("hint:"), "{err}");
    home.cmd()
        .args(["secret", "set", "p/other", "--passphrase-file"])
        .arg(&bad)
        .write_stdin("another-long-value")
        .assert()
        .failure();
    assert_eq!(snapshot(&home.path()), before, "a wrong key changed files");
}

#[test]
fn without_a_terminal_or_file_the_passphrase_is_asked_for_clearly() {
    let (home, _, _) = passphrase_home();
    // setsid: no controlling terminal, as under CI or a detached agent.
    let mut cmd = std::process::Command::new("setsid");
    home.configure(&mut cmd);
    let out = cmd
        .arg(crate::harness::bin())
        .args(["run", "-e", "V=warrant://p/v", "--", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("passphrase") && err.contains("--passphrase-file"),
        "{err}"
    );
}

#[test]
fn a_corrupt_store_is_named_and_left_alone() {
    let home = Home::new();
    let value = fake_value("c");
    home.set("c/v", &value);
    let store = home.path().join("store.json");
    let mut bytes = std::fs::read(&store).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(&store, &bytes).unwrap();
    let before = snapshot(&home.path());
    let (code, _, err) = run_sh(&home, &["-e", "V=warrant://c/v"], "echo ran");
    assert_eq!(code, 125);
    assert!(err.contains("store"), "{err}");
    assert!(!err.contains(&value));
    home.cmd()
        .args(["secret", "set", "c/w"])
        .write_stdin("another-long-value")
        .assert()
        .failure();
    let after = snapshot(&home.path());
    assert_eq!(
        after.get(&store),
        before.get(&store),
        "the corrupt store was rewritten"
    );
}

#[test]
fn a_key_file_from_another_store_is_refused() {
    let (one, two) = (Home::new(), Home::new());
    one.set("k/v", &fake_value("k"));
    std::fs::copy(two.path().join("key"), one.path().join("key")).unwrap();
    let (code, _, err) = run_sh(&one, &["-e", "V=warrant://k/v"], "echo ran");
    assert_eq!(code, 125);
    assert!(err.contains("key"), "{err}");
}
