//! `warrant scan`: find secrets in files, git changes and agent configuration.

mod progress;
mod values;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use warrant_mcp::install::Dirs;
use warrant_scan::git::{self, Changes};
use warrant_scan::report::Report;
use warrant_scan::walk::{self, WalkOptions};

pub use values::{Values, build_scanner};

use crate::args::{ScanArgs, ScanFormat};
use crate::commands::Context;

/// Exit code when something was found.
pub const EXIT_FOUND: u8 = 1;
/// Exit code when the scan itself failed (a file could not be read).
pub const EXIT_ERROR: u8 = 2;

pub fn run(ctx: &Context, args: ScanArgs) -> Result<u8> {
    let mut builder = warrant_scan::Scanner::builder();
    for id in &args.disable {
        builder = builder.disable(id);
    }
    if args.no_generic {
        builder = builder.no_generic();
    }
    let values = if args.no_store {
        Values::Never
    } else if args.store {
        Values::Required
    } else {
        Values::IfAvailable
    };
    let (scanner, value_count) = build_scanner(ctx, builder, values)?;
    if args.list_rules {
        for r in scanner.rules() {
            let kind = if r.generic { "generic" } else { "format" };
            println!("{:<32} {:<8} {}", r.id, kind, r.name);
        }
        return Ok(0);
    }
    let format = if args.json {
        ScanFormat::Json
    } else {
        args.format
    };
    if format == ScanFormat::Human
        && values == Values::IfAvailable
        && value_count == 0
        && needs_passphrase(ctx)
    {
        eprintln!(
            "note: the store's values are not checked without its passphrase \
             (--store asks for it; --passphrase-file for scripts)"
        );
    }
    let progress = progress::Display::start(format == ScanFormat::Human);
    let report = if args.staged || args.since.is_some() {
        let changes = match &args.since {
            Some(rev) => Changes::Since(rev.clone()),
            None => Changes::Staged,
        };
        let dir = args
            .paths
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."));
        git::scan_changes(&scanner, &dir, &changes).context("cannot scan the git changes")?
    } else {
        let roots = if args.mcp {
            mcp_files()?
        } else if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        for r in &roots {
            if !args.mcp && std::fs::symlink_metadata(r).is_err() {
                anyhow::bail!("{}: no such file or directory", r.display());
            }
        }
        let opts = WalkOptions {
            skip_binary: !args.all,
            skip_generated: !args.all,
            gitignore: !args.no_gitignore,
            threads: args.threads,
        };
        let mut report = walk::scan_paths(&scanner, &roots, &opts, progress.counters());
        if args.mcp && roots.is_empty() {
            report.skipped.clear();
        }
        report
    };
    progress.finish();
    print(&report, format, &scanner, args.verbose, value_count)?;
    Ok(exit_code(&report))
}

/// Whether the store exists and opens only with a passphrase nobody gave.
fn needs_passphrase(ctx: &Context) -> bool {
    ctx.passphrase_file.is_none()
        && warrant_store::LocalStore::exists(&ctx.home)
        && matches!(
            warrant_store::LocalStore::key_kind(&ctx.home),
            Ok(warrant_store::KeyKind::Passphrase)
        )
}

/// 2 if a file could not be read, else 1 if something counts, else 0.
pub fn exit_code(report: &Report) -> u8 {
    if !report.errors.is_empty() {
        EXIT_ERROR
    } else if report.counts().findings > 0 {
        EXIT_FOUND
    } else {
        0
    }
}

fn print(
    report: &Report,
    format: ScanFormat,
    scanner: &warrant_scan::Scanner,
    verbose: bool,
    values: usize,
) -> Result<()> {
    let text = match format {
        ScanFormat::Human => report.human(verbose),
        ScanFormat::Json => {
            let mut v = report.json();
            v["store_values_checked"] = values.into();
            serde_json::to_string_pretty(&v)? + "\n"
        }
        ScanFormat::Sarif => serde_json::to_string_pretty(&report.sarif(scanner.rules()))? + "\n",
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("cannot write the report")?;
    out.flush().context("cannot write the report")?;
    Ok(())
}

/// Every agent and MCP configuration file that exists here: the MCP server
/// lists `warrant migrate` knows, and the clients' other settings files,
/// which can hold keys too.
pub fn mcp_files() -> Result<Vec<PathBuf>> {
    let project = std::env::current_dir().context("cannot read the current directory")?;
    let dirs = Dirs::from_env(project.clone())?;
    let mut files: Vec<PathBuf> = warrant_mcp::migrate::known_sources(&dirs)
        .into_iter()
        .map(|s| s.path)
        .collect();
    files.extend([
        dirs.home.join(".claude/settings.json"),
        project.join(".claude/settings.json"),
        project.join(".claude/settings.local.json"),
        dirs.config_home.join("Code/User/settings.json"),
        project.join(".vscode/settings.json"),
        dirs.home.join(".continue/config.json"),
        dirs.home.join(".continue/config.yaml"),
    ]);
    files.sort();
    files.dedup();
    files.retain(|f| f.is_file());
    Ok(files)
}
