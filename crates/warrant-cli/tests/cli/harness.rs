//! A throwaway warrant home per test, and helpers to drive the binary.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use tempfile::TempDir;

/// A fresh `WARRANT_HOME` (and a scratch directory) that vanishes with the test.
pub struct Home {
    pub dir: TempDir,
}

impl Home {
    /// An empty home; nothing initialised.
    pub fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A home with a key-file store.
    pub fn new() -> Self {
        let home = Self::empty();
        home.cmd().arg("init").assert().success();
        home
    }

    /// `$WARRANT_HOME`.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A scratch directory beside the home (for env files, markers).
    pub fn scratch(&self) -> PathBuf {
        let dir = self.dir.path().join("scratch");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `warrant` with this home and nothing of the developer's environment
    /// that could change its behaviour.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same, as a plain std command (for spawning and signalling).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin());
        self.configure(&mut cmd);
        cmd
    }

    /// Applies this home's environment to any command (e.g. `setsid warrant`).
    pub fn configure(&self, cmd: &mut std::process::Command) {
        cmd.env("WARRANT_HOME", self.path())
            .env_remove("WARRANT_PASSPHRASE_FILE")
            .env("WARRANT_INSECURE_FAST_KDF", "1")
            .current_dir(self.scratch());
    }

    /// Stores `value` under `name` through `warrant secret set` (stdin).
    pub fn set(&self, name: &str, value: &str) {
        self.cmd()
            .args(["secret", "set", name])
            .write_stdin(value.to_owned())
            .assert()
            .success();
    }

    /// The audit log as text.
    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(self.path().join("audit.jsonl")).unwrap_or_default()
    }

    /// Every file under the home, concatenated (to look for leaked values).
    pub fn all_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        collect(&self.path(), &mut all);
        all
    }
}

fn collect(dir: &Path, all: &mut Vec<u8>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, all);
        } else if let Ok(bytes) = std::fs::read(&path) {
            all.extend(bytes);
        }
    }
}

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_warrant"))
}

/// A value made at test time: obviously fake, never a real credential.
pub fn fake_value(label: &str) -> String {
    let mut bytes = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("urandom");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("fake-{label}-{hex}")
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs `sh -c script` through `warrant run` with `args` before `--`; returns
/// (status code, stdout, stderr).
pub fn run_sh(home: &Home, args: &[&str], script: &str) -> (i32, String, String) {
    let output = home
        .std_cmd()
        .arg("run")
        .args(args)
        .args(["--", "sh", "-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("run warrant");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Waits up to 10 s for `path` to exist.
pub fn wait_for(path: &Path) -> bool {
    for _ in 0..1000 {
        if path.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// The approver passphrase of homes made by [`Home::with_approver`].
pub const APPROVER: &str = "approver-passphrase-for-tests";

/// A policy most grant tests share: `codex` needs approval, `bot` does
/// not, `ana` is a human with broad access.
pub const POLICY: &str = r#"
[actors.codex]
kind = "agent"

[actors.bot]
kind = "agent"

[actors.ana]
kind = "human"

[[rules]]
actors   = ["codex"]
secrets  = ["db/dev/*"]
commands = ["sh", "cat", "env"]
max_ttl  = "30m"
approval = "required"
max_uses = 3
grace    = "1s"

[[rules]]
actors   = ["bot"]
secrets  = ["db/dev/*", "api/token"]
commands = ["sh"]
max_ttl  = "10m"
approval = "auto"
grace    = "1s"

[[rules]]
actors   = ["ana"]
secrets  = ["db/**", "api/token"]
max_ttl  = "1h"
approval = "auto"
"#;

impl Home {
    /// A key-file store with the approver passphrase [`APPROVER`] set.
    pub fn with_approver() -> Self {
        let home = Self::empty();
        home.cmd()
            .args(["init", "--approver"])
            .write_stdin(format!("{APPROVER}\n"))
            .assert()
            .success();
        home
    }

    /// Writes `text` as `warrant.toml` in the scratch directory.
    pub fn write_policy(&self, text: &str) -> PathBuf {
        let path = self.scratch().join("warrant.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts `warrant serve` on this home with the scratch directory's
    /// `warrant.toml`; returns once it answers `warrant status`.
    pub fn serve(&self) -> Daemon {
        self.serve_with(&[])
    }

    /// `warrant serve ARGS...`, once it answers.
    pub fn serve_with(&self, args: &[&std::ffi::OsStr]) -> Daemon {
        let mut cmd = self.std_cmd();
        cmd.arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("start warrant serve");
        let daemon = Daemon { child: Some(child) };
        for _ in 0..500 {
            if self.cmd().arg("status").output().unwrap().status.success() {
                return daemon;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the daemon did not answer within 5 s");
    }

    /// `warrant <args> --json`, parsed; panics unless it succeeds.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let output = self.cmd().args(args).arg("--json").output().unwrap();
        assert!(
            output.status.success(),
            "warrant {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("JSON output")
    }

    /// Asks for a grant for `actor`; returns its id and status.
    pub fn request(&self, actor: &str, secrets: &[&str], extra: &[&str]) -> (String, String) {
        let mut args = vec![
            "request", "--actor", actor, "--reason", "tests", "--ttl", "5m",
        ];
        for s in secrets {
            args.extend(["--secret", s]);
        }
        args.extend(extra);
        let grant = self.json(&args);
        (
            grant["id"].as_str().unwrap().to_owned(),
            grant["status"].as_str().unwrap().to_owned(),
        )
    }

    /// Approves `id` with the right passphrase.
    pub fn approve(&self, id: &str) {
        self.cmd()
            .args(["approve", id])
            .write_stdin(format!("{APPROVER}\n"))
            .assert()
            .success();
    }

    /// `warrant run --grant ID --no-tty <args> -- sh -c script`.
    pub fn run_granted(&self, grant: &str, args: &[&str], script: &str) -> (i32, String, String) {
        let mut all = vec!["--grant", grant, "--no-tty"];
        all.extend(args);
        run_sh(self, &all, script)
    }
}

/// A running `warrant serve`, stopped with SIGTERM when dropped.
pub struct Daemon {
    pub child: Option<std::process::Child>,
}

impl Daemon {
    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Stops it with SIGTERM and returns its stderr.
    pub fn stop(&mut self) -> String {
        let Some(child) = self.child.take() else {
            return String::new();
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Kills it with SIGKILL (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a finished `warrant` command left: exit code (-1 when a signal
/// ended it), stdout and stderr.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn of(output: std::process::Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Both streams, for leak checks and messages.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// stdout parsed as JSON (whatever the exit code).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The `id` of the grant printed as JSON.
    pub fn id(&self) -> String {
        self.json()["id"].as_str().expect("an id").to_owned()
    }
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Polls `check` every 20 ms until it holds or `timeout` passes; returns
/// whether it held.
pub fn wait_until(timeout: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether `pid` still runs (a zombie counts as gone).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Waits for `child` at most `timeout`; `None` (and the child killed) when
/// it did not exit in time.
pub fn wait_child(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let mut status = None;
    wait_until(timeout, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

impl Home {
    /// `warrant <args>` with stdin closed.
    pub fn run(&self, args: &[&str]) -> Ran {
        self.run_stdin(args, "")
    }

    /// `warrant <args>` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Ran {
        let output = self
            .cmd()
            .args(args)
            .write_stdin(input.to_owned())
            .output()
            .expect("run warrant");
        Ran::of(output)
    }

    /// `warrant request` for `actor` with a chosen ttl; the raw result.
    pub fn request_raw(&self, actor: &str, secrets: &[&str], ttl: &str, extra: &[&str]) -> Ran {
        let mut args = vec![
            "request", "--actor", actor, "--reason", "tests", "--ttl", ttl,
        ];
        for s in secrets {
            args.extend(["--secret", s]);
        }
        args.extend(extra);
        self.run(&args)
    }

    /// `warrant approve ID` with `passphrase` on stdin; the raw result.
    pub fn approve_with(&self, id: &str, passphrase: &str, extra: &[&str]) -> Ran {
        let mut args = vec!["approve", id];
        args.extend(extra);
        self.run_stdin(&args, &format!("{passphrase}\n"))
    }

    /// One grant as `warrant grants --all --json` shows it.
    pub fn grant(&self, id: &str) -> serde_json::Value {
        let all = self.json(&["grants", "--all"]);
        all.as_array()
            .expect("grants is an array")
            .iter()
            .find(|g| g["id"] == id)
            .unwrap_or_else(|| panic!("no grant {id} in {all:#}"))
            .clone()
    }

    /// The audit records whose `event` is `kind`, parsed.
    pub fn audit_events(&self, kind: &str) -> Vec<serde_json::Value> {
        self.audit_text()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|record| record["event"] == kind)
            .collect()
    }

    /// `warrant run --grant ID --no-tty <args> -- sh -c script`, with the
    /// std command returned unstarted (to spawn it in the background).
    pub fn granted_cmd(&self, grant: &str, args: &[&str], script: &str) -> std::process::Command {
        let mut cmd = self.std_cmd();
        cmd.args(["run", "--grant", grant, "--no-tty"])
            .args(args)
            .args(["--", "sh", "-c", script])
            .stdin(Stdio::null());
        cmd
    }

    /// `warrant run --grant ID --no-tty <args> -- <command>` to its end.
    pub fn run_granted_command(&self, grant: &str, args: &[&str], command: &[&str]) -> Ran {
        let mut all = vec!["run", "--grant", grant, "--no-tty"];
        all.extend(args);
        all.push("--");
        all.extend(command);
        self.run(&all)
    }

    /// `warrant task <args> -- sh -c script`, with the binary's directory
    /// first on the agent's `PATH` (so the agent's shell finds `warrant`).
    pub fn task_cmd(&self, args: &[&str], script: &str) -> std::process::Command {
        let mut cmd = self.std_cmd();
        cmd.arg("task")
            .args(args)
            .args(["--", "sh", "-c", script])
            .env("PATH", path_with_bin())
            .env_remove("WARRANT_ACTOR")
            .env_remove("WARRANT_GRANT")
            .env_remove("WARRANT_TASK")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `warrant task <args> -- sh -c script` to its end.
    pub fn task(&self, args: &[&str], script: &str) -> Ran {
        Ran::of(
            self.task_cmd(args, script)
                .output()
                .expect("run warrant task"),
        )
    }

    /// A home with the approver set, `db/dev/url` stored (its value
    /// returned), the shared [`POLICY`] and a daemon.
    pub fn with_daemon() -> (Self, String, Daemon) {
        let home = Self::with_approver();
        let value = fake_value("db");
        home.set("db/dev/url", &value);
        home.write_policy(POLICY);
        let daemon = home.serve();
        (home, value, daemon)
    }
}

/// `PATH` with the directory of the binary under test first.
pub fn path_with_bin() -> std::ffi::OsString {
    let dir = bin().parent().expect("binary directory").to_owned();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&rest))).expect("PATH")
}

/// Line (1-based) of the `n`th (0-based) line of `text` that is `wanted`.
pub fn line_of(text: &str, wanted: &str, n: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim() == wanted)
        .nth(n)
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("no {wanted:?} #{n} in the text"))
}

/// A random number below `bound` (from /dev/urandom).
pub fn random_below(bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("urandom");
    u64::from_le_bytes(bytes) % bound
}
