//! `warrant run --proxy --grant ID` (and `warrant run --grant` inside a
//! `warrant task --proxy`): the command goes through the daemon's egress.
//!
//! This process asks the daemon for a session, gets placeholders, the
//! address of a proxy running in the daemon (with its access secret) and
//! warrant's CA certificate, and runs the command with them. No value
//! reaches this process or the command: the daemon substitutes them on the
//! way to each secret's hosts, resolving and connecting itself, and redacts
//! every response. The session ends when the command does, or when the
//! grant ends.

use std::ffi::OsString;

use anyhow::{Context as _, Result, anyhow, bail};
use warrant_broker::Client;
use warrant_broker::protocol::EgressRequest;
use warrant_env::{Delivery, EnvPlan};
use warrant_exec::{RunSpec, TerminalMode};
use warrant_redact::RedactorBuilder;
use warrant_secret::SecretValue;

use super::proxied::is_proxy_var;
use super::{EXIT_WARRANT_FAILED, var_name};
use crate::args::RunArgs;
use crate::commands::Context;
use crate::commands::proxy::child_env;

pub fn run(ctx: &Context, args: &RunArgs, plan: EnvPlan, grant: &str) -> Result<u8> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no command given"))?;
    if !args.hosts.is_empty() {
        bail!(
            "--host is for runs without a grant: a grant's secrets go only to the hosts \
             its policy rule lists"
        );
    }
    if !args.resolve.is_empty() || !args.upstream_ca.is_empty() {
        bail!(
            "--resolve and --upstream-ca cannot be used with a grant: the daemon resolves, \
             connects and checks certificates itself (give it private hosts and CAs with \
             `warrant serve --egress-resolve HOST=ADDR --egress-ca FILE`)"
        );
    }
    let names = plan.secret_names();
    if names.is_empty() {
        bail!(
            "--proxy has nothing to substitute: name the secrets as references, \
             e.g. --env TOKEN=warrant://api/token"
        );
    }
    let request = EgressRequest {
        grant: grant.to_owned(),
        secrets: names.iter().map(ToString::to_string).collect(),
        passthrough: args.passthrough,
        substitute_in_body: args.substitute_in_body,
    };
    let (reply, session) = Client::connect(&ctx.home)?
        .egress(request)
        .with_context(|| format!("cannot use grant {grant} through the daemon's egress"))?;

    // Not under the home: a command under `warrant task` cannot read it.
    let dir = tempfile::Builder::new()
        .prefix("warrant-egress-")
        .tempdir()
        .context("cannot make a directory for the CA bundle")?;
    let bundle = dir.path().join("ca-bundle.pem");
    warrant_proxy::bundle::write(&reply.ca_pem, &bundle)
        .with_context(|| format!("cannot write the CA bundle {}", bundle.display()))?;
    let placeholder = |name: &str| {
        reply
            .placeholders
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| anyhow!("the daemon gave no placeholder for warrant://{name}"))
    };

    // This process holds no value: nothing of its own to redact (the
    // daemon redacts every response).
    let redactor = RedactorBuilder::new()
        .build()
        .context("cannot set up redaction")?;
    let mut spec = RunSpec {
        program: program.clone(),
        args: rest.to_vec(),
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
    for (var, planned) in plan.vars() {
        match &planned.delivery {
            // Set below, to the egress's.
            Delivery::Plain(_) if is_proxy_var(var) => {}
            Delivery::Plain(value) => spec.env.push((var.clone(), value.clone())),
            Delivery::Value(reference) => spec.env.push((
                var.clone(),
                OsString::from(placeholder(reference.name().as_str())?),
            )),
            // The file holds the placeholder: nothing secret, but the tool
            // reads it where it would read the value.
            Delivery::File(reference) => spec.secret_files.push((
                var_name(var)?,
                SecretValue::from(placeholder(reference.name().as_str())?.into_bytes()),
            )),
        }
    }
    for (var, value) in child_env(&reply.proxy, &bundle) {
        spec.env.push((var.into(), value.into()));
    }

    let outcome = warrant_exec::run(spec);
    session.close();
    drop(dir);
    let outcome = outcome?;
    Ok(u8::try_from(outcome.exit_code() & 0xff).unwrap_or(EXIT_WARRANT_FAILED))
}
