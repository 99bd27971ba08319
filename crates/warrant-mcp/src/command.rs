//! `run_command`: one process under a grant, its output redacted and
//! captured for the model, capped in size and in time.
//!
//! Nothing the command starts outlives it: the server is a child subreaper,
//! and when the command ends (by itself, at its timeout, or because the
//! daemon ended it when its grant was revoked or expired) everything under
//! the server is ended ([`warrant_sandbox::contain::Watch`]). So commands
//! of one server run one at a time.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rmcp::schemars;
use serde::Deserialize;
use serde_json::{Value, json};
use warrant_broker::Client;
use warrant_broker::protocol::{ErrorCode, RunResult, UseRequest};
use warrant_env::{Delivery, EnvPlan};
use warrant_exec::{ChildStatus, RunSpec, Streams, TerminalMode};
use warrant_redact::{MIN_SECRET_LEN, RedactorBuilder};
use warrant_sandbox::contain;
use warrant_secret::SecretName;

use crate::Config;

/// Output kept per stream; the rest is read and dropped.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// Default and longest timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// SIGTERM → SIGKILL grace at a timeout, and for what the command left.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// Held while a command runs: one at a time per server.
static RUNNING: Mutex<()> = Mutex::new(());
/// Largest stdin accepted.
const MAX_STDIN: usize = 1 << 20;

/// warrant's own settings, which the command must not inherit.
const PRIVATE_VARS: &[&str] = &["WARRANT_PASSPHRASE_FILE"];

/// `run_command`'s arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CommandArgs {
    /// The grant to use (from request_access; it must be active).
    pub grant_id: String,
    /// The program and its arguments, e.g. ["cargo", "test"].
    pub argv: Vec<String>,
    /// Working directory (default: the server's).
    pub cwd: Option<String>,
    /// Text given to the command on its standard input.
    pub stdin: Option<String>,
    /// Seconds before the command and everything it started are ended (default 60, at most 600).
    pub timeout_s: Option<u64>,
    /// Environment variables set to secrets: {"VAR": "warrant://NAME"}, names from the grant.
    pub env: Option<BTreeMap<String, String>>,
}

fn refuse(message: impl Into<String>, hint: Option<&str>) -> warrant_broker::Error {
    warrant_broker::Error::Daemon(warrant_broker::protocol::ErrorBody::new(
        ErrorCode::BadRequest,
        message,
        hint.map(str::to_owned),
    ))
}

/// The variable a secret gets when the caller names none: `db/dev/url` →
/// `DB_DEV_URL`.
pub fn default_var(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' => c.to_ascii_uppercase(),
            'A'..='Z' | '0'..='9' => c,
            _ => '_',
        })
        .collect()
}

/// Runs the command; the result is `{exit_code, stdout, stderr, truncated,
/// timed_out}`.
pub fn run(config: &Config, args: CommandArgs) -> Result<Value, warrant_broker::Error> {
    if args.argv.is_empty() || args.argv[0].is_empty() {
        return Err(refuse(
            "argv is empty",
            Some("give the program and its arguments, e.g. [\"cargo\", \"test\"]"),
        ));
    }
    let stdin = args.stdin.unwrap_or_default();
    if stdin.len() > MAX_STDIN {
        return Err(refuse(
            format!("stdin is larger than {MAX_STDIN} bytes"),
            None,
        ));
    }
    let timeout = args
        .timeout_s
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
        .clamp(Duration::from_secs(1), MAX_TIMEOUT);
    let cwd = args.cwd.map(PathBuf::from);
    if let Some(dir) = &cwd
        && !dir.is_dir()
    {
        return Err(refuse(
            format!("cwd {} is not a directory", dir.display()),
            None,
        ));
    }

    // One command at a time per server: this process is the child
    // subreaper of what its command starts, and everything under it is
    // ended when the command ends, so it must all belong to one command.
    let _one_at_a_time = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    let mut client = Client::connect(&config.home)?;
    let env = match args.env {
        Some(env) => env,
        None => client
            .show(&args.grant_id)?
            .secrets
            .iter()
            .map(|s| (default_var(s), format!("warrant://{s}")))
            .collect(),
    };
    let mut plan =
        EnvPlan::inherit(std::env::vars_os()).map_err(|e| refuse(e.to_string(), None))?;
    for var in PRIVATE_VARS {
        plan.remove(OsStr::new(var));
    }
    for (var, reference) in &env {
        plan.add_flag(&format!("{var}={reference}"), false)
            .map_err(|e| {
                refuse(
                    e.to_string(),
                    Some("env maps variable names to references like warrant://db/dev/url"),
                )
            })?;
    }
    let names = plan.secret_names();

    // The program as the child's exec will find it (relative paths from cwd).
    let program = match (&cwd, args.argv[0].contains('/')) {
        (Some(dir), true) if Path::new(&args.argv[0]).is_relative() => {
            dir.join(&args.argv[0]).into_os_string()
        }
        _ => OsString::from(&args.argv[0]),
    };
    let path_var = plan.plain(OsStr::new("PATH"));
    let resolved = warrant_exec::resolve_program(&program, path_var.map(OsString::as_os_str))
        .map_err(|e| refuse(e.to_string(), Some("check the program's name")))?;
    let resolved = std::path::absolute(&resolved).unwrap_or(resolved);

    let request = UseRequest {
        grant: args.grant_id.clone(),
        program: args.argv[0].clone(),
        resolved: Some(resolved.to_string_lossy().into_owned()),
        secrets: names.iter().map(ToString::to_string).collect(),
        file_secrets: Vec::new(),
    };
    let (session, reply, values) = client.use_grant(request)?;
    let mut by_name = BTreeMap::new();
    for (name, value) in reply.names.iter().zip(values) {
        let name = SecretName::new(name).map_err(|e| refuse(e.to_string(), None))?;
        if value.len() < MIN_SECRET_LEN {
            return Err(refuse(
                format!(
                    "warrant://{name} is shorter than {MIN_SECRET_LEN} bytes, too short to redact reliably"
                ),
                None,
            ));
        }
        by_name.insert(name, value);
    }
    let mut builder = RedactorBuilder::new();
    for (name, value) in &by_name {
        builder.add(name.as_str(), value.expose_secret());
    }
    let redactor = builder
        .build()
        .map_err(|e| refuse(format!("cannot set up redaction: {e}"), None))?;
    let mut spec = RunSpec {
        program: resolved.into_os_string(),
        args: args.argv[1..].iter().map(OsString::from).collect(),
        env: Vec::new(),
        secret_env: Vec::new(),
        secret_files: Vec::new(),
        redactor,
        terminal: TerminalMode::Never,
    };
    for (var, planned) in plan.vars() {
        match &planned.delivery {
            Delivery::Plain(value) => spec.env.push((var.clone(), value.clone())),
            Delivery::Value(reference) | Delivery::File(reference) => {
                let var = var.to_string_lossy().into_owned();
                spec.secret_env
                    .push((var, by_name[reference.name()].duplicate()));
            }
        }
    }
    drop(by_name);

    let io = |e: std::io::Error| refuse(format!("cannot set up the command's streams: {e}"), None);
    let (stdin_r, stdin_w) = pipe().map_err(io)?;
    let (out_r, out_w) = pipe().map_err(io)?;
    let (err_r, err_w) = pipe().map_err(io)?;
    let feeder = std::thread::spawn(move || {
        // A command that does not read its stdin must not block this.
        let mut writer = std::fs::File::from(stdin_w);
        let _ = writer.write_all(stdin.as_bytes());
    });
    let out = capture(out_r);
    let err = capture(err_r);
    let streams = Streams {
        stdin: Some(stdin_r),
        stdout: Some(out_w),
        stderr: Some(err_w),
        new_process_group: true,
        cwd,
    };

    if let Err(e) = warrant_sandbox::terminate::set_child_subreaper() {
        eprintln!("warrant mcp: warning: cannot keep the command's orphans under the server: {e}");
    }
    // Ends what the command left as soon as it ends (on its own, or because
    // the daemon ended it at the grant's revocation or expiry), and
    // everything at the timeout: `setsid` survivors included.
    let watch = contain::Watch::start(KILL_GRACE, Some(timeout));
    let session = std::cell::RefCell::new(Some(session));
    let mut on_spawn = |child: u32| {
        watch.spawned(child);
        if let Some(s) = session.borrow_mut().as_mut() {
            let _ = s.spawned(child);
        }
    };
    let outcome = warrant_exec::run_with_streams(spec, streams, &mut on_spawn);
    let timed_out = watch.timed_out();
    watch.finish();
    let _ = feeder.join();
    let outcome =
        outcome.map_err(|e| refuse(e.to_string(), Some("check the program and its arguments")))?;
    let (stdout, stdout_cut) = out.join().unwrap_or_default();
    let (stderr, stderr_cut) = err.join().unwrap_or_default();
    let (exit_code, signal) = match outcome.status {
        ChildStatus::Exited(code) => (Some(code), None),
        ChildStatus::Signaled(signal) => (None, Some(signal)),
    };
    if let Some(session) = session.into_inner() {
        let _ = session.finished(RunResult {
            exit_code,
            signal,
            redactions_by: outcome.redactions.clone(),
        });
    }
    let truncated = stdout_cut || stderr_cut;
    let mut result = json!({
        "exit_code": outcome.exit_code(),
        "stdout": text(&stdout, stdout_cut),
        "stderr": text(&stderr, stderr_cut),
        "truncated": truncated,
        "timed_out": timed_out,
    });
    if let Some(signal) = signal {
        result["signal"] = json!(signal);
    }
    Ok(result)
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(Into::into)
}

/// Reads a stream to its end, keeping the first [`OUTPUT_CAP`] bytes.
fn capture(source: OwnedFd) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut reader = std::fs::File::from(source);
        let mut kept = Vec::new();
        let mut cut = false;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    cut |= n > room;
                }
            }
        }
        (kept, cut)
    })
}

/// Output as text for the model, with a note where it was cut.
fn text(bytes: &[u8], cut: bool) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if cut {
        text.push_str(&format!(
            "\n[warrant: output truncated at {} KiB; redirect it to a file and read the part you need]",
            OUTPUT_CAP / 1024
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_variables_are_shell_names() {
        assert_eq!(default_var("db/dev/url"), "DB_DEV_URL");
        assert_eq!(default_var("github/token-2"), "GITHUB_TOKEN_2");
    }

    #[test]
    fn cut_output_says_so() {
        assert!(text(b"abc", true).contains("truncated"));
        assert_eq!(text(b"abc", false), "abc");
    }
}
