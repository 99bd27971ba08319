//! A child that warrant gives pipes (`--no-tty`, or warrant's stdout is not a
//! terminal) must not reach warrant's terminal past the redactor: it runs
//! without a controlling terminal (`/dev/tty` does not open) and its stdin,
//! when that is the terminal, is read-only. Here warrant runs on a real
//! pseudo-terminal that is its controlling terminal (`setsid -c`), as in a
//! person's shell or an agent's terminal, and the test reads everything
//! that terminal shows, playing a child that tries to print the raw value.
//!
//! Also checked: what the terminal still does for such a child (typed input
//! reaches it, `^C` ends it and everything in its process group, `^Z` stops
//! it and `SIGCONT` resumes it), and that a child given a pseudo-terminal of
//! its own still has it as its controlling terminal.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{Home, bin, fake_value, pid_alive, wait_child, wait_for, wait_until};

/// The label the redactor shows for the test's value.
const REDACTED: &str = "<redacted:tty/x>";

/// A pseudo-terminal seen from the master side: what it shows, and a
/// keyboard.
struct Screen {
    keyboard: std::fs::File,
    seen: Arc<Mutex<Vec<u8>>>,
    /// Set once every process has closed the terminal (the master reads EIO).
    closed: Arc<AtomicBool>,
    /// The terminal's name (`/dev/pts/N`).
    name: String,
}

impl Screen {
    fn new(master: OwnedFd, name: String) -> Self {
        let keyboard = std::fs::File::from(master.try_clone().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let (sink, done) = (Arc::clone(&seen), Arc::clone(&closed));
        std::thread::spawn(move || {
            let mut master = std::fs::File::from(master);
            let mut buf = [0u8; 4096];
            // Linux reports EIO on the master once every slave is closed.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            done.store(true, Ordering::SeqCst);
        });
        Self {
            keyboard,
            seen,
            closed,
            name,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).replace('\r', "")
    }

    fn type_in(&mut self, keys: &[u8]) {
        self.keyboard.write_all(keys).unwrap();
    }

    /// Everything the terminal showed, once every process has let go of it
    /// (so nothing written late is missed).
    fn all(&self) -> String {
        wait_until(Duration::from_secs(10), || {
            self.closed.load(Ordering::SeqCst)
        });
        self.text()
    }
}

/// `setsid -c warrant run ARGS -- sh -c SCRIPT` on a new pseudo-terminal,
/// which becomes warrant's controlling terminal and is its stdin and stderr
/// (and its stdout unless `stdout_piped`).
fn on_terminal(home: &Home, args: &[&str], script: &str, stdout_piped: bool) -> (Child, Screen) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let name = nix::unistd::ttyname(&pty.slave)
        .unwrap()
        .display()
        .to_string();
    let slave = || Stdio::from(pty.slave.try_clone().unwrap());
    let mut cmd = std::process::Command::new("setsid");
    cmd.arg("-c")
        .arg(bin())
        .arg("run")
        .args(args)
        .args(["--", "sh", "-c", script]);
    home.configure(&mut cmd);
    cmd.stdin(slave())
        .stdout(if stdout_piped {
            Stdio::piped()
        } else {
            slave()
        })
        .stderr(slave());
    let child = cmd.spawn().expect("start setsid -c warrant");
    // The test keeps no slave open: the screen sees the end of the terminal.
    drop(pty.slave);
    (child, Screen::new(pty.master, name))
}

/// A home holding `tty/x`, whose (generated) value is returned.
fn home_with_value() -> (Home, String) {
    let home = Home::new();
    let value = fake_value("tty");
    home.set("tty/x", &value);
    (home, value)
}

/// The process state letter in `/proc/PID/stat` (`T` when stopped).
fn state(pid: u32) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.trim_start().chars().next()
        })
        .unwrap_or('?')
}

fn read_pid(path: &std::path::Path) -> u32 {
    assert!(wait_for(path), "the child never started");
    // Written by `echo`, so complete once it ends with a newline.
    let mut text = String::new();
    wait_until(Duration::from_secs(5), || {
        text = std::fs::read_to_string(path).unwrap_or_default();
        text.ends_with('\n')
    });
    text.trim().parse().expect("a pid")
}

/// The child tries to print the value to `/dev/tty`, the terminal warrant
/// runs on; it must fail, and the terminal must never show the value.
fn dev_tty_is_no_way_around_the_redactor(args: &[&str], stdout_piped: bool) {
    let (home, value) = home_with_value();
    let mut all_args = vec!["--env", "T=warrant://tty/x"];
    all_args.extend(args);
    let script = r#"if printf '%s\n' "$T" > /dev/tty; then echo "wrote to /dev/tty"; else echo "no /dev/tty"; fi; echo "end $T""#;
    let (mut child, screen) = on_terminal(&home, &all_args, script, stdout_piped);
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).unwrap();
    }
    let status = wait_child(&mut child, Duration::from_secs(20)).expect("warrant hangs");
    let shown = screen.all();
    let everything = format!("{shown}{stdout}");
    assert!(status.success(), "{everything:?}");
    assert!(
        !everything.contains(&value),
        "the raw value reached the terminal: {everything:?}"
    );
    assert!(
        everything.contains("no /dev/tty\n"),
        "the child opened /dev/tty: {everything:?}"
    );
    assert!(
        everything.contains(&format!("end {REDACTED}\n")),
        "{everything:?}"
    );
}

#[test]
fn a_child_run_with_no_tty_cannot_write_to_dev_tty() {
    dev_tty_is_no_way_around_the_redactor(&["--no-tty"], false);
}

#[test]
fn a_child_given_pipes_because_stdout_is_not_a_terminal_cannot_either() {
    // stdout is a pipe, stdin and stderr the terminal: no --no-tty needed.
    dev_tty_is_no_way_around_the_redactor(&[], true);
}

#[test]
fn with_no_tty_the_child_reads_typed_input_but_cannot_write_to_the_terminal_through_stdin() {
    // warrant's stdin is the terminal (opened read-write, as a shell's is).
    // The child still reads what is typed, but its descriptor 0 is
    // read-only: `>&0` fails instead of printing the raw value.
    let (home, value) = home_with_value();
    let script = r#"read line; echo "got $line"; if printf '%s\n' "$T" >&0; then echo "wrote to stdin"; else echo "stdin is read-only"; fi; echo "end $T""#;
    let (mut child, mut screen) = on_terminal(
        &home,
        &["--no-tty", "--env", "T=warrant://tty/x"],
        script,
        false,
    );
    screen.type_in(b"typed-line\n");
    let status = wait_child(&mut child, Duration::from_secs(20)).expect("warrant hangs");
    let shown = screen.all();
    assert!(status.success(), "{shown:?}");
    assert!(
        !shown.contains(&value),
        "the raw value reached the terminal: {shown:?}"
    );
    assert!(shown.contains("got typed-line\n"), "{shown:?}");
    assert!(shown.contains("stdin is read-only\n"), "{shown:?}");
    assert!(shown.contains(&format!("end {REDACTED}\n")), "{shown:?}");
}

#[test]
fn ctrl_c_still_ends_a_child_with_pipes_and_everything_in_its_process_group() {
    // The terminal's ^C reaches warrant only (the child is in a session of
    // its own); warrant passes it to the child's whole process group, so
    // the inner `sleep` (a grandchild) ends too, as it would at a terminal.
    let home = Home::new();
    let inner = home.scratch().join("inner.pid");
    let script = format!(
        r#"sh -c 'echo $$ > "{}"; exec sleep 30'; echo after"#,
        inner.display()
    );
    let (mut child, mut screen) = on_terminal(&home, &["--no-tty"], &script, false);
    let sleeper = read_pid(&inner);
    let typed = Instant::now();
    screen.type_in(b"\x03");
    let status = wait_child(&mut child, Duration::from_secs(10)).expect("^C did not end warrant");
    assert!(typed.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(128 + 2), "{:?}", screen.text());
    assert!(
        wait_until(Duration::from_secs(2), || !pid_alive(sleeper)),
        "the grandchild survived ^C"
    );
    assert!(!screen.all().contains("after"));
}

#[test]
fn ctrl_z_stops_a_child_with_pipes_and_sigcont_resumes_it() {
    // ^Z: warrant stops the child's process group, then itself, as the
    // terminal did when they shared a process group; `fg` (SIGCONT to
    // warrant) resumes both.
    let home = Home::new();
    let pid_file = home.scratch().join("child.pid");
    let script = format!(r#"echo $$ > "{}"; exec sleep 30"#, pid_file.display());
    let (mut child, mut screen) = on_terminal(&home, &["--no-tty"], &script, false);
    let sleeper = read_pid(&pid_file);
    let warrant = child.id();
    screen.type_in(b"\x1a");
    assert!(
        wait_until(Duration::from_secs(5), || state(sleeper) == 'T'
            && state(warrant) == 'T'),
        "after ^Z: child {}, warrant {}",
        state(sleeper),
        state(warrant)
    );
    kill(Pid::from_raw(warrant as i32), Signal::SIGCONT).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || state(sleeper) != 'T'
            && state(warrant) != 'T'),
        "after SIGCONT: child {}, warrant {}",
        state(sleeper),
        state(warrant)
    );
    screen.type_in(b"\x03");
    let status = wait_child(&mut child, Duration::from_secs(10)).expect("^C did not end warrant");
    assert_eq!(status.code(), Some(128 + 2), "{:?}", screen.text());
}

#[test]
fn a_child_given_a_pseudo_terminal_still_has_it_as_its_controlling_terminal() {
    // The default with a terminal on stdout: the child's /dev/tty is its
    // own pseudo-terminal, whose output warrant redacts like the rest.
    let (home, value) = home_with_value();
    let script = r#"tty; if printf '%s\n' "$T" > /dev/tty; then echo "has a controlling terminal"; fi; echo end"#;
    let (mut child, screen) = on_terminal(&home, &["--env", "T=warrant://tty/x"], script, false);
    let status = wait_child(&mut child, Duration::from_secs(20)).expect("warrant hangs");
    let shown = screen.all();
    assert!(status.success(), "{shown:?}");
    assert!(!shown.contains(&value), "{shown:?}");
    let own = shown
        .lines()
        .find(|line| line.starts_with("/dev/pts/"))
        .unwrap_or_else(|| panic!("`tty` printed no terminal: {shown:?}"));
    assert_ne!(
        own, screen.name,
        "the child must have a terminal of its own"
    );
    assert!(
        shown.contains(&format!("{REDACTED}\nhas a controlling terminal\n")),
        "{shown:?}"
    );
}
