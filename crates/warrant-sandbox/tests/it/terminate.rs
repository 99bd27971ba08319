//! Ending real processes: TERM, grace, KILL, and recycled pids.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};
use warrant_sandbox::proc::{self, ProcessId, descendants, identify, is_alive, parent};
use warrant_sandbox::terminate::{
    Ended, reap_children, set_child_subreaper, terminate, terminate_tree,
};

use crate::{in_subprocess, is_subprocess, sh, wait_for};

/// A shell that ignores TERM (and so do the commands it starts) and keeps
/// starting short commands until it is killed.
const IGNORES_TERM: &str = "trap '' TERM; while :; do sleep 0.1; done";

fn signal(pid: u32, signal: Signal) {
    kill_process(Pid::from_raw(pid as i32).unwrap(), signal).unwrap();
}

fn me() -> ProcessId {
    identify(std::process::id()).unwrap()
}

#[test]
fn terminate_tree_ends_a_shell_and_its_children_with_term() {
    let mut child = sh("sleep 30 & sleep 30; true");
    let root = identify(child.id()).unwrap();
    let sleeps = wait_for("both sleeps", || {
        let found = descendants(&root);
        (found.len() == 2).then_some(found)
    });
    let started = Instant::now();
    let ended = terminate_tree(&root, Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(2), "TERM is enough");
    assert_eq!(
        ended,
        Ended {
            terminated: 3,
            killed: 0
        }
    );
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::TERM.as_raw()));
    assert!(!is_alive(&root));
    for sleep in &sleeps {
        assert!(!is_alive(sleep));
    }
}

#[test]
fn a_process_that_ignores_term_is_killed_after_the_grace_period() {
    let mut child = sh(IGNORES_TERM);
    let id = identify(child.id()).unwrap();
    // Let sh install the trap first.
    wait_for("the loop", || (!descendants(&id).is_empty()).then_some(()));
    let grace = Duration::from_millis(300);
    let started = Instant::now();
    let ended = terminate(&[id], grace);
    let took = started.elapsed();
    assert_eq!(
        ended,
        Ended {
            terminated: 0,
            killed: 1
        }
    );
    assert!(took >= grace, "waited {took:?}");
    assert!(took < grace + Duration::from_millis(300), "waited {took:?}");
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::KILL.as_raw()));
}

#[test]
fn terminate_tree_kills_what_ignores_term_and_counts_each_way() {
    let mut child = sh("sleep 30 & trap '' TERM; while :; do sleep 0.1; done");
    let root = identify(child.id()).unwrap();
    wait_for("the loop", || (descendants(&root).len() >= 2).then_some(()));
    let grace = Duration::from_millis(400);
    let started = Instant::now();
    let ended = terminate_tree(&root, grace);
    let took = started.elapsed();
    // Reading the tree adds a little (more on a busy machine).
    assert!(took < grace + Duration::from_millis(500), "waited {took:?}");
    // The first sleep was started before the trap and dies of TERM; sh
    // ignores it; the short sleeps either end on their own in time or are
    // found when the grace period runs out.
    assert!(ended.terminated >= 1, "{ended:?}");
    assert!(ended.killed >= 1, "{ended:?}");
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::KILL.as_raw()));
}

#[test]
fn a_recycled_pid_is_never_signalled() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let id = identify(child.id()).unwrap();
    let other = ProcessId {
        start_time: id.start_time + 1,
        ..id
    };
    assert_eq!(terminate(&[other], Duration::ZERO), Ended::default());
    assert_eq!(terminate_tree(&other, Duration::ZERO), Ended::default());
    thread::sleep(Duration::from_millis(50));
    assert!(is_alive(&id), "the process at that pid was left alone");
    assert_eq!(child.try_wait().unwrap(), None);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn gone_and_zombie_targets_are_not_counted() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let id = identify(child.id()).unwrap();
    child.kill().unwrap();
    wait_for("the zombie", || (!is_alive(&id)).then_some(()));
    let started = Instant::now();
    assert_eq!(terminate(&[id], Duration::from_secs(5)), Ended::default());
    assert!(started.elapsed() < Duration::from_secs(1));
    child.wait().unwrap();
}

#[test]
fn a_stopped_process_still_acts_on_term() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let id = identify(child.id()).unwrap();
    signal(id.pid, Signal::STOP);
    let ended = terminate(&[id], Duration::from_secs(5));
    assert_eq!(
        ended,
        Ended {
            terminated: 1,
            killed: 0
        }
    );
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::TERM.as_raw()));
}

#[test]
fn a_grandchild_forked_while_stopping_is_not_missed() {
    // The inner sh forks as fast as it can, so the tree changes under the
    // scan (up to 300 sleeps, to bound the load on the machine). A
    // duration no other test uses marks its sleeps.
    let seconds = format!("3{}", std::process::id());
    let mut child = sh(&format!(
        "sh -c 'i=0; while [ $i -lt 300 ]; do sleep {seconds} & i=$((i + 1)); done; wait'; true"
    ));
    let root = identify(child.id()).unwrap();
    wait_for("some children", || {
        (descendants(&root).len() >= 6).then_some(())
    });
    let ended = terminate_tree(&root, Duration::from_secs(5));
    assert_eq!(ended.killed, 0, "{ended:?}");
    assert!(ended.terminated >= 7, "{ended:?}");
    child.wait().unwrap();
    // Every sleep of the loop was a child of the inner sh; an orphan would have been
    // re-parented out of this process's tree.
    let me = me();
    let left: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc::identify(pid).is_ok_and(|p| p.start_time >= root.start_time))
        .filter(|&pid| !proc::is_descendant(pid, &me))
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c == format!("sleep\0{seconds}\0").as_bytes())
        })
        .collect();
    assert!(left.is_empty(), "orphaned sleeps: {left:?}");
}

#[test]
fn the_root_is_never_stopped() {
    // Its parent may be an interactive shell, which would see its job stop
    // and take the terminal back.
    let mut child = sh("sleep 30 & sleep 30 & sleep 30; true");
    let root = identify(child.id()).unwrap();
    wait_for("the sleeps", || {
        (descendants(&root).len() == 3).then_some(())
    });
    let watching = Arc::new(AtomicBool::new(true));
    let (started_tx, started_rx) = mpsc::channel();
    let watcher = {
        let watching = Arc::clone(&watching);
        let stat = format!("/proc/{}/stat", root.pid);
        thread::spawn(move || {
            let mut states = Vec::new();
            while watching.load(Ordering::Relaxed) {
                if let Ok(text) = std::fs::read(&stat) {
                    let close = text.iter().rposition(|&b| b == b')').unwrap();
                    states.push(text[close + 2]);
                }
                if states.len() == 1 {
                    started_tx.send(()).unwrap();
                }
            }
            states
        })
    };
    started_rx.recv().unwrap();
    let ended = terminate_tree(&root, Duration::from_secs(5));
    watching.store(false, Ordering::Relaxed);
    let states = watcher.join().unwrap();
    assert_eq!(ended.terminated, 4, "{ended:?}");
    assert!(!states.is_empty());
    assert!(!states.contains(&b'T'), "the root was stopped");
    child.wait().unwrap();
}

#[test]
fn subreaper_keeps_orphans_in_reach() {
    in_subprocess("terminate::subreaper_inner");
}

#[test]
#[ignore = "run by subreaper_keeps_orphans_in_reach in a process of its own"]
fn subreaper_inner() {
    if !is_subprocess() {
        return;
    }
    set_child_subreaper().unwrap();
    let me = me();

    // sh starts a sleep and exits: the orphan comes to us, not to pid 1.
    let status = Command::new("sh")
        .args(["-c", "sleep 30 & exit 0"])
        .status()
        .unwrap();
    assert!(status.success());
    let orphans = descendants(&me);
    assert_eq!(orphans.len(), 1, "{orphans:?}");
    assert_eq!(parent(orphans[0].pid).unwrap(), me.pid);
    assert_eq!(
        terminate(&orphans, Duration::from_secs(5)),
        Ended {
            terminated: 1,
            killed: 0
        }
    );
    // It is our zombie now.
    assert_eq!(reap_children(), 1);
    assert_eq!(reap_children(), 0);

    // Children started during shutdown by a tree that ignores TERM: none
    // may survive (an orphan would come to us and show up here).
    let mut child = sh(IGNORES_TERM);
    let root = identify(child.id()).unwrap();
    wait_for("the loop", || {
        (!descendants(&root).is_empty()).then_some(())
    });
    let ended = terminate_tree(&root, Duration::from_millis(300));
    assert!(ended.killed >= 1, "{ended:?}");
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::KILL.as_raw()));
    thread::sleep(Duration::from_millis(200));
    reap_children();
    assert_eq!(descendants(&me), Vec::new());
}
