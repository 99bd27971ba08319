//! `warrant approver set`.

use anyhow::{Result, bail};
use warrant_broker::{Client, Error as BrokerError, Verifier};
use warrant_secret::SecretValue;

use super::Context;
use crate::args::ApproverCommand;
use crate::prompt::Answers;

pub fn run(ctx: &Context, command: ApproverCommand) -> Result<u8> {
    match command {
        ApproverCommand::Set => set(ctx),
    }
}

fn set(ctx: &Context) -> Result<u8> {
    if std::env::var_os("WARRANT_TASK").is_some() {
        bail!("inside an agent task the approver cannot be set; run this in your own terminal");
    }
    let existing = Verifier::load(&ctx.home)?;
    let mut answers = Answers::new()?;
    let current = match &existing {
        Some(_) => answers.secret("Current approver passphrase")?,
        None => SecretValue::from(Vec::new()),
    };
    let new = answers.new_secret("New approver passphrase")?;
    match Client::connect(&ctx.home) {
        // A running daemon holds the verifier in memory: change it there.
        Ok(mut client) => client.approver_set(&current, &new)?,
        Err(BrokerError::NotRunning { .. }) => set_offline(ctx, existing, &current, &new)?,
        Err(e) => return Err(e.into()),
    }
    println!("approver passphrase set");
    Ok(0)
}

/// No daemon: check and write the file here.
fn set_offline(
    ctx: &Context,
    existing: Option<Verifier>,
    current: &SecretValue,
    new: &SecretValue,
) -> Result<()> {
    if let Some(verifier) = &existing {
        if !verifier.verify(current.expose_secret())? {
            bail!("wrong approver passphrase; nothing was changed");
        }
    }
    let verifier = Verifier::create(new.expose_secret(), insecure_fast_kdf())?;
    verifier.save(&ctx.home)?;
    ctx.audit(warrant_audit::Event::ApproverSet {
        replaced: existing.is_some(),
    })
}

/// Tests hash with the smallest costs, as the store does (debug builds only).
pub fn insecure_fast_kdf() -> bool {
    warrant_store::insecure_fast_kdf()
}
