//! Signals sent to warrant reach the child, and warrant survives them.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal};

use crate::scenario::{self, Scenario};

/// The child traps `name`, says it is ready, waits; on the signal it writes
/// a marker and exits 7. warrant must return that status (so it did not die).
fn forwarded(signal: Signal, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mark = dir.path().join("mark");
    let result = dir.path().join("result");
    let script = format!(
        r#"trap 'echo {name} > "$MARK"; exit 7' {name}; touch "$READY"; while :; do sleep 0.05; done"#
    );
    let mut child = Scenario::sh(&script)
        .env("READY", &ready)
        .env("MARK", &mark)
        .command(&result)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    scenario::wait_for_file(&ready);
    let pid = Pid::from_raw(child.id().try_into().unwrap()).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
    let exit = scenario::wait_timeout(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "warrant itself died: {exit:?}");
    assert_eq!(std::fs::read_to_string(&mark).unwrap().trim(), name);
    let result = scenario::read_result(&result);
    assert_eq!(result["status"], "exited:7", "{result:?}");
}

#[test]
fn sigterm_reaches_the_child() {
    forwarded(Signal::TERM, "TERM");
}

#[test]
fn sigint_reaches_the_child() {
    forwarded(Signal::INT, "INT");
}

#[test]
fn sighup_reaches_the_child() {
    forwarded(Signal::HUP, "HUP");
}

#[test]
fn sigquit_reaches_the_child() {
    forwarded(Signal::QUIT, "QUIT");
}

#[test]
fn a_child_that_does_not_trap_dies_and_warrant_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let result = dir.path().join("result");
    let mut child = Scenario::sh(r#"touch "$READY"; exec sleep 30"#)
        .env("READY", &ready)
        .command(&result)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    scenario::wait_for_file(&ready);
    // Give `exec sleep` a moment so the signal reaches sleep, not sh.
    std::thread::sleep(Duration::from_millis(100));
    let pid = Pid::from_raw(child.id().try_into().unwrap()).unwrap();
    rustix::process::kill_process(pid, Signal::TERM).unwrap();
    let exit = scenario::wait_timeout(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "warrant itself died: {exit:?}");
    let result = scenario::read_result(&result);
    assert_eq!(result["status"], "signaled:15", "{result:?}");
    assert_eq!(result["exit_code"], "143");
}

#[test]
fn after_run_returns_sigterm_has_its_default_effect_again() {
    let outcome = Scenario::sh("exit 0").then_sigterm().run();
    assert_eq!(outcome.get("status"), "exited:0", "{outcome:?}");
    assert_eq!(outcome.exit.signal(), Some(libc::SIGTERM), "{outcome:?}");
    assert!(!outcome.result.contains_key("survived_sigterm"));
}

#[test]
fn signals_are_forwarded_while_warrant_is_blocked_writing_output() {
    // Nobody reads warrant's stdout: it blocks writing the first chunk. The
    // signal must still reach the child at once.
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let mark = dir.path().join("mark");
    let result = dir.path().join("result");
    let mut child = Scenario::sh(
        r#"trap 'echo TERM > "$MARK"; exit 7' TERM; head -c 524288 /dev/zero; touch "$READY"; while :; do sleep 0.05; done"#,
    )
    .env("READY", &ready)
    .env("MARK", &mark)
    .command(&result)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    scenario::wait_for_file(&ready);
    let pid = Pid::from_raw(child.id().try_into().unwrap()).unwrap();
    rustix::process::kill_process(pid, Signal::TERM).unwrap();
    scenario::wait_for_file(&mark);
    // Now let warrant finish.
    let mut stdout = child.stdout.take().unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
    let exit = scenario::wait_timeout(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "warrant itself died: {exit:?}");
    assert_eq!(scenario::between_markers(&out).len(), 524_288);
    assert_eq!(scenario::read_result(&result)["status"], "exited:7");
}
