//! `warrant status`: is the daemon up, and what does it hold.

use anyhow::Result;
use warrant_broker::{Client, Error};
use warrant_sandbox::contain;

use super::{Context, print_json};
use crate::args::JsonArgs;

pub fn run(ctx: &Context, args: JsonArgs) -> Result<u8> {
    // A daemon that does not answer within a few seconds is not up.
    let answer = Client::connect(&ctx.home).and_then(|mut c| {
        c.set_timeout(std::time::Duration::from_secs(3))?;
        c.status()
    });
    let status = match answer {
        Ok(status) => status,
        Err(error @ (Error::NotRunning { .. } | Error::Io { .. })) if args.json => {
            print_json(&serde_json::json!({
                "running": false,
                "error": error.to_string(),
                "containment": containment_json(),
            }))?;
            return Ok(1);
        }
        Err(error) => return Err(error.into()),
    };
    if args.json {
        let mut value = serde_json::to_value(&status)?;
        value["running"] = true.into();
        value["containment"] = containment_json();
        print_json(&value)?;
        return Ok(0);
    }
    println!(
        "warrant daemon: running (pid {}, since {})",
        status.pid, status.started
    );
    println!("home:      {}", status.home);
    match &status.policy {
        Some(p) if p.error.is_some() => println!(
            "policy:    {} (UNUSABLE: {})",
            p.path,
            p.error.as_deref().unwrap_or_default()
        ),
        Some(p) => println!(
            "policy:    {} (sha256 {}…, {})",
            p.path,
            &p.hash[..12.min(p.hash.len())],
            if p.accepted {
                "accepted"
            } else {
                "changed, not accepted: every grant needs approval"
            }
        ),
        None => println!("policy:    none (every request is denied)"),
    }
    println!(
        "grants:    {} active, {} pending",
        status.active, status.pending
    );
    println!(
        "tasks:     {} ({} processes under grants)",
        status.tasks, status.processes
    );
    println!("secrets:   {} in the store", status.secrets);
    println!("containment: {}", contain::probe());
    println!(
        "approver:  {}",
        if status.approver_set {
            "passphrase set"
        } else {
            "not set (run `warrant approver set`)"
        }
    );
    Ok(0)
}

/// How this machine keeps what a task, a grant's command or an MCP command
/// started from outliving it.
fn containment_json() -> serde_json::Value {
    let mechanism = contain::probe();
    serde_json::json!({
        "mechanism": mechanism.name(),
        "supervisor_shielded": mechanism.shielded(),
    })
}
