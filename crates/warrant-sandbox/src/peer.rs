//! Which processes are on the other end of a loopback TCP connection.
//!
//! A Unix socket tells its server who connected (`SO_PEERCRED`); TCP does
//! not, even over loopback. The daemon serves its approval page on loopback
//! TCP and must refuse approvals sent from inside an agent's task, so it
//! asks the kernel the way `ss -tp` does:
//!
//! 1. In `/proc/net/tcp` and `/proc/net/tcp6`, find the peer's socket: the
//!    row whose local address is our connection's remote address and whose
//!    remote address is our local address. Its `uid` column is the user that
//!    created the socket, its `inode` names the socket.
//! 2. Read the fd table of every process (`/proc/PID/fd/*`) and keep those
//!    where an fd links to `socket:[INODE]`. fds are inherited across `fork`
//!    and can be passed over Unix sockets, so there may be several.
//!
//! [`tcp_listener`] answers the other question a server asks before it
//! binds: who listens on an address whose port it wants. It reads the same
//! tables for `LISTEN` rows (state `0A`) that cover the address (the address
//! itself, or a wildcard that takes it too) and the same fd tables.
//!
//! An IPv4 connection may appear in either table, with IPv4 addresses or as
//! IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`), depending on how each
//! side opened its socket (a listener on `[::]` accepts IPv4 clients, a
//! client may connect an IPv6 socket to `::ffff:127.0.0.1`); addresses are
//! compared with mapped ones turned back into IPv4, so every combination is
//! found. Flow info and scope ids are ignored.
//!
//! # Limits
//!
//! The answer lists the holders the kernel lets us see, at the moment we
//! looked. A caller that refuses processes of a task must refuse when it
//! cannot tell, and must refuse when *any* holder belongs to the task:
//!
//! - Reading another process's `/proc/PID/fd` needs ptrace read access:
//!   processes of other users, and non-dumpable processes of our own user
//!   (`prctl(PR_SET_DUMPABLE, 0)`, which any process may call on itself), are
//!   skipped unless we are privileged. [`TcpPeer::pids`] may therefore be
//!   empty although the connection is open, or miss some holders.
//! - fds are only seen in fd tables: a socket in flight inside an
//!   `SCM_RIGHTS` message, registered as an `io_uring` fixed file, or held by
//!   a thread that does not share its process's fd table (`clone` without
//!   `CLONE_FILES`; only `/proc/PID/fd` of thread group leaders is read) is
//!   not found.
//! - A race: the connection may be handed to another process (`SCM_RIGHTS`,
//!   `pidfd_getfd`) or its holder may `fork` after the check, and the bytes
//!   that follow then come from a process that was not checked. A holder
//!   that is listed may also have closed its fd or ended by the time the
//!   caller looks at it, and its pid been given to a new process: pids are
//!   bare numbers here, identify them ([`crate::proc::identify`]) at once.
//! - Only the network namespace of the calling thread (`/proc/net` is
//!   `/proc/self/net`) and the processes of the pid namespace `/proc` was
//!   mounted for are seen; over loopback, both ends share the first.
//!
//! # Example
//!
//! ```
//! use std::net::{TcpListener, TcpStream};
//! use warrant_sandbox::{peer, proc};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
//! let (conn, remote) = listener.accept().unwrap();
//!
//! let peer = peer::tcp_peer(conn.local_addr().unwrap(), remote)
//!     .unwrap()
//!     .expect("the client is still connected");
//! assert!(peer.pids.contains(&std::process::id()));
//!
//! // Pretend this process were the root of an agent's task: fail closed.
//! let task_root = proc::identify(std::process::id()).unwrap();
//! let from_outside = !peer.pids.is_empty()
//!     && peer.pids.iter().all(|&pid| !proc::is_descendant(pid, &task_root));
//! assert!(!from_outside);
//! ```

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rustix::fs::{CWD, Dir, Mode, OFlags, openat, readlinkat_raw};

use crate::Error;

/// The process(es) on the other end of a loopback TCP connection this
/// process accepted ([`tcp_peer`]), or listening on an address
/// ([`tcp_listener`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpPeer {
    /// The user that created the peer's socket (the `uid` column of
    /// `/proc/net/tcp`). The processes holding it now need not run as this
    /// user: an fd can be passed on.
    pub uid: u32,
    /// Every process we could see holding the peer's socket, in ascending
    /// order; possibly several (fds are inherited across `fork`), possibly
    /// none although the connection is open (holders whose fds we may not
    /// read are left out, see the [module docs](self)). The caller must
    /// fail closed on an empty list.
    pub pids: Vec<u32>,
}

/// The processes holding the other end of an accepted loopback TCP
/// connection.
///
/// `local` is the accepted socket's local address (the address we listen
/// on), `remote` the peer's address, as given by `TcpStream::local_addr`
/// and `TcpStream::peer_addr` (or `accept`).
///
/// `Ok(None)` when no process holds the peer's socket any more: its row is
/// gone, or is only left while the kernel finishes the close (a socket
/// closed by its last holder, `FIN_WAIT2`, `TIME_WAIT`: inode 0); also when
/// the peer is not on this machine. Fails with [`Error::ProcTable`] when
/// `/proc/net/tcp` or `/proc/net/tcp6` cannot be read or has an unexpected
/// format, or `/proc` cannot be listed.
///
/// Reads `/proc/net/tcp` (IPv4 only) and then `/proc/net/tcp6` until the
/// row is found, then the fd tables of all processes once. Each read of a
/// socket table walks the kernel's whole connection hash table, which costs
/// a few milliseconds on a large machine even with few connections; call
/// this once per accepted connection, not per request. See the
/// [module docs](self) for what it cannot see.
pub fn tcp_peer(local: SocketAddr, remote: SocketAddr) -> Result<Option<TcpPeer>, Error> {
    let Some((uid, inode)) = find_peer_socket(local, remote)? else {
        return Ok(None);
    };
    let pids = holders(&[inode])?;
    Ok(Some(TcpPeer { uid, pids }))
}

/// The processes listening on `addr`, or on a wildcard address that takes
/// its connections: whoever makes binding `addr` fail with `EADDRINUSE`.
///
/// A listener on `0.0.0.0:PORT` covers every IPv4 address on that port, one
/// on `[::]:PORT` every IPv6 address and, unless it set `IPV6_V6ONLY` (which
/// the socket tables do not show), every IPv4 address too; such a listener
/// is counted as covering IPv4 addresses. With `SO_REUSEPORT` several
/// sockets may listen on one address: the answer holds the processes of all
/// of them and the `uid` of the first found (`SO_REUSEPORT` requires one
/// uid for a group).
///
/// `Ok(None)` when nothing listens there; fails as [`tcp_peer`] does, which
/// also documents what the answer may miss. Reads `/proc/net/tcp` (for an
/// IPv4 address only) and `/proc/net/tcp6` whole, then the fd tables of all
/// processes once: call it when a bind has failed, not per connection.
///
/// ```
/// use std::net::TcpListener;
/// use warrant_sandbox::peer;
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let holder = peer::tcp_listener(listener.local_addr().unwrap())
///     .unwrap()
///     .expect("we listen there");
/// assert!(holder.pids.contains(&std::process::id()));
/// ```
pub fn tcp_listener(addr: SocketAddr) -> Result<Option<TcpPeer>, Error> {
    // A plain IPv6 address is never taken by an IPv4 socket.
    let tables: &[&'static str] = if canonical(addr).0.is_ipv4() {
        &[TCP4, TCP6]
    } else {
        &[TCP6]
    };
    let mut sockets = Vec::new();
    for &path in tables {
        match File::open(path).and_then(|file| listening_rows(file, addr, &mut sockets)) {
            Ok(()) => {}
            Err(e) if path == TCP6 && e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::ProcTable { path, source }),
        }
    }
    let Some(&(uid, _)) = sockets.first() else {
        return Ok(None);
    };
    let inodes: Vec<u64> = sockets.iter().map(|&(_, inode)| inode).collect();
    let pids = holders(&inodes)?;
    Ok(Some(TcpPeer { uid, pids }))
}

const TCP4: &str = "/proc/net/tcp";
const TCP6: &str = "/proc/net/tcp6";

/// The uid and inode of the peer's socket, if a process holds it.
fn find_peer_socket(local: SocketAddr, remote: SocketAddr) -> Result<Option<(u32, u64)>, Error> {
    // A socket with a plain IPv6 address is only ever in tcp6; an IPv4
    // connection may be in either, most often in tcp (both ends opened IPv4
    // sockets), so that is read first.
    let both_ipv4 = canonical(local).0.is_ipv4() && canonical(remote).0.is_ipv4();
    let tables: &[&'static str] = if both_ipv4 { &[TCP4, TCP6] } else { &[TCP6] };
    for &path in tables {
        match File::open(path).and_then(|file| search_rows(file, local, remote)) {
            Ok(Some(found)) => return Ok(Some(found)),
            Ok(None) => {}
            // No tcp6 in a kernel without IPv6 (or booted with
            // ipv6.disable=1): then no socket is in it.
            Err(e) if path == TCP6 && e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::ProcTable { path, source }),
        }
    }
    Ok(None)
}

/// Reads a socket table until the peer's row, the one with `local` and
/// `remote` swapped, is found.
///
/// Every `read` of these files walks the kernel's whole hash table of
/// connections (about 2 ms for 262144 buckets, empty or not), even the last
/// one, which only finds the end; stopping at the row spares that one.
/// Rows with inode 0 are passed over: no process holds their socket (it is
/// closing, or in `TIME_WAIT`), and a live socket with the same addresses
/// may follow.
fn search_rows(
    table: impl Read,
    local: SocketAddr,
    remote: SocketAddr,
) -> io::Result<Option<(u32, u64)>> {
    let (local, remote) = (canonical(local), canonical(remote));
    let mut found = None;
    scan_rows(table, |row| {
        if row.inode != 0 && canonical(row.local) == remote && canonical(row.remote) == local {
            found = Some((row.uid, row.inode));
        }
        found.is_some()
    })?;
    Ok(found)
}

/// The `LISTEN` state in the `st` column.
const LISTEN: u8 = 0x0A;

/// Adds to `found` the uid and inode of every socket in the table that
/// listens on `addr` or on a wildcard covering it.
fn listening_rows(
    table: impl Read,
    addr: SocketAddr,
    found: &mut Vec<(u32, u64)>,
) -> io::Result<()> {
    scan_rows(table, |row| {
        if row.state == LISTEN && row.inode != 0 && covers(row.local, addr) {
            found.push((row.uid, row.inode));
        }
        false
    })
}

/// Whether a socket bound to `bound` takes connections to `addr`.
fn covers(bound: SocketAddr, addr: SocketAddr) -> bool {
    let (ip, port) = canonical(addr);
    if bound.port() != port {
        return false;
    }
    match bound.ip() {
        // `[::]` takes IPv4 too, unless IPV6_V6ONLY (not in the table).
        IpAddr::V6(any) if any.is_unspecified() => true,
        bound => {
            let bound = bound.to_canonical();
            bound == ip || (bound.is_unspecified() && bound.is_ipv4() == ip.is_ipv4())
        }
    }
}

/// Reads a socket table row by row (a header line first), calling `visit`
/// on each until it returns `true`.
fn scan_rows(mut table: impl Read, mut visit: impl FnMut(Row) -> bool) -> io::Result<()> {
    let mut chunk = vec![0_u8; 64 * 1024];
    // The part of a line a read ended in.
    let mut pending = Vec::new();
    let mut line_number = 0_usize;
    loop {
        let read = match table.read(&mut chunk) {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let end_of_table = read == 0;
        pending.extend_from_slice(&chunk[..read]);
        let mut lines = pending.split(|&b| b == b'\n').peekable();
        let mut consumed = 0;
        while let Some(line) = lines.next() {
            // The last piece has no newline yet: wait for the rest, unless
            // the table ends there.
            if lines.peek().is_none() && !end_of_table {
                break;
            }
            consumed += line.len() + 1;
            line_number += 1;
            // The first line holds the column names.
            if line_number == 1 || (line.is_empty() && lines.peek().is_none()) {
                continue;
            }
            let row = std::str::from_utf8(line).ok().and_then(parse_row);
            let row = row.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("line {line_number} has an unexpected format"),
                )
            })?;
            if visit(row) {
                return Ok(());
            }
        }
        if end_of_table {
            return Ok(());
        }
        pending.drain(..consumed);
    }
}

/// An address and port, with an IPv4-mapped IPv6 address as IPv4.
fn canonical(addr: SocketAddr) -> (IpAddr, u16) {
    (addr.ip().to_canonical(), addr.port())
}

/// The columns of a `/proc/net/tcp` or `/proc/net/tcp6` row used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    /// `local_address`: this socket's address.
    local: SocketAddr,
    /// `rem_address`: the address it is connected to.
    remote: SocketAddr,
    /// `st`: the TCP state, such as 01 (established), 0A (listen), 06
    /// (time wait).
    state: u8,
    /// `uid`: the user that created the socket.
    uid: u32,
    /// `inode`: the socket's inode; 0 when no fd refers to it.
    inode: u64,
}

/// Parses one row of `/proc/net/tcp` or `/proc/net/tcp6`; `None` for
/// anything else, the header line included.
///
/// The columns are (see `tcp4_seq_show` and `tcp6_seq_show` in the kernel):
/// `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt
/// uid timeout inode ...`. An address is `ADDR:PORT` with the port as 4 hex
/// digits and the address as the 32-bit words of its in-memory (network
/// order) bytes, each printed as a native-endian number in 8 hex digits: one
/// word for IPv4, four for IPv6.
fn parse_row(line: &str) -> Option<Row> {
    let mut columns = line.split_ascii_whitespace();
    let slot = columns.next()?;
    slot.strip_suffix(':')?.parse::<u32>().ok()?;
    let local = parse_address(columns.next()?)?;
    let remote = parse_address(columns.next()?)?;
    let state = columns.next()?;
    if state.len() != 2 {
        return None;
    }
    let state = u8::try_from(hex_number(state)?).ok()?;
    // tx_queue:rx_queue, tr:tm->when, retrnsmt.
    let uid = columns.nth(3)?.parse().ok()?;
    // timeout.
    let inode = columns.nth(1)?.parse().ok()?;
    Some(Row {
        local,
        remote,
        state,
        uid,
        inode,
    })
}

/// Parses `0100007F:1F90` (127.0.0.1:8080) or its 32-digit IPv6 form.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    if port.len() != 4 {
        return None;
    }
    let port = u16::try_from(hex_number(port)?).ok()?;
    let mut bytes = [0_u8; 16];
    let ip = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(hex_number(address)?.to_ne_bytes())),
        32 => {
            for (word, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                let digits = address.get(word * 8..word * 8 + 8)?;
                chunk.copy_from_slice(&hex_number(digits)?.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// At most 8 hex digits, nothing else (`from_str_radix` alone would take a
/// leading `+`).
fn hex_number(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// Every process whose fd table holds `socket:[INODE]` for one of
/// `inodes`, in ascending pid order.
///
/// All readable fd tables are read, whoever owns the process: a socket is
/// normally held by processes of the user that created it, but an fd can be
/// passed to a process of another user, and skipping those would hide a
/// holder. Processes whose fd table cannot be read, or that end while it is
/// read, are skipped.
fn holders(inodes: &[u64]) -> Result<Vec<u32>, Error> {
    let targets: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let proc_error = |e: rustix::io::Errno| Error::ProcTable {
        path: "/proc",
        source: e.into(),
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let proc_dir = openat(CWD, "/proc", flags, Mode::empty()).map_err(proc_error)?;
    let processes = Dir::read_from(&proc_dir).map_err(proc_error)?;
    let mut pids = Vec::new();
    let mut fd_path = String::new();
    // A link to a longer name fills the buffer and is never the target.
    let mut link = [0_u8; 64];
    for entry in processes {
        let entry = entry.map_err(proc_error)?;
        let Some(pid) = pid_of(entry.file_name().to_bytes()) else {
            continue;
        };
        fd_path.clear();
        // Writing to a String cannot fail.
        let _ = write!(fd_path, "{pid}/fd");
        // Not ours to read (another user's, or not dumpable), or gone.
        let Ok(fd_dir) = openat(&proc_dir, fd_path.as_str(), flags, Mode::empty()) else {
            continue;
        };
        // `Dir` owns the descriptor it reads from and needs it mutably;
        // `readlinkat` goes through a second one.
        let Ok(fds) = rustix::io::dup(&fd_dir).and_then(Dir::new) else {
            continue;
        };
        // An error part way through (the process ended) ends its listing.
        let holds = fds.map_while(Result::ok).any(|fd| {
            let name = fd.file_name();
            name.to_bytes().first() != Some(&b'.')
                && readlinkat_raw(&fd_dir, name, &mut link).is_ok_and(|len| {
                    len < link.len() && targets.iter().any(|t| &link[..len] == t.as_bytes())
                })
        });
        if holds {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

/// The pid named by a `/proc` entry, `None` for `self`, `sys` and the like.
fn pid_of(name: &[u8]) -> Option<u32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::process::{Command, Stdio};

    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    // Lines copied from /proc/net/tcp and /proc/net/tcp6 on x86_64 (Linux
    // 6.18), trailing spaces included.
    const V4_ESTABLISHED: &str = "   6: 0100007F:D736 0100007F:B22F 01 00000000:00000000 00:00000000 00000000     0        0 9013 2 00000000a96a624b 20 0 0 10 -1                      ";
    const V4_LISTEN: &str = "   0: 0100007F:B22F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9012 1 000000001341b6ad 100 0 0 10 0                      ";
    const V4_TIME_WAIT: &str = "   5: 0100007F:D736 0100007F:B22F 06 00000000:00000000 03:00001770 00000000     0        0 0 3 00000000b83878e4                                      ";
    const V4_OUTBOUND: &str = "   1: 020200C0:EE08 507100CB:01BB 01 00000000:00000000 00:00000000 00000000     0        0 4380 1 00000000f43d7f53 21 4 1 80 148                     ";
    const V6_ESTABLISHED: &str = "   2: 00000000000000000000000001000000:88AC 00000000000000000000000001000000:B41B 01 00000000:00000000 00:00000000 00000000     0        0 9018 2 00000000629a1fea 20 0 0 10 -1";
    const V6_MAPPED: &str = "   1: 0000000000000000FFFF00000100007F:E551 0000000000000000FFFF00000100007F:8FB0 01 00000000:00000000 00:00000000 00000000     0        0 9022 1 00000000629a1fea 20 0 0 10 -1";
    const V6_TIME_WAIT: &str = "   3: 00000000000000000000000001000000:88AC 00000000000000000000000001000000:B41B 06 00000000:00000000 03:0000176E 00000000     0        0 0 3 00000000dc07445e";
    const V4_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     ";
    const V6_HEADER: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

    #[test]
    fn parses_ipv4_rows() {
        assert_eq!(
            parse_row(V4_ESTABLISHED),
            Some(Row {
                local: addr("127.0.0.1:55094"),
                remote: addr("127.0.0.1:45615"),
                state: 0x01,
                uid: 0,
                inode: 9013,
            })
        );
        let listen = parse_row(V4_LISTEN).unwrap();
        assert_eq!(listen.remote, addr("0.0.0.0:0"));
        assert_eq!(listen.state, LISTEN);
        let outbound = parse_row(V4_OUTBOUND).unwrap();
        assert_eq!(outbound.local, addr("192.0.2.2:60936"));
        assert_eq!(outbound.remote, addr("203.0.113.80:443"));
        let time_wait = parse_row(V4_TIME_WAIT).unwrap();
        assert_eq!(time_wait.inode, 0);
    }

    #[test]
    fn parses_ipv6_rows() {
        assert_eq!(
            parse_row(V6_ESTABLISHED),
            Some(Row {
                local: addr("[::1]:34988"),
                remote: addr("[::1]:46107"),
                state: 0x01,
                uid: 0,
                inode: 9018,
            })
        );
        let mapped = parse_row(V6_MAPPED).unwrap();
        assert_eq!(mapped.local, addr("[::ffff:127.0.0.1]:58705"));
        assert_eq!(mapped.remote, addr("[::ffff:127.0.0.1]:36784"));
        assert_eq!(canonical(mapped.local), canonical(addr("127.0.0.1:58705")));
        assert_eq!(parse_row(V6_TIME_WAIT).unwrap().inode, 0);
    }

    #[test]
    fn uid_column_is_read() {
        let line = V4_ESTABLISHED.replace("     0        0 9013", "  1000        0 9013");
        assert_eq!(parse_row(&line).unwrap().uid, 1000);
    }

    #[test]
    fn headers_and_garbled_rows_are_rejected() {
        assert_eq!(parse_row(V4_HEADER), None);
        assert_eq!(parse_row(V6_HEADER), None);
        assert_eq!(parse_row(""), None);
        assert_eq!(parse_row(&V4_ESTABLISHED[..40]), None);
        for (from, to) in [
            ("0100007F:D736", "100007F:D736"),
            ("0100007F:D736", "0100007F:0D736"),
            ("0100007F:D736", "+100007F:D736"),
            ("0100007F:D736", "0100007FD736"),
            ("0100007F:D736", "0100007G:D736"),
            (" 01 ", " 1 "),
            (" 9013 ", " -9013 "),
            ("   6:", "   6"),
        ] {
            let line = V4_ESTABLISHED.replacen(from, to, 1);
            assert_eq!(parse_row(&line), None, "{line}");
        }
        let short_v6 = V6_ESTABLISHED.replacen("01000000:88AC", "0100000:88AC", 1);
        assert_eq!(parse_row(&short_v6), None);
    }

    /// Hands out a table a few bytes per read, like a file whose lines
    /// straddle reads.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(7);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn search(lines: &[&str], local: &str, remote: &str) -> io::Result<Option<(u32, u64)>> {
        let table = lines.join("\n");
        let whole = search_rows(table.as_bytes(), addr(local), addr(remote));
        let trickled = search_rows(Trickle(table.as_bytes()), addr(local), addr(remote));
        match (&whole, &trickled) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("{whole:?} != {trickled:?}"),
        }
        whole
    }

    #[test]
    fn finds_the_peer_row_with_local_and_remote_swapped() {
        let table = [
            V4_HEADER,
            V4_LISTEN,
            V4_OUTBOUND,
            V4_TIME_WAIT,
            V4_ESTABLISHED,
            "",
        ];
        // Our end is 127.0.0.1:45615 (B22F), the peer's 127.0.0.1:55094.
        let found = search(&table, "127.0.0.1:45615", "127.0.0.1:55094").unwrap();
        assert_eq!(found, Some((0, 9013)));
        // Our own row is not the peer's.
        assert_eq!(
            search(&table, "127.0.0.1:55094", "127.0.0.1:45615").unwrap(),
            None
        );
        // Without a trailing newline too.
        let table = [V4_HEADER, V4_ESTABLISHED];
        let found = search(&table, "127.0.0.1:45615", "127.0.0.1:55094").unwrap();
        assert_eq!(found, Some((0, 9013)));
    }

    #[test]
    fn a_row_with_inode_0_is_no_peer() {
        let table = [V4_HEADER, V4_TIME_WAIT, ""];
        assert_eq!(
            search(&table, "127.0.0.1:45615", "127.0.0.1:55094").unwrap(),
            None
        );
        let table = [V6_HEADER, V6_TIME_WAIT, ""];
        assert_eq!(search(&table, "[::1]:46107", "[::1]:34988").unwrap(), None);
    }

    #[test]
    fn mapped_and_plain_ipv4_addresses_match_each_other() {
        let table = [V6_HEADER, V6_ESTABLISHED, V6_MAPPED, ""];
        let found = search(&table, "127.0.0.1:36784", "127.0.0.1:58705").unwrap();
        assert_eq!(found, Some((0, 9022)));
        let found = search(&table, "[::ffff:127.0.0.1]:36784", "127.0.0.1:58705").unwrap();
        assert_eq!(found, Some((0, 9022)));
        let found = search(&table, "[::1]:46107", "[::1]:34988").unwrap();
        assert_eq!(found, Some((0, 9018)));
        let table = [V4_HEADER, V4_ESTABLISHED, ""];
        let found = search(
            &table,
            "[::ffff:127.0.0.1]:45615",
            "[::ffff:127.0.0.1]:55094",
        );
        assert_eq!(found.unwrap(), Some((0, 9013)));
    }

    #[test]
    fn a_malformed_row_is_an_error() {
        let table = [V4_HEADER, V4_LISTEN, "   1: garbage", V4_ESTABLISHED, ""];
        let error = search(&table, "127.0.0.1:45615", "127.0.0.1:55094").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(error.to_string(), "line 3 has an unexpected format");
        let empty: [&str; 0] = [];
        assert_eq!(search(&empty, "127.0.0.1:1", "127.0.0.1:2").unwrap(), None);
    }

    /// A `LISTEN` row for a local address in the tables' hex form.
    fn listen_row(local: &str, uid: u32, inode: u64) -> String {
        let zeros = "0".repeat(local.find(':').unwrap());
        format!(
            "   0: {local} {zeros}:0000 0A 00000000:00000000 00:00000000 00000000  {uid:>4}        0 {inode} 1 0000000000000000 100 0 0 10 0"
        )
    }

    fn listeners(lines: &[&str], at: &str) -> Vec<(u32, u64)> {
        let table = lines.join("\n");
        let mut whole = Vec::new();
        listening_rows(table.as_bytes(), addr(at), &mut whole).unwrap();
        let mut trickled = Vec::new();
        listening_rows(Trickle(table.as_bytes()), addr(at), &mut trickled).unwrap();
        assert_eq!(whole, trickled);
        whole
    }

    #[test]
    fn listeners_on_the_address_are_found() {
        // 127.0.0.1:45615 listens; 127.0.0.1:55094 is a connection to it.
        let table = [V4_HEADER, V4_ESTABLISHED, V4_LISTEN, V4_TIME_WAIT, ""];
        assert_eq!(listeners(&table, "127.0.0.1:45615"), [(0, 9012)]);
        assert_eq!(listeners(&table, "[::ffff:127.0.0.1]:45615"), [(0, 9012)]);
        assert!(listeners(&table, "127.0.0.1:55094").is_empty());
        assert!(listeners(&table, "127.0.0.1:45616").is_empty());
        assert!(listeners(&table, "127.0.0.2:45615").is_empty());
        assert!(listeners(&table, "[::1]:45615").is_empty());
        // A listener without a holder (inode 0) is none.
        let orphan = listen_row("0100007F:1CAD", 0, 0);
        assert!(listeners(&[V4_HEADER, &orphan], "127.0.0.1:7341").is_empty());
    }

    #[test]
    fn wildcard_listeners_cover_their_family() {
        // 0.0.0.0:7341 covers IPv4 addresses only.
        let any4 = listen_row("00000000:1CAD", 1000, 9030);
        let v4 = [V4_HEADER, any4.as_str(), ""];
        assert_eq!(listeners(&v4, "127.0.0.1:7341"), [(1000, 9030)]);
        assert_eq!(listeners(&v4, "192.0.2.1:7341"), [(1000, 9030)]);
        assert!(listeners(&v4, "[::1]:7341").is_empty());
        // [::1]:7341, [::]:7342 (IPv4 too), [::ffff:127.0.0.1]:7343.
        let loopback6 = listen_row("00000000000000000000000001000000:1CAD", 1000, 9031);
        let any6 = listen_row("00000000000000000000000000000000:1CAE", 1001, 9032);
        let mapped = listen_row("0000000000000000FFFF00000100007F:1CAF", 1002, 9033);
        let v6 = [V6_HEADER, &loopback6, &any6, &mapped, V6_ESTABLISHED, ""];
        assert_eq!(listeners(&v6, "[::1]:7341"), [(1000, 9031)]);
        assert!(listeners(&v6, "127.0.0.1:7341").is_empty());
        assert_eq!(listeners(&v6, "[::1]:7342"), [(1001, 9032)]);
        assert_eq!(listeners(&v6, "127.0.0.1:7342"), [(1001, 9032)]);
        assert_eq!(listeners(&v6, "127.0.0.1:7343"), [(1002, 9033)]);
        assert!(listeners(&v6, "[::1]:7343").is_empty());
        // Every socket of a SO_REUSEPORT group.
        let twin = listen_row("00000000000000000000000001000000:1CAD", 1000, 9034);
        let v6 = [V6_HEADER, &loopback6, &twin];
        assert_eq!(listeners(&v6, "[::1]:7341"), [(1000, 9031), (1000, 9034)]);
    }

    #[test]
    fn proc_names_that_are_not_pids() {
        assert_eq!(pid_of(b"1234"), Some(1234));
        assert_eq!(pid_of(b"self"), None);
        assert_eq!(pid_of(b""), None);
        assert_eq!(pid_of(b"+1"), None);
        assert_eq!(pid_of(b"99999999999"), None);
    }

    /// Accepts `client`'s connection on `listener` and returns it with its
    /// peer.
    fn peer_of(listener: &TcpListener, client: &TcpStream) -> (TcpStream, Option<TcpPeer>) {
        let (conn, remote) = listener.accept().unwrap();
        assert_eq!(canonical(remote), canonical(client.local_addr().unwrap()));
        let peer = tcp_peer(conn.local_addr().unwrap(), remote).unwrap();
        (conn, peer)
    }

    fn my_uid() -> u32 {
        rustix::process::getuid().as_raw()
    }

    fn assert_is_me(peer: Option<TcpPeer>) {
        let peer = peer.expect("the client is connected");
        assert!(peer.pids.contains(&std::process::id()), "{peer:?}");
        assert_eq!(peer.uid, my_uid());
    }

    #[test]
    fn own_ipv4_client_is_found() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_conn, peer) = peer_of(&listener, &client);
        assert_is_me(peer);
    }

    #[test]
    fn own_ipv6_client_is_found() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("skipped: cannot bind [::1]");
            return;
        };
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_conn, peer) = peer_of(&listener, &client);
        assert_is_me(peer);
    }

    #[test]
    fn ipv4_client_of_a_dual_stack_listener_is_found() {
        // The accepted socket's addresses are ::ffff:127.0.0.1, the
        // client's row is in /proc/net/tcp with plain IPv4 ones.
        let Ok(listener) = TcpListener::bind("[::]:0") else {
            eprintln!("skipped: cannot bind [::]");
            return;
        };
        let port = listener.local_addr().unwrap().port();
        let Ok(client) = TcpStream::connect(("127.0.0.1", port)) else {
            eprintln!("skipped: [::] does not accept IPv4 (bindv6only)");
            return;
        };
        let (conn, peer) = peer_of(&listener, &client);
        assert!(conn.local_addr().unwrap().is_ipv6());
        assert_is_me(peer);
    }

    #[test]
    fn ipv6_client_of_an_ipv4_listener_is_found() {
        // The reverse: the client's row is in /proc/net/tcp6 with mapped
        // addresses.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let Ok(client) = TcpStream::connect(("::ffff:127.0.0.1", port)) else {
            eprintln!("skipped: no IPv6 sockets");
            return;
        };
        let (conn, peer) = peer_of(&listener, &client);
        assert!(conn.local_addr().unwrap().is_ipv4());
        assert_is_me(peer);
    }

    #[test]
    fn closed_client_has_no_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (conn, peer) = peer_of(&listener, &client);
        assert_is_me(peer);
        // The client's socket is orphaned at once (inode 0) and lingers in
        // FIN_WAIT2, then TIME_WAIT once we close too.
        drop(client);
        let (local, remote) = (conn.local_addr().unwrap(), conn.peer_addr().unwrap());
        assert_eq!(tcp_peer(local, remote).unwrap(), None);
        drop(conn);
        assert_eq!(tcp_peer(local, remote).unwrap(), None);
    }

    #[test]
    fn unknown_connection_has_no_peer() {
        // Port 0 is never connected.
        let peer = tcp_peer(addr("127.0.0.1:1"), addr("127.0.0.1:0")).unwrap();
        assert_eq!(peer, None);
        let peer = tcp_peer(addr("[::1]:1"), addr("[::1]:0")).unwrap();
        assert_eq!(peer, None);
    }

    #[test]
    fn client_in_a_child_process_is_found() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = format!(
            "import socket,sys,time; s=socket.create_connection(('127.0.0.1', {port})); \
             sys.stdout.write('x'); sys.stdout.flush(); time.sleep(30)"
        );
        let mut child = Command::new("python3")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = [0_u8; 1];
        child.stdout.take().unwrap().read_exact(&mut ready).unwrap();
        assert_eq!(&ready, b"x");

        let (conn, remote) = listener.accept().unwrap();
        let local = conn.local_addr().unwrap();
        let peer = tcp_peer(local, remote)
            .unwrap()
            .expect("the child is connected");
        assert!(peer.pids.contains(&child.id()), "{peer:?}");
        // We hold the server end only.
        assert!(!peer.pids.contains(&std::process::id()), "{peer:?}");
        assert_eq!(peer.uid, my_uid());

        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(tcp_peer(local, remote).unwrap(), None);
    }

    #[test]
    fn own_listener_is_found() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let at = listener.local_addr().unwrap();
        let holder = tcp_listener(at).unwrap().expect("we listen");
        assert!(holder.pids.contains(&std::process::id()), "{holder:?}");
        assert_eq!(holder.uid, my_uid());
        let mapped = addr(&format!("[::ffff:127.0.0.1]:{}", at.port()));
        assert_eq!(tcp_listener(mapped).unwrap(), Some(holder));
        // A connected socket's port is not listened on.
        let client = TcpStream::connect(at).unwrap();
        assert_eq!(tcp_listener(client.local_addr().unwrap()).unwrap(), None);
        drop(listener);
        assert_eq!(tcp_listener(at).unwrap(), None);
    }

    #[test]
    fn own_ipv6_and_wildcard_listeners_are_found() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("skipped: cannot bind [::1]");
            return;
        };
        let at = listener.local_addr().unwrap();
        let holder = tcp_listener(at).unwrap().expect("we listen");
        assert!(holder.pids.contains(&std::process::id()), "{holder:?}");
        let any = TcpListener::bind("[::]:0").unwrap();
        let port = any.local_addr().unwrap().port();
        for at in [format!("[::1]:{port}"), format!("127.0.0.1:{port}")] {
            let holder = tcp_listener(addr(&at)).unwrap().expect("[::] covers it");
            assert!(
                holder.pids.contains(&std::process::id()),
                "{at}: {holder:?}"
            );
        }
    }

    #[test]
    fn listener_in_a_child_process_is_found() {
        for host in ["127.0.0.1", "::1"] {
            let family = if host == "::1" { "AF_INET6" } else { "AF_INET" };
            let script = format!(
                "import socket,sys,time; s=socket.socket(socket.{family}); s.bind(('{host}', 0)); \
                 s.listen(); sys.stdout.write('%05d' % s.getsockname()[1]); sys.stdout.flush(); \
                 time.sleep(30)"
            );
            let mut child = Command::new("python3")
                .args(["-c", &script])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut port = [0_u8; 5];
            if child.stdout.take().unwrap().read_exact(&mut port).is_err() {
                child.wait().unwrap();
                eprintln!("skipped: cannot listen on {host}");
                continue;
            }
            let port: u16 = std::str::from_utf8(&port).unwrap().parse().unwrap();
            let at = SocketAddr::new(host.parse().unwrap(), port);
            let holder = tcp_listener(at).unwrap().expect("the child listens");
            assert_eq!(holder.pids, [child.id()], "{at}");
            assert_eq!(holder.uid, my_uid());
            child.kill().unwrap();
            child.wait().unwrap();
            assert_eq!(tcp_listener(at).unwrap(), None, "{at}");
        }
    }
}
