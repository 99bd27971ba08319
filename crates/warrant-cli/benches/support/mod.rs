//! What the grant benchmarks share: a fresh home with one fake secret and
//! a policy, a real daemon, and percentiles.

#![allow(dead_code, reason = "each benchmark uses part of it")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use warrant_broker::Client;

/// A temp directory holding `home/` (a key-file store with `db/dev/url`,
/// an obviously fake value) and `warrant.toml`.
pub struct BenchHome {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub bin: PathBuf,
}

impl BenchHome {
    pub fn new(policy: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let bench = Self {
            home: dir.path().join("home"),
            bin: PathBuf::from(env!("CARGO_BIN_EXE_warrant")),
            dir,
        };
        std::fs::write(bench.policy(), policy).unwrap();
        assert!(bench.warrant(&["init"]).status().unwrap().success());
        let mut set = bench
            .warrant(&["secret", "set", "db/dev/url"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        set.stdin
            .take()
            .unwrap()
            .write_all(b"fake-bench-value-0123456789")
            .unwrap();
        assert!(set.wait().unwrap().success());
        bench
    }

    pub fn policy(&self) -> PathBuf {
        self.dir.path().join("warrant.toml")
    }

    /// `warrant ARGS` on this home, from the policy's directory.
    pub fn warrant(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("WARRANT_HOME", &self.home)
            .env("WARRANT_INSECURE_FAST_KDF", "1")
            .current_dir(self.dir.path());
        cmd
    }

    /// Starts `warrant serve`; returns once it answers.
    #[allow(dead_code, reason = "not every bench passes options")]
    pub fn serve(&self) -> RealDaemon {
        self.serve_with(&[])
    }

    /// Starts `warrant serve ARGS...`; returns once it answers.
    pub fn serve_with(&self, args: &[&str]) -> RealDaemon {
        let mut all = vec!["serve", "--no-ui"];
        all.extend_from_slice(args);
        let mut child = self.warrant(&all).stderr(Stdio::null()).spawn().unwrap();
        for _ in 0..500 {
            if Client::connect(&self.home)
                .and_then(|mut c| c.status())
                .is_ok()
            {
                return RealDaemon { child };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the daemon did not start");
    }
}

/// A running `warrant serve`, stopped with SIGTERM when dropped.
pub struct RealDaemon {
    child: std::process::Child,
}

impl RealDaemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RealDaemon {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.child.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        );
        let _ = self.child.wait();
    }
}

/// `WARRANT_BENCH_...` settings.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
