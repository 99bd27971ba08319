//! `warrant run -- cat BIGFILE` against `cat BIGFILE | cat`, in the same run,
//! with 100 values injected; and warrant's peak memory for two stream lengths.
//!
//! `cargo bench -p warrant-cli --bench run_throughput` (size with
//! `WARRANT_BENCH_MIB`, default 1024). Prints rates and ratios; asserts nothing.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const VALUES: usize = 100;
const REPEATS: usize = 3;

fn main() {
    let mib: u64 = std::env::var("WARRANT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().join("home");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_warrant"));
    let warrant = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.env("WARRANT_HOME", &home).args(args);
        cmd
    };
    assert!(
        warrant(&["init"])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    );
    let mut env_flags = Vec::new();
    for i in 0..VALUES {
        let name = format!("bench/v{i}");
        let mut child = warrant(&["secret", "set", &name])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("bench-value-{i:04}-{:032x}", i * 7919).as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        env_flags.push("-e".to_owned());
        env_flags.push(format!("V{i}=warrant://{name}"));
    }

    let big = dir.path().join("big");
    write_log(&big, mib << 20);
    let small = dir.path().join("small");
    write_log(&small, (mib << 20) / 4);
    let bytes = (mib << 20) as f64;

    let baseline = best_of(|| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("cat '{}' | cat", big.display()))
            .stdout(devnull());
        time(cmd).0
    });
    let through_warrant = |file: &Path| {
        let mut cmd = warrant(&["run", "--no-tty"]);
        cmd.args(&env_flags)
            .arg("--")
            .arg("cat")
            .arg(file)
            .stdout(devnull());
        time(cmd)
    };
    let mut peak_big = 0;
    let with_warrant = best_of(|| {
        let (elapsed, peak) = through_warrant(&big);
        peak_big = peak_big.max(peak);
        elapsed
    });
    let (_, peak_small) = through_warrant(&small);

    let rate = |d: Duration| bytes / d.as_secs_f64() / 1e6;
    println!("stream: {mib} MiB of log lines, {VALUES} values injected, best of {REPEATS}");
    println!("cat BIGFILE | cat            {:>8.0} MB/s", rate(baseline));
    println!(
        "warrant run -- cat BIGFILE   {:>8.0} MB/s",
        rate(with_warrant)
    );
    println!(
        "ratio warrant / baseline     {:>8.2}  (target >= 0.50)",
        baseline.as_secs_f64() / with_warrant.as_secs_f64()
    );
    println!(
        "warrant peak RSS: {} KiB for {} MiB, {} KiB for {} MiB",
        peak_small,
        mib / 4,
        peak_big,
        mib
    );
}

fn devnull() -> Stdio {
    Stdio::from(File::create("/dev/null").unwrap())
}

fn best_of(mut run: impl FnMut() -> Duration) -> Duration {
    (0..REPEATS).map(|_| run()).min().unwrap()
}

/// Runs `cmd`, returning its wall time and the peak RSS (VmHWM, KiB) seen.
fn time(mut cmd: Command) -> (Duration, u64) {
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "benchmark command failed: {status}");
            return (start.elapsed(), peak);
        }
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Log-like text: timestamps, levels, paths, numbers; no injected value.
fn write_log(path: &Path, size: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut written = 0u64;
    let mut i = 0u64;
    while written < size {
        let line = format!(
            "2026-11-25T12:{:02}:{:02}.{:03}Z INFO request id={:016x} path=/api/v1/items/{} status=200 took={}ms user=agent-{}\n",
            (i / 60) % 60,
            i % 60,
            i % 1000,
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            i % 10_000,
            i % 97,
            i % 13
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        i += 1;
    }
    out.flush().unwrap();
}
