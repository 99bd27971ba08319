//! Finds the program on the child's `PATH`, in the parent, before the fork.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Access, AtFlags, CWD};

use crate::Error;

/// The search path when the child's environment has no `PATH` (glibc's default).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Resolves `program` as `execvp` would: a name with a `/` is used as is,
/// anything else is looked up in each directory of `path_var` (an empty
/// entry meaning the current directory). The first regular file the caller
/// may execute wins. A match that exists but cannot be executed gives
/// [`Error::Exec`], no match at all [`Error::NotFound`].
pub(crate) fn resolve(program: &OsStr, path_var: Option<&OsStr>) -> Result<CString, Error> {
    let name = || program.to_string_lossy().into_owned();
    if program.is_empty() {
        return Err(Error::NotFound { program: name() });
    }
    let denied = || Error::Exec {
        program: name(),
        source: io::Error::from_raw_os_error(libc::EACCES),
    };
    let to_cstring = |path: &Path| {
        CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::InvalidArgument { index: 0 })
    };

    if program.as_bytes().contains(&b'/') {
        let path = Path::new(program);
        return match check(path) {
            Candidate::Executable => to_cstring(path),
            Candidate::NotExecutable => Err(denied()),
            Candidate::Missing => Err(Error::NotFound { program: name() }),
        };
    }

    let path_var = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut seen_denied = false;
    for dir in path_var.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate: PathBuf = dir.join(program);
        match check(&candidate) {
            Candidate::Executable => return to_cstring(&candidate),
            Candidate::NotExecutable => seen_denied = true,
            Candidate::Missing => {}
        }
    }
    if seen_denied {
        Err(denied())
    } else {
        Err(Error::NotFound { program: name() })
    }
}

enum Candidate {
    Executable,
    NotExecutable,
    Missing,
}

fn check(path: &Path) -> Candidate {
    match std::fs::metadata(path) {
        Err(_) => Candidate::Missing,
        Ok(meta) if !meta.is_file() => Candidate::NotExecutable,
        // AT_EACCESS: checked with the effective ids, as execve will be.
        Ok(_) => match rustix::fs::accessat(CWD, path, Access::EXEC_OK, AtFlags::EACCESS) {
            Ok(()) => Candidate::Executable,
            Err(_) => Candidate::NotExecutable,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn file(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn finds_the_first_executable_on_path() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        file(a.path(), "tool", 0o644);
        let wanted = file(b.path(), "tool", 0o755);
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        let found = resolve("tool".as_ref(), Some(&path)).unwrap();
        assert_eq!(found.as_bytes(), wanted.as_os_str().as_bytes());
    }

    #[test]
    fn missing_is_not_found_and_unexecutable_is_exec() {
        let a = tempfile::tempdir().unwrap();
        let path = a.path().as_os_str();
        assert!(matches!(
            resolve("nope".as_ref(), Some(path)),
            Err(Error::NotFound { .. })
        ));
        file(a.path(), "plain", 0o644);
        assert!(matches!(
            resolve("plain".as_ref(), Some(path)),
            Err(Error::Exec { .. })
        ));
        fs::create_dir(a.path().join("dir")).unwrap();
        assert!(matches!(
            resolve("dir".as_ref(), Some(path)),
            Err(Error::Exec { .. })
        ));
        assert!(matches!(
            resolve("".as_ref(), Some(path)),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn names_with_a_slash_are_not_searched() {
        let a = tempfile::tempdir().unwrap();
        let exe = file(a.path(), "run-me", 0o755);
        assert!(resolve(exe.as_os_str(), Some("".as_ref())).is_ok());
        let missing = a.path().join("missing");
        assert!(matches!(
            resolve(missing.as_os_str(), None),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn default_path_finds_sh() {
        assert!(resolve("sh".as_ref(), None).is_ok());
    }
}
