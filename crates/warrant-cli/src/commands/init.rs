//! `warrant init`: create the encrypted local store.

use anyhow::{Context as _, Result};
use serde_json::json;
use warrant_audit::Event;
use warrant_store::{KeyProtection, LocalStore};

use super::{Context, print_json};
use crate::args::InitArgs;
use crate::prompt;

pub fn run(ctx: &Context, args: InitArgs) -> Result<u8> {
    let (protection, key) = if args.passphrase {
        (
            KeyProtection::Passphrase(prompt::read_new_passphrase()?),
            "passphrase",
        )
    } else {
        (KeyProtection::KeyFile, "key_file")
    };
    LocalStore::init(&ctx.home, protection)
        .with_context(|| format!("cannot create a store in {}", ctx.home.display()))?;
    ctx.audit(Event::Init {
        key: key.to_owned(),
    })?;
    if args.json {
        print_json(&json!({ "home": ctx.home, "key": key }))?;
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
