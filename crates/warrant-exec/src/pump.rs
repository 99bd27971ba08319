//! Moving bytes: child output through the redactor to warrant's stdout or
//! stderr, and (with a pseudo-terminal) warrant's stdin to the child.
//!
//! Buffers are allocated once per run and wiped on drop: before redaction
//! they hold whatever the child printed, values included.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use warrant_redact::RedactStream;
use zeroize::Zeroizing;

/// Bytes read from the child per `read(2)`.
pub(crate) const READ_SIZE: usize = 256 * 1024;

/// What one read of an output stream did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Bytes came (or nothing was ready yet).
    Data,
    /// The stream ended (EOF, or `EIO` from a pty master whose slave is
    /// closed); held bytes were written and the source closed.
    Eof,
    /// warrant's own output is gone (`EPIPE`, ...): the source was closed
    /// so the child gets `SIGPIPE` on its next write.
    SinkClosed,
}

/// One child output stream: source → redactor → sink.
pub(crate) struct OutputPump<'s> {
    source: Option<OwnedFd>,
    /// A pty master after end of file: kept open, unpolled, until the pump
    /// is dropped. Closing a master hangs up its terminal, which would send
    /// `SIGHUP` to a child that closed its descriptors but has not exited
    /// yet (GNU tools close stdout and stderr just before `_exit`).
    parked: Option<OwnedFd>,
    park_on_eof: bool,
    sink: BorrowedFd<'s>,
    stream: RedactStream,
    buf: Zeroizing<Box<[u8]>>,
    out: Zeroizing<Vec<u8>>,
}

impl<'s> OutputPump<'s> {
    pub(crate) fn new(source: OwnedFd, sink: BorrowedFd<'s>, stream: RedactStream) -> Self {
        Self {
            source: Some(source),
            parked: None,
            park_on_eof: false,
            sink,
            stream,
            buf: Zeroizing::new(vec![0; READ_SIZE].into_boxed_slice()),
            // Room for a chunk whose replacements are longer than the values.
            out: Zeroizing::new(Vec::with_capacity(2 * READ_SIZE)),
        }
    }

    /// For a pty master: keep it open after end of file (see `parked`).
    pub(crate) fn park_on_eof(mut self) -> Self {
        self.park_on_eof = true;
        self
    }

    /// The descriptor to poll, while the stream is open.
    pub(crate) fn source(&self) -> Option<BorrowedFd<'_>> {
        self.source.as_ref().map(AsFd::as_fd)
    }

    pub(crate) fn is_open(&self) -> bool {
        self.source.is_some()
    }

    /// Reads once (call when the source is readable), redacts, writes.
    pub(crate) fn pump(&mut self) -> Step {
        let Some(source) = &self.source else {
            return Step::Eof;
        };
        match rustix::io::read(source, &mut self.buf[..]) {
            Ok(0) | Err(Errno::IO) => {
                self.finish();
                Step::Eof
            }
            Ok(n) => {
                self.out.clear();
                self.stream.push(&self.buf[..n], &mut self.out);
                if write_all(self.sink, &self.out).is_err() {
                    self.source = None;
                    return Step::SinkClosed;
                }
                Step::Data
            }
            Err(Errno::INTR | Errno::AGAIN) => Step::Data,
            Err(_) => {
                self.finish();
                Step::Eof
            }
        }
    }

    /// Ends the stream: writes what the redactor still holds, closes (or
    /// parks) the source.
    pub(crate) fn finish(&mut self) {
        if let Some(source) = self.source.take() {
            if self.park_on_eof {
                self.parked = Some(source);
            }
            self.out.clear();
            self.stream.finish(&mut self.out);
            let _ = write_all(self.sink, &self.out);
        }
    }

    /// Replacements made so far, per label.
    pub(crate) fn redactions(&self) -> BTreeMap<String, u64> {
        self.stream.redactions_by_label()
    }
}

/// Writes all of `data` to `fd`, waiting if `fd` happens to be non-blocking.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> rustix::io::Result<()> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
                match rustix::event::poll(&mut fds, None) {
                    Ok(_) | Err(Errno::INTR) => {}
                    Err(errno) => return Err(errno),
                }
            }
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// Copies warrant's stdin to the child's pty master, without ever blocking
/// on the master (a child that does not read must not stall its output).
pub(crate) struct InputPump {
    buf: Zeroizing<Box<[u8]>>,
    start: usize,
    end: usize,
    /// `Some(VEOF)` when stdin is not a terminal: its end becomes the
    /// terminal's EOF character.
    eof_char: Option<u8>,
    /// The last byte queued, to know whether a line is pending.
    last: Option<u8>,
    stdin_done: bool,
    master_done: bool,
}

impl InputPump {
    pub(crate) fn new(eof_char: Option<u8>) -> Self {
        Self {
            buf: Zeroizing::new(vec![0; READ_SIZE].into_boxed_slice()),
            start: 0,
            end: 0,
            eof_char,
            last: None,
            stdin_done: false,
            master_done: false,
        }
    }

    /// Whether to poll stdin for input.
    pub(crate) fn wants_input(&self) -> bool {
        !self.stdin_done && !self.master_done && self.start == self.end
    }

    /// Whether to poll the master for room.
    pub(crate) fn wants_output(&self) -> bool {
        !self.master_done && self.start < self.end
    }

    /// Reads stdin once (call when it is readable or hung up).
    pub(crate) fn read_stdin(&mut self, stdin: BorrowedFd<'_>) {
        match rustix::io::read(stdin, &mut self.buf[..]) {
            Ok(0) => self.end_of_input(),
            Ok(n) => {
                self.start = 0;
                self.end = n;
                self.last = Some(self.buf[n - 1]);
            }
            Err(Errno::INTR | Errno::AGAIN) => {}
            Err(_) => self.end_of_input(),
        }
    }

    /// stdin is gone (EOF, error, closed descriptor).
    pub(crate) fn end_of_input(&mut self) {
        self.stdin_done = true;
        if let Some(eof) = self.eof_char {
            // In canonical mode one EOF character ends a pending partial
            // line, and one at the start of a line is end of file.
            self.start = 0;
            self.end = 0;
            if self.last.is_some_and(|b| b != b'\n') {
                self.buf[0] = eof;
                self.end = 1;
            }
            self.buf[self.end] = eof;
            self.end += 1;
        }
    }

    /// Writes what it can to the master (call when it has room).
    pub(crate) fn write_master(&mut self, master: BorrowedFd<'_>) {
        match rustix::io::write(master, &self.buf[self.start..self.end]) {
            Ok(n) => self.start += n,
            Err(Errno::INTR | Errno::AGAIN) => {}
            // EIO: the child's side is closed.
            Err(_) => self.master_done = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use rustix::pipe::{PipeFlags, pipe_with};
    use warrant_redact::RedactorBuilder;

    use super::*;

    fn read_all(fd: &OwnedFd) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match rustix::io::read(fd, &mut buf[..]).unwrap() {
                0 => return all,
                n => all.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn copies_chunks_until_eof() {
        let redactor = RedactorBuilder::new().build().unwrap();
        let (child_r, child_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let (sink_r, sink_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let mut pump = OutputPump::new(child_r, sink_w.as_fd(), redactor.stream());
        write_all(child_w.as_fd(), b"hello ").unwrap();
        assert_eq!(pump.pump(), Step::Data);
        write_all(child_w.as_fd(), b"world").unwrap();
        assert_eq!(pump.pump(), Step::Data);
        drop(child_w);
        assert_eq!(pump.pump(), Step::Eof);
        assert!(!pump.is_open());
        drop(pump);
        drop(sink_w);
        assert_eq!(read_all(&sink_r), b"hello world");
    }

    #[test]
    fn closed_sink_closes_the_source() {
        let redactor = RedactorBuilder::new().build().unwrap();
        let (child_r, child_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let (sink_r, sink_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        drop(sink_r);
        let mut pump = OutputPump::new(child_r, sink_w.as_fd(), redactor.stream());
        write_all(child_w.as_fd(), b"data").unwrap();
        assert_eq!(pump.pump(), Step::SinkClosed);
        assert!(!pump.is_open());
        assert_eq!(rustix::io::write(&child_w, b"x"), Err(Errno::PIPE));
    }

    #[test]
    fn redacts_a_value_split_across_reads() {
        let redactor = RedactorBuilder::new()
            .add("tok", b"fake-token-0123456789")
            .build()
            .unwrap();
        let (child_r, child_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let (sink_r, sink_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let mut pump = OutputPump::new(child_r, sink_w.as_fd(), redactor.stream());
        for part in [&b"a fake-tok"[..], b"en-0123", b"456789 b"] {
            write_all(child_w.as_fd(), part).unwrap();
            assert_eq!(pump.pump(), Step::Data);
        }
        drop(child_w);
        assert_eq!(pump.pump(), Step::Eof);
        assert_eq!(pump.redactions().get("tok"), Some(&1));
        drop(pump);
        drop(sink_w);
        assert_eq!(read_all(&sink_r), b"a <redacted:tok> b");
    }

    #[test]
    fn input_end_becomes_eof_characters() {
        let mut input = InputPump::new(Some(4));
        input.last = Some(b'x');
        input.end_of_input();
        assert_eq!(&input.buf[input.start..input.end], [4, 4]);
        let mut input = InputPump::new(Some(4));
        input.last = Some(b'\n');
        input.end_of_input();
        assert_eq!(&input.buf[input.start..input.end], [4]);
        let mut input = InputPump::new(None);
        input.end_of_input();
        assert!(!input.wants_output() && !input.wants_input());
    }
}
