//! Issue 15, item 2: nothing a task, a grant's command or an MCP command
//! started outlives it, however it leaves its parent (`setsid`, a double
//! fork, a `TERM` handler that starts a survivor, a stopped process, one
//! that ignores `TERM`). The MCP cases are in `mcp.rs` (they share its
//! client); the fault test with many tasks is in `containment_faults.rs`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{Home, pid_alive, wait_child, wait_until};

/// A process that ignores `TERM` (inherited through `exec`) and writes its
/// pid to `NAME.pid`: only `SIGKILL` ends it. It holds none of the streams
/// it inherited, so nobody waits for it to close them.
fn write_survivor(dir: &Path, name: &str) {
    std::fs::write(
        dir.join(format!("{name}.sh")),
        format!("trap '' TERM\necho $$ > {name}.pid.tmp && mv {name}.pid.tmp {name}.pid\nexec sleep 30 </dev/null >/dev/null 2>&1\n"),
    )
    .unwrap();
}

/// The pid in `dir/NAME.pid`, once it is there.
fn pid_of(dir: &Path, name: &str) -> u32 {
    let path = dir.join(format!("{name}.pid"));
    assert!(
        wait_until(Duration::from_secs(10), || path.exists()),
        "{} never appeared",
        path.display()
    );
    std::fs::read_to_string(&path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The first escape of the issue: at the task's end a leftover's `TERM`
/// handler starts `setsid survivor` and exits. The survivor was not in the
/// snapshot the task ended, and went to pid 1.
#[test]
fn a_term_handler_that_starts_a_setsid_survivor_ends_with_its_task() {
    let (home, _value, _daemon) = Home::with_daemon();
    let dir = home.scratch();
    write_survivor(&dir, "survivor");
    std::fs::write(
        dir.join("handler.sh"),
        // The handler names the survivor itself: the survivor may get its
        // own SIGTERM before it could write anything.
        "trap 'setsid sh survivor.sh & echo $! > spawned.pid; sleep 0.2; exit 0' TERM\n\
         echo $$ > handler.pid\nwhile :; do sleep 0.1; done\n",
    )
    .unwrap();
    let script = "sh handler.sh & \
        i=0; until [ -s handler.pid ]; do sleep 0.02; i=$((i+1)); [ $i -gt 250 ] && exit 91; done; exit 0";
    let started = Instant::now();
    let task = home.task(&["--actor", "bot", "--grace", "2s"], script);
    assert_eq!(task.code, 0, "{task:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let survivor = pid_of(&dir, "spawned");
    assert!(
        !pid_alive(survivor),
        "the TERM handler's setsid survivor {survivor} outlived its task"
    );
    assert!(!pid_alive(pid_of(&dir, "handler")));
}

/// Starts `warrant run --grant ID` whose command leaves a `setsid`
/// grandchild (its parent, a subshell, exits at once) and waits for both
/// to run; returns the running `warrant run` and the grandchild's pid.
fn granted_with_grandchild(home: &Home, id: &str) -> (std::process::Child, u32) {
    let dir = home.scratch();
    write_survivor(&dir, "grandchild");
    let run = home
        .granted_cmd(
            id,
            &["-e", "DB=warrant://db/dev/url"],
            "(setsid sh grandchild.sh &); exec sleep 30",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let grandchild = pid_of(&dir, "grandchild");
    assert!(
        wait_until(Duration::from_secs(5), || home.grant(id)["processes"] == 1),
        "the command was not registered"
    );
    (run, grandchild)
}

/// The second escape: a `setsid` grandchild holding a value survived its
/// grant's revocation (it ended only with the task, or never outside one).
#[test]
fn a_setsid_grandchild_of_a_granted_command_ends_when_the_grant_is_revoked() {
    let (home, value, _daemon) = Home::with_daemon();
    let (id, status) = home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(status, "active");
    let (mut run, grandchild) = granted_with_grandchild(&home, &id);
    let revoked_at = Instant::now();
    assert_eq!(home.run(&["revoke", &id]).code, 0);
    let status = wait_child(&mut run, Duration::from_secs(10));
    assert!(status.is_some(), "warrant run did not end");
    assert!(
        !pid_alive(grandchild),
        "the setsid grandchild {grandchild} outlived its grant's revocation"
    );
    // The grant's grace (1 s) for the command, then 1 s for what it left.
    let took = revoked_at.elapsed();
    assert!(took < Duration::from_secs(5), "ending took {took:?}");
    assert!(!home.audit_text().contains(&value));
}

#[test]
fn a_setsid_grandchild_of_a_granted_command_ends_when_the_grant_expires() {
    let (home, _value, _daemon) = Home::with_daemon();
    let asked = home.request_raw("bot", &["db/dev/url"], "3s", &["--json"]);
    assert_eq!(asked.json()["status"], "active", "{asked:?}");
    let id = asked.id();
    let (mut run, grandchild) = granted_with_grandchild(&home, &id);
    let status = wait_child(&mut run, Duration::from_secs(15));
    assert!(status.is_some(), "warrant run did not end at the expiry");
    assert_eq!(home.grant(&id)["status"], "expired");
    assert!(
        !pid_alive(grandchild),
        "the setsid grandchild {grandchild} outlived its grant's expiry"
    );
}

/// Whatever a grant's command leaves running ends with it: a value does
/// not outlive its run.
#[test]
fn what_a_granted_command_leaves_running_ends_with_it() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("bot", &["db/dev/url"], &[]);
    let dir = home.scratch();
    write_survivor(&dir, "left");
    let (code, _, err) = home.run_granted(
        &id,
        &["-e", "DB=warrant://db/dev/url"],
        "(setsid sh left.sh &); (sh -c 'kill -STOP $$' &); \
         i=0; until [ -s left.pid ]; do sleep 0.02; i=$((i+1)); [ $i -gt 250 ] && exit 91; done; true",
    );
    assert_eq!(code, 0, "{err}");
    let left = pid_of(&dir, "left");
    assert!(!pid_alive(left), "{left} outlived its warrant run");
}

/// `warrant status` says how processes are contained.
#[test]
fn status_names_the_containment_mechanism() {
    let (home, _value, _daemon) = Home::with_daemon();
    let status = home.json(&["status"]);
    assert_eq!(
        status["containment"]["mechanism"], "subreaper sweep",
        "{status:#}"
    );
    assert!(status["containment"]["supervisor_shielded"].is_boolean());
    let text = home.run(&["status"]);
    assert!(
        text.stdout.contains("containment: subreaper sweep"),
        "{text:?}"
    );
}
