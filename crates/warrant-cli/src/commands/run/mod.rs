//! `warrant run -- CMD`: resolve references, inject the values into one
//! child, redact everything it prints, audit the run.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

use anyhow::{Context as _, Result, anyhow, bail};
use warrant_audit::{AuditLog, Event};
use warrant_env::{Delivery, EnvPlan};
use warrant_exec::{ChildStatus, RunSpec, TerminalMode};
use warrant_redact::{MIN_SECRET_LEN, RedactorBuilder};
use warrant_secret::{SecretName, SecretValue};
use warrant_store::SecretStore;
use zeroize::Zeroizing;

use super::Context;

mod egress;
mod granted;
mod proxied;
use crate::args::RunArgs;
use crate::unlock;

/// Exit status when warrant fails before the command runs (as `env` and
/// container runtimes do), so callers can tell it from the command's own.
pub(super) const EXIT_WARRANT_FAILED: u8 = 125;

pub fn run(ctx: &Context, args: RunArgs) -> Result<u8> {
    let plan = build_plan(&args)?;
    if args.proxy {
        return match &args.grant {
            Some(grant) => egress::run(ctx, &args, plan, grant),
            None => proxied::run(ctx, &args, plan),
        };
    }
    if let Some(grant) = &args.grant {
        return granted::run(ctx, &args, plan, grant);
    }
    // Fail closed: a run that could not be recorded does not start.
    let log = AuditLog::new(&ctx.home);
    log.check_appendable().with_context(|| {
        format!(
            "the audit log {} cannot take a record",
            log.path().display()
        )
    })?;
    let values = resolve(ctx, &plan, args.insecure_allow_short_values)?;

    let (program, _) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no command given"))?;
    let command = command_name(program);
    let Prepared {
        spec,
        env_secrets,
        file_secrets,
    } = prepare(&args, &plan, values, program.clone())?;
    let outcome = warrant_exec::run(spec)?;
    let (exit_code, signal) = match outcome.status {
        ChildStatus::Exited(code) => (Some(code), None),
        ChildStatus::Signaled(signal) => (None, Some(signal)),
    };
    let audited = ctx.audit(Event::Run {
        command,
        child_pid: Some(outcome.pid),
        env_secrets,
        file_secrets,
        exit_code,
        signal,
        redactions: outcome.total_redactions(),
        redactions_by: outcome.redactions.clone(),
        grant: None,
        actor: None,
    });
    if let Err(error) = audited {
        // The run happened; say loudly that it went unrecorded, but keep the
        // command's exit status so callers still see its result.
        eprintln!("warrant: error: this run was not recorded: {error:#}");
    }
    Ok(u8::try_from(outcome.exit_code() & 0xff).unwrap_or(EXIT_WARRANT_FAILED))
}

/// A run ready to start, and what the audit log says of it.
pub(super) struct Prepared {
    pub spec: RunSpec,
    pub env_secrets: Vec<String>,
    pub file_secrets: Vec<String>,
}

/// Builds the child's spec from the plan and the resolved values (which
/// the spec then holds the only copies of). `program` is what to execute.
pub(super) fn prepare(
    args: &RunArgs,
    plan: &EnvPlan,
    values: BTreeMap<SecretName, SecretValue>,
    program: OsString,
) -> Result<Prepared> {
    let mut builder = RedactorBuilder::new();
    for (name, value) in &values {
        builder.add(name.as_str(), value.expose_secret());
    }
    let redactor = builder.build().context("cannot set up redaction")?;
    let mut spec = RunSpec {
        program,
        args: args.command[1..].to_vec(),
        env: Vec::new(),
        secret_env: Vec::new(),
        secret_files: Vec::new(),
        redactor,
        terminal: if args.no_tty {
            TerminalMode::Never
        } else {
            TerminalMode::Auto
        },
    };
    let (mut env_secrets, mut file_secrets) = (Vec::new(), Vec::new());
    for (var, planned) in plan.vars() {
        match &planned.delivery {
            Delivery::Plain(value) => spec.env.push((var.clone(), value.clone())),
            Delivery::Value(reference) => {
                spec.secret_env
                    .push((var_name(var)?, values[reference.name()].duplicate()));
                env_secrets.push(reference.name().to_string());
            }
            Delivery::File(reference) => {
                spec.secret_files
                    .push((var_name(var)?, values[reference.name()].duplicate()));
                file_secrets.push(reference.name().to_string());
            }
        }
    }
    // The spec holds the only copies from here on; the runner wipes them.
    drop(values);
    env_secrets.sort();
    env_secrets.dedup();
    file_secrets.sort();
    file_secrets.dedup();
    Ok(Prepared {
        spec,
        env_secrets,
        file_secrets,
    })
}

/// Refuses values too short to redact, unless the user accepted that.
pub(super) fn check_length(
    name: &SecretName,
    value: &SecretValue,
    allow_short: bool,
) -> Result<()> {
    if value.len() < MIN_SECRET_LEN && !allow_short {
        bail!(
            "warrant://{name} is shorter than {MIN_SECRET_LEN} bytes, too short to redact reliably; \
             store a longer value, or pass --insecure-allow-short-values to inject it anyway \
             (it may then appear in the output)"
        );
    }
    Ok(())
}

/// The exit status for an error that stopped the command from running.
pub fn failure_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<warrant_exec::Error>() {
        Some(warrant_exec::Error::NotFound { .. }) => 127,
        Some(warrant_exec::Error::Exec { .. }) => 126,
        _ => EXIT_WARRANT_FAILED,
    }
}

fn build_plan(args: &RunArgs) -> Result<EnvPlan> {
    // Without warrant's own settings (`warrant_env::PRIVATE_VARS`).
    let mut plan = EnvPlan::inherit(std::env::vars_os())?;
    for file in &args.env_files {
        let bytes = Zeroizing::new(
            std::fs::read(file)
                .with_context(|| format!("cannot read env file {}", file.display()))?,
        );
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            anyhow!(
                "env file {} is not UTF-8 text (byte {})",
                file.display(),
                e.valid_up_to()
            )
        })?;
        let entries = warrant_env::parse(text)
            .with_context(|| format!("cannot parse env file {}", file.display()))?;
        plan.add_env_file(&file.display().to_string(), &entries)?;
    }
    for spec in &args.env {
        plan.add_flag(spec, false)?;
    }
    for spec in &args.files {
        plan.add_flag(spec, true)?;
    }
    Ok(plan)
}

/// Reads every referenced value, or fails naming the first problem, before
/// anything runs.
fn resolve(
    ctx: &Context,
    plan: &EnvPlan,
    allow_short: bool,
) -> Result<BTreeMap<SecretName, SecretValue>> {
    let names = plan.secret_names();
    let mut values = BTreeMap::new();
    if names.is_empty() {
        return Ok(values);
    }
    let store = unlock::open_all(ctx)?;
    for name in names {
        let users: Vec<String> = plan
            .vars()
            .filter(|(_, p)| matches!(&p.delivery, Delivery::Value(r) | Delivery::File(r) if r.name() == &name))
            .map(|(var, p)| format!("{} from {}", var.to_string_lossy(), p.origin))
            .collect();
        let value = store.get(&name).with_context(|| {
            format!(
                "cannot resolve warrant://{name} (used by {})",
                users.join(", ")
            )
        })?;
        check_length(&name, &value, allow_short)?;
        values.insert(name, value);
    }
    Ok(values)
}

/// The program's file name: what the audit records of the command (its
/// arguments are not recorded, since they are not ours to keep).
pub(super) fn command_name(program: &OsStr) -> String {
    std::path::Path::new(program)
        .file_name()
        .unwrap_or(program)
        .to_string_lossy()
        .into_owned()
}

pub(super) fn var_name(var: &OsString) -> Result<String> {
    var.to_str().map(str::to_owned).ok_or_else(|| {
        anyhow!(
            "variable {} is not UTF-8 and cannot hold a reference",
            var.to_string_lossy()
        )
    })
}
