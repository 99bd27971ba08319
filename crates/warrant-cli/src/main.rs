#![allow(
    clippy::print_stdout,
    reason = "a command-line tool prints its results on stdout"
)]

//! The `warrant` binary: parse flags, dispatch to one command module, map the
//! result to an exit code. The logic lives in the library crates.

mod args;
mod commands;
mod hint;
mod home;
mod prompt;
mod team_state;
mod unlock;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, PolicyCommand};

/// Every heap block is wiped when freed, so that copies a dependency makes
/// of a value (the redactor's automaton, serde buffers, std's own) do not
/// outlive their use in freed memory. `zeroize` covers what we own; this
/// covers what we do not.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any value is read: no core dump, no same-user ptrace. A
    // command that gets values only from the daemon stays dumpable until
    // the daemon has checked it runs warrant (which needs `/proc/PID/exe`
    // readable); the client turns it off before the values arrive.
    let from_daemon_only = match &cli.command {
        Command::Run(args) => args.grant.is_some(),
        Command::Mcp(_) => true,
        _ => false,
    };
    if !from_daemon_only && let Err(error) = warrant_exec::make_non_dumpable() {
        return report(&error.into(), 1);
    }
    let home = match home::resolve(cli.home.as_deref()) {
        Ok(home) => home,
        Err(error) => return report(&error, 1),
    };
    let ctx = commands::Context {
        home,
        passphrase_file: cli.passphrase_file,
    };
    let result = match cli.command {
        Command::Init(args) => commands::init::run(&ctx, args),
        Command::Secret(command) => commands::secret::run(&ctx, command),
        Command::Audit(args) => commands::audit::run(&ctx, args),
        Command::Serve(args) => commands::serve::run(&ctx, args),
        Command::Status(args) => commands::status::run(&ctx, args),
        Command::Ui(args) => commands::ui::run(&ctx, args),
        Command::Request(args) => commands::grant::request(&ctx, args),
        Command::Grants(args) => commands::grant::list(&ctx, args),
        Command::Approve(args) => commands::grant::approve(&ctx, args),
        Command::Deny(args) => commands::grant::deny(&ctx, args),
        Command::Revoke(args) => commands::grant::revoke(&ctx, args),
        Command::Task(args) => commands::task::run(&ctx, args),
        Command::Policy(PolicyCommand::Check(args)) => commands::policy::check(&ctx, args),
        Command::Policy(PolicyCommand::Explain(args)) => commands::policy::explain(args),
        Command::Policy(PolicyCommand::Accept(args)) => commands::policy::accept(&ctx, args),
        Command::Approver(command) => commands::approver::run(&ctx, command),
        Command::Report(args) => commands::report::run(&ctx, args),
        Command::Mcp(args) => commands::mcp::run(&ctx, args),
        Command::Proxy(args) => commands::proxy::run(&ctx, args),
        Command::Guard(args) => commands::guard::run(&ctx, args),
        Command::Hook(command) => commands::hook::run(&ctx, command),
        // 1 when some entries stay, 2 when migrate could not finish.
        Command::Migrate(args) => match commands::migrate::run(&ctx, args) {
            Ok(code) => Ok(code),
            Err(error) => return report(&error, commands::migrate::EXIT_ERROR),
        },
        // A scan that could not finish exits 2, apart from 1 for findings.
        Command::Scan(args) => match commands::scan::run(&ctx, args) {
            Ok(code) => Ok(code),
            Err(error) => return report(&error, commands::scan::EXIT_ERROR),
        },
        Command::Run(args) => match commands::run::run(&ctx, args) {
            Ok(code) => Ok(code),
            Err(error) => {
                let code = commands::run::failure_code(&error);
                return report(&error, code);
            }
        },
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            let code = exit_code(&error);
            report(&error, code)
        }
    }
}

/// 3 when the policy or the daemon refused (scripts tell a refusal from a
/// failure), 1 otherwise.
fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<warrant_broker::Error>() {
        Some(warrant_broker::Error::Daemon(body)) if body.code.is_refusal() => 3,
        _ => 1,
    }
}

/// Prints the error chain and a hint where the user can act.
fn report(error: &anyhow::Error, code: u8) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "warrant: error: {error}");
    for cause in error.chain().skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
    if let Some(hint) = hint::for_error(error) {
        let _ = writeln!(stderr, "  hint: {hint}");
    }
    ExitCode::from(code)
}
