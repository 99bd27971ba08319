//! `warrant request | grants | approve | deny | revoke`: a grant's life.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use warrant_broker::Client;
use warrant_broker::protocol::{GrantRequest, GrantView};

use super::{Context, print_json};
use crate::args::{ApproveArgs, DenyArgs, GrantsArgs, RequestArgs, RevokeArgs};
use crate::prompt::Answers;

/// Parses `15m`, `1h30m`, `90s` into milliseconds.
pub fn parse_ttl(text: &str) -> Result<u64> {
    let duration = humantime::parse_duration(text)
        .with_context(|| format!("cannot read duration {text:?}; write it like 15m, 1h or 90s"))?;
    if duration.is_zero() {
        bail!("a duration of zero grants nothing; write it like 15m");
    }
    Ok(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

fn connect(ctx: &Context) -> Result<Client> {
    Ok(Client::connect(&ctx.home)?)
}

pub fn request(ctx: &Context, args: RequestArgs) -> Result<u8> {
    let ttl_ms = parse_ttl(&args.ttl)?;
    let mut client = connect(ctx)?;
    let mut grant = client.request(GrantRequest {
        secrets: args.secrets,
        reason: args.reason,
        ttl_ms,
        commands: args.commands,
        hosts: args.hosts,
        actor: args.actor,
    })?;
    if args.wait && grant.status == "pending" {
        if !args.json {
            eprintln!(
                "warrant: waiting for approval of {} (an approver runs `warrant approve {}`)",
                grant.id, grant.id
            );
        }
        while grant.status == "pending" {
            std::thread::sleep(Duration::from_millis(300));
            grant = client.show(&grant.id)?;
        }
    }
    if args.json {
        print_json(&grant)?;
    } else {
        println!("{} {}", grant.id, grant.status);
        if grant.status == "pending" {
            eprintln!(
                "warrant: {} waits for approval: an approver runs `warrant approve {}`",
                grant.id, grant.id
            );
        } else if grant.status == "active" {
            eprintln!(
                "warrant: use it with `warrant run --grant {} --env VAR=warrant://{} -- COMMAND`",
                grant.id, grant.secrets[0]
            );
        }
    }
    Ok(match grant.status.as_str() {
        "active" | "pending" => 0,
        _ => 3,
    })
}

pub fn list(ctx: &Context, args: GrantsArgs) -> Result<u8> {
    let grants = connect(ctx)?.grants(args.all)?;
    if args.json {
        print_json(&grants)?;
        return Ok(0);
    }
    if grants.is_empty() {
        println!(
            "no {}grants",
            if args.all { "" } else { "pending or active " }
        );
        return Ok(0);
    }
    let rows: Vec<[String; 7]> = grants.iter().map(row).collect();
    let header = ["ID", "STATUS", "ACTOR", "LEFT", "USES", "SECRETS", "REASON"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 6 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(0)
}

fn row(g: &GrantView) -> [String; 7] {
    let left = if g.status == "active" || g.status == "pending" {
        humantime::format_duration(Duration::from_secs(g.remaining_secs)).to_string()
    } else {
        "-".into()
    };
    let uses = match g.max_uses {
        Some(max) => format!("{}/{max}", g.uses),
        None => g.uses.to_string(),
    };
    [
        g.id.clone(),
        g.status.clone(),
        g.actor.clone(),
        left,
        uses,
        g.secrets.join(","),
        printable(&g.reason),
    ]
}

/// Text from other processes, made safe for a terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What an approver is shown before being asked for the passphrase.
fn describe(g: &GrantView) -> String {
    let commands = if g.commands.is_empty() {
        "any command".to_owned()
    } else {
        g.commands
            .iter()
            .map(|s| s.join(" | "))
            .collect::<Vec<_>>()
            .join("; and ")
    };
    format!(
        "grant {} for {}{}\n  secrets:  {}\n  commands: {commands}\n  hosts:    {}\n  for:      {}{}\n  reason:   {}",
        g.id,
        g.actor,
        g.task
            .as_ref()
            .map(|t| format!(" (task {t})"))
            .unwrap_or_default(),
        g.secrets.join(", "),
        if g.hosts.is_empty() {
            "none".to_owned()
        } else {
            g.hosts.join(", ")
        },
        humantime::format_duration(Duration::from_secs(g.ttl_secs)),
        g.max_uses
            .map(|m| format!(", at most {m} uses"))
            .unwrap_or_default(),
        printable(&g.reason),
    )
}

pub fn approve(ctx: &Context, args: ApproveArgs) -> Result<u8> {
    let ttl_ms = args.ttl.as_deref().map(parse_ttl).transpose()?;
    let mut client = connect(ctx)?;
    let grant = client.show(&args.id)?;
    if grant.status != "pending" {
        bail!("grant {} is {}, not pending", grant.id, grant.status);
    }
    eprintln!("{}", describe(&grant));
    // The daemon refuses it anyway; say so before asking for a passphrase.
    if grant.hardware_key {
        let body = warrant_broker::protocol::ErrorBody::new(
            warrant_broker::protocol::ErrorCode::HardwareKeyRequired,
            format!(
                "grant {} needs a security key: its policy rule says approval = \"hardware_key\"",
                grant.id
            ),
            Some(warrant_broker::HARDWARE_KEY_HINT.into()),
        );
        return Err(warrant_broker::Error::Daemon(body).into());
    }
    let passphrase = Answers::new()?.secret("Approver passphrase")?;
    let grant = client.approve(&args.id, ttl_ms, args.uses, &passphrase)?;
    drop(passphrase);
    if args.json {
        print_json(&grant)?;
    } else {
        println!(
            "{} active for {}",
            grant.id,
            humantime::format_duration(Duration::from_secs(grant.remaining_secs))
        );
    }
    Ok(0)
}

pub fn deny(ctx: &Context, args: DenyArgs) -> Result<u8> {
    let grant = connect(ctx)?.deny(&args.id, args.reason)?;
    finish(&grant, args.json)
}

pub fn revoke(ctx: &Context, args: RevokeArgs) -> Result<u8> {
    let grant = connect(ctx)?.revoke(&args.id, args.reason)?;
    finish(&grant, args.json)
}

fn finish(grant: &GrantView, json: bool) -> Result<u8> {
    if json {
        print_json(grant)?;
    } else {
        println!("{} {}", grant.id, grant.status);
    }
    Ok(0)
}
