//! Process identity and ancestry, read from `/proc`.
//!
//! A pid alone does not name a process: once a process has ended and been
//! reaped, the kernel hands its pid to the next process it creates. A
//! [`ProcessId`] therefore carries the start time too (field 22 of
//! `/proc/PID/stat`, in clock ticks since boot), and every function here
//! compares both. A zombie (state `Z` or `X`) counts as ended: it runs no
//! code and only waits for its parent to collect its status.
//!
//! The broker uses this to tell whether a caller (the pid on the other end of
//! its Unix socket) belongs to a task: [`is_descendant`] of the task's root
//! process. `/proc` is not read atomically; each function documents what it
//! does about processes that start or end while it reads.
//!
//! ```
//! use warrant_sandbox::proc;
//!
//! let me = proc::identify(std::process::id()).unwrap();
//! assert!(proc::is_alive(&me));
//! let chain = proc::ancestors(me.pid).unwrap();
//! assert_eq!(chain[0], me);
//! assert_eq!(chain.last().unwrap().pid, 1);
//! ```

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

use crate::Error;

/// A process, named so that a recycled pid is never mistaken for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcessId {
    /// The pid (in the pid namespace of the `/proc` this was read from).
    pub pid: u32,
    /// When the process started: field 22 of `/proc/PID/stat`, in clock
    /// ticks since boot.
    pub start_time: u64,
}

/// The fields of `/proc/PID/stat` this crate uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Field 3, such as `R`, `S` or `Z`.
    pub(crate) state: u8,
    /// Field 4; 0 for the first process of a pid namespace.
    pub(crate) ppid: u32,
    /// Field 22.
    pub(crate) start_time: u64,
}

impl Stat {
    /// Zombies (`Z`) and dead tasks (`X`, or `x` on old kernels) have ended.
    fn has_ended(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Parses the content of `/proc/PID/stat`.
///
/// The second field is the command name in parentheses; it is chosen by
/// whoever runs the program (it is the executable's file name, or anything
/// set with `PR_SET_NAME`) and may hold spaces and `)`. Everything after the
/// *last* `)` is plain numbers, so the fields are counted from there.
pub(crate) fn parse_stat(text: &[u8]) -> Option<Stat> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = match fields.next()?.as_bytes() {
        [state] => *state,
        _ => return None,
    };
    let ppid = fields.next()?.parse().ok()?;
    // Fields 5 to 21 come before the start time.
    let start_time = fields.nth(21 - 5 + 1)?.parse().ok()?;
    Some(Stat {
        state,
        ppid,
        start_time,
    })
}

/// Reads `/proc/PID/stat`, zombies included.
pub(crate) fn read_stat(pid: u32) -> Result<Stat, Error> {
    match fs::read(format!("/proc/{pid}/stat")) {
        Ok(text) => parse_stat(&text).ok_or(Error::MalformedStat { pid }),
        Err(e) if is_gone_error(&e) => Err(Error::NoSuchProcess { pid }),
        Err(source) => Err(Error::Proc {
            pid,
            file: "stat",
            source,
        }),
    }
}

/// Reads `/proc/PID/stat` of a process that has not ended.
fn live_stat(pid: u32) -> Result<Stat, Error> {
    let stat = read_stat(pid)?;
    if stat.has_ended() {
        return Err(Error::NoSuchProcess { pid });
    }
    Ok(stat)
}

/// `ENOENT` once the process is reaped, `ESRCH` while it is being torn down.
fn is_gone_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error())
}

/// The process that has `pid` now.
///
/// Fails with [`Error::NoSuchProcess`] when there is none or it has ended.
pub fn identify(pid: u32) -> Result<ProcessId, Error> {
    let stat = live_stat(pid)?;
    Ok(ProcessId {
        pid,
        start_time: stat.start_time,
    })
}

/// Whether `id` still runs: its pid exists, has the same start time (it was
/// not recycled) and is not a zombie.
pub fn is_alive(id: &ProcessId) -> bool {
    live_stat(id.pid).is_ok_and(|stat| stat.start_time == id.start_time)
}

/// Whether `id` can neither run user code nor be in the middle of creating
/// a process: it is stopped (`T`, `t`), in uninterruptible sleep (`D`, such
/// as the parent of a `vfork` child that has not exec'd yet), has ended, or
/// is gone.
pub(crate) fn is_settled(id: &ProcessId) -> bool {
    match read_stat(id.pid) {
        Ok(stat) if stat.start_time == id.start_time => {
            stat.has_ended() || matches!(stat.state, b'T' | b't' | b'D')
        }
        _ => true,
    }
}

/// The parent pid of `pid` (0 for the first process of the pid namespace).
///
/// When the parent ends first, the kernel gives the process a new parent
/// (the nearest child subreaper, or pid 1), so the answer can change.
pub fn parent(pid: u32) -> Result<u32, Error> {
    Ok(live_stat(pid)?.ppid)
}

/// `pid` itself first, then its parent, its parent's parent, and so on up to
/// and including the first process of the pid namespace (pid 1).
///
/// The chain stops early when a parent ends while it is being read: after
/// reading a parent, the child's parent pid is read again, and the parent is
/// kept only if it is unchanged. A parent that had ended and whose pid had
/// been recycled in between would have left the child with a new parent, so
/// every entry of the chain is the real parent of the one before it.
pub fn ancestors(pid: u32) -> Result<Vec<ProcessId>, Error> {
    let mut stat = live_stat(pid)?;
    let mut chain = vec![ProcessId {
        pid,
        start_time: stat.start_time,
    }];
    let mut child = pid;
    while stat.ppid != 0 {
        let ppid = stat.ppid;
        let Ok(parent_stat) = live_stat(ppid) else {
            break;
        };
        if !live_stat(child).is_ok_and(|again| again.ppid == ppid) {
            break;
        }
        if chain.iter().any(|p| p.pid == ppid) {
            // Not possible in a consistent /proc; guards the loop anyway.
            break;
        }
        chain.push(ProcessId {
            pid: ppid,
            start_time: parent_stat.start_time,
        });
        child = ppid;
        stat = parent_stat;
    }
    Ok(chain)
}

/// Whether `pid` is `root` itself or one of its descendants, `root`'s start
/// time included (a recycled root pid does not count).
///
/// A process whose ancestor between it and `root` has ended was re-parented
/// away from `root` (to a subreaper or pid 1) and is no longer a descendant.
pub fn is_descendant(pid: u32, root: &ProcessId) -> bool {
    ancestors(pid).is_ok_and(|chain| chain.contains(root))
}

/// Every live process under `root`, children of children included, not
/// `root` itself; empty when `root` has ended.
///
/// `/proc` is scanned once and the parent tree built from that snapshot, so
/// a process forked during the scan may be missed (see
/// [`terminate_tree`](crate::terminate::terminate_tree) for how termination
/// copes with that).
pub fn descendants(root: &ProcessId) -> Vec<ProcessId> {
    descendants_of(std::slice::from_ref(root))
}

/// The live descendants of all `roots` (which must be alive to count), each
/// once, roots excluded; from one scan of `/proc`.
pub(crate) fn descendants_of(roots: &[ProcessId]) -> Vec<ProcessId> {
    let table = scan();
    let mut children: HashMap<u32, Vec<(u32, Stat)>> = HashMap::new();
    let mut by_pid: HashMap<u32, Stat> = HashMap::new();
    for &(pid, stat) in &table {
        children.entry(stat.ppid).or_default().push((pid, stat));
        by_pid.insert(pid, stat);
    }
    let mut seen: HashSet<u32> = HashSet::new();
    let mut queue: Vec<ProcessId> = roots
        .iter()
        .filter(|root| {
            by_pid
                .get(&root.pid)
                .is_some_and(|s| s.start_time == root.start_time && !s.has_ended())
        })
        .copied()
        .collect();
    seen.extend(queue.iter().map(|root| root.pid));
    let mut found = Vec::new();
    while let Some(parent) = queue.pop() {
        for &(pid, stat) in children.get(&parent.pid).into_iter().flatten() {
            // A child cannot start before its parent; such an entry comes
            // from a pid recycled while the scan ran.
            if stat.start_time < parent.start_time || !seen.insert(pid) {
                continue;
            }
            let id = ProcessId {
                pid,
                start_time: stat.start_time,
            };
            if !stat.has_ended() {
                found.push(id);
            }
            queue.push(id);
        }
    }
    found
}

/// Every process in `/proc` (zombies included) with its stat; processes
/// that end during the scan are left out.
fn scan() -> Vec<(u32, Stat)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_stat(pid).ok().map(|stat| (pid, stat)))
        .collect()
}

/// Whether processes `a` and `b` run the same executable file: the targets
/// of `/proc/a/exe` and `/proc/b/exe` have the same device and inode (so a
/// hard link or a path through a symlink counts as the same file, and a file
/// replaced at the same path does not).
///
/// Reading another user's `/proc/PID/exe` needs ptrace access; that and
/// kernel threads (no executable) give [`Error::Proc`].
pub fn same_executable(a: u32, b: u32) -> Result<bool, Error> {
    Ok(executable(a)? == executable(b)?)
}

/// The command name of `pid`, for messages: `/proc/PID/comm`, the file
/// name of what it runs cut to 15 bytes, or anything it set with
/// `PR_SET_NAME`. The process chooses it (an impostor may call itself
/// `warrant`): show it beside the pid, never decide on it. Bytes that are
/// not UTF-8 and control characters (a terminal escape, say) are escaped.
pub fn command_name(pid: u32) -> Result<String, Error> {
    match fs::read(format!("/proc/{pid}/comm")) {
        Ok(name) => Ok(printable(name.strip_suffix(b"\n").unwrap_or(&name))),
        Err(e) if is_gone_error(&e) => Err(Error::NoSuchProcess { pid }),
        Err(source) => Err(Error::Proc {
            pid,
            file: "comm",
            source,
        }),
    }
}

/// `name` with invalid UTF-8 and control characters escaped.
fn printable(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Device and inode of the file `pid` runs.
fn executable(pid: u32) -> Result<(u64, u64), Error> {
    match fs::metadata(format!("/proc/{pid}/exe")) {
        Ok(meta) => Ok((meta.dev(), meta.ino())),
        Err(source) => {
            // Distinguish "the process is gone" from "it has no readable
            // executable".
            live_stat(pid)?;
            Err(Error::Proc {
                pid,
                file: "exe",
                source,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_line(comm: &str, state: char, ppid: u32, start: u64) -> Vec<u8> {
        // Fields 5..=21 as 17 numbers, then start time, then the rest.
        let middle: Vec<String> = (5..=21).map(|n| n.to_string()).collect();
        format!(
            "4242 ({comm}) {state} {ppid} {} {start} 1234 20 0 0 0\n",
            middle.join(" ")
        )
        .into_bytes()
    }

    #[test]
    fn parses_plain_stat() {
        let stat = parse_stat(&stat_line("bash", 'S', 17, 987_654)).unwrap();
        assert_eq!(
            stat,
            Stat {
                state: b'S',
                ppid: 17,
                start_time: 987_654
            }
        );
    }

    #[test]
    fn comm_with_spaces_and_parentheses_is_skipped_whole() {
        let stat = parse_stat(&stat_line("a) b (c) Z 9 9", 'R', 3, 55)).unwrap();
        assert_eq!(stat.state, b'R');
        assert_eq!(stat.ppid, 3);
        assert_eq!(stat.start_time, 55);
    }

    #[test]
    fn comm_with_non_utf8_bytes() {
        let mut line = b"7 (\xff\xfe) ".to_vec();
        line.extend_from_slice(&stat_line("x", 'Z', 1, 99)[6..]);
        let stat = parse_stat(&line).unwrap();
        assert_eq!(stat.state, b'Z');
        assert!(stat.has_ended());
    }

    #[test]
    fn truncated_or_garbled_stat_is_rejected() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"1 (init) S 0 1 1"), None);
        assert_eq!(parse_stat(b"1 ) S ( 0"), None);
        assert_eq!(parse_stat(&stat_line("x", 'S', 1, 5)[..20]), None);
        let bad = String::from_utf8(stat_line("x", 'S', 1, 5))
            .unwrap()
            .replace(" S ", " SS ");
        assert_eq!(parse_stat(bad.as_bytes()), None);
    }

    #[test]
    fn reads_own_stat() {
        let me = identify(std::process::id()).unwrap();
        let stat = read_stat(me.pid).unwrap();
        assert_eq!(stat.start_time, me.start_time);
        assert!(!stat.has_ended());
    }

    #[test]
    fn pid_zero_and_unused_pids_are_no_process() {
        assert!(matches!(identify(0), Err(Error::NoSuchProcess { pid: 0 })));
        // Above the largest pid_max the kernel allows (2^22).
        assert!(matches!(
            identify(u32::MAX),
            Err(Error::NoSuchProcess { .. })
        ));
        assert!(!is_alive(&ProcessId {
            pid: u32::MAX,
            start_time: 0
        }));
    }

    #[test]
    fn command_names() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        // Until the child has exec'd, it still bears this thread's name.
        let named = (0..200).any(|_| {
            let name = command_name(child.id()).unwrap();
            name == "sleep" || {
                std::thread::sleep(std::time::Duration::from_millis(10));
                false
            }
        });
        assert!(named, "{:?}", command_name(child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(matches!(
            command_name(child.id()),
            Err(Error::NoSuchProcess { .. })
        ));
        assert_eq!(printable(b"evil\x1b[2Jname\n"), "evil\\u{1b}[2Jname\\n");
        assert_eq!(printable(b"caf\xc3\xa9 \xff"), "caf\u{e9} \u{fffd}");
    }
}
