//! With a terminal on stdout the child gets a pseudo-terminal of its own,
//! and its output is still redacted.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;

use crate::harness::{Home, fake_value};

fn read_all(master: OwnedFd) -> String {
    let mut file = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // Linux reports EIO on the master once every slave is closed.
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_child_sees_a_terminal_and_output_is_still_redacted() {
    let home = Home::new();
    let value = fake_value("pty");
    home.set("tty/secret", &value);
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = pty.slave;
    let mut child = home
        .std_cmd()
        .args(["run", "-e", "S=warrant://tty/secret", "--", "sh", "-c"])
        .arg(r#"if [ -t 0 ] && [ -t 1 ]; then echo "tty $S"; else echo "no tty"; fi; printf '\033[31mred\033[0m\n'"#)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let master = pty.master;
    assert!(master.as_raw_fd() >= 0);
    let status = child.wait().unwrap();
    let out = read_all(master);
    assert!(status.success(), "{out}");
    assert!(out.contains("tty <redacted:tty/secret>"), "{out:?}");
    assert!(
        out.contains("\x1b[31mred\x1b[0m"),
        "colours pass untouched: {out:?}"
    );
    assert!(!out.contains(&value));
}

#[test]
fn no_tty_keeps_pipes_even_on_a_terminal() {
    let home = Home::new();
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = pty.slave;
    let mut child = home
        .std_cmd()
        .args([
            "run",
            "--no-tty",
            "--",
            "sh",
            "-c",
            "if [ -t 1 ]; then echo tty; else echo pipe; fi",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    child.wait().unwrap();
    assert!(read_all(pty.master).contains("pipe"));
}
