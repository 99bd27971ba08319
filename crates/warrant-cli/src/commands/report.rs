//! `warrant report`: exposure, per secret and per actor, from the audit log.

use anyhow::{Context as _, Result, anyhow};
use time::OffsetDateTime;
use warrant_audit::AuditLog;
use warrant_audit::report::{Report, parse_since};

use super::{Context, print_json};
use crate::args::ReportArgs;

pub fn run(ctx: &Context, args: ReportArgs) -> Result<u8> {
    let since = args
        .since
        .as_deref()
        .map(|text| {
            parse_since(text, OffsetDateTime::now_utc()).map_err(|e| anyhow!("--since: {e}"))
        })
        .transpose()?;
    let log = AuditLog::new(&ctx.home);
    let records = log
        .records()
        .with_context(|| format!("cannot read the audit log {}", log.path().display()))?;
    let report = Report::from_records(&records, since);
    if args.json {
        print_json(&report)?;
    } else {
        print!("{}", report.render_text());
    }
    Ok(0)
}
