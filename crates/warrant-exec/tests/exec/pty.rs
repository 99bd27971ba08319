//! Pseudo-terminal mode: warrant runs with its stdout on a terminal that
//! this test creates and drives from the master side.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, Signal};
use rustix::pty::OpenptFlags;
use rustix::termios::{Termios, Winsize, tcgetattr, tcsetwinsize};
use warrant_exec::TerminalMode;

use crate::scenario::{self, Scenario};

/// The terminal warrant writes to, 33 rows by 77 columns.
struct Terminal {
    master: OwnedFd,
    slave: OwnedFd,
    seen: Vec<u8>,
}

impl Terminal {
    fn new() -> Self {
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
                .unwrap();
        rustix::pty::grantpt(&master).unwrap();
        rustix::pty::unlockpt(&master).unwrap();
        let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let terminal = Self {
            master,
            slave,
            seen: Vec::new(),
        };
        terminal.resize(33, 77);
        terminal
    }

    fn resize(&self, rows: u16, cols: u16) {
        let size = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&self.slave, size).unwrap();
    }

    fn slave(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().unwrap())
    }

    /// Reads what is there, waiting up to `wait` for something.
    fn read_some(&mut self, wait: Duration) {
        let timeout = Timespec::try_from(wait).unwrap();
        let mut fds = [PollFd::new(&self.master, PollFlags::IN)];
        if rustix::event::poll(&mut fds, Some(&timeout)).unwrap() == 0 {
            return;
        }
        let mut buf = [0u8; 4096];
        if let Ok(n) = rustix::io::read(&self.master, &mut buf[..]) {
            self.seen.extend_from_slice(&buf[..n]);
        }
    }

    /// What warrant wrote between the markers, without carriage returns.
    fn text(&self) -> String {
        String::from_utf8_lossy(&scenario::between_markers(&self.seen)).replace('\r', "")
    }

    fn read_until(&mut self, wanted: &str) {
        let start = Instant::now();
        while !self.text().contains(wanted) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "never saw {wanted:?} in {:?}",
                self.text()
            );
            self.read_some(Duration::from_millis(50));
        }
    }

    fn write(&self, data: &[u8]) {
        rustix::io::write(&self.master, data).unwrap();
    }

    /// Keeps reading until `child` exits (so it never blocks on a full terminal).
    fn finish(&mut self, child: &mut Child) {
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(10), "scenario hangs");
            self.read_some(Duration::from_millis(20));
        }
        self.read_some(Duration::from_millis(20));
    }
}

fn same_settings(a: &Termios, b: &Termios) -> bool {
    a.input_modes == b.input_modes
        && a.output_modes == b.output_modes
        && a.control_modes == b.control_modes
        && a.local_modes == b.local_modes
}

#[test]
fn child_gets_a_terminal_of_the_same_size_and_raw_mode_is_restored() {
    let mut terminal = Terminal::new();
    let before = tcgetattr(&terminal.slave).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let mut child = Scenario::sh(
        r#"[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo tty-yes; stty size; echo ready; read line; echo "got:$line""#,
    )
    .terminal(TerminalMode::Auto)
    .command(&result)
    .stdin(terminal.slave())
    .stdout(terminal.slave())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    terminal.read_until("ready");
    // warrant's terminal is raw now: Enter arrives as \r, and the child's
    // terminal (with the original settings, ICRNL) turns it into \n.
    let during = tcgetattr(&terminal.slave).unwrap();
    assert!(
        !same_settings(&before, &during),
        "raw mode while the child runs"
    );
    terminal.write(b"hello\r");
    terminal.read_until("got:hello\n");
    terminal.finish(&mut child);
    let text = terminal.text();
    assert!(text.contains("tty-yes\n"), "{text:?}");
    assert!(text.contains("33 77\n"), "{text:?}");
    assert_eq!(scenario::read_result(&result)["status"], "exited:0");
    let after = tcgetattr(&terminal.slave).unwrap();
    assert!(same_settings(&before, &after), "terminal settings restored");
}

#[test]
fn piped_stdin_reaches_the_child_and_ends_with_the_eof_character() {
    let mut terminal = Terminal::new();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let mut child = Scenario::new(&["cat"])
        .terminal(TerminalMode::Auto)
        .command(&result)
        .stdin(Stdio::piped())
        .stdout(terminal.slave())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // No final newline: the first EOF character ends the line, the second the input.
        stdin.write_all(b"line1\nline2").unwrap();
    }
    terminal.finish(&mut child);
    // No echo: input that nobody types is not shown again.
    assert_eq!(terminal.text(), "line1\nline2");
    assert_eq!(scenario::read_result(&result)["status"], "exited:0");
}

#[test]
fn sigwinch_resizes_the_childs_terminal() {
    let mut terminal = Terminal::new();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let size = dir.path().join("size");
    let done = dir.path().join("done");
    let mut child = Scenario::sh(
        r#"trap 'stty size > "$SIZE"' WINCH; echo ready; while [ ! -e "$DONE" ]; do sleep 0.05; done"#,
    )
    .env("SIZE", &size)
    .env("DONE", &done)
    .terminal(TerminalMode::Auto)
    .command(&result)
    .stdin(Stdio::null())
    .stdout(terminal.slave())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    terminal.read_until("ready");
    terminal.resize(40, 100);
    // The scenario has no controlling terminal, so send the signal by hand.
    let pid = Pid::from_raw(child.id().try_into().unwrap()).unwrap();
    rustix::process::kill_process(pid, Signal::WINCH).unwrap();
    wait_for_content(&size, "40 100\n");
    std::fs::write(&done, "").unwrap();
    terminal.finish(&mut child);
    assert!(child.wait().unwrap().success());
    assert_eq!(scenario::read_result(&result)["status"], "exited:0");
}

#[test]
fn terminal_output_is_redacted_too() {
    // Needs warrant-redact's real implementation.
    let mut terminal = Terminal::new();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let mut child = Scenario::sh(r#"echo "token: $TOK""#)
        .secret_env("TOK", "fake-pty-token-98765")
        .redact("tok", "fake-pty-token-98765")
        .terminal(TerminalMode::Auto)
        .command(&result)
        .stdin(Stdio::null())
        .stdout(terminal.slave())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    terminal.finish(&mut child);
    assert_eq!(terminal.text(), "token: <redacted:tok>\n");
    assert_eq!(scenario::read_result(&result)["redactions"], "tok:1");
}

fn wait_for_content(path: &Path, wanted: &str) {
    let start = Instant::now();
    loop {
        if std::fs::read_to_string(path).is_ok_and(|s| s == wanted) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{path:?} never held {wanted:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn never_means_pipes_even_on_a_terminal() {
    let mut terminal = Terminal::new();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let mut child = Scenario::sh(r#"if [ -t 1 ]; then echo tty; else echo pipe; fi"#)
        .terminal(TerminalMode::Never)
        .command(&result)
        .stdin(Stdio::null())
        .stdout(terminal.slave())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    terminal.finish(&mut child);
    assert_eq!(terminal.text(), "pipe\n");
}

#[test]
fn a_child_that_closes_its_terminal_before_exiting_is_not_hung_up() {
    // GNU tools close stdout and stderr right before exiting; the pty master
    // then reads EIO, but closing it at that point would SIGHUP the child.
    let mut terminal = Terminal::new();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let mut child = Scenario::sh("echo bye; exec 0<&- 1>&- 2>&-; sleep 0.3; exit 5")
        .terminal(TerminalMode::Auto)
        .command(&result)
        .stdin(Stdio::null())
        .stdout(terminal.slave())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    terminal.finish(&mut child);
    assert_eq!(terminal.text(), "bye\n");
    assert_eq!(scenario::read_result(&result)["status"], "exited:5");
}

#[test]
fn with_pipes_a_terminal_on_stdin_is_readable_but_not_writable() {
    // The child reads what is typed; descriptor 0 is the terminal opened
    // again read-only, so writing there (past the redactor) fails.
    let mut terminal = Terminal::new();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    let mut child = Scenario::sh(
        r#"read line; echo "got $line"; if printf 'x' >&0; then echo wrote; else echo refused; fi 2>/dev/null"#,
    )
    .terminal(TerminalMode::Never)
    .command(&result)
    .stdin(terminal.slave())
    .stdout(terminal.slave())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    terminal.write(b"typed\n");
    terminal.finish(&mut child);
    assert!(
        terminal.text().ends_with("got typed\nrefused\n"),
        "{:?}",
        terminal.text()
    );
}
