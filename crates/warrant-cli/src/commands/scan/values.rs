//! The scanner, with the store's values when they can be had without asking.

use anyhow::{Context as _, Result};
use warrant_redact::RedactorBuilder;
use warrant_scan::{Scanner, ScannerBuilder};
use warrant_store::{KeyKind, LocalStore, SecretStore};

use crate::commands::Context;
use crate::unlock;

/// Whether the scanner should also look for the store's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Yes: open the store, asking for its passphrase if it has one.
    Required,
    /// When they can be had without a prompt (a key file, or
    /// `--passphrase-file`); otherwise rules only. For hooks, which must
    /// never wait on a terminal, and for agents inside `warrant task`, which
    /// cannot read the store.
    IfAvailable,
    /// No: rules only.
    Never,
}

/// A scanner for `builder`'s options plus the store values `values` asks
/// for; also returns how many values it looks for.
pub fn build_scanner(
    ctx: &Context,
    builder: ScannerBuilder,
    values: Values,
) -> Result<(Scanner, usize)> {
    let store = match values {
        Values::Never => None,
        Values::Required => Some(unlock::open(ctx)?),
        Values::IfAvailable => quietly_open(ctx),
    };
    let mut count = 0;
    let builder = match store {
        Some(store) => {
            let mut redactor = RedactorBuilder::new();
            for meta in store.list().context("cannot list the store")? {
                let value = store
                    .get(&meta.name)
                    .with_context(|| format!("cannot read {} from the store", meta.name))?;
                redactor.add(meta.name.as_str(), value.expose_secret());
                count += 1;
            }
            builder.values(redactor.build().context("cannot set up value matching")?)
        }
        None => builder,
    };
    Ok((
        builder.build().context("cannot load the scan rules")?,
        count,
    ))
}

/// The store, if it opens without a prompt.
fn quietly_open(ctx: &Context) -> Option<LocalStore> {
    if !LocalStore::exists(&ctx.home) {
        return None;
    }
    match LocalStore::key_kind(&ctx.home).ok()? {
        KeyKind::KeyFile => unlock::open(ctx).ok(),
        KeyKind::Passphrase if ctx.passphrase_file.is_some() => unlock::open(ctx).ok(),
        KeyKind::Passphrase => None,
    }
}
