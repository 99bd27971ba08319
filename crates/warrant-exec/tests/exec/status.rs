//! Exit statuses and start-up errors, with `run` called in this process.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use warrant_exec::{ChildStatus, Error};

use crate::spec;

fn exit_of(script: &str) -> warrant_exec::RunOutcome {
    warrant_exec::run(spec(&["sh", "-c", script])).unwrap()
}

#[test]
fn exit_codes_propagate() {
    for code in [0, 3, 255] {
        let outcome = exit_of(&format!("exit {code}"));
        assert_eq!(outcome.status, ChildStatus::Exited(code));
        assert_eq!(outcome.exit_code(), code);
        assert!(outcome.pid > 0);
        assert_eq!(outcome.total_redactions(), 0);
    }
}

#[test]
fn death_by_signal_is_128_plus_n() {
    let outcome = exit_of("kill -KILL $$");
    assert_eq!(outcome.status, ChildStatus::Signaled(9));
    assert_eq!(outcome.exit_code(), 137);
    let outcome = exit_of("kill -TERM $$");
    assert_eq!(outcome.status, ChildStatus::Signaled(15));
    assert_eq!(outcome.exit_code(), 143);
}

#[test]
fn missing_program_is_not_found() {
    let err = warrant_exec::run(spec(&["warrant-test-no-such-program"])).unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref program } if program == "warrant-test-no-such-program")
    );
    let err = warrant_exec::run(spec(&["/nonexistent/dir/prog"])).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[test]
fn file_without_exec_permission_is_exec_error() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("prog");
    std::fs::write(&prog, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = warrant_exec::run(spec(&[prog.to_str().unwrap()])).unwrap_err();
    match err {
        Error::Exec { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::EACCES)),
        other => panic!("{other:?}"),
    }
    // Found on PATH but not executable.
    let mut s = spec(&["prog"]);
    s.env = vec![("PATH".into(), dir.path().into())];
    assert!(matches!(warrant_exec::run(s), Err(Error::Exec { .. })));
}

#[test]
fn exec_failure_in_the_child_is_reported_with_its_errno() {
    let dir = tempfile::tempdir().unwrap();
    // Executable, but no format the kernel knows: execve fails with ENOEXEC.
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, [0x7f, b'E', b'L', b'F', 0, 0, 0, 0]).unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o755)).unwrap();
    match warrant_exec::run(spec(&[garbage.to_str().unwrap()])).unwrap_err() {
        Error::Exec { source, program } => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOEXEC));
            assert_eq!(program, garbage.to_str().unwrap());
        }
        other => panic!("{other:?}"),
    }
    // A script whose interpreter does not exist: ENOENT from execve.
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    match warrant_exec::run(spec(&[script.to_str().unwrap()])).unwrap_err() {
        Error::Exec { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::ENOENT)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_arguments_and_variables_are_refused_before_forking() {
    let s = spec(&["sh", "-c", "exit 0", "a\0b"]);
    assert!(matches!(
        warrant_exec::run(s),
        Err(Error::InvalidArgument { index: 3 })
    ));
    let mut s = spec(&["true"]);
    s.secret_env.push((
        "BAD=NAME".to_owned(),
        warrant_secret::SecretValue::from(b"fake-value-000".to_vec()),
    ));
    match warrant_exec::run(s) {
        Err(Error::InvalidEnv { name }) => assert_eq!(name, "BAD=NAME"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_background_grandchild_holding_the_pipes_does_not_hang_run() {
    // The grandchild inherits stdout and stderr and keeps them for 3 s;
    // run returns shortly after the child exits (see DRAIN_GRACE).
    let start = Instant::now();
    let outcome = exit_of("sleep 3 & exit 4");
    assert_eq!(outcome.status, ChildStatus::Exited(4));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
