//! Opening the local store the way its key is protected.

use anyhow::{Context, Result};
use warrant_dynamic::stores::{Stores, StoresConfig};
use warrant_store::{KeyKind, LocalStore, Unlock};

use crate::commands::Context as Ctx;
use crate::prompt;

/// Opens the store with its key: the key file, or the passphrase (from
/// `--passphrase-file` or the terminal).
pub fn open(ctx: &Ctx) -> Result<LocalStore> {
    let unlock = match LocalStore::key_kind(&ctx.home)? {
        KeyKind::KeyFile => Unlock::KeyFile,
        KeyKind::Passphrase => {
            Unlock::Passphrase(prompt::read_passphrase(ctx.passphrase_file.as_deref())?)
        }
    };
    LocalStore::open(&ctx.home, unlock)
        .with_context(|| format!("cannot open the store in {}", ctx.home.display()))
}

/// Opens the local store and the named stores of `stores.toml` behind it
/// (their credentials are read from the local store).
pub fn open_all(ctx: &Ctx) -> Result<std::sync::Arc<Stores>> {
    let local = open(ctx)?;
    let config = StoresConfig::load(&ctx.home)?;
    let stores = Stores::open(std::sync::Arc::new(local), config);
    Ok(std::sync::Arc::new(stores))
}

/// Opens the store for names and metadata only; needs no key.
pub fn open_metadata(ctx: &Ctx) -> Result<LocalStore> {
    LocalStore::open(&ctx.home, Unlock::MetadataOnly)
        .with_context(|| format!("cannot open the store in {}", ctx.home.display()))
}
