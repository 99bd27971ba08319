//! File handling that keeps the store whole: an exclusive `flock` around
//! every read-modify-write, atomic replacement (temp file, fsync, rename,
//! fsync of the directory), owner-only modes, and reads of key material into
//! buffers that are wiped.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{FlockOperation, flock};
use zeroize::Zeroizing;

use crate::Error;
use crate::crypto::random;

/// Temp files start with this, so that those a killed writer left behind
/// are recognized and removed by the next writer.
pub(crate) const TEMP_PREFIX: &str = ".warrant-store.tmp-";

/// Mode of every file the store writes.
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode 0700. An existing
/// directory is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), Error> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io(dir))
}

/// An exclusive `flock` on a lock file, released when dropped (the
/// descriptor is closed). `flock` locks belong to the open file description,
/// so two handles in one process exclude each other just as two processes do.
#[must_use = "the lock is released when the guard is dropped"]
pub(crate) struct LockGuard {
    _file: File,
}

/// Blocks until this process holds the exclusive lock on `path` (created 0600).
pub(crate) fn lock_exclusive(path: &Path) -> Result<LockGuard, Error> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map_err(Error::io(path))?;
    loop {
        match flock(&file, FlockOperation::LockExclusive) {
            Ok(()) => return Ok(LockGuard { _file: file }),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::io(path)(e.into())),
        }
    }
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
/// either the old file or the new one: write a temp file in the same
/// directory, fsync it, rename it over, fsync the directory.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let suffix = u64::from_le_bytes(random::<8>()?);
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{name}.{}.{suffix:016x}",
        std::process::id()
    ));
    let target = dir.join(name);
    let result = write_temp(&temp, bytes)
        .map_err(Error::io(&temp))
        .and_then(|()| fs::rename(&temp, &target).map_err(Error::io(&target)));
    if result.is_err() {
        // Best effort: a leftover is removed by the next writer anyway.
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(dir)
}

fn write_temp(temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a rename in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

/// Removes temp files left by killed writers. Call only under the lock:
/// then no live writer of this store has a temp file in flight.
pub(crate) fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(TEMP_PREFIX.as_bytes())
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "f", b"one").unwrap();
        write_atomic(dir.path(), "f", b"two").unwrap();
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f"]);
        let mode = fs::metadata(dir.path().join("f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn stale_temps_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!("{TEMP_PREFIX}store.json.1.0"));
        fs::write(&stale, b"half").unwrap();
        fs::write(dir.path().join("other"), b"keep").unwrap();
        remove_stale_temps(dir.path());
        assert!(!stale.exists());
        assert!(dir.path().join("other").exists());
    }

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

    #[test]
    fn lock_is_exclusive_across_handles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let guard = lock_exclusive(&path).unwrap();
        let other = File::open(&path).unwrap();
        assert!(flock(&other, FlockOperation::NonBlockingLockExclusive).is_err());
        drop(guard);
        assert!(flock(&other, FlockOperation::NonBlockingLockExclusive).is_ok());
    }
}
