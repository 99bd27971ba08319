//! `warrant secret set|ls|rm|import`. No command here ever prints a value.

use anyhow::{Context as _, Result};
use warrant_audit::Event;
use warrant_redact::MIN_SECRET_LEN;
use warrant_secret::SecretName;
use warrant_store::SecretStore;

use super::{Context, import, print_json};
use crate::args::{ListArgs, RemoveArgs, SecretCommand, SetArgs};
use crate::{prompt, unlock};

pub fn run(ctx: &Context, command: SecretCommand) -> Result<u8> {
    match command {
        SecretCommand::Set(args) => set(ctx, args),
        SecretCommand::Ls(args) => list(ctx, args),
        SecretCommand::Rm(args) => remove(ctx, args),
        SecretCommand::Import(args) => import::run(ctx, args),
    }
}

/// Validates a name given on the command line.
pub fn parse_name(text: &str) -> Result<SecretName> {
    SecretName::new(text).with_context(|| "invalid secret name")
}

fn set(ctx: &Context, args: SetArgs) -> Result<u8> {
    let name = parse_name(&args.name)?;
    // Open (and unlock) first, so a wrong passphrase costs no typing.
    let store = unlock::open_all(ctx)?;
    let value = prompt::read_value(name.as_str(), args.keep_newline)?;
    if value.len() < MIN_SECRET_LEN {
        eprintln!(
            "warrant: warning: {name} is shorter than {MIN_SECRET_LEN} bytes and cannot be redacted \
             reliably; `warrant run` refuses to inject it without --insecure-allow-short-values"
        );
    }
    store
        .set(&name, &value, args.description.as_deref())
        .with_context(|| format!("cannot store {name}"))?;
    drop(value);
    ctx.audit(Event::SecretSet {
        name: name.to_string(),
    })?;
    eprintln!("Stored {name}. Use it as warrant://{name}");
    Ok(0)
}

fn list(ctx: &Context, args: ListArgs) -> Result<u8> {
    let secrets = unlock::open_metadata(ctx)?.list()?;
    if args.json {
        print_json(&secrets)?;
        return Ok(0);
    }
    if secrets.is_empty() {
        eprintln!("No secrets yet. Add one with: printf %s \"$VALUE\" | warrant secret set NAME");
        return Ok(0);
    }
    let width = secrets
        .iter()
        .map(|s| s.name.as_str().len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:width$}  {:20}  DESCRIPTION", "NAME", "UPDATED");
    for secret in &secrets {
        let updated: String = secret.updated.chars().take(19).collect();
        println!(
            "{:width$}  {:20}  {}",
            secret.name.as_str(),
            updated.replace('T', " "),
            secret.description.as_deref().unwrap_or("")
        );
    }
    Ok(0)
}

fn remove(ctx: &Context, args: RemoveArgs) -> Result<u8> {
    let name = parse_name(&args.name)?;
    let store = unlock::open_all(ctx)?;
    store
        .remove(&name)
        .with_context(|| format!("cannot remove {name}"))?;
    ctx.audit(Event::SecretRemoved {
        name: name.to_string(),
    })?;
    eprintln!("Removed {name}.");
    Ok(0)
}
