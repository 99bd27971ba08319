//! Running a tool and measuring it: wall time, peak memory (through
//! `/usr/bin/time`), exit status, a timeout that kills the whole process
//! group; one untimed warm-up run, then the timed runs, the fastest kept.

use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::corpus::Corpus;
use crate::parse::{Found, strip_ansi};
use crate::settings::Settings;
use crate::tools::{Kind, Tool};

/// One tool's run on one target.
pub struct Run {
    pub wall: Duration,
    pub peak_rss_kib: Option<u64>,
    pub exit: Option<i32>,
    pub timed_out: bool,
    pub output: PathBuf,
    pub stderr: PathBuf,
}

pub struct Row {
    pub outcome: Result<(Run, Vec<Found>), String>,
    /// Timed runs made (the fastest is kept).
    pub runs: usize,
    /// The 1-minute load average before them.
    pub load: String,
}

impl Row {
    fn failed(why: String) -> Row {
        Row {
            outcome: Err(why),
            runs: 0,
            load: String::new(),
        }
    }
}

/// A tool whose run takes longer than this is not run again.
const SLOW: Duration = Duration::from_secs(60);

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

impl Tool {
    /// One untimed run on a tiny directory (loads the binary, builds rule
    /// caches), then the timed runs on `target`; keeps the fastest.
    pub fn measure(&self, corpus: &Corpus, work: &Path, warmup: &Path, s: &Settings) -> Row {
        if let Some(why) = &self.missing {
            return Row::failed(why.clone());
        }
        let _ = self.run(
            warmup,
            &work.join(format!("{}-warmup", self.name)),
            s.timeout,
        );
        let load = load_average();
        let mut best: Option<Run> = None;
        let mut runs = 0;
        for i in 0..s.runs {
            let run = match self.run(
                &corpus.tree,
                &work.join(format!("{}-{i}", self.name)),
                s.timeout,
            ) {
                Ok(r) => r,
                Err(e) => return Row::failed(e),
            };
            eprintln!(
                "  {:.2} s, peak RSS {} MiB, exit {:?}{}",
                run.wall.as_secs_f64(),
                run.peak_rss_kib
                    .map_or("?".into(), |k| (k / 1024).to_string()),
                run.exit,
                if run.timed_out { " (timed out)" } else { "" }
            );
            if run.timed_out {
                return Row::failed(format!("timed out after {} s", s.timeout.as_secs()));
            }
            runs += 1;
            let slow = run.wall > SLOW;
            if best.as_ref().is_none_or(|b| run.wall < b.wall) {
                best = Some(run);
            }
            if slow {
                break;
            }
        }
        let run = best.unwrap();
        if let Some(code) = run.exit
            && !self.ok_exit(code)
        {
            return Row::failed(format!(
                "exit {code}: {}",
                tail(&run.stderr).replace('|', "\\|")
            ));
        }
        match self.parse(&run.output, &corpus.tree) {
            Ok(found) => Row {
                outcome: Ok((run, found)),
                runs,
                load,
            },
            Err(e) => Row::failed(format!("cannot read its output: {e}")),
        }
    }

    fn run(&self, target: &Path, base: &Path, timeout: Duration) -> Result<Run, String> {
        // Betterleaks wants its report file to end in .json.
        let output = base.with_extension(if self.kind == Kind::Ripsecrets {
            "txt"
        } else {
            "json"
        });
        let stderr = base.with_extension("err");
        let rss_file = base.with_extension("rss");
        let (tool_cmd, stdout_report) = self.command(target, &output);
        let time = Path::new("/usr/bin/time");
        let mut cmd = if time.exists() {
            let mut c = Command::new(time);
            c.arg("-f").arg("%M").arg("-o").arg(&rss_file);
            c.arg(tool_cmd.get_program()).args(tool_cmd.get_args());
            for (k, v) in tool_cmd.get_envs() {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
            }
            if let Some(dir) = tool_cmd.get_current_dir() {
                c.current_dir(dir);
            }
            c
        } else {
            tool_cmd
        };
        let out_file = if stdout_report {
            fs::File::create(&output).map_err(|e| e.to_string())?
        } else {
            fs::File::create(base.with_extension("stdout")).map_err(|e| e.to_string())?
        };
        cmd.stdin(Stdio::null())
            .stdout(out_file)
            .stderr(fs::File::create(&stderr).map_err(|e| e.to_string())?)
            .process_group(0);
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
        let pid = child.id();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if done_rx.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                true
            } else {
                false
            }
        });
        let status = child.wait().map_err(|e| e.to_string())?;
        let wall = started.elapsed();
        let _ = done_tx.send(());
        let timed_out = watchdog.join().unwrap_or(false);
        let peak_rss_kib = fs::read_to_string(&rss_file)
            .ok()
            .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
        // GNU time exits with the command's status, or 128+signal.
        Ok(Run {
            wall,
            peak_rss_kib,
            exit: status.code(),
            timed_out,
            output,
            stderr,
        })
    }
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let clean: String = strip_ansi(last).chars().take(200).collect();
    clean
}

/// The tiny directory of the untimed warm-up runs.
pub fn make_warmup_dir(work: &Path) -> PathBuf {
    let dir = work.join("warmup");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("main.rs"),
        "fn main() {\n    println!(\"hello\");\n}\n",
    )
    .unwrap();
    fs::write(dir.join("config.env"), "APP_ENV=dev\nPORT=8080\n").unwrap();
    dir
}
