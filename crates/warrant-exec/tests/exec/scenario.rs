//! Runs `warrant_exec::run` in a subprocess, to see what it writes to its
//! own stdout/stderr and to send it signals.
//!
//! The subprocess is this test binary again, running only [`entry`], with
//! the scenario in environment variables. libtest prints a few lines of its
//! own on stdout, so the scenario brackets `run` with markers on both
//! streams; [`Outcome`] keeps what is between them. The result of `run` goes
//! to a file as `key=value` lines.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use warrant_exec::{ChildStatus, Error, RunSpec, TerminalMode};
use warrant_redact::RedactorBuilder;
use warrant_secret::SecretValue;

const SCENARIO: &str = "WARRANT_EXEC_TEST_SCENARIO";
const RESULT: &str = "WARRANT_EXEC_TEST_RESULT";
const THEN_SIGTERM: &str = "WARRANT_EXEC_TEST_THEN_SIGTERM";
pub const BEGIN: &[u8] = b"\x02--warrant-exec-scenario-begin--\x03";
pub const END: &[u8] = b"\x02--warrant-exec-scenario-end--\x03";
const FIELD: char = '\x1f';
const RECORD: char = '\x1e';
const LIST: char = '\x1d';

/// What the subprocess runs.
#[derive(Clone)]
pub struct Scenario {
    pub argv: Vec<String>,
    /// The child's plain environment (`PATH` is added unless set).
    pub env: Vec<(String, String)>,
    pub secret_env: Vec<(String, String)>,
    pub secret_files: Vec<(String, String)>,
    /// (label, value) registered in the redactor.
    pub redact: Vec<(String, String)>,
    pub terminal: TerminalMode,
    /// After `run` returns, the scenario process sends itself `SIGTERM`.
    pub then_sigterm: bool,
}

impl Scenario {
    pub fn new(argv: &[&str]) -> Self {
        Self {
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            env: Vec::new(),
            secret_env: Vec::new(),
            secret_files: Vec::new(),
            redact: Vec::new(),
            terminal: TerminalMode::Never,
            then_sigterm: false,
        }
    }

    /// `sh -c SCRIPT`
    pub fn sh(script: &str) -> Self {
        Self::new(&["sh", "-c", script])
    }

    pub fn env(mut self, name: &str, value: impl AsRef<Path>) -> Self {
        let value = value.as_ref().to_str().unwrap().to_owned();
        self.env.push((name.to_owned(), value));
        self
    }

    pub fn secret_env(mut self, name: &str, value: &str) -> Self {
        self.secret_env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn secret_file(mut self, name: &str, value: &str) -> Self {
        self.secret_files.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn redact(mut self, label: &str, value: &str) -> Self {
        self.redact.push((label.to_owned(), value.to_owned()));
        self
    }

    pub fn terminal(mut self, mode: TerminalMode) -> Self {
        self.terminal = mode;
        self
    }

    pub fn then_sigterm(mut self) -> Self {
        self.then_sigterm = true;
        self
    }

    fn encode(&self) -> String {
        let pairs = |list: &[(String, String)]| {
            list.iter()
                .map(|(k, v)| format!("{k}{FIELD}{v}"))
                .collect::<Vec<_>>()
                .join(&RECORD.to_string())
        };
        let terminal = match self.terminal {
            TerminalMode::Auto => "auto",
            TerminalMode::Never => "never",
        };
        let mut env = self.env.clone();
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".to_owned(), std::env::var("PATH").unwrap()));
        }
        [
            self.argv.join(&RECORD.to_string()),
            pairs(&env),
            pairs(&self.secret_env),
            pairs(&self.secret_files),
            pairs(&self.redact),
            terminal.to_owned(),
        ]
        .join(&LIST.to_string())
    }

    /// The subprocess, stdio left to the caller; the result goes to `result`.
    pub fn command(&self, result: &Path) -> Command {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "scenario::entry",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(SCENARIO, self.encode())
        .env(RESULT, result);
        if self.then_sigterm {
            cmd.env(THEN_SIGTERM, "1");
        }
        cmd
    }

    /// Runs it to the end with `input` on stdin.
    pub fn run_with_input(&self, input: &[u8]) -> Outcome {
        let dir = tempfile::tempdir().unwrap();
        let result = dir.path().join("result");
        let mut child = self
            .command(&result)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
        });
        let outcome = Outcome::collect(child, &result);
        writer.join().unwrap();
        outcome
    }

    /// Runs it to the end with an empty stdin.
    pub fn run(&self) -> Outcome {
        self.run_with_input(b"")
    }
}

/// What a scenario subprocess did.
#[derive(Debug)]
pub struct Outcome {
    /// warrant's stdout between the markers.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// `status`, `exit_code`, `redactions`, `error`, `memfds_left`.
    pub result: BTreeMap<String, String>,
    pub exit: ExitStatus,
}

impl Outcome {
    /// Waits for `child` (stdout and stderr piped) and reads its result.
    pub fn collect(mut child: Child, result: &Path) -> Self {
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let err_thread = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let err = err_thread.join().unwrap();
        let exit = wait_timeout(&mut child, Duration::from_secs(30));
        Self {
            stdout: between_markers(&out),
            stderr: between_markers(&err),
            result: read_result(result),
            exit,
        }
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn get(&self, key: &str) -> &str {
        self.result.get(key).map_or("<missing>", String::as_str)
    }
}

pub fn read_result(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The bytes between [`BEGIN`] and [`END`] (or the end).
pub fn between_markers(bytes: &[u8]) -> Vec<u8> {
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let Some(start) = find(bytes, BEGIN) else {
        return Vec::new();
    };
    let rest = &bytes[start + BEGIN.len()..];
    match find(rest, END) {
        Some(end) => rest[..end].to_vec(),
        None => rest.to_vec(),
    }
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("scenario still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `path` exists.
pub fn wait_for_file(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{path:?} never appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The subprocess side. Does nothing in a normal test run.
#[test]
fn entry() {
    let Ok(encoded) = std::env::var(SCENARIO) else {
        return;
    };
    let result_path = PathBuf::from(std::env::var_os(RESULT).unwrap());
    let lists: Vec<&str> = encoded.split(LIST).collect();
    let split = |s: &str| -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(RECORD).map(str::to_owned).collect()
        }
    };
    let pairs = |s: &str| -> Vec<(String, String)> {
        split(s)
            .into_iter()
            .map(|r| {
                let (k, v) = r.split_once(FIELD).unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect()
    };
    let argv = split(lists[0]);
    let mut builder = RedactorBuilder::new();
    for (label, value) in pairs(lists[4]) {
        builder.add(&label, value.as_bytes());
    }
    let secret = |list: &str| -> Vec<(String, SecretValue)> {
        pairs(list)
            .into_iter()
            .map(|(k, v)| (k, SecretValue::from(v)))
            .collect()
    };
    let spec = RunSpec {
        program: OsString::from(&argv[0]),
        args: argv[1..].iter().map(OsString::from).collect(),
        env: pairs(lists[1])
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
        secret_env: secret(lists[2]),
        secret_files: secret(lists[3]),
        redactor: builder.build().unwrap(),
        terminal: if lists[5] == "auto" {
            TerminalMode::Auto
        } else {
            TerminalMode::Never
        },
    };

    raw_write(1, BEGIN);
    raw_write(2, BEGIN);
    let outcome = warrant_exec::run(spec);
    raw_write(1, END);
    raw_write(2, END);

    let mut lines = Vec::new();
    match outcome {
        Ok(outcome) => {
            let status = match outcome.status {
                ChildStatus::Exited(code) => format!("exited:{code}"),
                ChildStatus::Signaled(signal) => format!("signaled:{signal}"),
            };
            lines.push(format!("status={status}"));
            lines.push(format!("exit_code={}", outcome.exit_code()));
            let redactions: Vec<String> = outcome
                .redactions
                .iter()
                .map(|(label, count)| format!("{label}:{count}"))
                .collect();
            lines.push(format!("redactions={}", redactions.join(",")));
        }
        Err(error) => {
            let kind = match &error {
                Error::NotFound { .. } => "not_found".to_owned(),
                Error::Exec { source, .. } => {
                    format!("exec:{}", source.raw_os_error().unwrap_or(0))
                }
                other => format!("other:{other}"),
            };
            lines.push(format!("error={kind}"));
        }
    }
    lines.push(format!("memfds_left={}", memfds_left()));
    std::fs::write(&result_path, lines.join("\n") + "\n").unwrap();

    if std::env::var_os(THEN_SIGTERM).is_some() {
        let me = rustix::process::getpid();
        rustix::process::kill_process(me, rustix::process::Signal::TERM).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(3));
        lines.push("survived_sigterm=1".to_owned());
        std::fs::write(&result_path, lines.join("\n") + "\n").unwrap();
    }
}

/// In-memory files of warrant still open in this process.
pub fn memfds_left() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("memfd:warrant-"))
        .count()
}

/// Straight to the descriptor, past libtest's capture and std's buffer.
fn raw_write(fd: i32, data: &[u8]) {
    let fd = match fd {
        1 => rustix::stdio::stdout(),
        _ => rustix::stdio::stderr(),
    };
    let _ = rustix::io::write(fd, data);
}
