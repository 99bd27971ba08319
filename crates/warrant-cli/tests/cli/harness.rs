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
