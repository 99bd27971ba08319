//! `warrant guard`: an agent client's hook. It reads the hook's JSON on
//! stdin, scans the prompt, tool input or file content in it for store
//! values (raw and encoded) and credential formats, and answers in the
//! client's terms: let it through, or block it with a message that names
//! the finding (rule and masked excerpt, or the stored secret's reference)
//! and says how to use a reference instead.
//!
//! The payload formats and answers live in `warrant_mcp::hooks`; this
//! module only scans. It never waits on a terminal: store values are used
//! when the store opens without a passphrase prompt (a key file, or
//! `--passphrase-file`), otherwise the rules alone apply.
//!
//! Failure policy: input that is not JSON, an unknown `--client`, or a
//! scanner that cannot be built is reported on stderr and let through (a
//! broken hook must not lock the user out of their agent), unless
//! `--fail-closed`. An event warrant does not guard passes silently.

use std::io::{Read, Write};

use anyhow::Result;
use warrant_audit::Event;
use warrant_mcp::hooks::{self, Client, Hit, Parsed, Response};
use warrant_scan::{Finding, Kind, Scanner};
use zeroize::Zeroizing;

use super::Context;
use super::scan::{Values, build_scanner};
use crate::args::GuardArgs;

pub fn run(ctx: &Context, args: GuardArgs) -> Result<u8> {
    let response = check(ctx, &args);
    // The client reads these; a closed pipe leaves nothing better to do.
    let _ = std::io::stdout()
        .lock()
        .write_all(response.stdout.as_bytes());
    let _ = std::io::stderr()
        .lock()
        .write_all(response.stderr.as_bytes());
    Ok(response.exit_code)
}

fn check(ctx: &Context, args: &GuardArgs) -> Response {
    let fail = |client: Option<Client>, problem: &str| {
        hooks::render_failure(client, problem, args.fail_closed)
    };
    let forced = match args.client.as_deref().map(str::parse::<Client>).transpose() {
        Ok(client) => client,
        Err(e) => return fail(None, &e.to_string()),
    };
    let mut input = Zeroizing::new(Vec::new());
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut input) {
        return fail(forced, &format!("cannot read the hook input: {e}"));
    }
    let parsed = match hooks::parse(&input, forced) {
        Ok(Some(parsed)) => parsed,
        // Valid JSON from no client warrant knows: nothing to say.
        Ok(None) => {
            return Response {
                stdout: String::new(),
                stderr: String::new(),
                exit_code: 0,
            };
        }
        Err(e) => return fail(forced, &e.to_string()),
    };
    drop(input);
    if parsed.pieces.is_empty() {
        return hooks::render(&parsed, &[]);
    }
    let scanner = match build_scanner(ctx, Scanner::builder(), Values::IfAvailable) {
        Ok((scanner, _)) => scanner,
        Err(e) => {
            return fail(
                Some(parsed.client),
                &format!("cannot set up the scan: {e:#}"),
            );
        }
    };
    let (hits, found) = hits(&scanner, &parsed);
    if !found.is_empty() {
        // Best effort: inside `warrant task` the log is out of reach, and
        // the block matters more than its record.
        let _ = ctx.audit(Event::GuardBlocked {
            client: parsed.client.to_string(),
            hook: parsed.event.clone(),
            found,
        });
    }
    hooks::render(&parsed, &hits)
}

/// What the scanner finds in each piece, allowlisted findings aside; and
/// the rule ids or references found, for the audit log.
fn hits(scanner: &Scanner, parsed: &Parsed) -> (Vec<Hit>, Vec<String>) {
    let mut hits: Vec<Hit> = Vec::new();
    let mut found: Vec<String> = Vec::new();
    for piece in &parsed.pieces {
        for finding in scanner.scan_bytes(piece.text().as_bytes()) {
            if finding.allowed.is_some() {
                continue;
            }
            let id = match &finding.secret_name {
                Some(name) => format!("warrant://{name}"),
                None => finding.rule.clone(),
            };
            if !found.contains(&id) {
                found.push(id);
            }
            let hit = hit(&piece.what, &finding);
            if !hits.contains(&hit) {
                hits.push(hit);
            }
        }
    }
    (hits, found)
}

/// A finding as the message names it: never by value.
fn hit(what: &str, finding: &Finding) -> Hit {
    let what = if finding.line > 1 {
        format!("{what}, line {}", finding.line)
    } else {
        what.to_owned()
    };
    match finding.kind {
        Kind::StoreValue => {
            let name = finding.secret_name.clone().unwrap_or_default();
            Hit {
                what,
                label: format!("the value of warrant://{name}"),
                stored_as: Some(name),
            }
        }
        _ => Hit {
            what,
            label: format!("{} ({})", finding.description, finding.excerpt),
            stored_as: None,
        },
    }
}
