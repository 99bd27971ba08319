//! Hints: what the user can do about an error, in one place.

use warrant_store::Error as StoreError;

/// A hint for the first error in the chain that has one.
pub fn for_error(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return store_hint(store);
        }
        if let Some(broker) = cause.downcast_ref::<warrant_broker::Error>() {
            return broker.hint().map(str::to_owned);
        }
        if let Some(policy) = cause.downcast_ref::<warrant_policy::Error>() {
            return policy
                .position()
                .map(|_| "fix the file at that line and column; `warrant policy check` lints it".to_owned());
        }
        if let Some(exec) = cause.downcast_ref::<warrant_exec::Error>() {
            return match exec {
                warrant_exec::Error::NotFound { .. } => {
                    Some("check the command's name and the PATH warrant passes on".into())
                }
                _ => None,
            };
        }
        if let Some(warrant_audit::Error::Broken { path, .. }) = cause.downcast_ref() {
            return Some(format!(
                "the log was changed outside warrant: run `warrant audit verify`; to start a new log, \
                 move {} and audit.head beside it aside (keep them as evidence)",
                path.display()
            ));
        }
        if cause.downcast_ref::<warrant_secret::Error>().is_some() {
            return Some(
                "names are '/'-separated segments of letters, digits, '.', '_' and '-', e.g. db/dev/url"
                    .into(),
            );
        }
        None
    })
}

fn store_hint(error: &StoreError) -> Option<String> {
    Some(match error {
        StoreError::NotInitialized { .. } => {
            "run `warrant init` first, or point WARRANT_HOME at an existing store".into()
        }
        StoreError::AlreadyInitialized { .. } => {
            "the existing store is kept; use it, or set WARRANT_HOME to another directory".into()
        }
        StoreError::WrongKey { .. } => {
            "check the passphrase (or that the key file belongs to this store); nothing was changed"
                .into()
        }
        StoreError::PassphraseRequired => {
            "run in a terminal to be asked, or pass --passphrase-file FILE".into()
        }
        StoreError::NotFound { .. } => "`warrant secret ls` lists the names in the store".into(),
        StoreError::Exists { .. } => "pass --overwrite to replace it".into(),
        StoreError::Corrupt { .. } => {
            "the file was changed outside warrant; restore it from a backup (nothing was changed)"
                .into()
        }
        StoreError::InsecurePermissions { path, .. } => {
            format!("run `chmod 600 {}`: other users must not read the key", path.display())
        }
        StoreError::KeyMissing { .. } => {
            "the store's key file is gone; restore it from a backup (without it the values cannot be decrypted)"
                .into()
        }
        _ => return None,
    })
}
