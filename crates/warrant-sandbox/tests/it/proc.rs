//! Identity and ancestry of real processes.

use std::os::unix::fs::symlink;
use std::process::Command;

use warrant_sandbox::proc::{
    ProcessId, ancestors, descendants, identify, is_alive, is_descendant, parent, same_executable,
};
use warrant_sandbox::{Error, terminate};

use crate::{sh, wait_for};

fn me() -> ProcessId {
    identify(std::process::id()).unwrap()
}

#[test]
fn identifies_itself() {
    let me = me();
    assert_eq!(me.pid, std::process::id());
    assert!(me.start_time > 0);
    assert!(is_alive(&me));
    assert_eq!(identify(me.pid).unwrap(), me, "the identity is stable");
}

#[test]
fn parent_is_the_os_parent() {
    assert_eq!(
        parent(std::process::id()).unwrap(),
        std::os::unix::process::parent_id()
    );
}

#[test]
fn ancestors_run_from_self_to_pid_1() {
    let chain = ancestors(std::process::id()).unwrap();
    assert_eq!(chain[0], me());
    assert_eq!(chain[1].pid, std::os::unix::process::parent_id());
    assert_eq!(chain.last().unwrap().pid, 1);
    assert_eq!(parent(1).unwrap(), 0);
    for pair in chain.windows(2) {
        assert_eq!(parent(pair[0].pid).unwrap(), pair[1].pid);
        assert!(pair[1].start_time <= pair[0].start_time);
    }
}

#[test]
fn a_child_descends_from_this_process_and_not_the_reverse() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let id = identify(child.id()).unwrap();
    let me = me();
    let chain = ancestors(id.pid).unwrap();
    assert_eq!(chain[0], id);
    assert_eq!(chain[1], me);
    assert!(is_descendant(id.pid, &me));
    assert!(is_descendant(id.pid, &id), "a process counts as its own");
    assert!(!is_descendant(me.pid, &id));
    // The right pid with another start time is another process.
    let recycled = ProcessId {
        start_time: me.start_time + 1,
        ..me
    };
    assert!(!is_descendant(id.pid, &recycled));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn descendants_include_children_of_children() {
    // `; true` keeps sh from exec'ing the last sleep in place of itself.
    let mut root_child = sh("sleep 30 & sleep 30; true");
    let root = identify(root_child.id()).unwrap();
    let found = wait_for("both sleeps", || {
        let found = descendants(&root);
        // A forked child runs sh until it execs sleep.
        let execed = |id: &ProcessId| same_executable(id.pid, root.pid).is_ok_and(|same| !same);
        (found.len() == 2 && found.iter().all(execed)).then_some(found)
    });
    assert!(!found.contains(&root));
    for id in &found {
        assert_eq!(parent(id.pid).unwrap(), root.pid);
        assert!(is_descendant(id.pid, &root));
        assert!(!same_executable(id.pid, root.pid).unwrap());
    }
    assert!(same_executable(found[0].pid, found[1].pid).unwrap());
    // Seen from this process, the sleeps are grandchildren.
    let from_me = descendants(&me());
    assert!(found.iter().all(|id| from_me.contains(id)));
    assert!(from_me.contains(&root));

    terminate::terminate_tree(&root, std::time::Duration::from_secs(5));
    root_child.wait().unwrap();
    assert!(descendants(&root).is_empty());
}

#[test]
fn a_gone_root_has_no_descendants() {
    let gone = ProcessId {
        pid: std::process::id(),
        start_time: me().start_time + 1,
    };
    assert!(descendants(&gone).is_empty());
}

#[test]
fn a_command_name_with_parentheses_and_spaces_parses() {
    // The command name is the executable's file name (via the symlink).
    let dir = tempfile::tempdir().unwrap();
    let weird = dir.path().join("a) (b) c");
    symlink(which_sleep().unwrap(), &weird).unwrap();
    let mut child = Command::new(&weird).arg("30").spawn().unwrap();
    let id = identify(child.id()).unwrap();
    // `spawn` returns once the exec has happened.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", id.pid)).unwrap();
    assert_eq!(comm.trim_end(), "a) (b) c");
    assert_eq!(parent(id.pid).unwrap(), std::process::id());
    assert_eq!(identify(id.pid).unwrap(), id);
    assert_eq!(ancestors(id.pid).unwrap()[1], me());
    child.kill().unwrap();
    child.wait().unwrap();
}

fn which_sleep() -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("sleep"))
        .find(|path| path.is_file())
}

#[test]
fn a_zombie_is_not_alive() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let id = identify(child.id()).unwrap();
    child.kill().unwrap();
    // Not reaped yet: the pid still exists, as a zombie.
    wait_for("the zombie", || (!is_alive(&id)).then_some(()));
    assert!(std::fs::metadata(format!("/proc/{}", id.pid)).is_ok());
    assert!(matches!(identify(id.pid), Err(Error::NoSuchProcess { pid }) if pid == id.pid));
    assert!(matches!(parent(id.pid), Err(Error::NoSuchProcess { .. })));
    assert!(matches!(
        ancestors(id.pid),
        Err(Error::NoSuchProcess { .. })
    ));
    assert!(!is_descendant(id.pid, &me()));
    assert!(!descendants(&me()).contains(&id));
    child.wait().unwrap();
    assert!(!is_alive(&id));
    assert!(matches!(identify(id.pid), Err(Error::NoSuchProcess { .. })));
}

#[test]
fn a_recycled_pid_is_not_the_same_process() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let id = identify(child.id()).unwrap();
    for start_time in [id.start_time - 1, id.start_time + 1, 0, u64::MAX] {
        assert!(!is_alive(&ProcessId { start_time, ..id }));
    }
    assert!(is_alive(&id));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn same_executable_compares_files_not_names() {
    let dir = tempfile::tempdir().unwrap();
    let sleep = which_sleep().unwrap();
    let link = dir.path().join("nap");
    symlink(&sleep, &link).unwrap();
    let copy = dir.path().join("copy-of-sleep");
    std::fs::copy(&sleep, &copy).unwrap();
    let mut a = Command::new(&sleep).arg("30").spawn().unwrap();
    let mut b = Command::new(&link).arg("30").spawn().unwrap();
    let mut c = spawn_fresh(&copy);
    let [pa, pb, pc] = [a.id(), b.id(), c.id()];
    assert!(same_executable(pa, pb).unwrap());
    assert!(!same_executable(pa, pc).unwrap());
    assert!(!same_executable(pa, std::process::id()).unwrap());
    for child in [&mut a, &mut b, &mut c] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(matches!(
        same_executable(pa, std::process::id()),
        Err(Error::NoSuchProcess { pid }) if pid == pa
    ));
}

/// Starts a freshly written executable. Another test thread forking while
/// the file was open for writing can make exec fail with `ETXTBSY` for a
/// moment (the forked child holds the descriptor until its own exec).
fn spawn_fresh(program: &std::path::Path) -> std::process::Child {
    wait_for("the executable to be free", || {
        match Command::new(program).arg("30").spawn() {
            Ok(child) => Some(child),
            Err(e) if e.raw_os_error() == Some(26) => None,
            Err(e) => panic!("cannot start {}: {e}", program.display()),
        }
    })
}
