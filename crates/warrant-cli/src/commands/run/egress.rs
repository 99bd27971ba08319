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

use anyhow::{Context as _, Result, anyhow, bail};
use warrant_broker::protocol::EgressRequest;
use warrant_env::EnvPlan;
use warrant_redact::RedactorBuilder;

use super::EXIT_WARRANT_FAILED;
use super::proxied::placeholder_spec;
use crate::args::RunArgs;
use crate::commands::Context;
use crate::commands::proxy::{Egress, child_env};

pub fn run(ctx: &Context, args: &RunArgs, plan: EnvPlan, grant: &str) -> Result<u8> {
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
    let Egress {
        reply,
        session,
        bundle,
        dir,
    } = Egress::open(ctx, request)?;
    // This process holds no value: nothing of its own to redact (the
    // daemon redacts every response).
    let redactor = RedactorBuilder::new()
        .build()
        .context("cannot set up redaction")?;
    let mut spec = placeholder_spec(args, &plan, redactor, |name| {
        reply
            .placeholders
            .iter()
            .find(|(n, _)| n == name.as_str())
            .map(|(_, p)| p.clone())
            .ok_or_else(|| anyhow!("the daemon gave no placeholder for warrant://{name}"))
    })?;
    for (var, value) in child_env(&reply.proxy, &bundle) {
        spec.env.push((var.into(), value.into()));
    }

    let outcome = warrant_exec::run(spec);
    session.close();
    drop(dir);
    let outcome = outcome?;
    Ok(u8::try_from(outcome.exit_code() & 0xff).unwrap_or(EXIT_WARRANT_FAILED))
}
