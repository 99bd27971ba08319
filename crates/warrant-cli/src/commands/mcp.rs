//! `warrant mcp`: the MCP server on stdio, and `warrant mcp install`.

use anyhow::{Context as _, Result};
use warrant_mcp::install::{self, ClientKind, Dirs, Entry, Scope};

use super::{Context, print_json};
use crate::args::{McpArgs, McpCommand, McpInstallArgs};

pub fn run(ctx: &Context, args: McpArgs) -> Result<u8> {
    match args.command {
        Some(McpCommand::Install(install)) => install_entry(ctx, install),
        None => {
            warrant_mcp::serve_stdio(warrant_mcp::Config {
                home: ctx.home.clone(),
                actor: args.actor,
            })?;
            Ok(0)
        }
    }
}

fn install_entry(ctx: &Context, args: McpInstallArgs) -> Result<u8> {
    let client: ClientKind = args.client.parse()?;
    let scope: Scope = args.scope.parse()?;
    let project = std::env::current_dir().context("cannot read the current directory")?;
    let dirs = Dirs::from_env(project)?;
    let path = install::config_path(client, scope, &dirs)?;
    // The home goes into the entry only when it is not the one warrant
    // finds by itself.
    let default_home = crate::home::resolve(None).ok();
    let entry = Entry {
        command: "warrant".into(),
        actor: args.actor,
        home: (default_home.as_deref() != Some(ctx.home.as_path())).then(|| ctx.home.clone()),
    };
    let plan = install::plan(client, &path, &entry)?;
    if args.dry_run {
        if args.json {
            print_json(&serde_json::json!({
                "path": plan.path, "changed": plan.changed, "diff": install::diff(&plan),
            }))?;
        } else if plan.changed {
            print!("{}", install::diff(&plan));
        } else {
            println!("{} is already up to date", plan.path.display());
        }
        return Ok(0);
    }
    let backup = install::apply(&plan)?;
    if args.json {
        print_json(&serde_json::json!({
            "path": plan.path, "changed": plan.changed, "backup": backup,
        }))?;
    } else if plan.changed {
        println!("added warrant to {}", plan.path.display());
        if let Some(backup) = backup {
            println!("the previous file is in {}", backup.display());
        }
        if let Some(note) = client.note(scope) {
            println!("{note}");
        }
    } else {
        println!(
            "{} already has warrant's entry; nothing changed",
            plan.path.display()
        );
    }
    Ok(0)
}
