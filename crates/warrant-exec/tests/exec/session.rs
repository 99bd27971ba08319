//! With pipes the child runs in a session of its own, without a
//! controlling terminal: warrant's terminal (`/dev/tty`) is no way around
//! the redactor. With a pseudo-terminal it has its own one.

use std::path::Path;

use warrant_exec::{Streams, run, run_with_streams};

use crate::spec;

/// `(pid, process group, session, tty_nr)` from a `/proc/PID/stat` line.
fn ids(stat: &str) -> (u32, u32, u32, u32) {
    let (pid, rest) = stat.split_once(' ').expect("pid");
    // Fields after the parenthesised name: state ppid pgrp session tty_nr.
    let fields: Vec<&str> = rest
        .rsplit_once(')')
        .expect("name")
        .1
        .split_whitespace()
        .collect();
    let n = |s: &str| s.parse::<u32>().expect("a number");
    (n(pid), n(fields[2]), n(fields[3]), n(fields[4]))
}

/// The child saves its own `/proc/self/stat` (sh's `$$` is the child).
fn saving_stat(out: &Path) -> warrant_exec::RunSpec {
    let mut spec = spec(&["sh", "-c", r#"cat "/proc/$$/stat" > "$OUT""#]);
    spec.env.push(("OUT".into(), out.into()));
    spec
}

#[test]
fn with_pipes_the_child_leads_a_new_session_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stat");
    let outcome = run(saving_stat(&out)).unwrap();
    assert_eq!(outcome.exit_code(), 0);
    let (pid, group, session, tty) = ids(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(pid, outcome.pid);
    assert_eq!((group, session), (pid, pid), "its own group and session");
    assert_eq!(tty, 0, "no controlling terminal");
}

#[test]
fn a_caller_that_takes_the_streams_gets_the_same() {
    // The MCP server's case.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stat");
    let null = || Some(std::fs::File::create("/dev/null").unwrap().into());
    let streams = Streams {
        stdin: Some(std::fs::File::open("/dev/null").unwrap().into()),
        stdout: null(),
        stderr: null(),
        ..Streams::default()
    };
    let outcome = run_with_streams(saving_stat(&out), streams, &mut |_| {}).unwrap();
    assert_eq!(outcome.exit_code(), 0);
    let (pid, group, session, tty) = ids(&std::fs::read_to_string(&out).unwrap());
    assert_eq!((pid, group, session, tty), (outcome.pid, pid, pid, 0));
}
