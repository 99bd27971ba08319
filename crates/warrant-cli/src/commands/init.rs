//! `warrant init`: create the encrypted local store.

use anyhow::{Context as _, Result, bail};
use secrecy::SecretString;
use serde_json::json;
use warrant_audit::Event;
use warrant_broker::Verifier;
use warrant_store::{KeyProtection, LocalStore};

use super::{Context, print_json};
use crate::args::InitArgs;
use crate::prompt;

pub fn run(ctx: &Context, args: InitArgs) -> Result<u8> {
    // Stdin is read only when there is something to ask.
    let mut answers = if args.passphrase || args.approver {
        Some(prompt::Answers::new()?)
    } else {
        None
    };
    let (protection, key) = if args.passphrase {
        let passphrase = answers
            .as_mut()
            .expect("made when asking")
            .new_secret("New passphrase for the store")?;
        let text = std::str::from_utf8(passphrase.expose_secret())
            .context("the passphrase is not valid UTF-8")?;
        if text.chars().count() < 8 {
            bail!("the passphrase is shorter than 8 characters; choose a longer one");
        }
        (
            KeyProtection::Passphrase(SecretString::from(text.to_owned())),
            "passphrase",
        )
    } else {
        (KeyProtection::KeyFile, "key_file")
    };
    // Asked before anything is created, so a bad answer leaves no half store.
    let approver = if args.approver {
        let passphrase = answers
            .as_mut()
            .expect("made when asking")
            .new_secret("New approver passphrase (to approve grants)")?;
        Some(Verifier::create(
            passphrase.expose_secret(),
            super::approver::insecure_fast_kdf(),
        )?)
    } else {
        None
    };
    LocalStore::init(&ctx.home, protection)
        .with_context(|| format!("cannot create a store in {}", ctx.home.display()))?;
    ctx.audit(Event::Init {
        key: key.to_owned(),
    })?;
    if let Some(verifier) = approver {
        verifier.save(&ctx.home)?;
        ctx.audit(Event::ApproverSet { replaced: false })?;
    }
    if args.json {
        print_json(&json!({ "home": ctx.home, "key": key, "approver": args.approver }))?;
    } else {
        let protected = if args.passphrase {
            "its key is wrapped under your passphrase (Argon2id)".to_owned()
        } else {
            format!(
                "its key is in {} (mode 0600)",
                ctx.home.join("key").display()
            )
        };
        println!(
            "Created the warrant store in {}; {protected}.",
            ctx.home.display()
        );
        println!("Next: printf %s \"$TOKEN\" | warrant secret set github/token");
    }
    Ok(0)
}
