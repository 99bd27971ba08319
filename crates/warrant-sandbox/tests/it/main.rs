//! Integration tests against the real kernel: `/proc`, signals and
//! Landlock, with real child processes. One binary, one module per concern.
//!
//! Landlock restricts a thread, so the sandbox tests restrict a thread of
//! their own and leave the test harness unaffected. Tests that change the
//! whole process (child subreaper, reaping every child) run in a subprocess:
//! this binary again, with one ignored test selected (see [`in_subprocess`]).

mod contain;
mod proc;
mod sandbox;
mod terminate;

use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

/// Set in the subprocess that [`in_subprocess`] starts.
const SUBPROCESS_ENV: &str = "WARRANT_SANDBOX_TEST_SUBPROCESS";

/// Runs the ignored test `name` alone in a new process of this binary and
/// asserts that it passed.
pub fn in_subprocess(name: &str) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture"])
        .env(SUBPROCESS_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} failed in its subprocess:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether this process was started by [`in_subprocess`]; an ignored test
/// run any other way (`cargo test -- --ignored`) must do nothing.
pub fn is_subprocess() -> bool {
    std::env::var_os(SUBPROCESS_ENV).is_some()
}

/// `sh -c script`, started.
pub fn sh(script: &str) -> Child {
    Command::new("sh").args(["-c", script]).spawn().unwrap()
}

/// Polls `check` every 10 ms until it returns `Some`, for at most 5 s.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}
