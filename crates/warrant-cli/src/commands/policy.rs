//! `warrant policy check | explain | accept`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use warrant_broker::Client;
use warrant_policy::{Policy, Query, Severity};
use warrant_secret::SecretName;

use super::{Context, print_json};
use crate::args::{JsonArgs, PolicyCheckArgs, PolicyExplainArgs};
use crate::prompt::Answers;
use crate::unlock;

/// `--policy FILE`, else warrant.toml here or in a parent.
fn locate(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let here = std::env::current_dir().context("cannot read the current directory")?;
    Policy::find(&here).with_context(|| {
        format!(
            "no {} in {} or any parent; pass --policy FILE",
            warrant_policy::FILE_NAME,
            here.display()
        )
    })
}

fn load(path: &Path) -> Result<Policy> {
    Ok(Policy::load(path)?)
}

pub fn check(ctx: &Context, args: PolicyCheckArgs) -> Result<u8> {
    let path = locate(args.policy)?;
    let policy = load(&path)?;
    // Names come from the store's metadata, which needs no key.
    let known: Option<Vec<SecretName>> = unlock::open_metadata(ctx)
        .ok()
        .and_then(|store| warrant_store::SecretStore::list(&store).ok())
        .map(|metas| metas.into_iter().map(|m| m.name).collect());
    let findings = policy.check(known.as_deref());
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if args.json {
        print_json(&serde_json::json!({
            "path": path,
            "hash": policy.hash(),
            "findings": findings,
            "store_checked": known.is_some(),
        }))?;
    } else {
        for f in &findings {
            println!(
                "{}:{}: {}: {}",
                path.display(),
                f.line,
                f.severity,
                f.message
            );
        }
        println!(
            "{}: {} rule(s), {} actor(s); {} error(s), {} warning(s){}",
            path.display(),
            policy.rules().len(),
            policy.actors().count(),
            errors,
            findings.len() - errors,
            if known.is_none() {
                " (secret names not checked: no store here)"
            } else {
                ""
            }
        );
    }
    Ok(if errors > 0 { 1 } else { 0 })
}

pub fn explain(args: PolicyExplainArgs) -> Result<u8> {
    let path = locate(args.policy)?;
    let policy = load(&path)?;
    let secret = SecretName::new(&args.secret)?;
    let explanation = policy.explain(&Query {
        actor: &args.actor,
        secret: &secret,
        command: args.command.as_deref(),
        host: args.host.as_deref(),
    });
    if args.json {
        print_json(&explanation)?;
    } else {
        println!(
            "{}: {}",
            if explanation.allowed {
                "ALLOWED"
            } else {
                "DENIED"
            },
            explanation.reason
        );
        for step in &explanation.steps {
            println!(
                "  rule at line {}: {} {}",
                step.line,
                if step.matched {
                    "matches:"
                } else {
                    "does not match:"
                },
                step.why
            );
        }
    }
    Ok(if explanation.allowed { 0 } else { 3 })
}

pub fn accept(ctx: &Context, args: JsonArgs) -> Result<u8> {
    let mut client = Client::connect(&ctx.home)?;
    let status = client.status()?;
    let Some(policy) = status.policy else {
        bail!("the daemon has no policy to accept");
    };
    eprintln!("policy {} (sha256 {})", policy.path, policy.hash);
    let passphrase = Answers::new()?.secret("Approver passphrase")?;
    let view = client.policy_accept(&passphrase)?;
    if args.json {
        print_json(&view)?;
    } else {
        println!("accepted {} (sha256 {})", view.path, view.hash);
    }
    Ok(0)
}
