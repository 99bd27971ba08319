//! Where warrant keeps its files.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// `--home` / `$WARRANT_HOME`, else `$XDG_DATA_HOME/warrant`, else
/// `~/.local/share/warrant`.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(home) = explicit {
        if home.as_os_str().is_empty() {
            bail!("WARRANT_HOME is set but empty; unset it or give a directory");
        }
        return Ok(home.to_owned());
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(data).join("warrant"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/warrant")),
        None => bail!("cannot find a home for warrant: set WARRANT_HOME or HOME"),
    }
}
