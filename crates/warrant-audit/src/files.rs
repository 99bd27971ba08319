//! File handling: the append lock, reading the log's last line from the
//! end, atomic replacement of `audit.head`, and the OS user's name.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::OnceLock;

use crate::Error;

/// Mode of every file the log writes.
pub(crate) const FILE_MODE: u32 = warrant_fs::FILE_MODE;

/// Creates `dir` (and missing parents) with mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), Error> {
    warrant_fs::create_private_dir(dir).map_err(Error::io(dir))
}

/// Blocks until this process holds the exclusive lock on `path`.
pub(crate) fn lock_exclusive(path: &Path) -> Result<warrant_fs::LockGuard, Error> {
    warrant_fs::lock_exclusive(path).map_err(Error::io(path))
}

/// A shared lock on `path` when it exists: readers wait for an append in
/// flight without ever creating the lock file.
pub(crate) fn lock_shared_if_exists(path: &Path) -> Result<Option<warrant_fs::LockGuard>, Error> {
    warrant_fs::lock_shared_if_exists(path).map_err(Error::io(path))
}

/// The end of a log file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// No file, or an empty one.
    Empty,
    /// The last line, without its newline.
    Line(Vec<u8>),
    /// The file does not end with a newline: a write was cut short.
    Incomplete,
    /// The last line is longer than [`MAX_LINE`].
    TooLong,
}

/// Longest record [`read_tail`] accepts.
pub(crate) const MAX_LINE: u64 = 1 << 20;
const CHUNK: u64 = 8 * 1024;

/// Reads the last line of `path` backwards from the end, a chunk at a
/// time, so that appending costs the same for a log of any length.
pub(crate) fn read_tail(path: &Path) -> io::Result<Tail> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Tail::Empty),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Tail::Empty);
    }
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] != b'\n' {
        return Ok(Tail::Incomplete);
    }
    let end = len - 1;
    let mut line: Vec<u8> = Vec::new();
    let mut pos = end;
    while pos > 0 {
        if end - pos > MAX_LINE {
            return Ok(Tail::TooLong);
        }
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; usize::try_from(pos - start).expect("a chunk fits in memory")];
        file.read_exact_at(&mut chunk, start)?;
        let newline = chunk.iter().rposition(|&b| b == b'\n');
        let from = newline.map_or(0, |i| i + 1);
        chunk.drain(..from);
        chunk.extend_from_slice(&line);
        line = chunk;
        if newline.is_some() {
            break;
        }
        pos = start;
    }
    Ok(Tail::Line(line))
}

/// Replaces `dir/name` with `bytes` atomically.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let target = dir.join(name);
    // Nothing is synced: after a crash the head may be the old one, which
    // names a record the log has, or empty; both are accepted as the trace
    // of a crash (see `AuditLog::check_end`). The first head is a new name,
    // which must survive: a missing head reads as damage.
    if target.exists() {
        warrant_fs::replace_unsynced(&target, bytes, FILE_MODE)
    } else {
        warrant_fs::write_atomic(&target, bytes, FILE_MODE)
    }
    .map_err(Error::io(&target))
}

/// Makes a new name in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    warrant_fs::sync_dir(dir).map_err(Error::io(dir))
}

/// The OS user's name: from `/etc/passwd` by uid, else `$USER`, else the uid.
pub(crate) fn user_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let uid = rustix::process::getuid().as_raw();
        fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|passwd| name_in_passwd(&passwd, uid))
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| uid.to_string())
    })
}

fn name_in_passwd(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let found: u32 = fields.nth(1)?.parse().ok()?;
        (found == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_reads_the_last_line_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        assert_eq!(read_tail(&path).unwrap(), Tail::Empty);
        fs::write(&path, b"").unwrap();
        assert_eq!(read_tail(&path).unwrap(), Tail::Empty);
        fs::write(&path, b"one\n").unwrap();
        assert_eq!(read_tail(&path).unwrap(), Tail::Line(b"one".to_vec()));
        let long = "x".repeat(20_000);
        fs::write(&path, format!("one\n{long}\n")).unwrap();
        assert_eq!(read_tail(&path).unwrap(), Tail::Line(long.into_bytes()));
        fs::write(&path, b"one\ntwo").unwrap();
        assert_eq!(read_tail(&path).unwrap(), Tail::Incomplete);
        fs::write(&path, b"one\n\n").unwrap();
        assert_eq!(read_tail(&path).unwrap(), Tail::Line(Vec::new()));
    }

    #[test]
    fn passwd_lookup() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nana:x:1000:1000::/home/ana:/bin/sh\nbad line\n";
        assert_eq!(name_in_passwd(passwd, 1000).as_deref(), Some("ana"));
        assert_eq!(name_in_passwd(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_in_passwd(passwd, 7), None);
        assert!(!user_name().is_empty());
    }
}
