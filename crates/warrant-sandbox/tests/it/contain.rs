//! Containment: a supervisor's end leaves nothing, however its processes
//! left their parents (issue 15, item 2).

use std::time::Duration;

use warrant_sandbox::contain::{end_children, sweep};
use warrant_sandbox::proc::{descendants, identify, is_alive};
use warrant_sandbox::terminate::set_child_subreaper;

use crate::{in_subprocess, is_subprocess, sh, wait_for};

/// Everything the issue names, started by one shell that then exits: a
/// `setsid` survivor and a double-forked one (both ignore `TERM`), a `TERM`
/// handler that starts a `setsid` survivor, and a process that stops itself.
const ESCAPES: &str = r#"
setsid sh -c 'trap "" TERM; exec sleep 30' &
( sh -c 'trap "" TERM; exec sleep 30' & ) &
sh -c 'trap "setsid sh -c \"trap \\\"\\\" TERM; exec sleep 30\\\" & exit 0" TERM; while :; do sleep 0.05; done' &
sh -c 'trap "" TERM; kill -STOP $$; exec sleep 30' &
sleep 0.3
"#;

#[test]
fn a_subreapers_end_leaves_no_child_whatever_escaped() {
    in_subprocess("contain::subprocess_end_children");
}

#[test]
#[ignore = "run by a_subreapers_end_leaves_no_child_whatever_escaped in a process of its own"]
fn subprocess_end_children() {
    if !is_subprocess() {
        return;
    }
    set_child_subreaper().unwrap();
    let me = identify(std::process::id()).unwrap();
    let mut root = sh(ESCAPES);
    root.wait().unwrap();
    // The shell is gone: what it started is now this process's.
    let escaped = wait_for("the escapes", || {
        let found = descendants(&me);
        (found.len() >= 4).then_some(found)
    });
    let ended = end_children(Duration::from_millis(300));
    assert!(ended.killed >= 3, "{ended:?}");
    assert!(descendants(&me).is_empty());
    assert!(escaped.iter().all(|id| !is_alive(id)));
    assert_eq!(
        rustix::process::wait(rustix::process::WaitOptions::NOHANG).unwrap_err(),
        rustix::io::Errno::CHILD,
        "a child is left"
    );
}

/// A sweep also ends what keeps forking while it runs, and leaves the root.
#[test]
fn a_sweep_kills_a_forking_stopped_and_term_ignoring_tree() {
    let mut root = sh("trap '' TERM; \
        sh -c 'kill -STOP $$; sleep 30' & \
        sh -c 'while :; do sleep 0.05 & sleep 0.02; done' & \
        wait; exec sleep 30");
    let id = identify(root.id()).unwrap();
    wait_for("the tree", || (descendants(&id).len() >= 3).then_some(()));
    assert!(sweep(&id) >= 3);
    assert!(descendants(&id).is_empty());
    assert!(is_alive(&id), "the root is not swept");
    root.kill().unwrap();
    root.wait().unwrap();
}
