//! `warrant hook install` / `uninstall`: warrant's git pre-commit hook in
//! this repository, or `warrant guard` in an agent client's hooks.
//!
//! Which warrant the hooks run: the git hook and user-scope client hooks
//! name this binary by its absolute path (a GUI client may not have the
//! shell's `PATH`, and an older `warrant` there may lack the commands), the
//! git hook falling back to `warrant` on `PATH` if the binary moves.
//! Project-scope files are shared, so they say `warrant`.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use warrant_mcp::hooks::Client;
use warrant_mcp::hooks::install::{self, Change, Existing};
use warrant_mcp::install::{Dirs, Scope};

use super::{Context, print_json};
use crate::args::{HookCommand, HookInstallArgs, HookUninstallArgs};

pub fn run(ctx: &Context, command: HookCommand) -> Result<u8> {
    match command {
        HookCommand::Install(args) => install_hooks(ctx, args),
        HookCommand::Uninstall(args) => uninstall_hooks(args),
    }
}

fn install_hooks(ctx: &Context, args: HookInstallArgs) -> Result<u8> {
    let existing = match (args.force, args.chain) {
        (true, _) => Existing::Replace,
        (false, true) => Existing::Chain,
        (false, false) => Existing::Refuse,
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let exe = std::env::current_exe().context("cannot find warrant's own binary")?;
    let mut extra = home_args(ctx);
    let (changes, note) = match client(args.client.as_deref())? {
        None => {
            if args.project || args.fail_closed {
                bail!(
                    "--project and --fail-closed go with --client; the git hook is per repository"
                );
            }
            let dir = install::git_hooks_dir(&cwd)?;
            let script = install::pre_commit_script(Some(&exe), &extra);
            (install::git_install(&dir, &script, existing)?, None)
        }
        Some(client) => {
            if args.chain {
                bail!(
                    "--chain applies to the git pre-commit hook; use --force to replace a client's hook file"
                );
            }
            if args.fail_closed {
                extra.push("--fail-closed".into());
            }
            let scope = scope(args.project);
            let program = match scope {
                Scope::User => exe.to_string_lossy().into_owned(),
                Scope::Project => "warrant".to_owned(),
            };
            let path = install::config_path(client, scope, &Dirs::from_env(cwd)?);
            let command = install::guard_command(&program, client, &extra);
            let changes = install::client_install(client, &path, &command, existing)?;
            (changes, install::note(client))
        }
    };
    finish(&changes, args.dry_run, args.json, "installed", note)
}

fn uninstall_hooks(args: HookUninstallArgs) -> Result<u8> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let changes = match client(args.client.as_deref())? {
        None => install::git_uninstall(&install::git_hooks_dir(&cwd)?)?,
        Some(client) => {
            let path = install::config_path(client, scope(args.project), &Dirs::from_env(cwd)?);
            install::client_uninstall(client, &path)?
        }
    };
    finish(&changes, args.dry_run, args.json, "removed", None)
}

fn client(name: Option<&str>) -> Result<Option<Client>> {
    Ok(name.map(str::parse).transpose()?)
}

fn scope(project: bool) -> Scope {
    if project { Scope::Project } else { Scope::User }
}

/// `--home DIR` when warrant's home is not the one it finds by itself, so
/// that the hooks look at the same store, and `--passphrase-file` when one
/// was given (without it a passphrase store's values are not checked: a
/// hook never prompts).
fn home_args(ctx: &Context) -> Vec<String> {
    let mut args = Vec::new();
    if crate::home::resolve(None).ok().as_deref() != Some(ctx.home.as_path()) {
        args.extend(["--home".into(), ctx.home.to_string_lossy().into_owned()]);
    }
    if let Some(file) = &ctx.passphrase_file {
        args.extend([
            "--passphrase-file".into(),
            file.to_string_lossy().into_owned(),
        ]);
    }
    args
}

/// Prints (`--dry-run`) or applies the changes and says what happened.
fn finish(
    changes: &[Change],
    dry_run: bool,
    json: bool,
    done: &str,
    note: Option<&str>,
) -> Result<u8> {
    let mut report = Vec::new();
    for change in changes {
        let backup: Option<PathBuf> = if dry_run {
            None
        } else {
            install::apply(change)
                .with_context(|| format!("cannot update {}", change.path().display()))?
        };
        report.push((change, backup));
    }
    if json {
        let items: Vec<_> = report
            .iter()
            .map(|(c, backup)| {
                serde_json::json!({
                    "path": c.path(),
                    "changed": c.changed(),
                    "backup": backup,
                    "diff": dry_run.then(|| install::diff(c)),
                })
            })
            .collect();
        print_json(&serde_json::json!({ "dry_run": dry_run, "changes": items }))?;
        return Ok(0);
    }
    if report.is_empty() {
        println!(
            "nothing to {}",
            if done == "removed" {
                "remove"
            } else {
                "install"
            }
        );
    }
    for (change, backup) in &report {
        let path = change.path().display();
        match (dry_run, change.changed()) {
            (_, false) => println!("{path} is already up to date; nothing changed"),
            (true, true) => print!("{}", install::diff(change)),
            (false, true) => {
                println!("{done} warrant's hook in {path}");
                if let Some(backup) = backup {
                    println!("the previous file is kept as {}", backup.display());
                }
            }
        }
    }
    if let (false, Some(note)) = (dry_run, note) {
        if report.iter().any(|(c, _)| c.changed()) {
            println!("{note}");
        }
    }
    Ok(0)
}
