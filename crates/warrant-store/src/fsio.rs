//! File handling that keeps the store whole: an exclusive `flock` around
//! every read-modify-write, atomic replacement (temp file, fsync, rename,
//! fsync of the directory), owner-only modes, and reads of key material into
//! buffers that are wiped.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::Error;

/// Creates `dir` (and missing parents) with mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), Error> {
    warrant_fs::create_private_dir(dir).map_err(Error::io(dir))
}

/// Blocks until this process holds the exclusive lock on `path`.
pub(crate) fn lock_exclusive(path: &Path) -> Result<warrant_fs::LockGuard, Error> {
    warrant_fs::lock_exclusive(path).map_err(Error::io(path))
}

/// Reads `path`, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path)(e)),
    }
}

/// Reads a file that holds key material: refuses it when group or others
/// may read it, and reads it into a buffer sized up front (so no
/// reallocation leaves a copy behind) that is wiped on drop.
pub(crate) fn read_private(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path)(e)),
    };
    let meta = file.metadata().map_err(Error::io(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if size > 1 << 20 {
        return Err(Error::corrupt(path, "larger than 1 MiB"));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(size + 64));
    file.read_to_end(&mut bytes).map_err(Error::io(path))?;
    Ok(Some(bytes))
}

/// Replaces `dir/name` with `bytes` so that a crash at any instant leaves
/// either the old file or the new one.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let target = dir.join(name);
    warrant_fs::write_atomic(&target, bytes, warrant_fs::FILE_MODE).map_err(Error::io(&target))
}

/// Removes temp files left by killed writers. Call only under the lock.
pub(crate) fn remove_stale_temps(dir: &Path) {
    warrant_fs::remove_stale_temps(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_reads_refuse_open_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        fs::write(&path, b"k").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = read_private(&path).unwrap_err();
        assert!(matches!(
            err,
            Error::InsecurePermissions { mode: 0o640, .. }
        ));
        assert!(err.to_string().contains("chmod 600"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private(&path).unwrap().unwrap().as_slice(), b"k");
        assert!(read_private(&dir.path().join("none")).unwrap().is_none());
    }
}
