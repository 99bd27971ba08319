//! Signals sent to warrant reach the child; warrant outlives them and exits
//! with the child's status.

use std::process::{Child, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{Home, wait_for};

fn spawn_trapping(home: &Home, signal: &str) -> (Child, std::path::PathBuf) {
    let dir = home.scratch();
    let (ready, marker) = (
        dir.join(format!("ready-{signal}")),
        dir.join(format!("got-{signal}")),
    );
    let script = format!(
        "trap 'echo {signal} > {marker}; exit 7' {signal}; touch {ready}; while :; do sleep 0.05; done",
        marker = marker.display(),
        ready = ready.display()
    );
    let child = home
        .std_cmd()
        .args(["run", "--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(&ready), "the child never started");
    (child, marker)
}

fn check_forwarded(signal: Signal, name: &str) {
    let home = Home::new();
    let (mut child, marker) = spawn_trapping(&home, name);
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(7),
        "warrant must wait for the child and pass on its status"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), name);
}

#[test]
fn sigterm_reaches_the_child() {
    check_forwarded(Signal::SIGTERM, "TERM");
}

#[test]
fn sigint_reaches_the_child() {
    check_forwarded(Signal::SIGINT, "INT");
}

#[test]
fn sighup_reaches_the_child() {
    check_forwarded(Signal::SIGHUP, "HUP");
}

#[test]
fn sigquit_reaches_the_child() {
    check_forwarded(Signal::SIGQUIT, "QUIT");
}

#[test]
fn a_child_killed_by_a_forwarded_signal_gives_128_plus_n() {
    let home = Home::new();
    let ready = home.scratch().join("ready");
    let mut child = home
        .std_cmd()
        .args(["run", "--", "sh", "-c"])
        .arg(format!("touch {}; exec sleep 30", ready.display()))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(&ready));
    std::thread::sleep(std::time::Duration::from_millis(100));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(128 + 15));
}
