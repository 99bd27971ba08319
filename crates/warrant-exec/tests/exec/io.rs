//! Standard streams through warrant (pipes).

use std::io::Read;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::scenario::{self, Outcome, Scenario};

#[test]
fn stdin_passes_through() {
    let outcome = Scenario::new(&["cat"]).run_with_input(b"hello stdin\nline two");
    assert_eq!(outcome.get("status"), "exited:0", "{outcome:?}");
    assert_eq!(outcome.stdout_str(), "hello stdin\nline two");
    assert!(outcome.exit.success(), "the scenario process itself passed");
}

#[test]
fn output_split_across_writes_comes_out_whole() {
    let outcome = Scenario::sh(
        "printf abc; sleep 0.1; printf def; printf err1 >&2; sleep 0.05; printf err2 >&2",
    )
    .run();
    assert_eq!(outcome.get("status"), "exited:0", "{outcome:?}");
    assert_eq!(outcome.stdout_str(), "abcdef");
    assert_eq!(outcome.stderr_str(), "err1err2");
}

#[test]
fn everything_is_drained_after_the_child_exits() {
    let outcome = Scenario::sh(
        r#"head -c 1000000 /dev/zero | tr '\0' o; head -c 300000 /dev/zero | tr '\0' e >&2"#,
    )
    .run();
    assert_eq!(outcome.get("status"), "exited:0", "{outcome:?}");
    assert_eq!(outcome.stdout.len(), 1_000_000);
    assert!(outcome.stdout.iter().all(|&b| b == b'o'));
    assert_eq!(outcome.stderr.len(), 300_000);
}

#[test]
fn output_is_live_not_held_until_exit() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let result = dir.path().join("result");
    let mut child =
        Scenario::sh(r#"echo first; while [ ! -e "$GO" ]; do sleep 0.02; done; echo second"#)
            .env("GO", &go)
            .command(&result)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => tx.send(buf[..n].to_vec()).unwrap(),
            }
        }
    });
    let mut seen = Vec::new();
    let start = Instant::now();
    while !scenario::between_markers(&seen).ends_with(b"first\n") {
        let left = Duration::from_secs(10).saturating_sub(start.elapsed());
        seen.extend(
            rx.recv_timeout(left)
                .expect("\"first\" arrives while the child runs"),
        );
    }
    assert!(child.try_wait().unwrap().is_none(), "still running");
    std::fs::write(&go, "").unwrap();
    scenario::wait_timeout(&mut child, Duration::from_secs(10));
    reader.join().unwrap();
    seen.extend(rx.try_iter().flatten());
    assert_eq!(scenario::between_markers(&seen), b"first\nsecond\n");
    assert_eq!(scenario::read_result(&result)["status"], "exited:0");
}

#[test]
fn closed_stdout_gives_the_child_sigpipe() {
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let mut child = Scenario::new(&["yes"])
        .command(&result)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !scenario::between_markers(&seen).starts_with(b"y\ny\n") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    drop(stdout);
    scenario::wait_timeout(&mut child, Duration::from_secs(10));
    let result = scenario::read_result(&result);
    assert_eq!(result["status"], "signaled:13", "{result:?}");
    assert_eq!(result["exit_code"], "141");
}

#[test]
fn child_starts_with_a_clean_signal_mask_and_default_sigpipe() {
    // cat reports its own mask: the scenario process ignores SIGPIPE (as
    // every Rust program does) and catches signals; none of that leaks.
    let outcome: Outcome = Scenario::new(&["cat", "/proc/self/status"]).run();
    let status = outcome.stdout_str();
    let field = |name: &str| {
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {status}"));
        u64::from_str_radix(line.trim(), 16).unwrap()
    };
    assert_eq!(field("SigBlk:"), 0, "nothing blocked");
    assert_eq!(
        field("SigIgn:") & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE not ignored"
    );
    assert_eq!(field("SigCgt:"), 0, "no handlers survive exec");
}
