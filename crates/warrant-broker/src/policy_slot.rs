//! The policy the daemon applies, reloaded when its file changes.
//!
//! A version that does not parse is not applied, and neither is the one
//! before it: requests are refused with the parse error until the file is
//! fixed (failing closed; an old, wider policy must not outlive an edit).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use warrant_policy::Policy;

/// What identifies a version of the file cheaply, before hashing it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    /// The change time, which no unprivileged tool can set back (`cp -p`,
    /// `touch -d` and `rsync -t` restore the modification time only).
    changed: (i64, i64),
    len: u64,
    inode: u64,
}

/// A reload that happened.
pub struct Reloaded {
    /// Hash of the version now in force, if it parsed.
    pub current: Option<String>,
}

/// The daemon's policy.
pub struct PolicySlot {
    path: Option<PathBuf>,
    stamp: Option<Stamp>,
    current: Option<Arc<Policy>>,
    error: Option<String>,
}

impl PolicySlot {
    /// A slot for the policy at `path` (none: every request is refused).
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            stamp: None,
            current: None,
            error: None,
        }
    }

    /// The file, if one is configured.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The file for messages.
    pub fn path_display(&self) -> String {
        self.path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// The policy in force.
    pub fn current(&self) -> Option<Arc<Policy>> {
        self.current.clone()
    }

    /// Why no policy is in force.
    pub fn unavailable_reason(&self) -> String {
        match (&self.path, &self.error) {
            (None, _) => "the daemon has no policy, so it grants nothing".into(),
            (Some(_), Some(error)) => {
                format!("the policy is unusable, so nothing is granted: {error}")
            }
            (Some(path), None) => format!("the policy {} is not loaded", path.display()),
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match &self.path {
            None => {
                "start `warrant serve` in a directory with a warrant.toml, or pass --policy FILE"
                    .into()
            }
            Some(path) => format!(
                "fix {} (check it with `warrant policy check`)",
                path.display()
            ),
        }
    }

    /// Reloads when the file changed since the last look; `None` when it
    /// did not.
    pub fn refresh(&mut self) -> Option<Reloaded> {
        let path = self.path.clone()?;
        let stamp = std::fs::metadata(&path).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            Stamp {
                modified: m.modified().ok(),
                changed: (m.ctime(), m.ctime_nsec()),
                len: m.len(),
                inode: m.ino(),
            }
        });
        if stamp.is_some() && stamp == self.stamp {
            return None;
        }
        self.stamp = stamp;
        match Policy::load(&path) {
            Ok(policy) => {
                if self
                    .current
                    .as_ref()
                    .is_some_and(|p| p.hash() == policy.hash())
                {
                    self.error = None;
                    return None;
                }
                let hash = policy.hash().to_owned();
                self.current = Some(Arc::new(policy));
                self.error = None;
                Some(Reloaded {
                    current: Some(hash),
                })
            }
            Err(error) => {
                self.current = None;
                self.error = Some(error.to_string());
                Some(Reloaded { current: None })
            }
        }
    }
}
