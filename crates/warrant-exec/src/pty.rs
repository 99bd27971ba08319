//! The child's pseudo-terminal, and raw mode on warrant's own terminal.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::pty::OpenptFlags;
use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, Termios};

use crate::above_stdio;

/// A pseudo-terminal pair, set up like warrant's terminal.
pub(crate) struct Pty {
    /// warrant's side, non-blocking.
    pub(crate) master: OwnedFd,
    /// The child's side; warrant closes it right after the fork.
    pub(crate) slave: OwnedFd,
    /// The byte that ends input on the child's terminal (`VEOF`, usually `^D`).
    pub(crate) eof_char: u8,
}

/// Opens a pty whose settings are those of `settings_from` (warrant's stdin
/// when it is a terminal, otherwise its stdout) and whose size is that of
/// `size_from` (warrant's stdout). With `echo == false` the child's terminal
/// does not echo input back (for input that is not typed by someone).
pub(crate) fn open(
    settings_from: BorrowedFd<'_>,
    size_from: BorrowedFd<'_>,
    echo: bool,
) -> rustix::io::Result<Pty> {
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .and_then(above_stdio)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(above_stdio)?;

    let mut termios = rustix::termios::tcgetattr(settings_from)?;
    if !echo {
        termios.local_modes.remove(LocalModes::ECHO);
    }
    rustix::termios::tcsetattr(&slave, OptionalActions::Now, &termios)?;
    copy_size(size_from, master.as_fd())?;
    rustix::io::ioctl_fionbio(&master, true)?;
    Ok(Pty {
        master,
        slave,
        eof_char: termios.special_codes[SpecialCodeIndex::VEOF],
    })
}

/// Gives `to` (a pty master) the window size of `from`; the kernel then
/// sends `SIGWINCH` to the child's foreground process group if it changed.
pub(crate) fn copy_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> rustix::io::Result<()> {
    let size = rustix::termios::tcgetwinsize(from)?;
    rustix::termios::tcsetwinsize(to, size)
}

/// Opens the terminal `fd` refers to again, read-only (a new open file
/// description: `dup` would share `fd`'s read-write access mode). Through
/// `/proc/self/fd`, so it needs read permission on the terminal device, as
/// opening it by name would; `O_NOCTTY`, so it never becomes warrant's
/// controlling terminal.
pub(crate) fn reopen_read_only(fd: BorrowedFd<'_>) -> rustix::io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let reopened = rustix::fs::open(
        path.as_str(),
        OFlags::RDONLY | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(above_stdio)?;
    if rustix::termios::isatty(&reopened) {
        Ok(reopened)
    } else {
        Err(Errno::NOTTY)
    }
}

/// warrant's terminal in raw mode; the saved settings come back on drop
/// (return, error or panic alike).
pub(crate) struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    /// Puts the terminal `fd` in raw mode: every byte, `^C` included, goes to
    /// the child's terminal, whose own settings decide what it means.
    pub(crate) fn enter(fd: BorrowedFd<'a>) -> rustix::io::Result<Self> {
        let saved = rustix::termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(fd, OptionalActions::Now, &raw)?;
        Ok(Self { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        while let Err(Errno::INTR) =
            rustix::termios::tcsetattr(self.fd, OptionalActions::Now, &self.saved)
        {}
    }
}

#[cfg(test)]
mod tests {
    use rustix::termios::{Winsize, tcgetattr, tcgetwinsize, tcsetwinsize};

    use super::*;

    /// A terminal for the test to stand in for warrant's.
    fn terminal() -> Pty {
        let outer = open_plain();
        tcsetwinsize(
            &outer.slave,
            Winsize {
                ws_row: 33,
                ws_col: 77,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .unwrap();
        outer
    }

    fn open_plain() -> Pty {
        let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        rustix::pty::grantpt(&master).unwrap();
        rustix::pty::unlockpt(&master).unwrap();
        let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY,
            Mode::empty(),
        )
        .unwrap();
        Pty {
            master,
            slave,
            eof_char: 4,
        }
    }

    #[test]
    fn copies_size_and_settings() {
        let outer = terminal();
        let pty = open(outer.slave.as_fd(), outer.slave.as_fd(), false).unwrap();
        let size = tcgetwinsize(&pty.slave).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (33, 77));
        let settings = tcgetattr(&pty.slave).unwrap();
        assert!(!settings.local_modes.contains(LocalModes::ECHO));
        assert_eq!(pty.eof_char, 4);
        let flags = rustix::fs::fcntl_getfl(&pty.master).unwrap();
        assert!(flags.contains(OFlags::NONBLOCK));
    }

    #[test]
    fn a_terminal_opened_again_read_only_reads_but_cannot_write() {
        let outer = open_plain();
        let reopened = reopen_read_only(outer.slave.as_fd()).unwrap();
        assert!(rustix::termios::isatty(&reopened));
        let flags = rustix::fs::fcntl_getfl(&reopened).unwrap();
        assert!(!flags.intersects(OFlags::WRONLY | OFlags::RDWR));
        assert_eq!(rustix::io::write(&reopened, b"x"), Err(Errno::BADF));
        rustix::io::write(&outer.master, b"typed\n").unwrap();
        let mut buf = [0u8; 16];
        let n = rustix::io::read(&reopened, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"typed\n");

        let (pipe, _write) = rustix::pipe::pipe().unwrap();
        assert_eq!(reopen_read_only(pipe.as_fd()).err(), Some(Errno::NOTTY));
    }

    #[test]
    fn raw_mode_is_restored_on_drop_and_panic() {
        let outer = terminal();
        let before = tcgetattr(&outer.slave).unwrap();
        assert!(before.local_modes.contains(LocalModes::ICANON));
        {
            let _raw = RawMode::enter(outer.slave.as_fd()).unwrap();
            let now = tcgetattr(&outer.slave).unwrap();
            assert!(!now.local_modes.contains(LocalModes::ICANON));
        }
        assert!(
            tcgetattr(&outer.slave)
                .unwrap()
                .local_modes
                .contains(LocalModes::ICANON)
        );

        let fd = outer.slave.as_fd();
        let result = std::panic::catch_unwind(|| {
            let _raw = RawMode::enter(fd).unwrap();
            panic!("boom");
        });
        assert!(result.is_err());
        assert!(
            tcgetattr(&outer.slave)
                .unwrap()
                .local_modes
                .contains(LocalModes::ICANON)
        );
    }
}
