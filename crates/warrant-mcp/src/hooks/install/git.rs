//! warrant's git pre-commit hook: `warrant scan --staged` before each
//! commit, and a commit that adds a secret stopped with a message on how
//! to move it into the store.
//!
//! The hook goes where git runs hooks from (`git rev-parse --git-path
//! hooks`: `core.hooksPath` when set, the common git directory's `hooks`
//! for a linked worktree). A pre-commit hook that warrant did not write is
//! never overwritten silently: [`Existing::Refuse`] (the default) stops with
//! a message; [`Existing::Chain`] moves it to `pre-commit.warrant-chained`,
//! which warrant's hook runs (with the same arguments) once the scan
//! passes; [`Existing::Replace`] keeps a copy as
//! `pre-commit.warrant-backup` and replaces it. Uninstalling puts a chained
//! hook back.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Change, Kind, MARKER, read_script, shell_quote, sibling};
use crate::hooks::Error;

/// The hook's file name.
const HOOK: &str = "pre-commit";

/// Where a chained hook is moved.
const CHAINED_SUFFIX: &str = ".warrant-chained";

/// What to do with a hook file warrant did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Stop with an error naming the options.
    Refuse,
    /// Keep it, run after warrant's check (git hooks only).
    Chain,
    /// Replace it, keeping a backup.
    Replace,
}

/// The directory git runs the hooks of the repository at `cwd` from.
pub fn git_hooks_dir(cwd: &Path) -> Result<PathBuf, Error> {
    let git = |dir: &Path, args: &[&str]| -> Result<String, Error> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| Error::Git(format!("cannot run git: {e}")))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            return Err(Error::Git(format!(
                "{} is not in a git work tree ({why})",
                cwd.display()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .trim_end_matches(['\n', '\r'])
            .to_owned())
    };
    let top = PathBuf::from(git(cwd, &["rev-parse", "--show-toplevel"])?);
    // Git runs hooks from the top of the work tree, and a relative
    // `core.hooksPath` is relative to it: ask from there.
    let hooks = PathBuf::from(git(&top, &["rev-parse", "--git-path", "hooks"])?);
    Ok(if hooks.is_absolute() {
        hooks
    } else {
        top.join(hooks)
    })
}

/// The pre-commit script. It runs `binary` (the warrant that installed
/// it) while that file is there, else `warrant` from `PATH`; `extra` are
/// arguments for warrant itself (`--home DIR`).
pub fn pre_commit_script(binary: Option<&Path>, extra: &[String]) -> String {
    let pick = binary
        .and_then(Path::to_str)
        .map(|b| {
            let b = shell_quote(b);
            format!("if [ -x {b} ]; then warrant={b}; fi\n")
        })
        .unwrap_or_default();
    let extra: String = extra
        .iter()
        .map(|w| format!(" {}", shell_quote(w)))
        .collect();
    format!(
        r#"#!/bin/sh
{MARKER}
# Stops a commit that adds a secret: `warrant scan --staged` checks what is
# staged. Skip it once with `git commit --no-verify`.
warrant=warrant
{pick}"$warrant"{extra} scan --staged
status=$?
if [ "$status" -eq 1 ]; then
  cat >&2 <<'EOF'

warrant: commit stopped: the staged changes add a secret (see above).
Keep the value in warrant's store and commit a reference instead:
  1. warrant secret set NAME            (reads the value from a prompt;
                                         `warrant secret import FILE` moves a dotenv file)
  2. in the file, write warrant://NAME where the value was, and unstage the value
  3. run what needs it with `warrant run --env VAR=warrant://NAME -- COMMAND`
A line that must stay as it is can carry the marker warrant:allow.
EOF
  exit 1
elif [ "$status" -ne 0 ]; then
  echo "warrant: the secret check failed (status $status), so the commit was stopped; see the error above, or skip the check once with git commit --no-verify" >&2
  exit 1
fi
chained="$(dirname "$0")/{HOOK}{CHAINED_SUFFIX}"
if [ -x "$chained" ]; then
  exec "$chained" "$@"
fi
exit 0
"#
    )
}

/// Installs `script` as the pre-commit hook in `hooks_dir`.
pub fn git_install(
    hooks_dir: &Path,
    script: &str,
    existing: Existing,
) -> Result<Vec<Change>, Error> {
    let path = hooks_dir.join(HOOK);
    let before = read_script(&path)?;
    let foreign = before.as_deref().is_some_and(|t| !t.contains(MARKER));
    let kind = match (foreign, existing) {
        (false, _) => Kind::Script {
            chain: None,
            backup: false,
        },
        (true, Existing::Refuse) => return Err(Error::Foreign(path)),
        (true, Existing::Chain) => {
            let aside = sibling(&path, CHAINED_SUFFIX);
            if aside.exists() {
                return Err(Error::Git(format!(
                    "{} already exists; move it away to chain the current hook",
                    aside.display()
                )));
            }
            Kind::Script {
                chain: Some(aside),
                backup: false,
            }
        }
        (true, Existing::Replace) => Kind::Script {
            chain: None,
            backup: true,
        },
    };
    let mut change = Change::script(path, before, script.to_owned(), kind);
    if foreign {
        // The file is replaced even if (oddly) its text were the same.
        change.plan.changed = true;
    }
    Ok(vec![change])
}

/// Removes warrant's pre-commit hook from `hooks_dir`, putting a chained
/// hook back.
pub fn git_uninstall(hooks_dir: &Path) -> Result<Vec<Change>, Error> {
    let path = hooks_dir.join(HOOK);
    let Some(before) = read_script(&path)? else {
        return Ok(Vec::new());
    };
    if !before.contains(MARKER) {
        return Err(Error::NotOurs(path));
    }
    let chained = sibling(&path, CHAINED_SUFFIX);
    let restore = chained.exists().then_some(chained);
    let after = match &restore {
        Some(chained) => read_script(chained)?.unwrap_or_default(),
        None => String::new(),
    };
    Ok(vec![Change::script(
        path,
        Some(before),
        after,
        Kind::Delete { restore },
    )])
}

#[cfg(test)]
mod tests {
    use super::super::apply;
    use super::*;

    #[test]
    fn script_runs_the_scan_and_chains() {
        let s = pre_commit_script(
            Some(Path::new("/opt/w b/warrant")),
            &["--home".into(), "/h".into()],
        );
        assert!(s.contains("\"$warrant\" --home /h scan --staged\n"), "{s}");
        assert!(s.contains("if [ -x '/opt/w b/warrant' ]; then warrant='/opt/w b/warrant'; fi"));
        assert!(s.contains("warrant secret set NAME"));
        assert!(s.contains("pre-commit.warrant-chained"));
    }

    #[test]
    fn foreign_hooks_are_refused_chained_or_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let hook = dir.join(HOOK);
        let script = pre_commit_script(None, &[]);
        std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
        assert!(matches!(
            git_install(dir, &script, Existing::Refuse),
            Err(Error::Foreign(_))
        ));
        assert!(matches!(git_uninstall(dir), Err(Error::NotOurs(_))));

        apply(&git_install(dir, &script, Existing::Chain).unwrap()[0]).unwrap();
        assert_eq!(std::fs::read_to_string(&hook).unwrap(), script);
        assert!(dir.join("pre-commit.warrant-chained").exists());
        assert!(!git_install(dir, &script, Existing::Refuse).unwrap()[0].changed());

        apply(&git_uninstall(dir).unwrap()[0]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&hook).unwrap(),
            "#!/bin/sh\necho mine\n"
        );
        assert!(!dir.join("pre-commit.warrant-chained").exists());

        apply(&git_install(dir, &script, Existing::Replace).unwrap()[0]).unwrap();
        let backup = dir.join("pre-commit.warrant-backup");
        assert_eq!(
            std::fs::read_to_string(backup).unwrap(),
            "#!/bin/sh\necho mine\n"
        );
        apply(&git_uninstall(dir).unwrap()[0]).unwrap();
        assert!(!hook.exists());
    }
}
