//! `warrant secret import FILE`: values move into the store, references take
//! their place in a file beside the original.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde_json::json;
use warrant_audit::Event;
use warrant_env::Binding;
use warrant_secret::{Reference, SecretName, SecretValue};
use warrant_store::SecretStore;
use zeroize::Zeroizing;

use super::{Context, print_json};
use crate::args::ImportArgs;
use crate::unlock;

/// Env files larger than this are not credentials files.
const MAX_FILE_LEN: u64 = 4 << 20;

pub fn run(ctx: &Context, args: ImportArgs) -> Result<u8> {
    let file = &args.file;
    let text = read_env_file(file)?;
    let entries =
        warrant_env::parse(&text).with_context(|| format!("cannot parse {}", file.display()))?;
    let prefix = match &args.prefix {
        Some(prefix) => prefix.trim_matches('/').to_owned(),
        None => default_prefix(file)?,
    };

    // The last assignment of a key wins, as when the file is loaded.
    let mut chosen: BTreeMap<&str, &warrant_env::Entry> = BTreeMap::new();
    for entry in &entries {
        let plain = matches!(entry.binding(), Ok(Binding::Plain));
        if plain && !entry.value().is_empty() {
            chosen.insert(&entry.key, entry);
        } else {
            chosen.remove(entry.key.as_str());
        }
    }
    if chosen.is_empty() {
        eprintln!(
            "{} holds no values to import (only references, empty values or comments).",
            file.display()
        );
        return Ok(0);
    }

    let output = args.output.clone().unwrap_or_else(|| {
        let mut name = file.as_os_str().to_owned();
        name.push(".warrant");
        PathBuf::from(name)
    });
    if output.exists() && !args.overwrite {
        bail!(
            "{} already exists; remove it, pass --output PATH, or --overwrite",
            output.display()
        );
    }

    let mut batch: Vec<(SecretName, SecretValue)> = Vec::with_capacity(chosen.len());
    let mut replacements = Vec::with_capacity(chosen.len());
    for (key, entry) in &chosen {
        let name = SecretName::new(format!("{prefix}/{key}"))
            .with_context(|| format!("cannot name the secret for {key} with prefix {prefix:?}"))?;
        replacements.push(((*key).to_owned(), Reference::new(name.clone()).to_string()));
        batch.push((name, SecretValue::from(entry.value().as_bytes().to_vec())));
    }

    let store = unlock::open(ctx)?;
    store
        .set_many(&batch, args.overwrite)
        .with_context(|| format!("cannot import {}", file.display()))?;
    let names: Vec<String> = batch.iter().map(|(name, _)| name.to_string()).collect();
    drop(batch);

    let rewritten = warrant_env::rewrite(&text, &entries, &replacements);
    let mode = std::fs::metadata(file)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0o600);
    warrant_fs::write_atomic(&output, rewritten.as_bytes(), mode).with_context(|| {
        format!(
            "the values are in the store, but the reference file {} could not be written",
            output.display()
        )
    })?;
    if !args.keep {
        std::fs::remove_file(file).with_context(|| {
            format!(
                "the values are in the store, but {} could not be removed; remove it yourself",
                file.display()
            )
        })?;
    }
    ctx.audit(Event::SecretsImported {
        file: file.display().to_string(),
        names: names.clone(),
    })?;

    if args.json {
        print_json(&json!({
            "file": file,
            "references": output,
            "removed_original": !args.keep,
            "secrets": names,
        }))?;
    } else {
        println!(
            "Imported {} secret(s) from {}: {}",
            names.len(),
            file.display(),
            names.join(", ")
        );
        println!("References written to {}.", output.display());
        if args.keep {
            println!(
                "{} was kept and still holds the values (--keep).",
                file.display()
            );
        } else {
            println!("{} was removed.", file.display());
        }
        println!(
            "Use them with: warrant run --env-file {} -- COMMAND",
            output.display()
        );
    }
    Ok(0)
}

fn read_env_file(file: &Path) -> Result<Zeroizing<String>> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if meta.len() > MAX_FILE_LEN {
        bail!(
            "{} is larger than {} bytes; is it really an env file?",
            file.display(),
            MAX_FILE_LEN
        );
    }
    let bytes = Zeroizing::new(
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(error) => bail!(
            "{} is not UTF-8 text (byte {}); env files are text",
            file.display(),
            error.valid_up_to()
        ),
    }
}

/// The name of the file's directory, turned into a valid name segment.
fn default_prefix(file: &Path) -> Result<String> {
    let absolute = std::fs::canonicalize(file)
        .with_context(|| format!("cannot resolve {}", file.display()))?;
    let dir = absolute
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cleaned: String = dir
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('.').to_owned();
    if cleaned.is_empty() {
        bail!(
            "cannot derive a name prefix from {}; pass --prefix",
            file.display()
        );
    }
    Ok(cleaned)
}
