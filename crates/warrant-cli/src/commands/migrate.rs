//! `warrant migrate`: hard-coded secrets in MCP configuration files move
//! into the store; each server entry then starts through `warrant run`.
//! The work is `warrant_mcp::migrate`'s; this module finds the files, builds
//! the classifier from the scanner, stores the secrets (first) and reports.

use std::cell::OnceCell;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use serde_json::json;
use warrant_audit::Event;
use warrant_mcp::install::Dirs;
use warrant_mcp::migrate::{self, BoxError, Existing, FilePlan, Launcher, Migrator, Source};
use warrant_scan::Scanner;
use warrant_secret::{SecretName, SecretValue};
use warrant_store::{Error as StoreError, KeyKind, LocalStore, SecretStore};
use zeroize::Zeroizing;

use super::scan::{Values, build_scanner};
use super::{Context, print_json};
use crate::args::MigrateArgs;
use crate::unlock;

/// Exit status when migrate could not finish (a file or the store failed).
pub const EXIT_ERROR: u8 = 2;

/// Exit status when some secrets were left in place.
const EXIT_LEFT: u8 = 1;

/// One file's fate.
struct Outcome {
    source: Source,
    plan: Option<FilePlan>,
    backup: Option<PathBuf>,
    written: bool,
    error: Option<String>,
}

pub fn run(ctx: &Context, args: MigrateArgs) -> Result<u8> {
    let sources = sources(&args)?;
    let (scanner, _) = build_scanner(ctx, Scanner::builder(), Values::IfAvailable)?;
    let classify = |key: &str, value: &str| classify(&scanner, key, value);
    let store = LazyStore {
        ctx,
        dry_run: args.dry_run,
        cell: OnceCell::new(),
    };
    // The same choice `warrant mcp install` makes: `warrant` from PATH, and
    // the home only when it is not the one warrant finds by itself.
    let default_home = crate::home::resolve(None).ok();
    let launcher = Launcher {
        command: "warrant".into(),
        home: (default_home.as_deref() != Some(ctx.home.as_path())).then(|| ctx.home.clone()),
    };
    let mut migrator = Migrator::new(&classify, &store, launcher);
    let mut outcomes = Vec::new();
    for source in sources {
        let (plan, error) = match migrator.plan(&source) {
            Ok(Some(plan)) => (Some(plan), None),
            Ok(None) if source.client == "file" => (None, Some("no such file".to_owned())),
            Ok(None) => continue,
            Err(migrate::Error::Store(e)) => {
                return Err(anyhow!(e)).context("cannot check the store for names");
            }
            Err(e) => (None, Some(e.to_string())),
        };
        outcomes.push(Outcome {
            source,
            plan,
            backup: None,
            written: false,
            error,
        });
    }

    if !args.dry_run {
        // The secrets first: a crash after this leaves files that still
        // hold their values, never a reference to a missing secret.
        let secrets = migrator.secrets();
        if !secrets.is_empty() {
            let opened = store.open()?.context("no store to move the secrets into")?;
            opened
                .set_many(secrets, false)
                .context("cannot store the secrets; no configuration file was changed")?;
            for plan in outcomes.iter().filter_map(|o| o.plan.as_ref()) {
                if !plan.stored.is_empty() {
                    ctx.audit(Event::SecretsImported {
                        file: plan.path().display().to_string(),
                        names: plan.stored.iter().map(ToString::to_string).collect(),
                    })?;
                }
            }
        }
        for outcome in &mut outcomes {
            let Some(plan) = outcome.plan.as_ref().filter(|p| p.changed()) else {
                continue;
            };
            match migrate::apply(plan) {
                Ok(backup) => {
                    outcome.backup = backup;
                    outcome.written = true;
                }
                Err(e) => {
                    outcome.error = Some(format!("{e} (its secrets are in the store already)"))
                }
            }
        }
    }

    let failed = outcomes.iter().any(|o| o.error.is_some());
    let left = outcomes
        .iter()
        .filter_map(|o| o.plan.as_ref())
        .any(|p| !p.not_migrated.is_empty());
    let code = if failed {
        EXIT_ERROR
    } else if left {
        EXIT_LEFT
    } else {
        0
    };
    if args.json {
        print_json(&report_json(&outcomes, args.dry_run, code))?;
    } else {
        report_text(ctx, &outcomes, args.dry_run);
    }
    Ok(code)
}

/// The files to migrate: the named ones and, with `--mcp`, every known
/// client file that exists; each once.
fn sources(args: &MigrateArgs) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    if args.mcp {
        let project = std::env::current_dir().context("cannot read the current directory")?;
        let dirs = Dirs::from_env(project)?;
        sources.extend(migrate::known_sources(&dirs));
    }
    sources.extend(args.files.iter().cloned().map(Source::named));
    let mut seen: Vec<PathBuf> = Vec::new();
    sources.retain(|s| {
        let key = std::fs::canonicalize(&s.path).unwrap_or_else(|_| s.path.clone());
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
    Ok(sources)
}

/// The rule of the first finding in `value`, scanned as `key=value` so
/// that rules keyed on the name (`password = ...`) see it.
fn classify(scanner: &Scanner, key: &str, value: &str) -> Option<String> {
    let text = Zeroizing::new(format!("{key}={value}"));
    let start = (key.len() + 1) as u64;
    scanner
        .scan_bytes(text.as_bytes())
        .into_iter()
        .find(|f| f.allowed.is_none() && f.offset >= start)
        .map(|f| f.rule)
}

/// The store, opened on first use (a passphrase is asked for only when a
/// secret was found). In a dry run, a home without a store counts as empty.
struct LazyStore<'c> {
    ctx: &'c Context,
    dry_run: bool,
    cell: OnceCell<Option<LocalStore>>,
}

impl LazyStore<'_> {
    fn open(&self) -> Result<Option<&LocalStore>> {
        if let Some(store) = self.cell.get() {
            return Ok(store.as_ref());
        }
        let store = if self.dry_run && !LocalStore::exists(&self.ctx.home) {
            None
        } else {
            Some(unlock::open(self.ctx)?)
        };
        Ok(self.cell.get_or_init(|| store).as_ref())
    }
}

impl Existing for LazyStore<'_> {
    fn get(&self, name: &SecretName) -> Result<Option<SecretValue>, BoxError> {
        let Some(store) = self.open()? else {
            return Ok(None);
        };
        match store.get(name) {
            Ok(value) => Ok(Some(value)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(Box::new(e)),
        }
    }
}

fn label(source: &Source) -> String {
    match source.scope {
        Some(scope) => format!("{}, {scope}", source.client),
        None => source.client.to_owned(),
    }
}

fn report_text(ctx: &Context, outcomes: &[Outcome], dry_run: bool) {
    let mut moved = 0;
    let mut files_moved = 0;
    for o in outcomes {
        let plan = o.plan.as_ref();
        let servers = plan.map_or(&[][..], |p| &p.servers[..]);
        let left = plan.map_or(&[][..], |p| &p.not_migrated[..]);
        if servers.is_empty() && left.is_empty() && o.error.is_none() {
            continue;
        }
        println!("{} ({})", o.source.path.display(), label(&o.source));
        if let Some(plan) = plan.filter(|p| dry_run && p.changed()) {
            for line in migrate::diff(plan).lines() {
                println!("  {line}");
            }
        }
        for server in servers {
            for s in &server.secrets {
                let kept = if s.stored {
                    ""
                } else {
                    ", already in the store"
                };
                println!(
                    "  {}: {} -> warrant://{} ({}{kept})",
                    server.server, s.field, s.name, s.rule
                );
                if s.in_argv {
                    println!(
                        "    the server still receives it in its argv, as before (visible to ps)"
                    );
                }
            }
            moved += server.secrets.len();
        }
        files_moved += usize::from(!servers.is_empty());
        for n in left {
            println!(
                "  left in place: {} {} ({}): {}",
                n.server, n.field, n.rule, n.reason
            );
            println!("    what to do: {}", n.hint);
        }
        if let Some(backup) = &o.backup {
            println!(
                "  the previous file is in {} (0600): it still holds the values; delete it once the servers work",
                backup.display()
            );
        }
        if let Some(error) = &o.error {
            println!("  error: {error}");
        }
    }
    let checked = outcomes.iter().filter(|o| o.plan.is_some()).count();
    if outcomes.is_empty() {
        println!("No MCP configuration file found; nothing changed.");
    } else if moved == 0 {
        println!("Nothing to migrate in the {checked} file(s) checked; nothing changed.");
    } else if dry_run {
        println!(
            "Dry run: {moved} secret(s) in {files_moved} file(s) would move; nothing was stored or written."
        );
    } else {
        println!(
            "Moved {moved} secret(s) out of {files_moved} file(s). Restart the clients (or reload their servers) to start the servers through warrant."
        );
        if matches!(LocalStore::key_kind(&ctx.home), Ok(KeyKind::Passphrase)) {
            println!(
                "note: the store has a passphrase, which an MCP client cannot type: give these entries WARRANT_PASSPHRASE_FILE (a 0600 file) in their env, or use a key-file store"
            );
        }
    }
}

fn report_json(outcomes: &[Outcome], dry_run: bool, code: u8) -> serde_json::Value {
    let files: Vec<_> = outcomes
        .iter()
        .map(|o| {
            let plan = o.plan.as_ref();
            json!({
                "path": o.source.path,
                "client": o.source.client,
                "scope": o.source.scope,
                "changed": plan.is_some_and(FilePlan::changed),
                "written": o.written,
                "backup": o.backup,
                "diff": plan.filter(|_| dry_run).map(migrate::diff),
                "servers": plan.map(|p| &p.servers),
                "not_migrated": plan.map(|p| &p.not_migrated),
                "stored": plan.map(|p| &p.stored),
                "error": o.error,
            })
        })
        .collect();
    json!({ "dry_run": dry_run, "exit": code, "files": files })
}
