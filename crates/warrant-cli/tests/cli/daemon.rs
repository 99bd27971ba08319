//! The broker daemon: status, one daemon per home, restarts and crashes,
//! the socket's peers.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{APPROVER, Home, POLICY, contains, fake_value, wait_child, wait_until};

const USE_DB: &[&str] = &["-e", "DB=warrant://db/dev/url"];

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn status_says_whether_the_daemon_answers_and_counts_grants() {
    let home = Home::with_approver();
    home.set("db/dev/url", &fake_value("db"));
    home.write_policy(POLICY);

    let down = home.run(&["status"]);
    assert_ne!(down.code, 0, "{down:?}");
    assert!(
        down.stderr.contains("warrant serve"),
        "the hint says how to start it: {down:?}"
    );
    let down = home.run(&["status", "--json"]);
    assert_ne!(down.code, 0, "{down:?}");
    let view = down.json();
    assert_eq!(view["running"], false);

    let daemon = home.serve();
    let up = home.run(&["status"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert!(up.stdout.contains("running"), "{up:?}");
    let counts = |home: &Home| {
        let s = home.json(&["status"]);
        assert_eq!(s["running"], true);
        (
            s["pending"].as_u64().unwrap(),
            s["active"].as_u64().unwrap(),
        )
    };
    let status = home.json(&["status"]);
    assert_eq!(status["pid"], daemon.pid());
    assert_eq!(status["secrets"], 1);
    assert_eq!(status["approver_set"], true);
    assert_eq!(status["policy"]["accepted"], true);
    assert_eq!(counts(&home), (0, 0));

    let (id, _) = home.request("codex", &["db/dev/url"], &[]);
    assert_eq!(counts(&home), (1, 0));
    home.approve(&id);
    assert_eq!(counts(&home), (0, 1));
    home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(counts(&home), (0, 2));
    assert_eq!(home.run(&["revoke", &id]).code, 0);
    assert_eq!(counts(&home), (0, 1));
}

#[test]
fn a_second_daemon_on_the_same_home_fails_clearly() {
    let home = Home::with_approver();
    home.write_policy(POLICY);
    let daemon = home.serve();
    let mut second = home
        .std_cmd()
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status =
        wait_child(&mut second, Duration::from_secs(3)).expect("the second daemon kept running");
    let output = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!status.success());
    assert!(stderr.contains("already"), "{stderr}");
    // The first one still serves.
    assert_eq!(home.json(&["status"])["pid"], daemon.pid());
}

#[test]
fn two_daemons_started_at_once_leave_exactly_one_serving() {
    let home = Home::with_approver();
    home.write_policy(POLICY);
    let spawn = || {
        home.std_cmd()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    // One of them exits with an error; the other keeps serving.
    let mut exited = None;
    assert!(
        wait_until(Duration::from_secs(4), || {
            if let Some(s) = a.try_wait().unwrap() {
                exited = Some(('a', s));
            } else if let Some(s) = b.try_wait().unwrap() {
                exited = Some(('b', s));
            }
            exited.is_some()
        }),
        "neither daemon gave way"
    );
    let (which, status) = exited.unwrap();
    assert!(!status.success());
    let mut survivor = if which == 'a' { b } else { a };
    let pid = survivor.id();
    assert!(
        wait_until(Duration::from_secs(3), || home.run(&["status"]).code == 0),
        "the survivor does not answer"
    );
    assert_eq!(home.json(&["status"])["pid"], pid);
    assert!(survivor.try_wait().unwrap().is_none());
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    assert!(wait_child(&mut survivor, Duration::from_secs(3)).is_some());
}

#[test]
fn a_restart_keeps_grants() {
    let (home, value, mut daemon) = Home::with_daemon();
    let (id, _) = home.request("codex", &["db/dev/url"], &[]);
    home.approve(&id);
    let (pending, _) = home.request("codex", &["db/dev/url"], &[]);
    let (code, _, _) = home.run_granted(&id, USE_DB, "true");
    assert_eq!(code, 0);
    daemon.stop();
    assert_ne!(home.run(&["status"]).code, 0, "the daemon is down");

    let _daemon = home.serve();
    let grant = home.grant(&id);
    assert_eq!(grant["status"], "active");
    assert_eq!(grant["uses"], 1, "uses are kept");
    assert_eq!(home.grant(&pending)["status"], "pending");
    let (code, out, err) = home.run_granted(&id, USE_DB, "echo $DB");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "<redacted:db/dev/url>");
    assert!(!err.contains(&value));
    assert_eq!(home.grant(&id)["uses"], 2);
    assert_eq!(home.audit_events("daemon_started").len(), 2);
}

#[test]
fn after_kill_9_a_grant_that_expired_meanwhile_is_expired_at_start() {
    let (home, _value, mut daemon) = Home::with_daemon();
    let asked = home.request_raw("bot", &["db/dev/url"], "1s", &["--json"]);
    let short = asked.id();
    let (long, status) = home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(status, "active");
    daemon.kill();
    assert!(
        home.path().join("warrant.sock").exists(),
        "kill -9 leaves the socket behind"
    );
    std::thread::sleep(Duration::from_millis(1200));

    let _daemon = home.serve();
    // Expired by the start itself, not by a later tick: both records exist
    // by the time the daemon answers.
    let expired = home.audit_events("grant_expired");
    assert_eq!(expired.len(), 1, "{}", home.audit_text());
    assert_eq!(expired[0]["grant"], short.as_str());
    let starts = home.audit_events("daemon_started");
    assert_eq!(starts.len(), 2);
    assert!(
        starts[1]["expired"].as_u64().unwrap() >= 1,
        "{:#}",
        starts[1]
    );
    assert!(
        expired[0]["seq"].as_u64() < starts[1]["seq"].as_u64(),
        "expired before the start was recorded"
    );
    assert!(
        home.audit_events("daemon_stopped").is_empty(),
        "kill -9 is not a clean stop"
    );
    assert_eq!(home.grant(&short)["status"], "expired");
    assert_eq!(home.grant(&long)["status"], "active");
    let (code, _, err) = home.run_granted(&short, USE_DB, "true");
    assert_ne!(code, 0);
    assert!(err.contains("expired"), "{err}");
    let (code, _, err) = home.run_granted(&long, USE_DB, "true");
    assert_eq!(code, 0, "{err}");

    let verify = home.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{verify:?}");
}

/// Opens the way to the daemon's socket for uid 65534 (the directories
/// become traversable and the socket 0666, which warrant never does
/// itself) and returns a function running `warrant ARGS` as that uid with
/// `input` on stdin.
fn as_nobody(home: &Home) -> impl Fn(&[&str], &str) -> std::process::Output + '_ {
    for dir in [home.dir.path(), &home.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let socket = home.path().join("warrant.sock");
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The binary under test may sit under a directory uid 65534 cannot
    // enter; a world-readable copy beside the home runs anywhere. The copy
    // is a different file from the daemon's, which does not matter here:
    // the uid check comes before anything else.
    // `cp` writes it, not this process: a file this (multi-threaded) test
    // process had open for writing could leak, for an instant, into a child
    // another test forks, and exec would then fail with ETXTBSY.
    let copy = home.dir.path().join("warrant-copy");
    let copied = Command::new("cp")
        .arg(crate::harness::bin())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    move |args: &[&str], input: &str| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&copy)
            .args(args);
        home.configure(&mut cmd);
        cmd.current_dir("/");
        assert_cmd::Command::from_std(cmd)
            .write_stdin(input.to_owned())
            .output()
            .unwrap()
    }
}

#[test]
fn another_users_process_is_refused_at_the_socket() {
    let (home, _value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("codex", &["db/dev/url"], &[]);
    let nobody = as_nobody(&home);
    let status = nobody(&["status"], "");
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(!status.status.success(), "{stderr}");
    assert!(!stderr.contains("running"), "{stderr}");
    let approve = nobody(&["approve", &id], &format!("{APPROVER}\n"));
    assert!(!approve.status.success());
    assert_eq!(home.grant(&id)["status"], "pending");

    let refused = home.audit_events("peer_refused");
    assert_eq!(refused.len(), 2, "{}", home.audit_text());
    assert_eq!(refused[0]["peer_uid"], 65534);
    assert!(home.audit_events("approval_refused").is_empty());
    assert_eq!(home.run(&["audit", "verify"]).code, 0);
}

/// The daemon refuses another uid as soon as it connects, writes the
/// refusal and hangs up, without reading the request. A client slower to
/// send its request than the daemon is to hang up gets EPIPE on the write
/// and reports a lost connection instead of the refusal it was sent.
#[test]
fn another_user_is_always_told_why_it_was_refused() {
    let (home, _value, _daemon) = Home::with_daemon();
    let nobody = as_nobody(&home);
    // The race shows reliably when the CPUs are busy: keep them busy (the
    // guard kills the loops, which are this test's own children, by pid).
    struct Busy(Vec<std::process::Child>);
    impl Drop for Busy {
        fn drop(&mut self) {
            for child in &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let busy = Busy(
        (0..cpus)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    let mut failure = None;
    for attempt in 0..200 {
        let status = nobody(&["status"], "");
        let stderr = String::from_utf8_lossy(&status.stderr).into_owned();
        assert!(!status.status.success());
        if !stderr.contains("uid 65534") {
            failure = Some(format!("attempt {attempt}: {stderr}"));
            break;
        }
    }
    drop(busy);
    assert!(failure.is_none(), "{}", failure.unwrap_or_default());
}

/// `peer_refused` records carry the peer's `pid` next to the record's own
/// `pid` (the writer's): the line has the key twice, and every reader of
/// typed records fails on it, calling the log tampered with.
#[test]
fn a_refused_peer_leaves_the_audit_log_readable() {
    let (home, _value, _daemon) = Home::with_daemon();
    let nobody = as_nobody(&home);
    assert!(!nobody(&["status"], "").status.success());
    assert_eq!(home.audit_events("peer_refused").len(), 1);
    let audit = home.run(&["audit", "--json"]);
    assert_eq!(audit.code, 0, "{audit:?}");
    let records = audit.json();
    let refused = records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["event"] == "peer_refused")
        .expect("the refusal is listed");
    assert_eq!(refused["peer_uid"], 65534);
    let report = home.run(&["report", "--json"]);
    assert_eq!(report.code, 0, "{report:?}");
}

#[test]
fn the_socket_and_the_state_are_owner_only() {
    let (home, _value, _daemon) = Home::with_daemon();
    home.request("bot", &["db/dev/url"], &[]);
    assert_eq!(mode(&home.path().join("warrant.sock")), 0o600);
    assert_eq!(mode(&home.path().join("state.redb")), 0o600);
    assert_eq!(mode(&home.path().join("audit.jsonl")), 0o600);
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let (home, _value, mut daemon) = Home::with_daemon();
    let stderr = daemon.stop();
    assert!(stderr.contains("daemon stopped"), "{stderr}");
    let stopped = home.audit_events("daemon_stopped");
    assert_eq!(stopped.len(), 1, "{}", home.audit_text());
    assert!(
        !home.path().join("warrant.sock").exists(),
        "the socket is removed"
    );
    assert_eq!(home.run(&["audit", "verify"]).code, 0);
}

/// A client in python speaking the wire protocol: one frame out, every
/// frame that comes back printed as a line of hex.
const PY_CLIENT: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
body = sys.argv[2].encode()
s.sendall(struct.pack(">I", len(body)) + body)
def exact(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf
# The reply, then whatever else comes within a short while (values would
# follow a use's reply as frames of their own).
s.settimeout(3)
try:
    while True:
        (n,) = struct.unpack(">I", exact(4))
        print(exact(n).hex(), flush=True)
        s.settimeout(0.3)
except (EOFError, socket.timeout):
    pass
"#;

#[test]
fn a_hand_written_client_gets_status_but_never_values() {
    let (home, value, _daemon) = Home::with_daemon();
    let (id, _) = home.request("bot", &["db/dev/url"], &[]);
    let script = home.scratch().join("client.py");
    std::fs::write(&script, PY_CLIENT).unwrap();
    let socket = home.path().join("warrant.sock");
    let ask = |request: serde_json::Value| -> Vec<Vec<u8>> {
        let output = Command::new("python3")
            .arg(&script)
            .arg(&socket)
            .arg(request.to_string())
            .output()
            .expect("python3");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let frames: Vec<Vec<u8>> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|hex| {
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect()
            })
            .collect();
        for frame in &frames {
            assert!(
                !contains(frame, value.as_bytes()),
                "the python client got the value"
            );
        }
        frames
    };

    let frames = ask(serde_json::json!({"op": "status"}));
    assert_eq!(frames.len(), 1);
    let reply: serde_json::Value = serde_json::from_slice(&frames[0]).unwrap();
    assert_eq!(reply["ok"]["active"], 1, "{reply:#}");
    assert_eq!(reply["ok"]["secrets"], 1);

    let frames = ask(serde_json::json!({
        "op": "use",
        "grant": id,
        "program": "sh",
        "resolved": "/bin/sh",
        "secrets": ["db/dev/url"],
        "file_secrets": [],
    }));
    assert_eq!(frames.len(), 1, "only the refusal comes back");
    let reply: serde_json::Value = serde_json::from_slice(&frames[0]).unwrap();
    assert_eq!(reply["err"]["code"], "forbidden", "{reply:#}");
    assert!(
        reply["err"]["message"]
            .as_str()
            .unwrap()
            .contains("warrant binary"),
        "{reply:#}"
    );
    assert_eq!(
        home.grant(&id)["uses"],
        0,
        "the refused use was not counted"
    );
    assert!(home.audit_events("grant_used").is_empty());

    // A frame that is not a request gets an error, and the daemon lives on.
    let frames = ask(serde_json::json!({"op": "no-such-op"}));
    let reply: serde_json::Value = serde_json::from_slice(&frames[0]).unwrap();
    assert_eq!(reply["err"]["code"], "bad_request");
    assert_eq!(home.run(&["status"]).code, 0);
}

/// A bot grant (auto, grace 1s) for `ttl`, with `sleep 30` registered under
/// it; returns the grant's id and the `warrant run` child.
fn sleeping_grant(home: &Home, ttl: &str) -> (String, std::process::Child) {
    let asked = home.request_raw("bot", &["db/dev/url"], ttl, &["--json"]);
    let id = asked.id();
    let marker = home.scratch().join("started");
    let child = home
        .granted_cmd(
            &id,
            USE_DB,
            &format!("touch {}; sleep 30", marker.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(crate::harness::wait_for(&marker));
    assert!(
        wait_until(Duration::from_secs(3), || home.grant(&id)["processes"] == 1),
        "the daemon never registered the process"
    );
    (id, child)
}

#[test]
fn after_kill_9_a_revocation_still_ends_the_grants_processes() {
    let (home, _value, mut daemon) = Home::with_daemon();
    let (id, mut child) = sleeping_grant(&home, "5m");
    daemon.kill();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the child does not depend on the daemon"
    );

    let _daemon = home.serve();
    assert_eq!(
        home.grant(&id)["processes"],
        1,
        "the process was remembered"
    );
    assert_eq!(home.run(&["revoke", &id]).code, 0);
    let status = wait_child(&mut child, Duration::from_secs(2)).expect("it outlived its grant");
    assert_eq!(status.code(), Some(143), "{status:?}");
}

#[test]
fn a_grant_that_expired_while_the_daemon_was_down_ends_its_processes_at_start() {
    let (home, _value, mut daemon) = Home::with_daemon();
    let (id, mut child) = sleeping_grant(&home, "1s");
    daemon.kill();
    std::thread::sleep(Duration::from_millis(1100));
    assert!(
        child.try_wait().unwrap().is_none(),
        "nothing ended it without a daemon"
    );

    let _daemon = home.serve();
    let status = wait_child(&mut child, Duration::from_secs(2)).expect("it outlived its grant");
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert_eq!(home.grant(&id)["status"], "expired");
    assert_eq!(home.audit_events("grant_expired")[0]["processes_ended"], 1);
    assert_eq!(home.run(&["audit", "verify"]).code, 0);
}

/// kill -9 at random points of request/approve/run/revoke cycles: the
/// state always opens, no grant is active without an approval on record,
/// none outlives its expiry, and the audit chain verifies.
#[test]
fn kill_9_at_random_points_loses_no_invariant() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let (home, value, mut daemon) = Home::with_daemon();
    let home = Arc::new(home);
    let mut cycles = 0;
    for round in 0..8 {
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let (home, stop) = (Arc::clone(&home), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut done = 0;
                while !stop.load(Ordering::Relaxed) {
                    let asked = home.request_raw("codex", &["db/dev/url"], "1s", &["--json"]);
                    let Ok(grant) = serde_json::from_str::<serde_json::Value>(&asked.stdout) else {
                        continue;
                    };
                    let id = grant["id"].as_str().unwrap().to_owned();
                    if home.approve_with(&id, APPROVER, &[]).code != 0 {
                        continue;
                    }
                    let _ = home.run_granted(&id, USE_DB, "echo $DB");
                    let _ = home.run(&["revoke", &id]);
                    done += 1;
                }
                done
            })
        };
        std::thread::sleep(Duration::from_millis(
            50 + crate::harness::random_below(200),
        ));
        daemon.kill();
        stop.store(true, Ordering::Relaxed);
        cycles += worker.join().unwrap();
        daemon = home.serve();
        let grants = home.json(&["grants", "--all"]);
        let audit = home.audit_text();
        for grant in grants.as_array().unwrap() {
            let id = grant["id"].as_str().unwrap();
            if grant["status"] == "active" {
                assert!(
                    home.audit_events("grant_approved")
                        .iter()
                        .any(|r| r["grant"] == id),
                    "round {round}: {id} is active with no approval on record"
                );
                assert!(grant["remaining_secs"].as_u64().unwrap() <= 1, "{grant:#}");
            }
        }
        assert!(!audit.contains(&value));
        let verify = home.run(&["audit", "verify"]);
        assert_eq!(verify.code, 0, "round {round}: {verify:?}");
    }
    assert!(cycles > 0, "no cycle ever completed");
    // Everything from before the last restart has expired by now or soon.
    std::thread::sleep(Duration::from_millis(1100));
    let live = home.json(&["grants"]);
    assert!(
        live.as_array()
            .unwrap()
            .iter()
            .all(|g| g["status"] == "pending"),
        "an approved 1s grant outlived its expiry: {live:#}"
    );
}

/// A daemon that accepts connections but never answers (stopped, or stuck)
/// must not hang `warrant status`, which scripts use to ask whether it is
/// up.
#[test]
fn status_gives_up_on_a_daemon_that_does_not_answer() {
    let (home, _value, daemon) = Home::with_daemon();
    let pid = nix::unistd::Pid::from_raw(daemon.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let mut status = home
        .std_cmd()
        .arg("status")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ended = wait_child(&mut status, Duration::from_secs(4));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let ended = ended.expect("warrant status still waiting after 4 s");
    assert!(!ended.success());
}

/// What the daemon observed is the daemon's to record: a client cannot
/// write a `proxy_blocked` record (with any text it likes) over the socket.
#[test]
fn a_client_cannot_write_the_daemons_observations() {
    use std::io::{Read as _, Write as _};
    let (home, _value, _daemon) = Home::with_daemon();
    let mut socket = std::os::unix::net::UnixStream::connect(home.path().join("warrant.sock"))
        .expect("the daemon's socket");
    let forged = serde_json::json!({
        "op": "proxy_blocked",
        "grant": "g_forged0000",
        "host": "evil.test",
        "method": "GET",
        "path": "/",
        "secrets": ["db/dev/url"],
        "reason": "\u{202e}the person approved this",
    })
    .to_string();
    socket
        .write_all(&u32::try_from(forged.len()).unwrap().to_be_bytes())
        .unwrap();
    socket.write_all(forged.as_bytes()).unwrap();
    let mut len = [0u8; 4];
    socket.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; u32::from_be_bytes(len) as usize];
    socket.read_exact(&mut reply).unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["err"]["code"], "bad_request", "{reply}");
    assert!(
        home.audit_events("proxy_blocked").is_empty(),
        "{}",
        home.audit_text()
    );
}

/// An agent's reason may try to reorder or hide what the person reads
/// (a right-to-left override, terminal escapes): it is shown escaped, in
/// `warrant grants` (text and JSON) and the approval prompt alike.
#[test]
fn an_agents_reason_cannot_hide_or_reorder_what_the_person_reads() {
    let (home, _value, _daemon) = Home::with_daemon();
    let reason = "fix tests \u{202e}gnp.exe\u{202c} \u{1b}[2J\u{1b}[1;1Happroved\r";
    let asked = home.json(&[
        "request",
        "--actor",
        "ana",
        "--secret",
        "db/dev/url",
        "--ttl",
        "5m",
        "--reason",
        reason,
    ]);
    let id = asked["id"].as_str().unwrap().to_owned();
    for args in [vec!["grants"], vec!["grants", "--json"]] {
        let shown = home.run(&args);
        assert_eq!(shown.code, 0, "{shown:?}");
        for raw in ['\u{202e}', '\u{202c}', '\u{1b}', '\r'] {
            assert!(!shown.stdout.contains(raw), "{args:?}: {:?}", shown.stdout);
        }
        assert!(
            shown.stdout.contains("u{202e}gnp.exe"),
            "{args:?}: {}",
            shown.stdout
        );
    }
    let approve = home.run_stdin(&["approve", &id], "wrong\n");
    assert!(!approve.stderr.contains('\u{202e}') && !approve.stdout.contains('\u{202e}'));
}
