//! `warrant run --grant ID`: the values come from the daemon, for one
//! grant, and only after it checked the grant's state and scope. The
//! daemon audits the use and the run (this process may not be able to
//! write the audit log: under `warrant task` it cannot even read the home).
//!
//! This process supervises the command: it is a child subreaper, and when
//! the command ends, whatever it left running ends too
//! ([`warrant_sandbox::contain::Watch`]), so a value never outlives its run.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

use anyhow::{Context as _, Result, anyhow, bail};
use warrant_broker::protocol::{RunResult, UseRequest};
use warrant_broker::{Client, UseSession};
use warrant_env::{Delivery, EnvPlan};
use warrant_exec::ChildStatus;
use warrant_sandbox::contain;
use warrant_secret::SecretName;

use super::{EXIT_WARRANT_FAILED, Prepared, check_length, prepare};
use crate::args::RunArgs;
use crate::commands::Context;

/// How long what the command left running has, after `SIGTERM`, before it
/// is killed.
const LEFTOVER_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

pub fn run(ctx: &Context, args: &RunArgs, plan: EnvPlan, grant: &str) -> Result<u8> {
    let (program, _) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no command given"))?;
    let names = plan.secret_names();
    let checking = std::time::Instant::now();
    let mut client = Client::connect(&ctx.home)?;
    if names.is_empty() {
        let view = client.show(grant)?;
        bail!(
            "nothing to inject: name the grant's secrets as references, e.g. --env VAR=warrant://{} \
             (grant {grant} covers: {})",
            view.secrets.first().map_or("NAME", String::as_str),
            view.secrets.join(", ")
        );
    }
    // The scope is checked against the file that will run: resolve it here,
    // exactly as the child's exec will, and execute that path.
    let path_var = plan.plain(OsStr::new("PATH"));
    let resolved = warrant_exec::resolve_program(program, path_var.map(OsString::as_os_str))?;
    let resolved = std::path::absolute(&resolved).unwrap_or(resolved);
    let file_secrets: Vec<String> = plan
        .vars()
        .filter_map(|(_, p)| match &p.delivery {
            Delivery::File(r) => Some(r.name().to_string()),
            _ => None,
        })
        .collect();
    let request = UseRequest {
        grant: grant.to_owned(),
        program: program.to_string_lossy().into_owned(),
        resolved: Some(resolved.to_string_lossy().into_owned()),
        secrets: names.iter().map(ToString::to_string).collect(),
        file_secrets,
    };
    let (session, reply, values) = client.use_grant(request)?;
    if std::env::var_os("WARRANT_TIMING").is_some_and(|v| v == "1") {
        // For benchmarks: what the grant check added before the command.
        eprintln!(
            "warrant: timing: grant check {} us",
            checking.elapsed().as_micros()
        );
    }
    let mut by_name = BTreeMap::new();
    for (name, value) in reply.names.iter().zip(values) {
        let name = SecretName::new(name).context("the daemon sent a bad name")?;
        check_length(&name, &value, args.insecure_allow_short_values)?;
        by_name.insert(name, value);
    }
    if by_name.len() != names.len() {
        bail!(
            "the daemon sent {} values for {} names",
            by_name.len(),
            names.len()
        );
    }
    let Prepared { spec, .. } = prepare(args, &plan, by_name, resolved.into_os_string())?;

    // Nothing the command starts outlives it: orphans come to this process
    // (subreaper), and what is left when the command ends (on its own, or
    // because the daemon ended it at the grant's revocation or expiry) is
    // ended at once, `setsid` survivors included.
    if let Err(e) = warrant_sandbox::terminate::set_child_subreaper() {
        eprintln!("warrant: warning: cannot keep the command's orphans under this process: {e}");
    }
    let watch = contain::Watch::start(LEFTOVER_GRACE, None);
    let session = RefCell::new(Some(session));
    let mut report_pid = |pid: u32| {
        watch.spawned(pid);
        let mut slot = session.borrow_mut();
        if let Some(s) = slot.as_mut() {
            if let Err(e) = s.spawned(pid) {
                eprintln!("warrant: warning: the daemon did not register pid {pid}: {e}");
            }
        }
    };
    let outcome = warrant_exec::run_with(spec, &mut report_pid);
    watch.finish();
    let outcome = outcome?;
    let (exit_code, signal) = match outcome.status {
        ChildStatus::Exited(code) => (Some(code), None),
        ChildStatus::Signaled(signal) => (None, Some(signal)),
    };
    if let Some(session) = session.into_inner() {
        finish(session, exit_code, signal, outcome.redactions.clone());
    }
    Ok(u8::try_from(outcome.exit_code() & 0xff).unwrap_or(EXIT_WARRANT_FAILED))
}

fn finish(
    session: UseSession,
    exit_code: Option<i32>,
    signal: Option<i32>,
    redactions_by: BTreeMap<String, u64>,
) {
    let result = RunResult {
        exit_code,
        signal,
        redactions_by,
    };
    if let Err(e) = session.finished(result) {
        eprintln!("warrant: error: the daemon did not record the end of this run: {e}");
    }
}
