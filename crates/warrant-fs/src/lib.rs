//! File primitives every warrant file goes through, so that a crash at any
//! instant leaves the old file or the new one and nobody else can read it.
//!
//! - [`write_atomic`]: temp file in the same directory, write, fsync,
//!   rename over the target, fsync the directory.
//! - [`create_private_dir`]: mode 0700; files are written 0600 ([`FILE_MODE`]).
//! - [`lock_exclusive`] / [`lock_shared_if_exists`]: `flock` guards that
//!   serialise writers across threads and processes.
//!
//! Errors are plain [`std::io::Error`]s; callers add the path to their own
//! error type.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let _lock = warrant_fs::lock_exclusive(&dir.path().join(".lock")).unwrap();
//! warrant_fs::write_atomic(&dir.path().join("state.json"), b"{}", warrant_fs::FILE_MODE).unwrap();
//! assert_eq!(std::fs::read(dir.path().join("state.json")).unwrap(), b"{}");
//! ```

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{FlockOperation, flock};

/// Temp files start with this, so leftovers of a killed writer are known.
pub const TEMP_PREFIX: &str = ".warrant-tmp-";

/// Mode of every file warrant writes: owner read/write only.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode 0700; an existing directory
/// is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Replaces `path` with `bytes` (created with `mode`) so that a crash at any
/// instant leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent(path);
    let temp = temp_path(path);
    let result = write_new(&temp, bytes, mode).and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        // Best effort: `remove_stale_temps` catches what this misses.
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(dir)
}

/// Replaces `path` with `bytes` by a rename, syncing nothing: readers see
/// the old content or the new, never a mix, but after a crash the file may
/// hold the old content, the new, or nothing at all (a zero-length file,
/// when the rename reached the disk before the data). Only for files whose
/// readers accept all three: the audit log's head, which may lag the log
/// after a crash.
pub fn replace_unsynced(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let temp = temp_path(path);
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Makes a new name or a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes temp files that killed writers left in `dir`. Call it only while
/// holding the lock that every writer of `dir` takes, so none is in flight.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A name no other writer uses at the same time: pid, a counter and the clock.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    parent(path).join(format!(
        "{TEMP_PREFIX}{name}.{}.{count}.{nanos}",
        std::process::id()
    ))
}

fn write_new(temp: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Holds a `flock` until dropped. `flock` locks belong to the open file
/// description, so two handles in one process exclude each other just as
/// two processes do.
#[must_use = "the lock is released when the guard is dropped"]
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

/// Blocks until this process holds the exclusive lock on `path` (created 0600).
pub fn lock_exclusive(path: &Path) -> io::Result<LockGuard> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)?;
    lock(file, FlockOperation::LockExclusive)
}

/// A shared lock on `path` when it exists (`None` otherwise): readers wait
/// for a writer in flight without ever creating the lock file.
pub fn lock_shared_if_exists(path: &Path) -> io::Result<Option<LockGuard>> {
    match File::open(path) {
        Ok(file) => lock(file, FlockOperation::LockShared).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn lock(file: File, operation: FlockOperation) -> io::Result<LockGuard> {
    loop {
        match flock(&file, operation) {
            Ok(()) => return Ok(LockGuard { _file: file }),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"one", FILE_MODE).unwrap();
        write_atomic(&path, b"two", FILE_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temps_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(format!("{TEMP_PREFIX}x.1.2.3")), b"left").unwrap();
        fs::write(dir.path().join("keep"), b"k").unwrap();
        remove_stale_temps(dir.path());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["keep"]);
    }

    #[test]
    fn exclusive_locks_exclude_within_one_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let first = lock_exclusive(&path).unwrap();
        let file = File::open(&path).unwrap();
        assert!(flock(&file, FlockOperation::NonBlockingLockExclusive).is_err());
        drop(first);
        assert!(flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok());
        assert!(
            lock_shared_if_exists(&dir.path().join("none"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        create_private_dir(&inner).unwrap();
        assert_eq!(
            fs::metadata(&inner).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
