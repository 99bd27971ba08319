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
        let mut cmd = self.std_cmd();
        cmd.arg("serve")
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
        let mut args = vec!["request", "--actor", actor, "--reason", "tests", "--ttl", "5m"];
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
        let Some(mut child) = self.child.take() else {
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
